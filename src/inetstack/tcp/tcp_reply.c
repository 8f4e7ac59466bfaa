/*
 * Segments that answer a segment without a connection, built from its
 * headers alone: RSTs for closed ports (RFC 9293 section 3.10.7.1) and the
 * SYN-ACKs of SYN cookies (RFC 4987 section 3.6).
 */
#include <arpa/inet.h>
#include <errno.h>

#include "../inet_tx.h"
#include "tcp_priv.h"

/* A bare segment back to the sender of ih/th (ports and addresses reversed), options o (NULL: none); window win. */
static int reply(struct inet *in, const struct ipv4_hdr *ih, const struct tcp_hdr *th, uint8_t flags, tcp_seq seq,
		 tcp_seq ack, uint16_t win, const struct tcp_opts *o)
{
	uint8_t opts[TCP_MAX_OPT_LEN];
	int olen = o ? tcp_opt_write(opts, sizeof(opts), o) : 0;
	if (olen < 0)
		olen = 0;
	struct pkt p;
	if (inet_pkt_alloc(in, 0, &p) < 0)
		return -ENOMEM;
	if (!pkt_prepend(&p, TCP_HDR_LEN + (uint32_t)olen)) {
		pkt_free(in, &p);
		return -ENOBUFS;
	}
	tcp_hdr_fill(in, &p, th->dport, th->sport, ih->src, seq, ack, flags, htons(win), opts, (uint32_t)olen);
	in->st.tcp.tx_segments++;
	return ipv4_output(in, &p, IPV4_PROTO_TCP, ih->src);
}

void tcp_respond_rst(struct inet *in, const struct ipv4_hdr *ih, const struct tcp_hdr *th, uint32_t seglen)
{
	if (th->flags & TH_RST)
		return;
	if (ih->dst != in->addr || ih->src == IPV4_BROADCAST || (ntohl(ih->src) >> 28) == 0xe)
		return; /* RFC 1122 4.2.3.10: never answer a broadcast or multicast */
	in->st.tcp.rst_tx++;
	/* RFC 9293 section 3.10.7.1: <SEQ=SEG.ACK><CTL=RST> if ACK is on, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
	if (th->flags & TH_ACK)
		reply(in, ih, th, TH_RST, ntohl(th->ack), 0, 0, NULL);
	else
		reply(in, ih, th, TH_RST | TH_ACK, 0, ntohl(th->seq) + seglen, 0, NULL);
}

int tcp_reply_synack(struct inet *in, const struct ipv4_hdr *ih, const struct tcp_hdr *th, tcp_seq cookie,
		     const struct tcp_syn_nego *n, uint32_t ts_val, uint32_t ts_ecr, uint32_t rcvbuf)
{
	/* A SYN-ACK offers only what the peer offered too (RFC 7323 section 2.2), as tcp_out.c's for a connection. */
	struct tcp_opts o;
	o.flags = TCP_OPTF_MSS;
	o.nsack = 0;
	o.mss = n->our_mss;
	if (n->tf & TF_WSCALE) {
		o.flags |= TCP_OPTF_WSCALE;
		o.wscale = n->rcv_wscale;
	}
	if (n->tf & TF_SACK)
		o.flags |= TCP_OPTF_SACK_PERMITTED;
	if (n->tf & TF_TS) {
		o.flags |= TCP_OPTF_TIMESTAMP;
		o.ts_val = ts_val;
		o.ts_ecr = ts_ecr;
	}
	/*
	 * The window of an empty receive queue (tcp_rcvq_space): the buffer, no
	 * more than the ring takes in full segments; a SYN's is never scaled
	 * (RFC 7323 section 2.2).
	 */
	uint64_t win = rcvbuf;
	if ((uint64_t)TCP_RCVQ_LEN * n->mss < win)
		win = (uint64_t)TCP_RCVQ_LEN * n->mss;
	if (win > 65535)
		win = 65535;
	return reply(in, ih, th, TH_SYN | TH_ACK, cookie, ntohl(th->seq) + 1, (uint16_t)win, &o);
}
