/*
 * TCP output: deciding what to send (RFC 9293 section 3.8.6.2.1 sender SWS
 * avoidance, RFC 9293 section 3.7.4 Nagle; in loss recovery the algorithm
 * of tcp_rec.h chooses), building a connection's segments with their
 * options, ACKs.
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
	tcp_seq data_end = tp->snd_una + tcp_sndq_bytes(&tp->sq);
	return SEQ_LT(tp->snd_nxt, data_end) ? data_end - tp->snd_nxt : 0;
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

/* True when an ACK of tp carries SACK blocks: data held above a hole, or a duplicate to report (RFC 2883). */
static inline bool sack_due(const struct tcb *tp, uint8_t flags)
{
	return (tp->flags & TF_SACK) && (flags & TH_ACK) && (tcp_rcvq_has_ooo(&tp->rq) || tp->dsack_pending);
}

/*
 * Options for a segment of tp: SYN ones, or timestamps and SACK blocks; now:
 * the time it leaves (0: read the clock); room: the option bytes that keep
 * the segment within the MTU (SACK blocks are cut to fit).
 */
static int write_opts(struct tcb *tp, uint8_t flags, uint8_t *buf, uint64_t now, uint32_t room)
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
			o.ts_val = tcp_ts_at(tp, now ? now : inet_now(tp->in));
			o.ts_ecr = synack ? tp->ts_recent : 0;
		}
	} else if ((tp->flags & TF_TS) && !sack_due(tp, flags)) {
		/* The common case, timestamps alone: NOP NOP TS in Linux's layout, written directly (RFC 7323 appendix A). */
		uint32_t w[3] = { htonl(0x0101080a), htonl(tcp_ts_at(tp, now ? now : inet_now(tp->in))), htonl(tp->ts_recent) };
		memcpy(buf, w, sizeof(w));
		return 12;
	} else {
		if (tp->flags & TF_TS) {
			o.flags |= TCP_OPTF_TIMESTAMP;
			o.ts_val = tcp_ts_at(tp, now ? now : inet_now(tp->in));
			o.ts_ecr = tp->ts_recent;
		}
		if (sack_due(tp, flags)) {
			struct tcp_sack_block b[TCP_SACK_MAX_BLOCKS];
			uint32_t n = 0;
			/* RFC 2883 section 4: the D-SACK block first, once; the usual blocks after it. */
			if (tp->dsack_pending) {
				b[n++] = tp->dsack;
				tp->dsack_pending = false;
			}
			if (tcp_rcvq_has_ooo(&tp->rq))
				n += tcp_rcvq_sack_blocks(&tp->rq, tp->rcv_nxt, b + n, TCP_SACK_MAX_BLOCKS - n);
			/* Options count against the MSS: no more blocks than keep the segment within the MTU. */
			uint32_t used = (o.flags & TCP_OPTF_TIMESTAMP) ? 12 : 0;
			uint32_t fit = room > used + 4 ? (room - used - 4) / TCPOLEN_SACK_BLOCK : 0;
			if (n > fit)
				n = fit;
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
 * The most payload one segment may carry: one MSS, or on a device with TCP
 * segmentation offload (NETDEV_TX_TSO) as many whole MSS as its largest
 * super-segment holds with headers and the longest options.
 */
static uint32_t seg_max(const struct tcb *tp)
{
	const struct inet *in = tp->in;
	if (!(in->caps & NETDEV_TX_TSO) || tp->faddr == in->addr)
		return tp->mss;
	uint32_t n = (in->dev->tso_max - IPV4_HDR_LEN - TCP_HDR_LEN - TCP_MAX_OPT_LEN) / tp->mss;
	return n > 1 ? n * tp->mss : tp->mss;
}

/*
 * A super-segment (len > MSS) ends on a whole MSS, as Linux's
 * tcp_mss_split_point: its tail of less than an MSS rides along only when
 * it is the last queued byte and Nagle would send it alone anyway.
 */
static uint32_t tso_trim(const struct tcb *tp, uint32_t len, uint32_t avail)
{
	uint32_t tail = len % tp->mss;
	if (!tail || (len == avail && ((tp->flags & (TF_NODELAY | TF_FIN_QUEUED)) || tp->snd_nxt == tp->snd_una)))
		return len;
	return len - tail;
}

/*
 * Marks a segment of dlen payload bytes (hlen of TCP header) a
 * super-segment for the device to cut (PKT_TX_TSO) when it is longer than
 * one: segments of at most the MSS and never past the MTU, whatever the
 * options take.
 */
static void tso_mark(const struct tcb *tp, struct pkt *p, uint32_t dlen, uint32_t hlen)
{
	const struct inet *in = tp->in;
	uint32_t gso = in->mtu - IPV4_HDR_LEN - hlen;
	if (gso > tp->mss)
		gso = tp->mss;
	if (dlen > gso && tp->faddr != in->addr) {
		p->flags |= PKT_TX_TSO;
		p->gso_size = (uint16_t)gso;
	}
}

/* Prepends the header to p (payload, possibly empty) and sends it; consumes p. */
static int emit(struct tcb *tp, struct pkt *p, uint8_t flags, tcp_seq seq, tcp_seq ack, bool with_opts, uint64_t now)
{
	struct inet *in = tp->in;
	uint8_t opts[TCP_MAX_OPT_LEN];
	uint32_t mtu_room = tp->in->mtu - IPV4_HDR_LEN - TCP_HDR_LEN;
	uint32_t room = p->len < mtu_room ? mtu_room - p->len : 0;
	int olen = with_opts ? write_opts(tp, flags, opts, now, room < TCP_MAX_OPT_LEN ? room : TCP_MAX_OPT_LEN) : 0;
	if (olen < 0)
		olen = 0;
	uint32_t hlen = TCP_HDR_LEN + (uint32_t)olen;
	uint32_t dlen = p->len;
	if (!pkt_prepend(p, hlen)) {
		pkt_free(in, p);
		return -ENOBUFS;
	}
	if (dlen && (in->caps & NETDEV_TX_TSO))
		tso_mark(tp, p, dlen, hlen);
	uint16_t win = (flags & TH_RST) ? 0 : htons(window_field(tp, flags & TH_SYN));
	tcp_hdr_fill(in, p, tp->lport, tp->fport, tp->faddr, seq, ack, flags, win, opts, (uint32_t)olen);
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
	return emit(tp, &p, flags, seq, ack, with_opts, 0);
}

int tcp_send_seg(struct tcb *tp, uint8_t flags, tcp_seq seq, uint32_t len)
{
	struct pkt p;
	int err;
	if (len) {
		err = tcp_sndq_payload(&tp->sq, tp->in, seq - tp->snd_una, len, &p);
		if (err)
			return err;
		if (seq + len == tp->snd_una + tcp_sndq_bytes(&tp->sq))
			flags |= TH_PSH; /* the last queued byte: the push boundary (RFC 9293 section 3.9.1.2) */
		tp->last_send = inet_now(tp->in);
		tcp_sndq_sent(&tp->sq, tp->snd_una, seq, len, tp->last_send); /* when each range left (RFC 8985) */
	} else if ((err = inet_pkt_alloc(tp->in, 0, &p)) < 0) {
		return err;
	} else {
		tp->last_send = inet_now(tp->in);
	}
	return emit(tp, &p, flags, seq, tp->rcv_nxt, true, tp->last_send); /* one clock read per segment */
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
	if (tp->flags & (TF_INRECOVERY | TF_LOSS | TF_SACKED))
		sent_any = tp->rec->output(tp); /* RFC 6675 NextSeg, RFC 6582, RACK's lost ranges (tcp_rec.h) */
	for (int guard = 0; guard < 1024; guard++) {
		tcp_seq data_end = tp->snd_una + tcp_sndq_bytes(&tp->sq);
		uint32_t avail = tcp_unsent(tp);
		/* RFC 3042: the first two duplicate ACKs each let one segment beyond cwnd out. */
		uint32_t cwnd = tp->cc.cwnd + (tp->dupacks < TCP_DUPTHRESH ? tp->dupacks * tp->mss : 0);
		uint32_t wnd = tp->snd_wnd < cwnd ? tp->snd_wnd : cwnd;
		if (tp->flags & (TF_INRECOVERY | TF_LOSS | TF_SACKED))
			wnd = 0; /* recovery sent what it may */
		tcp_seq edge = tp->snd_una + wnd;
		uint32_t usable = SEQ_LT(tp->snd_nxt, edge) ? edge - tp->snd_nxt : 0;
		uint32_t len = avail < usable ? avail : usable;
		uint32_t max = seg_max(tp);
		if (len > max)
			len = max;
		bool retransmit = SEQ_LT(tp->snd_nxt, tp->snd_max);
		if (len > tp->mss && !retransmit)
			len = tso_trim(tp, len, avail);
		bool send = false;
		if (len) {
			/* Sender SWS avoidance and Nagle (RFC 9293 sections 3.8.6.2.1 and 3.7.4). */
			bool idle = tp->snd_nxt == tp->snd_una;
			if (len >= tp->mss || retransmit || (tp->flags & TF_FORCE))
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
			tcp_timer_rexmt_arm_at(tp, failed ? inet_now(tp->in) : tp->last_send); /* from when it left */
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
	/* RFC 8985 section 7.2: the probe timeout restarts after new data leaves (RACK; the burst's whole flight counts). */
	if (sent_any && tp->rec->arm && tcp_timer_rexmt_running(tp) && !(tp->flags & TF_PERSIST))
		tp->rec->arm(tp, tp->last_send);
	tp->flags &= ~(uint32_t)TF_NEEDOUT;
	return 0;
}
