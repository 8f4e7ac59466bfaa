/*
 * catnip's device: one DPDK ethdev port (a NIC bound to a DPDK driver, or a
 * virtual device such as net_tap or net_memif named by --vdev), with one
 * receive and one transmit queue, presented to the inetstack as a struct netdev.
 */
#ifndef DEMI_LIBOS_CATNIP_DPDK_DEV_H
#define DEMI_LIBOS_CATNIP_DPDK_DEV_H

#include <stdint.h>

#include "../../net/netdev.h"

struct demi_config;

/* mbufs with data room: receive rings, received frames the stack holds, copies (2^n - 1 suits the mempool) */
#define DPDK_DEV_MBUFS 8191
#define DPDK_DEV_EXT_MBUFS 4095   /* data-less mbufs attached to runtime buffers: the transmit ring and a burst */
#define DPDK_DEV_RX_DESC 1024     /* receive descriptors: frames the port can hold while we are busy */
#define DPDK_DEV_TX_DESC 1024     /* transmit descriptors */
#define DPDK_DEV_BURST 32         /* frames per rte_eth_rx_burst call */
#define DPDK_DEV_LINK_WAIT_MS 5000 /* how long open waits for the link to come up */
#define DPDK_DEV_HUGE_MIN (64u << 20) /* free hugepage bytes below which the EAL runs with --no-huge */

/* What the device did, for logs and tests. */
struct dpdk_dev_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_zero_copy;      /* received mbufs handed to the stack as runtime buffers */
	uint64_t rx_copied_bytes;   /* bytes copied instead: chained mbufs, or too many mbufs held */
	uint64_t rx_nobuf;          /* dropped: no runtime buffer to copy into */
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_zero_copy;      /* frames sent where they lay: attached runtime buffers, received mbufs sent back */
	uint64_t tx_copied_bytes;   /* bytes copied into mbufs instead */
	uint64_t tx_nombuf;         /* bursts cut short: an mbuf pool was empty */
	uint64_t tx_full;           /* bursts cut short: the port's transmit ring was full */
	uint64_t tx_oversize;       /* dropped: longer than an mbuf's data room */
};

/*
 * Starts DPDK's EAL with cfg->eal_argv (dpdk.eal_init / EAL_INIT; a program
 * name is put in front) unless another catnip in this process did, adding
 * --no-huge when too few hugepages are free, and opens the first ethdev port
 * no other catnip drives. The MAC is cfg->local_link_addr when set (the port
 * then goes promiscuous), else the port's; the MTU is the port's (the stack
 * lowers it to cfg->mtu). Received mbufs are handed over as buffers of
 * `pool` (buf_wrap), and frames in pool memory are transmitted without a
 * copy (external mbufs): see doc/catnip.md. The EAL cannot start again once
 * the last port closed. Logs one line naming the cause on failure. Errors:
 * -EINVAL (bad EAL arguments), -EALREADY (EAL cleaned up before), -ENODEV
 * (no free port: no --vdev, no NIC bound to DPDK), -ETIMEDOUT (the link
 * stayed down), -ENOMEM, other -errno from DPDK.
 */
int dpdk_dev_open(const struct demi_config *cfg, struct buf_pool *pool, struct netdev **out);

/* Writes the device's counters to the log at info level (close does). */
void dpdk_dev_log(const struct netdev *d);

/* The counters of a DPDK device. */
const struct dpdk_dev_stats *dpdk_dev_stats(struct netdev *d);

#endif
