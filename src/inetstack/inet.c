/* The stack's entry points: creation, the poll loop, the transmit and loopback queues. */
#include "inet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../runtime/clock.h"
#include "../runtime/log.h"
#include "eth/eth.h"
#include "tcp/tcp.h"
#include "inet_priv.h"

__thread struct inet *inet_current;

int inet_create(struct rt *rt, struct netdev *dev, const struct demi_config *cfg, struct inet **out)
{
	if (!cfg->has_local_ipv4_addr || cfg->local_ipv4_addr.s_addr == 0) {
		log_error("inetstack: local_ipv4_addr (LOCAL_IPV4_ADDR) is required");
		return -EINVAL;
	}
	if (dev->pool && dev->pool != &rt->pool) {
		/* Popped payloads are handed to the application as they arrived: one pool. */
		log_error("inetstack: the device must receive into the runtime's buffer pool");
		return -EINVAL;
	}
	struct inet *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->rt = rt;
	in->dev = dev;
	in->pool = &rt->pool;
	in->addr = cfg->local_ipv4_addr.s_addr;
	memcpy(in->mac, cfg->has_local_link_addr ? cfg->local_link_addr : dev->mac, 6);
	in->mtu = dev->mtu ? dev->mtu : cfg->mtu;
	if (cfg->mtu && cfg->mtu < in->mtu)
		in->mtu = cfg->mtu;
	if (in->mtu < 68) /* RFC 791: every host must handle 68-byte datagrams unfragmented */
		in->mtu = 68;
	in->caps = dev->caps;
	if (!cfg->udp_checksum_offload)
		in->caps &= ~(uint32_t)NETDEV_TX_UDP_CSUM;
	if (!cfg->tcp_checksum_offload)
		in->caps &= ~(uint32_t)NETDEV_TX_TCP_CSUM;
	in->ip_id = (uint16_t)(rt->ops.completions ^ (uintptr_t)in >> 4);
	arp_init(in, cfg);
	icmp_init(in);
	udp_init(in);
	int terr = tcp_init(in, cfg);
	if (terr) {
		arp_fini(in);
		free(in);
		return terr;
	}
	inet_current = in;
	int err = arp_announce(in);
	if (err)
		log_warn("inetstack: gratuitous ARP not sent (%d)", err);
	inet_tx_flush(in);
	*out = in;
	return 0;
}

void inet_destroy(struct inet *in)
{
	if (!in)
		return;
	udp_fini(in);
	tcp_fini(in);
	inet_tx_flush(in); /* the RSTs of connections still open */
	inet_stats_log(in);
	arp_fini(in);
	ipv4_reass_fini(in);
	/* What the device did not take by now never leaves. */
	while (in->tx_head != in->tx_tail)
		pkt_free(in, &in->txq[in->tx_head++ & (INET_TXQ - 1)]);
	while (in->loop_head != in->loop_tail)
		pkt_free(in, &in->loopq[in->loop_head++ & (INET_LOOPQ - 1)]);
	if (inet_current == in)
		inet_current = NULL;
	free(in);
}

int inet_poll(struct inet *in)
{
	int n = inet_poll_rx(in);
	inet_tx_flush(in);
	return n;
}

int inet_poll_rx(struct inet *in)
{
	int done = 0;
	in->npolls++;
	in->in_poll = true;
	/* Looped-back packets queued before this poll; those they cause wait for the next one. */
	if (in->loop_head != in->loop_tail)
		in->now = clock_now();
	for (uint32_t end = in->loop_tail; in->loop_head != end; done++) {
		struct pkt p = in->loopq[in->loop_head++ & (INET_LOOPQ - 1)];
		ipv4_input(in, &p, true);
	}
	struct pkt burst[INET_RX_BURST];
	int n = in->dev->ops->rx_burst(in->dev, burst, INET_RX_BURST);
	if (n > 0)
		in->now = clock_now(); /* read once per burst, and only when one came: empty polls stay cheap */
	for (int i = 0; i < n; i++)
		eth_input(in, &burst[i]);
	in->in_poll = false;
	return done + (n > 0 ? n : 0);
}

int inet_socket(struct inet *in, int type, struct queue **out, const struct queue_ops **ops)
{
	if (type == SOCK_STREAM)
		return tcp_socket(in, out, ops);
	if (type != SOCK_DGRAM)
		return -ENOTSUP;
	return udp_socket(in, out, ops);
}

int inet_tx_enqueue(struct inet *in, struct pkt *p)
{
	if (in->tx_tail - in->tx_head == INET_TXQ) {
		inet_tx_flush(in);
		if (in->tx_tail - in->tx_head == INET_TXQ) {
			in->st.eth.drop_tx_full++;
			pkt_free(in, p);
			return -ENOBUFS;
		}
	}
	in->txq[in->tx_tail++ & (INET_TXQ - 1)] = *p;
	return 0;
}

void inet_tx_flush(struct inet *in)
{
	while (in->tx_head != in->tx_tail) {
		uint32_t at = in->tx_head & (INET_TXQ - 1);
		uint32_t n = in->tx_tail - in->tx_head;
		if (n > INET_TXQ - at)
			n = INET_TXQ - at; /* up to the end of the ring */
		int sent = in->dev->ops->tx_burst(in->dev, &in->txq[at], (int)n);
		if (sent <= 0)
			break;
		in->tx_head += (uint32_t)sent;
		in->st.eth.tx_frames += (uint64_t)sent;
		if ((uint32_t)sent < n)
			break;
	}
	/*
	 * Frames the device refused stay queued past their push's completion:
	 * the application may reuse its buffer from then on, so they move to
	 * copies of their own.
	 */
	for (uint32_t i = in->tx_head; i != in->tx_tail; i++) {
		struct pkt *p = &in->txq[i & (INET_TXQ - 1)];
		if (p->buf->app_refs && inet_pkt_own(in, p) == 0)
			in->st.eth.tx_copies++;
	}
}

int inet_loop_enqueue(struct inet *in, struct pkt *p)
{
	if (in->loop_tail - in->loop_head == INET_LOOPQ || inet_pkt_own(in, p) < 0) {
		in->st.ipv4.drop_no_buffer++;
		pkt_free(in, p);
		return -ENOBUFS;
	}
	in->loopq[in->loop_tail++ & (INET_LOOPQ - 1)] = *p;
	in->st.ipv4.loopback++;
	return 0;
}

int inet_pkt_alloc(struct inet *in, uint32_t len, struct pkt *out)
{
	struct buf *b = buf_alloc(in->pool, len ? len : 1);
	if (!b)
		return -ENOMEM;
	*out = (struct pkt){ .buf = b, .data = buf_data(b), .len = len };
	return 0;
}

int inet_pkt_own(struct inet *in, struct pkt *p)
{
	if (!p->buf->app_refs && !p->buf->owner)
		return 0;
	/* Same offset from buf_data as before, so the headroom left in front is the same. */
	uint32_t front = (uint32_t)(p->data - p->buf->base);
	uint32_t room = front > BUF_HEADROOM ? front - BUF_HEADROOM : 0;
	struct pkt c;
	if (inet_pkt_alloc(in, room + p->len, &c) < 0)
		return -ENOMEM;
	c.data += room;
	c.len = p->len;
	memcpy(c.data, p->data, p->len);
	pkt_free(in, p);
	*p = c;
	return 0;
}
