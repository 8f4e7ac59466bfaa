/*
 * catpowder device burst paths: receive by reading the status words of the
 * mmap'd receive ring (no system call), transmit by filling slots of the
 * transmit ring and kicking the kernel with one send() per burst.
 */
#include "afpacket_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "../../runtime/log.h"

/*
 * The kernel hands a receive slot to us by storing TP_STATUS_USER after the
 * frame, and takes it back when we store TP_STATUS_KERNEL: the acquire load
 * orders our reads of the frame after the kernel's writes, the release store
 * orders our reads before the kernel may overwrite the slot.
 */
static inline uint32_t slot_status(const struct tpacket2_hdr *h)
{
	return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

static inline void slot_give(struct tpacket2_hdr *h, uint32_t status)
{
	__atomic_store_n(&h->tp_status, status, __ATOMIC_RELEASE);
}

/* Counts a device drop; at DEMI_LOG=debug the first of each class is logged (as INET_DROP). */
#define AFP_DROP(a, ctr, what)                                                 \
	do {                                                                   \
		(ctr)++;                                                       \
		if (__builtin_expect(LOG_DEBUG <= log_threshold, 0) && (ctr) == 1) \
			log_emit(LOG_DEBUG, __FILE__, __LINE__, "catpowder: %s: first drop: %s (later ones are only counted)", \
				 (a)->ifname, what);                          \
	} while (0)

/* Copies the frame of one filled slot into a runtime buffer; false when it is dropped. */
static bool rx_one(struct afp *a, struct tpacket2_hdr *h, uint32_t status, struct pkt *out)
{
	const struct sockaddr_ll *sll = (const void *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
	/* Our own transmissions, where PACKET_IGNORE_OUTGOING is missing (kernels before 4.20). */
	if (sll->sll_pkttype == PACKET_OUTGOING)
		return false;
	if (h->tp_snaplen < h->tp_len) {
		AFP_DROP(a, a->st.rx_truncated, "rx truncated (larger than a slot: GRO/GSO on?)");
		return false;
	}
	if (status & TP_STATUS_VLAN_VALID) {
		AFP_DROP(a, a->st.rx_vlan, "rx VLAN-tagged");
		return false;
	}
	uint32_t len = h->tp_snaplen;
	/*
	 * Copy: the slot goes back to the kernel as soon as we are done, and a
	 * popped payload may live on in the application for as long as it likes.
	 */
	struct buf *b = buf_alloc(a->nd.pool, len);
	if (!b) {
		AFP_DROP(a, a->st.rx_nobuf, "rx no buffer (the pool is empty)");
		return false;
	}
	uint8_t *data = buf_data(b);
	memcpy(data, (uint8_t *)h + h->tp_mac, len);
	if ((status & TP_STATUS_CSUMNOTREADY) && afp_csum_fixup(data, len))
		a->st.rx_csum_fixed++;
	out->buf = b;
	out->data = data;
	out->len = len;
	a->st.rx_frames++;
	a->st.rx_bytes += len;
	return true;
}

int afp_rx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct afp *a = (struct afp *)d;
	struct afp_ring *r = &a->rx;
	int got = 0;
	while (got < n) {
		struct tpacket2_hdr *h = afp_slot(r, r->head);
		uint32_t status = slot_status(h);
		if (!(status & TP_STATUS_USER))
			break;
		if (rx_one(a, h, status, &pkts[got]))
			got++;
		slot_give(h, TP_STATUS_KERNEL);
		r->head = r->head + 1 == r->nframes ? 0 : r->head + 1;
	}
	return got;
}

/* Asks the kernel to send every slot marked TP_STATUS_SEND_REQUEST, without waiting for them. */
static void tx_kick(struct afp *a)
{
	for (;;) {
		if (send(a->fd, NULL, 0, MSG_DONTWAIT) >= 0)
			return;
		if (errno == EINTR)
			continue;
		/* EAGAIN/ENOBUFS: the device queue is full; the slots stay requested and go with the next kick. */
		if (errno != EAGAIN && errno != ENOBUFS) {
			if (a->st.tx_errors++ == 0)
				log_warn("catpowder: send on %s: %s", a->ifname, strerror(errno));
		}
		return;
	}
}

int afp_tx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct afp *a = (struct afp *)d;
	struct afp_ring *r = &a->tx;
	int i, queued = 0;
	for (i = 0; i < n; i++) {
		struct pkt *p = &pkts[i];
		if (p->len > a->tx_max || p->len < ETH_HDR_LEN) {
			/* Accepted and dropped: refusing it would leave the stack retrying it forever. */
			if (a->st.tx_oversize++ == 0)
				log_warn("catpowder: dropping a %u-byte frame on %s (largest %u)", p->len, a->ifname, a->tx_max);
			buf_unref(a->nd.pool, p->buf);
			continue;
		}
		struct tpacket2_hdr *h = afp_slot(r, r->head);
		/* TP_STATUS_SENDING: still in flight; TP_STATUS_SEND_REQUEST: not yet picked up. Both: ring full. */
		if (slot_status(h) != TP_STATUS_AVAILABLE) {
			a->st.tx_ring_full++;
			break;
		}
		uint8_t *frame = (uint8_t *)h + AFP_TX_DATA_OFF;
		uint32_t len = p->len;
		memcpy(frame, p->data, len);
		if (len < ETH_MIN_FRAME) {
			/* Hardware pads short frames; veth and some drivers do not, so pad here. */
			memset(frame + len, 0, ETH_MIN_FRAME - len);
			len = ETH_MIN_FRAME;
		}
		h->tp_len = len;
		slot_give(h, TP_STATUS_SEND_REQUEST);
		r->head = r->head + 1 == r->nframes ? 0 : r->head + 1;
		a->st.tx_frames++;
		a->st.tx_bytes += len;
		buf_unref(a->nd.pool, p->buf);
		queued++;
	}
	if (queued || i < n)
		tx_kick(a);
	return i;
}
