/* UDP input (RFC 768, RFC 1122 section 4.1.3): checks, demultiplexing by port, the sockets' receive queues. */
#include <arpa/inet.h>

#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/icmp.h"
#include "../../net/prot/udp.h"
#include "udp_sock.h"

void udp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted)
{
	struct demi_netstats_udp *st = &in->st.udp;
	if (p->len < UDP_HDR_LEN) {
		INET_DROP(st->drop_short, "udp short");
		goto drop;
	}
	const struct udp_hdr *uh = (const struct udp_hdr *)p->data;
	uint32_t ulen = ntohs(uh->len);
	if (ulen < UDP_HDR_LEN || ulen > p->len) {
		INET_DROP(st->drop_length, "udp length");
		goto drop;
	}
	p->len = ulen;
	/* RFC 768: a zero checksum means none was sent; RFC 1122 4.1.3.4: a bad one is silently discarded. */
	if (uh->sum && !trusted && !(in->caps & NETDEV_RX_CSUM_OK) && !(p->flags & PKT_RX_CSUM_OK)) {
		uint64_t sum = cksum_add(cksum_pseudo(ih->src, ih->dst, IPV4_PROTO_UDP, (uint16_t)ulen), uh, ulen);
		if (cksum_fold(sum) != 0xffff) {
			INET_DROP(st->drop_checksum, "udp checksum");
			goto drop;
		}
	}
	struct udp_sock *s = udp_lookup(&in->udp, uh->dport);
	/* A broadcast goes to sockets bound to the wildcard address only. */
	if (!s || (s->laddr && s->laddr != ih->dst)) {
		INET_DROP(st->drop_no_port, "udp no-port");
		/* RFC 1122 4.1.3.1: SHOULD send port unreachable (icmp_error skips broadcasts). */
		icmp_error(in, ICMP_UNREACH, ICMP_UNREACH_PORT, ih, (uint32_t)(p->data + p->len - (const uint8_t *)ih));
		goto drop;
	}
	/* A connected socket takes datagrams from its peer only. */
	if (s->connected && (ih->src != s->faddr || uh->sport != s->fport)) {
		INET_DROP(st->drop_not_peer, "udp not-peer");
		goto drop;
	}
	/* Bounded receive queue: SO_RCVBUF bytes and UDP_RCVQ_LEN datagrams; an empty queue takes any one. */
	if (s->rq_tail - s->rq_head == UDP_RCVQ_LEN ||
	    (s->rq_tail != s->rq_head && s->rq_bytes + ulen > (uint32_t)s->rcvbuf)) {
		INET_DROP(st->drop_rcvbuf, "udp rcvbuf");
		goto drop;
	}
	struct udp_dgram *d = &s->rq[s->rq_tail++ & (UDP_RCVQ_LEN - 1)];
	d->buf = p->buf;
	d->data = p->data + UDP_HDR_LEN;
	d->len = ulen - UDP_HDR_LEN;
	d->addr = ih->src;
	d->port = uh->sport;
	s->rq_bytes += d->len;
	st->rx_datagrams++;
	/* The oldest waiting pop takes it when its coroutine runs, later in this round. */
	if (!list_empty(&s->readers)) {
		struct op *op = container_of(s->readers.next, struct op, wnode);
		if (op->task)
			sched_wake(&in->rt->sched, op->task);
	}
	return;
drop:
	pkt_free(in, p);
}
