/*
 * catnip's bursts: frames between the inetstack's struct pkt and the port's
 * mbufs. Zero copy where the memory allows (dpdk_mem.c), a copy otherwise,
 * and every copied byte counted. No system call and no heap allocation per
 * frame: mbufs come from per-lcore mempool caches, data-less ones in bursts.
 */
#include "dpdk_priv.h"

#include <string.h>

#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "../../net/prot/ipv4.h"
#include "../../runtime/log.h"

/* How a frame went into its mbuf, which says what to undo when the port refuses it. */
enum tx_how {
	TX_COPIED,   /* copied into an mbuf of ours: the stack's reference is dropped once accepted */
	TX_ATTACHED, /* the stack's reference passed to the mbuf attached to its buffer */
	TX_REUSED,   /* a received mbuf sent back (ICMP, ARP answered in place): one more mbuf reference */
};

/* A runtime buffer for a frame the port handed us in a chained mbuf, or with too many held already. */
static struct buf *rx_copy(struct dpdk_dev *dd, struct rte_mbuf *m, uint32_t len)
{
	struct buf *b = buf_alloc(dd->nd.pool, len);
	if (!b)
		return NULL;
	uint8_t *data = buf_data(b);
	/* rte_pktmbuf_read copies a chained mbuf, and returns the mbuf's own data when it is one segment. */
	const void *src = rte_pktmbuf_read(m, 0, len, data);
	if (src != data)
		memcpy(data, src, len);
	dd->st.rx_copied_bytes += len;
	return b;
}

int dpdk_rx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct dpdk_dev *dd = (struct dpdk_dev *)d;
	struct rte_mbuf *ms[DPDK_DEV_BURST];
	if (n > DPDK_DEV_BURST)
		n = DPDK_DEV_BURST;
	uint16_t got = rte_eth_rx_burst(dd->port, dd->nd.queue_id, ms, (uint16_t)n);
	int out = 0;
	for (uint16_t i = 0; i < got; i++) {
		struct rte_mbuf *m = ms[i];
		if (i + 1 < got) /* the stack reads the next headers soon: start fetching them */
			rte_prefetch0(rte_pktmbuf_mtod(ms[i + 1], void *));
		uint32_t len = rte_pktmbuf_pkt_len(m);
		struct buf *b = dpdk_rx_wrap(dd, m);
		if (b) {
			dd->st.rx_zero_copy++;
		} else {
			b = rx_copy(dd, m, len);
			rte_pktmbuf_free(m);
			if (!b) {
				dd->st.rx_nobuf++;
				continue;
			}
		}
		/* The whole struct: flags and gso_size too (a stale PKT_TX_TSO left in the caller's array kept an
		 * answer built in place from being fragmented, and the port dropped it as too long). */
		pkts[out++] = (struct pkt){ .buf = b, .data = buf_data(b), .len = len };
		dd->st.rx_frames++;
		dd->st.rx_bytes += len;
	}
	return out;
}

/* Asks the port to fill the checksums the stack left to it (an IPv4 header; an unfragmented UDP datagram; TCP). */
static void tx_offload(struct dpdk_dev *dd, struct rte_mbuf *m, const uint8_t *f, uint32_t len)
{
	if (!dd->tx_ip_cksum || len < ETH_HDR_LEN + 20 || ((f[12] << 8) | f[13]) != ETH_TYPE_IPV4)
		return;
	const uint8_t *ih = f + ETH_HDR_LEN;
	uint32_t hlen = (ih[0] & 0x0fu) * 4u;
	m->l2_len = ETH_HDR_LEN;
	m->l3_len = hlen;
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | dd->tx_ip_cksum;
	/* The stack offloads UDP only for datagrams that fit one frame: a fragment's field is final. */
	uint16_t off = (uint16_t)((ih[6] << 8) | ih[7]);
	if ((off & 0x3fffu) != 0 || len < ETH_HDR_LEN + hlen + 8)
		return;
	if (dd->tx_udp_cksum && ih[9] == IPV4_PROTO_UDP) {
		m->l4_len = 8;
		m->ol_flags |= dd->tx_udp_cksum;
	} else if (dd->tx_tcp_cksum && ih[9] == IPV4_PROTO_TCP && len >= ETH_HDR_LEN + hlen + 20) {
		m->l4_len = (uint64_t)(f[ETH_HDR_LEN + hlen + 12] >> 4) * 4u;
		m->ol_flags |= dd->tx_tcp_cksum;
	}
}

static bool is_tcp(const struct pkt *p)
{
	const uint8_t *f = p->data;
	return p->len >= ETH_HDR_LEN + 20 && ((f[12] << 8) | f[13]) == ETH_TYPE_IPV4 && f[ETH_HDR_LEN + 9] == IPV4_PROTO_TCP;
}

/*
 * Whether a frame may go out attached to its buffer. A buffer the
 * application still holds may be written again once a UDP push has completed
 * (PDPIX allows it); a driver that keeps frames after tx_burst (a NIC's ring)
 * would then send the new bytes, so those frames are copied. TCP's buffers
 * stay unwritten until acknowledged (doc/tcp.md), and the virtual drivers
 * we know copy or write a frame out within tx_burst.
 */
static bool tx_can_attach(const struct dpdk_dev *dd, const struct pkt *p)
{
	const struct buf *b = p->buf;
	if (!dd->tx_zc || b->owner || (p->len < ETH_MIN_FRAME && !dd->tx_chain))
		return false;
	if (dd->tx_holds && b->app_refs && !is_tcp(p))
		return false;
	return dpdk_tx_reachable(dd, p->data, p->len);
}

/* NICs pad short frames; virtual devices do not: a zeroed segment after one we may not write past. */
static int tx_pad_chain(struct dpdk_dev *dd, struct rte_mbuf *m)
{
	struct rte_mbuf *pad = rte_pktmbuf_alloc(dd->mp);
	if (!pad)
		return -1;
	uint16_t n = (uint16_t)(ETH_MIN_FRAME - m->pkt_len);
	memset(rte_pktmbuf_append(pad, n), 0, n);
	if (rte_pktmbuf_chain(m, pad) != 0) {
		rte_pktmbuf_free(pad);
		return -1;
	}
	return 0;
}

/* A received mbuf sent back as it lies (the stack answered in place), when nobody else holds its buffer. */
static struct rte_mbuf *tx_reuse(struct dpdk_dev *dd, struct pkt *p)
{
	struct rte_mbuf *m = p->buf->refcnt == 1 ? dpdk_rx_mbuf(dd, p->buf) : NULL;
	if (!m)
		return NULL;
	rte_mbuf_refcnt_update(m, 1); /* the port's; the stack's goes with its buffer */
	m->data_off = (uint16_t)(p->data - (uint8_t *)m->buf_addr);
	uint32_t len = p->len;
	if (len < ETH_MIN_FRAME && rte_pktmbuf_tailroom(m) >= ETH_MIN_FRAME - len) {
		memset(p->data + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->ol_flags = 0; /* the receive flags mean nothing on transmit */
	return m;
}

static struct rte_mbuf *tx_copy(struct dpdk_dev *dd, const struct pkt *p)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dd->mp);
	if (!m)
		return NULL;
	uint32_t len = p->len < ETH_MIN_FRAME ? ETH_MIN_FRAME : p->len;
	uint8_t *dst = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	memcpy(dst, p->data, p->len);
	if (len > p->len)
		memset(dst + p->len, 0, len - p->len);
	return m;
}

/* The mbuf for one frame, and how it was made; NULL: no mbuf (the stack keeps the frame). */
static struct rte_mbuf *tx_mbuf(struct dpdk_dev *dd, struct pkt *p, enum tx_how *how)
{
	struct rte_mbuf *m;
	if (tx_can_attach(dd, p)) {
		*how = TX_ATTACHED;
		m = dpdk_tx_attach(dd, p->buf, p->data, p->len);
		if (m && p->len < ETH_MIN_FRAME && tx_pad_chain(dd, m) != 0) {
			buf_ref(p->buf); /* freeing the mbuf drops the reference it took */
			rte_pktmbuf_free(m);
			m = NULL;
		}
		return m;
	}
	if ((m = tx_reuse(dd, p)) != NULL) {
		*how = TX_REUSED;
		return m;
	}
	*how = TX_COPIED;
	return tx_copy(dd, p);
}

/* Up to DPDK_DEV_BURST frames in one rte_eth_tx_burst; returns how many the stack may forget. */
static int tx_chunk(struct dpdk_dev *dd, struct pkt *pkts, int n)
{
	struct rte_mbuf *ms[DPDK_DEV_BURST];
	int from[DPDK_DEV_BURST]; /* which pkt each mbuf carries, to say which the port did not take */
	uint8_t how[DPDK_DEV_BURST];
	bool passed[DPDK_DEV_BURST]; /* per pkt: its reference went to an mbuf */
	uint32_t bytes[DPDK_DEV_BURST];
	uint16_t k = 0;
	int i;
	for (i = 0; i < n; i++) {
		struct pkt *p = &pkts[i];
		passed[i] = false;
		if (p->len > dd->tx_max || p->len < ETH_HDR_LEN) {
			/* Accepted and dropped: refusing it would leave the stack retrying it forever. */
			if (dd->st.tx_oversize++ == 0)
				log_warn("catnip: dropping a %u-byte frame (largest %u)", p->len, dd->tx_max);
			continue;
		}
		enum tx_how h;
		struct rte_mbuf *m = tx_mbuf(dd, p, &h);
		if (!m) {
			dd->st.tx_nombuf++;
			break;
		}
		tx_offload(dd, m, p->data, p->len);
		passed[i] = h == TX_ATTACHED;
		ms[k] = m;
		how[k] = (uint8_t)h;
		bytes[k] = m->pkt_len;
		from[k] = i;
		k++;
	}
	uint16_t sent = k ? rte_eth_tx_burst(dd->port, dd->nd.queue_id, ms, k) : 0;
	int accepted = i;
	if (sent < k) {
		/* The ring is full: take back the frames it did not take, and the stack keeps their buffers. */
		dd->st.tx_full++;
		accepted = from[sent];
		for (uint16_t j = sent; j < k; j++) {
			if (how[j] == TX_ATTACHED)
				buf_ref(pkts[from[j]].buf); /* the mbuf's free drops the reference it took */
			rte_pktmbuf_free(ms[j]);
		}
	}
	for (int j = 0; j < accepted; j++)
		if (!passed[j])
			buf_unref(dd->nd.pool, pkts[j].buf);
	/* Counted from our copy of the lengths: the port may have freed a sent mbuf already. */
	for (uint16_t j = 0; j < sent; j++) {
		dd->st.tx_bytes += bytes[j];
		if (how[j] == TX_COPIED)
			dd->st.tx_copied_bytes += pkts[from[j]].len;
		else
			dd->st.tx_zero_copy++;
	}
	dd->st.tx_frames += sent;
	return accepted;
}

int dpdk_tx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct dpdk_dev *dd = (struct dpdk_dev *)d;
	/* The stack reads a short count as "the port is full": offer everything, a burst at a time. */
	int done = 0;
	while (done < n) {
		int want = n - done < DPDK_DEV_BURST ? n - done : DPDK_DEV_BURST;
		int k = tx_chunk(dd, pkts + done, want);
		done += k;
		if (k < want)
			break;
	}
	return done;
}
