/*
 * catpowder device burst paths: receive by reading the status words of the
 * mmap'd receive ring (no system call), transmit by filling slots of the
 * transmit ring and kicking the kernel with one send() per burst.
 */
#include "afpacket_priv.h"

#include <errno.h>
#include <string.h>
#include <linux/virtio_net.h>
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

/*
 * Counts a device drop that a user can fix; the first of each kind is said
 * once per device at warn level with the fix (fmt's arguments follow), later
 * ones only counted (demi_netstats' dev block, the summary at exit).
 */
#define AFP_DROP(a, ctr, kind, ...)                                            \
	do {                                                                   \
		(ctr)++;                                                       \
		if (__builtin_expect(!((a)->warned & (1u << (kind))), 0)) {    \
			(a)->warned |= 1u << (kind);                           \
			log_warn(__VA_ARGS__);                                 \
		}                                                              \
	} while (0)

/* The kernel dropped frames since its counter was last read (TP_STATUS_LOSING): count them, say it once. */
static void ring_losing(struct afp *a)
{
	uint64_t before = a->st.rx_ring_drops;
	afp_read_kernel_drops(a);
	if (a->st.rx_ring_drops != before && !(a->warned & (1u << AFP_WARN_RING))) {
		a->warned |= 1u << AFP_WARN_RING;
		log_warn("catpowder: %s: the receive ring (%u slots) overflowed, the kernel dropped %llu frames: the "
			 "stack was not polled for too long (an application busy between demi_wait calls, or a CPU "
			 "shared with other work); poll more often or give the thread its own core "
			 "(demi_netstats dev.drop_rx_ring_full counts them)",
			 a->ifname, a->rx.nframes, (unsigned long long)(a->st.rx_ring_drops - before));
	}
}

/*
 * The virtio-net header the kernel put in front of the frame (PACKET_VNET_HDR):
 * whether it is a super-frame, and its checksum state. Returns the pkt flags.
 */
static uint16_t rx_vnet(struct afp *a, const struct virtio_net_hdr *vh, uint8_t *data, uint32_t len)
{
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		a->st.rx_gso++;
	if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		a->st.rx_csum_valid++;
		return PKT_RX_CSUM_OK;
	}
	/*
	 * Left to offload by a sender on this host: the field holds the
	 * pseudo-header sum. Completed rather than trusted blindly, so that a
	 * capture of what the stack received (DEMI_PCAP) reads right.
	 */
	if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && afp_csum_fixup(data, len)) {
		a->st.rx_csum_fixed++;
		return PKT_RX_CSUM_OK;
	}
	return 0;
}

/* Copies the frame of one filled slot into a runtime buffer; false when it is dropped. */
static bool rx_one(struct afp *a, struct tpacket2_hdr *h, uint32_t status, struct pkt *out)
{
	const struct sockaddr_ll *sll = (const void *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
	/* Our own transmissions, where PACKET_IGNORE_OUTGOING is missing (kernels before 4.20). */
	if (sll->sll_pkttype == PACKET_OUTGOING)
		return false;
	if (h->tp_snaplen < h->tp_len) {
		if (a->vnet)
			AFP_DROP(a, a->st.rx_truncated, AFP_WARN_TRUNC,
				 "catpowder: frames larger than the ring slot arrive from %s (%u bytes, slots hold %u): "
				 "dropped; they are GRO/GSO super-frames past 64 KiB (BIG TCP) or jumbo frames: lower them "
				 "(ip link set %s gro_max_size 65536 gso_max_size 65536, and the same on the sender) or "
				 "the MTU (demi_netstats dev.drop_rx_too_large counts them)",
				 a->ifname, h->tp_len, h->tp_snaplen, a->ifname);
		else
			AFP_DROP(a, a->st.rx_truncated, AFP_WARN_TRUNC,
				 "catpowder: frames larger than the ring slot arrive from %s (%u bytes, slots hold %u): "
				 "dropped; they are GRO/GSO super-frames and this kernel has no PACKET_VNET_HDR to take "
				 "them whole: turn them off (ethtool -K %s gro off; on the sending host or veth peer: "
				 "ethtool -K <if> tso off gso off) (demi_netstats dev.drop_rx_too_large counts them)",
				 a->ifname, h->tp_len, h->tp_snaplen, a->ifname);
		return false;
	}
	if (status & TP_STATUS_VLAN_VALID) {
		AFP_DROP(a, a->st.rx_vlan, AFP_WARN_VLAN,
			 "catpowder: VLAN-tagged frames arrive on %s (VLAN %u): dropped, the stack has no VLANs; bind "
			 "catpowder to a VLAN interface instead (ip link add link %s name %s.%u type vlan id %u) "
			 "(demi_netstats dev.drop_rx_vlan counts them)",
			 a->ifname, h->tp_vlan_tci & 0xfff, a->ifname, a->ifname, h->tp_vlan_tci & 0xfff,
			 h->tp_vlan_tci & 0xfff);
		return false;
	}
	uint32_t len = h->tp_snaplen;
	/*
	 * Copy: the slot goes back to the kernel as soon as we are done, and a
	 * popped payload may live on in the application for as long as it likes.
	 */
	struct buf *b = buf_alloc(a->nd.pool, len);
	if (!b) {
		AFP_DROP(a, a->st.rx_nobuf, AFP_WARN_NOBUF,
			 "catpowder: no buffer for a frame received on %s: dropped; the buffer pool is exhausted "
			 "(the application keeps too many popped buffers: demi_sgafree them, or raise "
			 "demi.max_buffers / demi.max_buffer_bytes) (demi_netstats dev.drop_rx_no_buffer counts them)",
			 a->ifname);
		return false;
	}
	uint8_t *data = buf_data(b);
	memcpy(data, (uint8_t *)h + h->tp_mac, len);
	uint16_t flags = 0;
	if (a->vnet) {
		flags = rx_vnet(a, (const struct virtio_net_hdr *)((uint8_t *)h + h->tp_mac - sizeof(struct virtio_net_hdr)),
				data, len);
	} else if (status & TP_STATUS_CSUM_VALID) {
		a->st.rx_csum_valid++;
		flags = PKT_RX_CSUM_OK;
	} else if ((status & TP_STATUS_CSUMNOTREADY) && afp_csum_fixup(data, len)) {
		a->st.rx_csum_fixed++;
		flags = PKT_RX_CSUM_OK;
	}
	*out = (struct pkt){ .buf = b, .data = data, .len = len, .flags = flags };
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
		if (__builtin_expect(status & TP_STATUS_LOSING, 0))
			ring_losing(a);
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

/*
 * The virtio-net header in front of a frame to send (PACKET_VNET_HDR): zero
 * for a plain frame; for a TCP super-segment (PKT_TX_TSO) the kernel's GSO
 * cuts it into segments of gso_size payload bytes and completes each
 * checksum from the pseudo-header sum the stack left.
 */
static void tx_vnet(struct virtio_net_hdr *vh, const struct pkt *p)
{
	memset(vh, 0, sizeof(*vh));
	if (!(p->flags & PKT_TX_TSO))
		return;
	const uint8_t *ip = p->data + ETH_HDR_LEN;
	uint16_t l4 = (uint16_t)(ETH_HDR_LEN + (ip[0] & 0x0f) * 4u);
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh->gso_size = p->gso_size;
	vh->csum_start = l4;
	vh->csum_offset = 16; /* offsetof(struct tcp_hdr, sum) */
	vh->hdr_len = (uint16_t)(l4 + (p->data[l4 + 12] >> 4) * 4u);
}

int afp_tx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct afp *a = (struct afp *)d;
	struct afp_ring *r = &a->tx;
	int i, queued = 0;
	for (i = 0; i < n; i++) {
		struct pkt *p = &pkts[i];
		uint32_t max = (p->flags & PKT_TX_TSO) && a->vnet ? ETH_HDR_LEN + AFP_GSO_MAX : a->tx_max;
		if (p->len > max || p->len < ETH_HDR_LEN + ((p->flags & PKT_TX_TSO) ? 60u : 0u)) {
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
		uint32_t vlen = 0;
		if (a->vnet) {
			tx_vnet((struct virtio_net_hdr *)frame, p);
			vlen = sizeof(struct virtio_net_hdr);
			frame += vlen;
			a->st.tx_tso += (p->flags & PKT_TX_TSO) != 0;
		}
		uint32_t len = p->len;
		memcpy(frame, p->data, len);
		if (len < ETH_MIN_FRAME) {
			/* Hardware pads short frames; veth and some drivers do not, so pad here. */
			memset(frame + len, 0, ETH_MIN_FRAME - len);
			len = ETH_MIN_FRAME;
		}
		h->tp_len = vlen + len;
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
