/*
 * catnip's memory: frames cross the DPDK edge without a copy both ways. On
 * transmit a runtime buffer is attached to a data-less mbuf as an external
 * buffer; the mbuf holds a reference on the buffer until the driver frees it.
 * On receive an mbuf is wrapped as a runtime buffer (buf_wrap) that frees the
 * mbuf when its last reference goes. The pool's memory is registered with
 * DPDK as it is mapped (buf_pool_watch), and mapped for DMA on a real NIC.
 */
#define ALLOW_EXPERIMENTAL_API /* rte_dev_dma_map, the documented companion of rte_extmem_register */
#include "dpdk_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_memory.h>

#include "../../runtime/log.h"

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static struct rte_device *port_device(const struct dpdk_dev *dd)
{
	struct rte_eth_dev_info info;
	return rte_eth_dev_info_get(dd->port, &info) == 0 ? info.device : NULL;
}

/*
 * buf_pool_watch's callback: registers a new chunk of buffer memory. DPDK
 * keeps one memseg list per registration (RTE_MAX_MEMSEG_LISTS in all), so
 * after a failure we stop trying and check frames one by one instead (only
 * where it matters: a device that DMAs).
 */
static void on_map(void *arg, void *mem, size_t len)
{
	struct dpdk_dev *dd = arg;
	if (dd->reg_failed)
		return;
	if (rte_extmem_register(mem, len, NULL, 0, page_size()) != 0) {
		log_warn("catnip: buffer memory (%zu B) not registered with DPDK (%s)%s", len, rte_strerror(rte_errno),
			dd->dma_map ? ": frames in it will be copied" : "");
		dd->reg_failed = true;
		return;
	}
	if (dd->dma_map) {
		struct rte_device *dev = port_device(dd);
		if (!dev || rte_dev_dma_map(dev, mem, (uint64_t)(uintptr_t)mem, len) != 0) {
			log_warn("catnip: buffer memory (%zu B) not mapped for DMA (%s): frames in it will be copied", len,
				rte_strerror(rte_errno));
			rte_extmem_unregister(mem, len);
			dd->reg_failed = true;
			return;
		}
	}
	dd->reg_chunks++;
}

/* Called by DPDK when the last mbuf attached to a runtime buffer is freed (shinfo refcnt at 0). */
static void tx_free(void *addr, void *opaque)
{
	(void)addr;
	struct dpdk_slot *s = opaque;
	struct dpdk_dev *dd = s->dd;
	buf_unref(dd->nd.pool, &dd->nd.pool->descs[s - dd->slots]);
}

static void rx_release(struct buf_owner *o, struct buf *b)
{
	struct dpdk_dev *dd = (struct dpdk_dev *)((char *)o - offsetof(struct dpdk_dev, rx_owner));
	struct dpdk_slot *s = &dd->slots[b - dd->nd.pool->descs];
	rte_pktmbuf_free(s->rx);
	s->rx = NULL;
	dd->rx_held--;
}

/* Owner of buffers whose mbuf went with the port (the application held them past demi teardown). */
static void orphan_release(struct buf_owner *o, struct buf *b)
{
	(void)o;
	(void)b;
}
static struct buf_owner orphan_owner = { .release = orphan_release };

int dpdk_mem_init(struct dpdk_dev *dd)
{
	struct buf_pool *pool = dd->nd.pool;
	/* calloc: pages are touched only for descriptors that carry frames. */
	dd->slots = calloc(pool->max_descs, sizeof(*dd->slots));
	if (!dd->slots)
		return -ENOMEM;
	dd->rx_owner.release = rx_release;
	buf_pool_watch(pool, on_map, dd);
	return 0;
}

void dpdk_mem_detach(struct dpdk_dev *dd)
{
	struct buf_pool *pool = dd->nd.pool;
	if (dd->stash_n)
		rte_pktmbuf_free_bulk(dd->stash, dd->stash_n);
	dd->stash_n = 0;
	for (uint32_t i = 0; i < pool->ndescs; i++) {
		struct buf *b = &pool->descs[i];
		if (b->owner != &dd->rx_owner || !b->refcnt)
			continue;
		rte_pktmbuf_free(dd->slots[i].rx);
		dd->slots[i].rx = NULL;
		b->owner = &orphan_owner;
	}
}

void dpdk_mem_fini(struct dpdk_dev *dd)
{
	struct buf_pool *pool = dd->nd.pool;
	buf_pool_watch(pool, NULL, NULL);
	struct rte_device *dev = dd->dma_map ? port_device(dd) : NULL;
	size_t pg = page_size();
	/* A chunk that was never registered answers ENOENT: harmless. */
	for (struct buf_chunk *c = pool->chunks; dd->reg_chunks && c; c = c->next) {
		size_t len = (c->len + pg - 1) / pg * pg;
		if (dev)
			rte_dev_dma_unmap(dev, c->mem, (uint64_t)(uintptr_t)c->mem, len);
		rte_extmem_unregister(c->mem, len);
	}
	free(dd->slots);
	dd->slots = NULL;
}

struct buf *dpdk_rx_wrap(struct dpdk_dev *dd, struct rte_mbuf *m)
{
	/* The stack writes headers in front of a frame it answers in place (ICMP, ARP): that must be the mbuf's. */
	if (m->nb_segs != 1 || rte_pktmbuf_headroom(m) < BUF_HEADROOM || dd->rx_held >= dd->rx_hold_max)
		return NULL;
	uint32_t cap = (uint32_t)m->data_len + rte_pktmbuf_tailroom(m);
	struct buf *b = buf_wrap(dd->nd.pool, &dd->rx_owner, rte_pktmbuf_mtod(m, void *), cap);
	if (!b)
		return NULL;
	dd->slots[b - dd->nd.pool->descs].rx = m;
	dd->rx_held++;
	return b;
}

struct rte_mbuf *dpdk_rx_mbuf(struct dpdk_dev *dd, const struct buf *b)
{
	return b->owner == &dd->rx_owner ? dd->slots[b - dd->nd.pool->descs].rx : NULL;
}

struct rte_mbuf *dpdk_tx_attach(struct dpdk_dev *dd, struct buf *b, uint8_t *data, uint32_t len)
{
	/* Data-less mbufs come in bursts: one mempool call per 32 frames. */
	if (!dd->stash_n) {
		if (rte_pktmbuf_alloc_bulk(dd->ext_mp, dd->stash, DPDK_DEV_BURST) != 0)
			return NULL;
		dd->stash_n = DPDK_DEV_BURST;
	}
	struct rte_mbuf *m = dd->stash[--dd->stash_n];
	struct dpdk_slot *s = &dd->slots[b - dd->nd.pool->descs];
	if (rte_mbuf_ext_refcnt_read(&s->sh) == 0) {
		/* The first mbuf on this buffer: the caller's reference becomes the mbufs' one. */
		s->dd = dd;
		s->sh.free_cb = tx_free;
		s->sh.fcb_opaque = s;
		rte_mbuf_ext_refcnt_set(&s->sh, 1);
	} else {
		/* Already attached (a frame still in the ring): that reference covers this mbuf too. */
		rte_mbuf_ext_refcnt_update(&s->sh, 1);
		buf_unref(dd->nd.pool, b);
	}
	/* Only the frame's bytes: buf_len is 16 bits, and the driver needs nothing around them. */
	rte_pktmbuf_attach_extbuf(m, data, (rte_iova_t)(uintptr_t)data, (uint16_t)len, &s->sh);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
}

bool dpdk_tx_reachable(const struct dpdk_dev *dd, const uint8_t *data, uint32_t len)
{
	(void)len; /* a frame lies in one buffer, and a buffer in one chunk */
	if (!dd->dma_map || !dd->reg_failed)
		return true;
	return rte_mem_virt2memseg_list(data) != NULL;
}
