/*
 * TCP output: deciding what to send (RFC 9293 section 3.8.6.2.1 sender SWS
 * avoidance, RFC 9293 section 3.7.4 Nagle, RFC 6675 section 5 SACK-based
 * recovery), building segments with their options, RSTs and ACKs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "tcp_priv.h"

uint32_t tcp_unsent(const struct tcb *tp)
{
	tcp_seq data_end = tp->snd_una + tp->sq_bytes;
	return SEQ_LT(tp->snd_nxt, data_end) ? data_end - tp->snd_nxt : 0;
}

uint32_t tcp_rcv_window(struct tcb *tp)
{
	uint32_t used = tp->rq_bytes + tp->ooo.bytes;
	uint32_t win = used < tp->rcvbuf ? tp->rcvbuf - used : 0;
	/* No more than the receive queue's free slots can take in full segments: never offer what would be dropped. */
	uint32_t taken = tp->rq_tail - tp->rq_head + tp->ooo.n;
	uint32_t slots = taken < TCP_RCVQ_LEN ? TCP_RCVQ_LEN - taken : 0;
	if ((uint64_t)slots * tp->mss < win)
		win = slots * tp->mss;
	uint32_t max = 65535u << tp->rcv_wscale;
	return win < max ? win : max;
}

void tcp_sndq_drop(struct tcb *tp, uint32_t acked)
{
	struct inet *in = tp->in;
	tp->sq_bytes -= acked;
	while (acked) {
		struct tcp_sndseg *s = &tp->sq[tp->sq_head & (TCP_SNDQ_LEN - 1)];
		if (acked < s->len) {
			s->data += acked;
			s->len -= acked;
			break;
		}
		acked -= s->len;
		buf_unref(in->pool, s->buf);
		tp->sq_head++;
	}
}

/* The window field for a segment, and the right edge it advertises (never moved left: RFC 9293 section 3.8.6). */
static uint16_t window_field(struct tcb *tp, bool syn)
{
	uint32_t win = tcp_rcv_window(tp);
	if (syn) { /* RFC 7323 section 2.2: a SYN's window is never scaled */
		win = win > 65535 ? 65535 : win;
		if (SEQ_GT(tp->rcv_nxt + win, tp->rcv_adv))
			tp->rcv_adv = tp->rcv_nxt + win;
		tp->rcv_wnd = win;
		return (uint16_t)win;
	}
	uint32_t shift = tp->rcv_wscale;
	if (SEQ_LT(tp->rcv_nxt + win, tp->rcv_adv))
		win = tp->rcv_adv - tp->rcv_nxt;
	uint32_t field = (win + (1u << shift) - 1) >> shift;
	if (field > 65535)
		field = 65535;
	/* Rounded up, the edge may pass the free space by less than one unit of scale: harmless. */
	tcp_seq edge = tp->rcv_nxt + (field << shift);
	if (SEQ_GT(edge, tp->rcv_adv))
		tp->rcv_adv = edge;
	tp->rcv_wnd = field << shift;
	return (uint16_t)field;
}

/* Options for a segment of tp: SYN ones, or timestamps and SACK blocks. */
static int write_opts(struct tcb *tp, uint8_t flags, uint8_t *buf)
{
	struct tcp_opts o;
	o.flags = 0;
	o.nsack = 0;
	struct tcp *t = &tp->in->tcp;
	if (flags & TH_SYN) {
		o.flags |= TCP_OPTF_MSS;
		o.mss = tp->our_mss;
		bool synack = flags & TH_ACK;
		/* A SYN offers what the config allows; a SYN-ACK only what the peer offered too (RFC 7323 section 2.2). */
		if (synack ? (tp->flags & TF_WSCALE) : t->wscale_ok) {
			o.flags |= TCP_OPTF_WSCALE;
			o.wscale = tp->rcv_wscale;
		}
		if (synack ? (tp->flags & TF_SACK) : t->sack_ok)
			o.flags |= TCP_OPTF_SACK_PERMITTED;
		if (synack ? (tp->flags & TF_TS) : t->ts_ok) {
			o.flags |= TCP_OPTF_TIMESTAMP;
			o.ts_val = tcp_ts_now(tp);
			o.ts_ecr = synack ? tp->ts_recent : 0;
		}
	} else if ((tp->flags & TF_TS) && !((tp->flags & TF_SACK) && (flags & TH_ACK) && tp->ooo.n)) {
		/* The common case, timestamps alone: NOP NOP TS in Linux's layout, written directly (RFC 7323 appendix A). */
		uint32_t w[3] = { htonl(0x0101080a), htonl(tcp_ts_now(tp)), htonl(tp->ts_recent) };
		memcpy(buf, w, sizeof(w));
		return 12;
	} else {
		if (tp->flags & TF_TS) {
			o.flags |= TCP_OPTF_TIMESTAMP;
			o.ts_val = tcp_ts_now(tp);
			o.ts_ecr = tp->ts_recent;
		}
		if ((tp->flags & TF_SACK) && (flags & TH_ACK) && tp->ooo.n) {
			struct tcp_sack_block b[TCP_SACK_MAX_BLOCKS];
			uint32_t n = tcp_ooo_sack_blocks(&tp->ooo, tp->rcv_nxt, b, TCP_SACK_MAX_BLOCKS);
			if (n) {
				o.flags |= TCP_OPTF_SACK;
				o.nsack = (uint8_t)n;
				memcpy(o.sack, b, n * sizeof(b[0]));
			}
		}
	}
	if (!o.flags)
		return 0;
	return tcp_opt_write(buf, TCP_MAX_OPT_LEN, &o);
}

/*
 * The payload of a segment: len bytes of the send queue from offset off
 * (bytes past snd_una). In place when they are the head of a pushed buffer
 * nobody else is sending from (headers go in its headroom); else copied.
 */
static int build_payload(struct tcb *tp, uint32_t off, uint32_t len, struct pkt *p)
{
	struct inet *in = tp->in;
	uint32_t i = tp->sq_head;
	while (off >= tp->sq[i & (TCP_SNDQ_LEN - 1)].len) {
		off -= tp->sq[i & (TCP_SNDQ_LEN - 1)].len;
		i++;
	}
	struct tcp_sndseg *s = &tp->sq[i & (TCP_SNDQ_LEN - 1)];
	struct buf *b = s->buf;
	if (off == 0 && len <= s->len && !b->owner && s->data == buf_data(b) && b->refcnt == b->app_refs + 1) {
		buf_ref(b);
		*p = (struct pkt){ .buf = b, .data = s->data, .len = len };
		in->st.tcp.tx_in_place++;
		return 0;
	}
	if (inet_pkt_alloc(in, len, p) < 0)
		return -ENOMEM;
	uint8_t *dst = p->data;
	uint32_t left = len;
	while (left) {
		s = &tp->sq[i++ & (TCP_SNDQ_LEN - 1)];
		uint32_t n = s->len - off;
		if (n > left)
			n = left;
		memcpy(dst, s->data + off, n);
		dst += n;
		left -= n;
		off = 0;
	}
	in->st.tcp.tx_copies++;
	return 0;
}

/* Prepends the header to p (payload, possibly empty) and sends it; consumes p. */
static int emit(struct tcb *tp, struct pkt *p, uint8_t flags, tcp_seq seq, tcp_seq ack, bool with_opts)
{
	struct inet *in = tp->in;
	uint8_t opts[TCP_MAX_OPT_LEN];
	int olen = with_opts ? write_opts(tp, flags, opts) : 0;
	if (olen < 0)
		olen = 0;
	uint32_t hlen = TCP_HDR_LEN + (uint32_t)olen;
	uint32_t dlen = p->len;
	if (!pkt_prepend(p, hlen)) {
		pkt_free(in, p);
		return -ENOBUFS;
	}
	struct tcp_hdr *th = (struct tcp_hdr *)p->data;
	th->sport = tp->lport;
	th->dport = tp->fport;
	th->seq = htonl(seq);
	th->ack = (flags & TH_ACK) ? htonl(ack) : 0;
	th->off = tcp_off(hlen);
	th->flags = flags;
	th->win = (flags & TH_RST) ? 0 : htons(window_field(tp, flags & TH_SYN));
	th->sum = 0;
	th->urp = 0;
	memcpy(th + 1, opts, (size_t)olen);
	uint64_t pseudo = cksum_pseudo(in->addr, tp->faddr, IPV4_PROTO_TCP, (uint16_t)p->len);
	if ((in->caps & NETDEV_TX_TCP_CSUM) && tp->faddr != in->addr)
		th->sum = cksum_fold(pseudo); /* the device completes it (see udp_out.c) */
	else
		th->sum = cksum_finish(cksum_add(pseudo, p->data, p->len));
	if (flags & TH_ACK) {
		tp->last_ack_sent = ack;
		tp->flags &= ~(uint32_t)(TF_ACKNOW | TF_DELACK); /* the delayed-ACK timer finds nothing to do */
	}
	in->st.tcp.tx_segments++;
	in->st.tcp.tx_bytes += dlen;
	return ipv4_output(in, p, IPV4_PROTO_TCP, tp->faddr);
}

int tcp_send_raw(struct tcb *tp, uint8_t flags, tcp_seq seq, tcp_seq ack, bool with_opts)
{
	struct pkt p;
	if (inet_pkt_alloc(tp->in, 0, &p) < 0)
		return -ENOMEM;
	return emit(tp, &p, flags, seq, ack, with_opts);
}

int tcp_send_seg(struct tcb *tp, uint8_t flags, tcp_seq seq, uint32_t len)
{
	struct pkt p;
	int err;
	if (len) {
		err = build_payload(tp, seq - tp->snd_una, len, &p);
		if (err)
			return err;
		if (seq + len == tp->snd_una + tp->sq_bytes)
			flags |= TH_PSH; /* the last queued byte: the push boundary (RFC 9293 section 3.9.1.2) */
	} else if ((err = inet_pkt_alloc(tp->in, 0, &p)) < 0) {
		return err;
	}
	tp->last_send = inet_now(tp->in);
	return emit(tp, &p, flags, seq, tp->rcv_nxt, true);
}

void tcp_send_ack(struct tcb *tp)
{
	/*
	 * snd_max, not snd_nxt: after a timeout snd_nxt goes back to snd_una,
	 * and a pure ACK numbered below what the peer already received would
	 * be unacceptable to it (as BSD's tcp_output does).
	 */
	tcp_send_raw(tp, TH_ACK, SEQ_GT(tp->snd_max, tp->snd_nxt) ? tp->snd_max : tp->snd_nxt, tp->rcv_nxt, true);
}

void tcp_send_challenge_ack(struct tcb *tp)
{
	struct tcp *t = &tp->in->tcp;
	uint64_t window = inet_now(tp->in) / NSEC_PER_SEC;
	if (window != t->challenge_window) {
		t->challenge_window = window;
		t->challenge_count = 0;
	}
	if (t->challenge_count++ >= TCP_CHALLENGE_ACKS_PER_S)
		return; /* RFC 5961 section 7 */
	tp->in->st.tcp.challenge_acks++;
	tcp_send_ack(tp);
}

void tcp_respond_rst(struct inet *in, const struct ipv4_hdr *ih, const struct tcp_hdr *th, uint32_t seglen)
{
	if (th->flags & TH_RST)
		return;
	if (ih->dst != in->addr || ih->src == IPV4_BROADCAST || (ntohl(ih->src) >> 28) == 0xe)
		return; /* RFC 1122 4.2.3.10: never answer a broadcast or multicast */
	/* The stand-in tcb carries the addresses: the header is built the same way. */
	struct tcb *tmp = tcp_standin(in, ih, th);
	in->st.tcp.rst_tx++;
	/* RFC 9293 section 3.10.7.1: <SEQ=SEG.ACK><CTL=RST> if ACK is on, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
	if (th->flags & TH_ACK)
		tcp_send_raw(tmp, TH_RST, ntohl(th->ack), 0, false);
	else
		tcp_send_raw(tmp, TH_RST | TH_ACK, 0, ntohl(th->seq) + seglen, false);
}

/* Retransmits [seq, seq + len) in SACK recovery and moves HighRxt past it. False when it could not leave. */
static bool rexmit(struct tcb *tp, tcp_seq seq, uint32_t len)
{
	if (tcp_send_seg(tp, TH_ACK, seq, len) < 0)
		return false;
	tp->sb.high_rxt = seq + len;
	tp->in->st.tcp.retransmits++;
	return true;
}

/* RFC 6675 section 5 (and RFC 6582 without SACK): what loss recovery may send now. True when it sent something. */
static bool output_recovery(struct tcb *tp)
{
	bool sent = false;
	for (int guard = 0; guard < 64; guard++) {
		uint32_t pipe;
		if (tp->flags & TF_SACK)
			pipe = tcp_sb_pipe(&tp->sb, tp->snd_una, tp->snd_max, tp->mss);
		else {
			uint32_t flight = tp->snd_max - tp->snd_una, out = tp->dupacks * tp->mss;
			pipe = flight > out ? flight - out : 0;
		}
		if (tp->cc.cwnd < pipe + tp->mss)
			break;
		tcp_seq seq;
		uint32_t len;
		/* Rule 1: a lost segment not yet retransmitted. */
		if ((tp->flags & TF_SACK) &&
		    tcp_sb_next_seg(&tp->sb, tp->snd_una, tp->snd_max, tp->mss, true, &seq, &len)) {
			if (!rexmit(tp, seq, len))
				break;
			sent = true;
			continue;
		}
		/* Rule 2: new data, if the peer's window has room. */
		uint32_t unsent = tcp_unsent(tp);
		if (unsent && SEQ_GEQ(tp->snd_nxt, tp->snd_max)) {
			uint32_t wnd_left = SEQ_LT(tp->snd_nxt, tp->snd_una + tp->snd_wnd) ? tp->snd_una + tp->snd_wnd - tp->snd_nxt : 0;
			len = unsent < tp->mss ? unsent : tp->mss;
			if (len > wnd_left)
				len = wnd_left;
			if (len) {
				if (tcp_send_seg(tp, TH_ACK, tp->snd_nxt, len) < 0)
					break;
				tp->snd_nxt += len;
				tp->snd_max = tp->snd_nxt;
				sent = true;
				continue;
			}
		}
		/* Rule 3: any unSACKed segment below the highest SACKed one. */
		if ((tp->flags & TF_SACK) &&
		    tcp_sb_next_seg(&tp->sb, tp->snd_una, tp->snd_max, tp->mss, false, &seq, &len)) {
			if (!rexmit(tp, seq, len))
				break;
			sent = true;
			continue;
		}
		break;
	}
	return sent;
}

int tcp_output(struct tcb *tp)
{
	struct inet *in = tp->in;
	switch (tp->state) {
	case TCPS_CLOSED:
	case TCPS_LISTEN:
	case TCPS_TIME_WAIT:
		if (tp->state == TCPS_TIME_WAIT && (tp->flags & TF_ACKNOW))
			tcp_send_ack(tp);
		return 0;
	case TCPS_SYN_SENT:
	case TCPS_SYN_RECEIVED:
		/* snd_nxt at iss: the SYN is due (first time, or again after a timeout). */
		if (tp->snd_nxt == tp->iss) {
			uint8_t flags = tp->state == TCPS_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK;
			/* A SYN the stack could not send (no buffer, ARP queue full) counts as lost: the timer retries it. */
			tcp_send_seg(tp, flags, tp->iss, 0);
			tp->snd_nxt = tp->iss + 1;
			if (SEQ_GT(tp->snd_nxt, tp->snd_max))
				tp->snd_max = tp->snd_nxt;
			if (!tcp_timer_rexmt_running(tp))
				tcp_timer_rexmt_arm(tp);
		} else if (tp->flags & TF_ACKNOW) {
			tcp_send_ack(tp);
		}
		return 0;
	default:
		break;
	}
	bool sent_any = false;
	if (tp->flags & TF_INRECOVERY)
		sent_any = output_recovery(tp);
	for (int guard = 0; guard < 1024; guard++) {
		tcp_seq data_end = tp->snd_una + tp->sq_bytes;
		uint32_t avail = tcp_unsent(tp);
		/* RFC 3042: the first two duplicate ACKs each let one segment beyond cwnd out. */
		uint32_t cwnd = tp->cc.cwnd + (tp->dupacks < TCP_DUPTHRESH ? tp->dupacks * tp->mss : 0);
		uint32_t wnd = tp->snd_wnd < cwnd ? tp->snd_wnd : cwnd;
		if (tp->flags & TF_INRECOVERY)
			wnd = 0; /* recovery sent what it may */
		tcp_seq edge = tp->snd_una + wnd;
		uint32_t usable = SEQ_LT(tp->snd_nxt, edge) ? edge - tp->snd_nxt : 0;
		uint32_t len = avail < usable ? avail : usable;
		if (len > tp->mss)
			len = tp->mss;
		bool retransmit = SEQ_LT(tp->snd_nxt, tp->snd_max);
		bool send = false;
		if (len) {
			/* Sender SWS avoidance and Nagle (RFC 9293 sections 3.8.6.2.1 and 3.7.4). */
			bool idle = tp->snd_nxt == tp->snd_una;
			if (len == tp->mss || retransmit || (tp->flags & TF_FORCE))
				send = true;
			else if (len == avail && ((tp->flags & TF_NODELAY) || idle || (tp->flags & TF_FIN_QUEUED)))
				send = true;
			else if (tp->max_sndwnd && len >= tp->max_sndwnd / 2)
				send = true;
		}
		/* Our FIN goes with the segment that carries the last queued byte, or alone once all is sent. */
		bool fin = (tp->flags & TF_FIN_QUEUED) && SEQ_LEQ(tp->snd_nxt, data_end) && tp->snd_nxt + len == data_end &&
			   (tp->state == TCPS_FIN_WAIT_1 || tp->state == TCPS_CLOSING || tp->state == TCPS_LAST_ACK);
		if (!send && !fin)
			break;
		uint8_t flags = TH_ACK | (fin ? TH_FIN : 0);
		tcp_seq seq = tp->snd_nxt;
		/* A segment that could not leave counts as sent and lost: the retransmission timer covers it. */
		bool failed = tcp_send_seg(tp, flags, seq, len) < 0;
		sent_any = true;
		if (retransmit)
			in->st.tcp.retransmits++;
		/* Karn (RFC 6298 section 3): time only new data, and only without timestamps. */
		if (!(tp->flags & TF_TS) && !tp->rtt_start && !retransmit && len) {
			tp->rtt_start = inet_now(tp->in);
			tp->rtt_seq = seq;
		}
		tp->snd_nxt += len + (fin ? 1 : 0);
		if (fin)
			tp->flags |= TF_FIN_SENT;
		if (SEQ_GT(tp->snd_nxt, tp->snd_max))
			tp->snd_max = tp->snd_nxt;
		if (!tcp_timer_rexmt_running(tp) || (tp->flags & TF_PERSIST)) {
			tp->flags &= ~(uint32_t)TF_PERSIST;
			tcp_timer_rexmt_arm(tp);
		}
		if (fin || failed)
			break;
	}
	/*
	 * Data waits and nothing is in flight to bring a window update: behind
	 * a zero window, probe (RFC 9293 section 3.8.6.1); behind a window too
	 * small to be worth a segment, the same timer sends what fits anyway
	 * (the override timeout of section 3.8.6.2.1).
	 */
	if (tcp_unsent(tp) && tp->snd_una == tp->snd_max && !tcp_timer_rexmt_running(tp))
		tcp_timer_persist_arm(tp);
	if (!sent_any && (tp->flags & TF_ACKNOW))
		tcp_send_ack(tp);
	tp->flags &= ~(uint32_t)TF_NEEDOUT;
	return 0;
}
