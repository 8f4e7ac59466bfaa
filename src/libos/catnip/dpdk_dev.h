/*
 * catnip's device: one DPDK ethdev port (a NIC bound to a DPDK driver, or a
 * virtual device such as net_tap or net_memif named by --vdev), with one
 * receive and one transmit queue, presented to the inetstack as a struct netdev.
 */
#ifndef DEMI_LIBOS_CATNIP_DPDK_DEV_H
#define DEMI_LIBOS_CATNIP_DPDK_DEV_H

#include <stdint.h>

#include "../../inetstack/netdev.h"

struct demi_config;

#define DPDK_DEV_MBUFS 4095       /* mbufs in the pool: rings + a burst in flight (2^n - 1 suits the mempool) */
#define DPDK_DEV_RX_DESC 1024     /* receive descriptors: frames the port can hold while we are busy */
#define DPDK_DEV_TX_DESC 1024     /* transmit descriptors */
#define DPDK_DEV_BURST 32         /* frames per rte_eth_rx_burst call */
#define DPDK_DEV_LINK_WAIT_MS 5000 /* how long open waits for the link to come up */

/* What the device did, for logs and tests. */
struct dpdk_dev_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_nobuf;     /* dropped: no runtime buffer to copy into */
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_nombuf;    /* bursts cut short: the mbuf pool was empty */
	uint64_t tx_full;      /* bursts cut short: the port's transmit ring was full */
	uint64_t tx_oversize;  /* dropped: longer than an mbuf's data room */
};

/*
 * Starts DPDK's EAL with cfg->eal_argv (dpdk.eal_init / EAL_INIT; a program
 * name is put in front), then opens the first ethdev port it found. The MAC is
 * cfg->local_link_addr when set (the port then goes promiscuous), else the
 * port's; the MTU is the port's (the stack lowers it to cfg->mtu). Received
 * frames are copied into buffers of `pool`. The EAL lives once per process:
 * open at most once, and not again after close. Logs one line naming the
 * cause on failure. Errors: -EINVAL (bad EAL arguments), -EALREADY (EAL
 * started before), -ENODEV (no port: no --vdev, no NIC bound to DPDK),
 * -ETIMEDOUT (the link stayed down), -ENOMEM, other -errno from DPDK.
 */
int dpdk_dev_open(const struct demi_config *cfg, struct buf_pool *pool, struct netdev **out);

/* The counters of a DPDK device. */
const struct dpdk_dev_stats *dpdk_dev_stats(struct netdev *d);

#endif
