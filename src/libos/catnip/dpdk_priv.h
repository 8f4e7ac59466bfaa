/*
 * catnip's device, inside: the state shared by set-up (dpdk_dev.c), memory
 * (dpdk_mem.c: registration, runtime buffers attached to mbufs and mbufs
 * wrapped as runtime buffers) and the bursts (dpdk_io.c).
 */
#ifndef DEMI_LIBOS_CATNIP_DPDK_PRIV_H
#define DEMI_LIBOS_CATNIP_DPDK_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "../../net/prot/ethernet.h"
#include "dpdk_dev.h"

struct demi_config;
struct dpdk_dev;

/*
 * Per runtime buffer descriptor (indexed like pool->descs, which never
 * moves): the external-buffer record of a pool buffer while mbufs point at
 * it, or the mbuf a wrapping descriptor stands for. Kept apart from the
 * buffer memory so that the application cannot overwrite it.
 */
struct dpdk_slot {
	struct rte_mbuf_ext_shared_info sh; /* tx: refcnt = mbufs attached; free_cb drops the buffer's reference */
	struct dpdk_dev *dd;                /* for free_cb, which gets only sh.fcb_opaque (this slot) */
	struct rte_mbuf *rx;                /* rx: the received mbuf this descriptor wraps */
};

struct dpdk_dev {
	struct netdev nd;
	uint16_t port;
	struct rte_mempool *mp;     /* mbufs with data room: receive, and frames copied on transmit */
	struct rte_mempool *ext_mp; /* mbufs without data room, attached to runtime buffers on transmit */
	struct dpdk_slot *slots;    /* pool->max_descs of them */
	struct buf_owner rx_owner;  /* owner of wrapped received mbufs: release frees the mbuf */
	uint32_t rx_held;           /* received mbufs the stack or the application hold */
	uint32_t rx_hold_max;       /* past this, receive copies so the port never runs dry */
	uint32_t tx_max;            /* longest frame an mbuf carries */
	uint64_t tx_ip_cksum;       /* RTE_MBUF_F_TX_IP_CKSUM when the port fills IPv4 header checksums */
	uint64_t tx_udp_cksum;      /* RTE_MBUF_F_TX_UDP_CKSUM when the port fills UDP checksums */
	uint64_t tx_tcp_cksum;      /* RTE_MBUF_F_TX_TCP_CKSUM when the port fills TCP checksums */
	bool tx_zc;                 /* transmit pool buffers without a copy */
	bool tx_chain;              /* the port takes chained mbufs (a zero pad segment after a short frame) */
	bool tx_holds;              /* the driver may keep a frame after tx_burst returns (a NIC's DMA ring) */
	bool iova_va;               /* IOVA is the virtual address */
	bool dma_map;               /* a device that DMAs: registered memory is also mapped for it */
	bool reg_failed;            /* some buffer memory could not be registered: check each frame */
	uint32_t reg_chunks;        /* chunks registered with rte_extmem_register */
	uint16_t stash_n;           /* ext_mp mbufs taken in bulk, not used yet */
	struct rte_mbuf *stash[DPDK_DEV_BURST];
	struct dpdk_dev_stats st;
};

/* dpdk_eal.c */
/*
 * Starts the EAL with cfg->eal_argv unless a catnip in this process did, and
 * takes the first port no other catnip drives. Logs one line naming the cause
 * on failure: -EINVAL (bad arguments), -EALREADY (the EAL was started and
 * cleaned up before, or by someone else), -ENODEV (no free port).
 */
int dpdk_eal_acquire(const struct demi_config *cfg, uint16_t *port);
/* Gives the port back; the last one cleans the EAL up, for good. */
void dpdk_eal_release(uint16_t port);

/* dpdk_mem.c */
/* Allocates the slots and starts registering the pool's memory with DPDK. 0 or -ENOMEM. */
int dpdk_mem_init(struct dpdk_dev *dd);
/*
 * Before the port closes: mbufs the application still holds are freed (their
 * descriptors stay valid and forget them); after it closes, dpdk_mem_fini
 * unregisters memory and frees the slots.
 */
void dpdk_mem_detach(struct dpdk_dev *dd);
void dpdk_mem_fini(struct dpdk_dev *dd);
/* A runtime buffer for a received single-segment mbuf, which it then owns; NULL: copy it instead. */
struct buf *dpdk_rx_wrap(struct dpdk_dev *dd, struct rte_mbuf *m);
/* The mbuf a wrapped buffer stands for, or NULL when b is not one of ours. */
struct rte_mbuf *dpdk_rx_mbuf(struct dpdk_dev *dd, const struct buf *b);
/*
 * An mbuf carrying [data, data + len) of pool buffer b where it lies; the
 * caller's reference on b passes to the mbuf (freeing the mbuf drops it).
 * NULL: no mbuf (the caller keeps its reference).
 */
struct rte_mbuf *dpdk_tx_attach(struct dpdk_dev *dd, struct buf *b, uint8_t *data, uint32_t len);
/* Whether [data, data + len) lies in memory the port may read from (registered for a NIC). */
bool dpdk_tx_reachable(const struct dpdk_dev *dd, const uint8_t *data, uint32_t len);

/* dpdk_io.c */
int dpdk_rx_burst(struct netdev *d, struct pkt *pkts, int n);
int dpdk_tx_burst(struct netdev *d, struct pkt *pkts, int n);

#endif
