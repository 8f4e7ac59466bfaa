/*
 * TCP input: SEGMENT ARRIVES (RFC 9293 section 3.10.7) with RFC 5961's
 * protections, RFC 7323's PAWS and RTT measurement, duplicate ACKs for
 * loss recovery (tcp_rec.h), delayed ACKs, data into the receive queue
 * (tcp_rcvq.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../inet_tx.h"
#include "tcp_csum.h"
#include "tcp_priv.h"

/* What the checks and the state machine need of one arriving segment, host order. */
struct seg {
	const struct ipv4_hdr *ih;
	const struct tcp_hdr *th;
	struct tcp_opts o;
	tcp_seq seq, ack;
	uint32_t win;   /* unscaled field */
	uint32_t len;   /* payload bytes */
	uint8_t flags;
};

static inline uint32_t seg_seqlen(const struct seg *s)
{
	return s->len + ((s->flags & TH_SYN) ? 1 : 0) + ((s->flags & TH_FIN) ? 1 : 0);
}

void tcp_syn_negotiate(const struct inet *in, const struct tcp_opts *o, uint32_t rcvbuf, struct tcp_syn_nego *n)
{
	const struct tcp *t = &in->tcp;
	uint32_t mtu_mss = in->mtu - IPV4_HDR_LEN - TCP_HDR_LEN;
	n->our_mss = (uint16_t)(in->rt->cfg.mss && in->rt->cfg.mss < mtu_mss ? in->rt->cfg.mss : mtu_mss);
	/* RFC 9293 section 3.7.1 (MUST-15): 536 when the peer sent no MSS option. */
	n->peer_mss = (o->flags & TCP_OPTF_MSS) && o->mss >= 64 ? o->mss : TCP_DEFAULT_MSS;
	n->tf = 0;
	n->snd_wscale = n->rcv_wscale = 0;
	if ((o->flags & TCP_OPTF_WSCALE) && t->wscale_ok) {
		n->tf |= TF_WSCALE;
		n->snd_wscale = o->wscale;
		n->rcv_wscale = tcp_wscale_for(rcvbuf);
	}
	if ((o->flags & TCP_OPTF_TIMESTAMP) && t->ts_ok)
		n->tf |= TF_TS;
	if ((o->flags & TCP_OPTF_SACK_PERMITTED) && t->sack_ok)
		n->tf |= TF_SACK;
	/* Eff.snd.MSS (RFC 9293 section 3.7.1) less the timestamp option every segment carries. */
	uint32_t mss = n->peer_mss < mtu_mss ? n->peer_mss : mtu_mss;
	if (n->tf & TF_TS)
		mss -= 12;
	n->mss = (uint16_t)mss;
}

void tcp_apply_syn_opts(struct tcb *tp, const struct tcp_opts *o)
{
	struct inet *in = tp->in;
	struct tcp *t = &in->tcp;
	struct tcp_syn_nego n;
	tcp_syn_negotiate(in, o, tp->rcvbuf, &n);
	tp->our_mss = n.our_mss;
	tp->peer_mss = n.peer_mss;
	tp->flags = (tp->flags & ~(uint32_t)(TF_WSCALE | TF_TS | TF_SACK)) | n.tf;
	tp->snd_wscale = n.snd_wscale;
	tp->rcv_wscale = n.rcv_wscale;
	if (n.tf & TF_TS) {
		tp->ts_recent = o->ts_val;
		tp->ts_recent_age = inet_now(tp->in);
	}
	tp->mss = n.mss;
	tp->cc.ops = t->cc;
	t->cc->init(&tp->cc, n.mss, inet_now(tp->in));
	tp->rec = (tp->flags & TF_SACK) ? t->rec : &tcp_rec_newreno;
	tcp_rack_reset(tp);
}

/* An RTT sample from the echoed timestamp (RFC 7323 section 4.1) or the timed segment (RFC 6298, Karn). */
static void rtt_update(struct tcb *tp, const struct seg *s)
{
	if ((tp->flags & TF_TS) && (s->o.flags & TCP_OPTF_TIMESTAMP) && s->o.ts_ecr) {
		uint32_t ms = tcp_ts_now(tp) - s->o.ts_ecr;
		if (ms < 60 * 60 * 1000) /* ignore echoes that make no sense */
			tcp_rtt_sample(tp, (uint64_t)ms * NSEC_PER_MSEC + NSEC_PER_MSEC / 2);
	} else if (tp->rtt_start && SEQ_GT(s->ack, tp->rtt_seq)) {
		tcp_rtt_sample(tp, inet_now(tp->in) - tp->rtt_start);
		tp->rtt_start = 0;
	}
}

static void enter_time_wait(struct tcb *tp)
{
	tcb_set_state(tp, TCPS_TIME_WAIT);
	tcp_timers_stop(tp);
	tcp_timer_2msl_arm(tp, tp->in->tcp.time_wait);
}

/* Our FIN was acknowledged: the FIN-WAIT-1, CLOSING and LAST-ACK transitions (RFC 9293 section 3.10.7.4, fifth). */
static bool our_fin_acked(const struct tcb *tp)
{
	return (tp->flags & TF_FIN_SENT) && tp->snd_una == tp->snd_max && tcp_sndq_bytes(&tp->sq) == 0;
}

/* RFC 2883: a duplicate [s, e) arrived; the next ACK reports it in a D-SACK block (the latest one wins). */
static void note_dsack(struct tcb *tp, tcp_seq s, tcp_seq e)
{
	if (!(tp->flags & TF_SACK) || !SEQ_LT(s, e))
		return;
	tp->dsack = (struct tcp_sack_block){ .start = s, .end = e };
	tp->dsack_pending = true;
}

/* Step seven of RFC 9293 section 3.10.7.4: segment text. Consumes p. */
static void process_text(struct tcb *tp, struct seg *s, struct pkt *p)
{
	struct inet *in = tp->in;
	if (s->seq == tp->rcv_nxt) {
		tcp_seq before = tp->rcv_nxt;
		enum tcp_rcvq_took took = tcp_rcvq_in_order(&tp->rq, in, p, &tp->rcv_nxt);
		if (took == TCP_RCVQ_NOROOM) {
			INET_DROP(in->st.tcp.drop_no_room, "tcp no-room");
			pkt_free(in, p);
			s->flags &= (uint8_t)~TH_FIN; /* not acknowledged: the FIN comes again */
			tp->flags |= TF_ACKNOW;
			return;
		}
		in->st.tcp.rx_bytes += tp->rcv_nxt - before;
		bool filled = took == TCP_RCVQ_FILLED;
		/*
		 * RFC 9293 section 3.8.6.3 and RFC 5681 section 4.2: ACK at least
		 * every second full-sized segment (at once for a GRO/GSO
		 * super-segment of several), at once after a hole fills; otherwise the
		 * ACK waits for the reply it can ride on, or the delayed-ACK timer.
		 */
		if (filled || (tp->flags & TF_DELACK) || !in->tcp.delack || tp->rcv_nxt - before >= 2u * tp->our_mss)
			tp->flags |= TF_ACKNOW;
		else
			tcp_timer_delack_arm(tp);
		tcp_wake_readers(tp);
		return;
	}
	/* Out of order (above rcv_nxt, trimmed to the window): keep it, ACK at once with SACK (RFC 5681 section 4.2). */
	in->st.tcp.ooo_segments++;
	tcp_seq seq = s->seq;
	uint32_t len = s->len;
	bool kept = true;
	if (!tcp_rcvq_ooo_insert(&tp->rq, in->pool, seq, p)) {
		if (tcp_rcvq_ooo_full(&tp->rq)) {
			INET_DROP(in->st.tcp.drop_no_room, "tcp no-room");
			kept = false;
		} else {
			note_dsack(tp, seq, seq + len); /* all of it held already: RFC 2883 */
		}
	}
	/* A FIN beyond a hole stays with its data (as Linux's out-of-order queue), taken once the hole fills. */
	if ((s->flags & TH_FIN) && kept) {
		tp->flags |= TF_OOO_FIN;
		tp->ooo_fin = seq + len;
	}
	s->flags &= (uint8_t)~TH_FIN;
	tp->flags |= TF_ACKNOW;
}

/* New data acknowledged (RFC 9293 section 3.10.7.4 fifth, RFC 5681, RFC 6582, RFC 6675). */
static void process_new_ack(struct tcb *tp, struct seg *s)
{
	struct inet *in = tp->in;
	uint32_t acked = s->ack - tp->snd_una;
	uint32_t flight = tp->snd_max - tp->snd_una;
	rtt_update(tp, s);
	uint32_t queued = tcp_sndq_bytes(&tp->sq);
	uint32_t data = acked < queued ? acked : queued;
	bool app_limited = tcp_unsent(tp) == 0;
	tcp_sndq_drop(&tp->sq, in->pool, data, s->ack);
	tp->snd_una = s->ack;
	if (SEQ_LT(tp->snd_nxt, tp->snd_una))
		tp->snd_nxt = tp->snd_una;
	tcp_sb_ack(&tp->sb, tp->snd_una);
	uint64_t now = inet_now(tp->in);
	if (tp->flags & TF_INRECOVERY) {
		tcp_rec_ack(tp, s->ack, now);
	} else {
		tp->cc.ops->on_ack(&tp->cc, acked, flight, tp->srtt_ns, app_limited, now);
	}
	tp->dupacks = 0;
	/* RFC 6298 section 5.2 and 5.3. */
	if (tp->snd_una == tp->snd_max)
		tcp_timer_rexmt_stop(tp);
	else
		tcp_timer_rexmt_arm(tp);
	if (data)
		tcp_wake_writers(tp);
	tp->flags |= TF_NEEDOUT;
}

/* The same ACK again (RFC 5681 section 2 "duplicate acknowledgment", or new SACK information, RFC 6675 section 2). */
static void process_dup_ack(struct tcb *tp, struct seg *s, uint32_t newly_sacked)
{
	/* newly_sacked is never set without SACK (only then is the scoreboard fed). */
	bool dup = (tp->snd_max != tp->snd_una && s->len == 0 && !(s->flags & (TH_SYN | TH_FIN)) &&
		    (s->win << tp->snd_wscale) == tp->snd_wnd) ||
		   newly_sacked;
	if (!dup) {
		tp->dupacks = 0;
		return;
	}
	tp->dupacks++;
	if (tp->flags & TF_INRECOVERY) {
		tp->flags |= TF_NEEDOUT; /* pipe shrank: recovery may send more */
		return;
	}
	tcp_rec_dupack(tp);
}

/* RFC 9293 section 3.10.7.4 first: is the segment acceptable for the receive window? */
static bool seq_acceptable(const struct tcb *tp, const struct seg *s)
{
	uint32_t wnd = tcp_adv_window(tp);
	uint32_t len = seg_seqlen(s);
	if (len == 0)
		return wnd == 0 ? s->seq == tp->rcv_nxt : seq_between(tp->rcv_nxt, s->seq, tp->rcv_nxt + wnd);
	if (wnd == 0)
		return false;
	return seq_between(tp->rcv_nxt, s->seq, tp->rcv_nxt + wnd) ||
	       seq_between(tp->rcv_nxt, s->seq + len - 1, tp->rcv_nxt + wnd);
}

/* Trims the segment to the receive window: bytes already received in front, bytes past the window behind. */
static void trim(struct tcb *tp, struct seg *s, struct pkt *p)
{
	if (SEQ_LT(s->seq, tp->rcv_nxt)) {
		uint32_t d = tp->rcv_nxt - s->seq;
		if (s->flags & TH_SYN) {
			s->flags &= (uint8_t)~TH_SYN;
			s->seq++;
			d--;
		}
		if (d > s->len) /* a duplicate FIN: it is acknowledged again below */
			d = s->len;
		note_dsack(tp, s->seq, s->seq + d); /* RFC 2883 section 4: the duplicated part of a partly new segment */
		pkt_strip(p, d);
		s->len -= d;
		s->seq += d;
	}
	uint32_t wnd = tcp_adv_window(tp);
	tcp_seq edge = tp->rcv_nxt + wnd;
	if (SEQ_GT(s->seq + s->len, edge)) {
		uint32_t over = s->seq + s->len - edge;
		if (over > s->len)
			over = s->len;
		s->len -= over;
		p->len -= over;
		s->flags &= (uint8_t)~TH_FIN;
	}
}

/* SYN-SENT (RFC 9293 section 3.10.7.3). Consumes p. */
static void syn_sent(struct tcb *tp, struct seg *s, struct pkt *p)
{
	struct inet *in = tp->in;
	bool ack_ok = false;
	if (s->flags & TH_ACK) {
		if (SEQ_LEQ(s->ack, tp->iss) || SEQ_GT(s->ack, tp->snd_max)) {
			if (!(s->flags & TH_RST))
				tcp_respond_rst(in, s->ih, s->th, seg_seqlen(s));
			goto drop;
		}
		ack_ok = true;
	}
	if (s->flags & TH_RST) {
		if (ack_ok) { /* "error: connection reset" — refused, to the application */
			in->st.tcp.rst_rx++;
			in->st.tcp.conn_failed++;
			pkt_free(in, p);
			tcb_close(tp, ECONNREFUSED);
			return;
		}
		goto drop;
	}
	if (!(s->flags & TH_SYN))
		goto drop;
	tp->irs = s->seq;
	tp->rcv_nxt = s->seq + 1;
	tp->rcv_adv = tp->rcv_nxt;
	tcp_apply_syn_opts(tp, &s->o);
	tp->snd_wnd = s->win; /* a SYN's window is never scaled (RFC 7323 section 2.2) */
	tp->max_sndwnd = tp->snd_wnd;
	tp->snd_wl1 = s->seq;
	tp->snd_wl2 = s->ack;
	if (ack_ok) {
		tp->snd_una = s->ack;
		rtt_update(tp, s);
		if (!tp->srtt_ns && tp->rxtshift == 0 && tp->rtt_start) /* the SYN was sent once: time it */
			tcp_rtt_sample(tp, inet_now(tp->in) - tp->rtt_start);
		tp->rtt_start = 0;
		tp->rxtshift = 0;
		tcp_timer_rexmt_stop(tp);
		tcb_set_state(tp, TCPS_ESTABLISHED);
		tp->last_recv = inet_now(tp->in);
		tcp_timer_keep_arm(tp);
		in->st.tcp.active_opens++;
		if (tp->conn_op) {
			op_complete(&in->rt->ops, tp->conn_op);
			tp->conn_op = NULL;
		}
		tp->flags |= TF_ACKNOW;
		tcp_output(tp);
		tcp_wake_writers(tp);
		pkt_free(in, p); /* data on a SYN-ACK is rare: the peer sends it again */
		return;
	}
	/* Simultaneous open (RFC 9293 figure 7): SYN-RECEIVED, our SYN again with an ACK. */
	tcb_set_state(tp, TCPS_SYN_RECEIVED);
	tp->snd_nxt = tp->iss;
	tcp_output(tp);
drop:
	pkt_free(in, p);
}

/* Segments for a connection past LISTEN and SYN-SENT (RFC 9293 section 3.10.7.4). Consumes p. */
static void established(struct tcb *tp, struct seg *s, struct pkt *p)
{
	struct inet *in = tp->in;
	struct demi_netstats_tcp *st = &in->st.tcp;
	uint64_t now = inet_now(tp->in);

	/* RFC 7323 section 5.3: PAWS, before anything else. */
	if ((tp->flags & TF_TS) && (s->o.flags & TCP_OPTF_TIMESTAMP) && !(s->flags & TH_RST) &&
	    SEQ_LT(s->o.ts_val, tp->ts_recent)) {
		if (now - tp->ts_recent_age > TCP_MSL_TS_NS) {
			tp->ts_recent = s->o.ts_val; /* idle for 24 days: TS.Recent is invalid (section 5.5) */
		} else {
			INET_DROP(st->drop_paws, "tcp paws");
			tp->flags |= TF_ACKNOW;
			goto drop_out;
		}
	}

	/* First: sequence number. */
	if (!seq_acceptable(tp, s)) {
		INET_DROP(st->drop_out_of_window, "tcp out-of-window");
		/* RFC 2883: old data again (a spurious retransmission, or a lost ACK's): report it in a D-SACK block. */
		if (s->len && !(s->flags & TH_RST) && SEQ_LEQ(s->seq + s->len, tp->rcv_nxt))
			note_dsack(tp, s->seq, s->seq + s->len);
		if (!(s->flags & TH_RST))
			tp->flags |= TF_ACKNOW;
		/* RFC 9293 section 3.10.7.4: in TIME-WAIT a retransmitted FIN is acknowledged and restarts the 2 MSL wait. */
		if (tp->state == TCPS_TIME_WAIT && (s->flags & TH_FIN) && !(s->flags & TH_RST))
			tcp_timer_2msl_arm(tp, in->tcp.time_wait);
		goto drop_out;
	}

	/* Second: RST (RFC 5961 section 3.2: only the exact sequence number resets; in window, a challenge). */
	if (s->flags & TH_RST) {
		st->rst_rx++;
		if (s->seq != tp->rcv_nxt) {
			tcp_send_challenge_ack(tp);
			goto drop;
		}
		pkt_free(in, p);
		switch (tp->state) {
		case TCPS_SYN_RECEIVED:
			/* From a listener: back to nothing; from a simultaneous open: refused. */
			st->conn_failed++;
			tcb_close(tp, tp->listener ? ECONNRESET : ECONNREFUSED);
			return;
		case TCPS_ESTABLISHED:
		case TCPS_FIN_WAIT_1:
		case TCPS_FIN_WAIT_2:
		case TCPS_CLOSE_WAIT:
			st->conn_failed++;
			tcb_close(tp, ECONNRESET);
			return;
		default:
			tcb_close(tp, 0);
			return;
		}
	}
	trim(tp, s, p);

	/* Fourth: SYN in a synchronized state (RFC 5961 section 4.2): a challenge ACK, never a reset. */
	if (s->flags & TH_SYN) {
		if (tp->state == TCPS_SYN_RECEIVED && tp->listener) {
			/* RFC 9293 section 3.10.7.4 fourth: a passive open's SYN-RECEIVED returns to LISTEN. */
			pkt_free(in, p);
			tcb_close(tp, 0);
			return;
		}
		tcp_send_challenge_ack(tp);
		goto drop;
	}

	/* Fifth: ACK. */
	if (!(s->flags & TH_ACK))
		goto drop;
	if (tp->state == TCPS_SYN_RECEIVED) {
		if (!seq_between(tp->snd_una + 1, s->ack, tp->snd_max + 1)) {
			tcp_respond_rst(in, s->ih, s->th, seg_seqlen(s));
			goto drop;
		}
		struct tcb *lp = tp->listener;
		if (lp && lp->nacceptq >= lp->backlog && list_empty(&lp->acceptors)) {
			INET_DROP(st->drop_listen_overflow, "tcp listen-overflow"); /* as Linux: the peer's ACK comes again */
			goto drop;
		}
		if (tcb_alloc_rings(tp) < 0) { /* a child of a listener gets its rings now (tcp_tcb.c) */
			INET_DROP(st->drop_no_room, "tcp no-room");
			goto drop;
		}
		tcb_set_state(tp, TCPS_ESTABLISHED);
		tp->snd_una = tp->iss + 1;
		tp->snd_wnd = s->win << tp->snd_wscale;
		tp->max_sndwnd = tp->snd_wnd;
		tp->snd_wl1 = s->seq;
		tp->snd_wl2 = s->ack;
		rtt_update(tp, s);
		tp->rxtshift = 0;
		tcp_timer_rexmt_stop(tp);
		tcp_timer_keep_arm(tp);
		if (lp) {
			st->passive_opens++;
			if (!tcp_listen_established(tp))
				goto drop; /* no descriptor for it: reset, and maybe freed */
		} else {
			st->active_opens++;
			if (tp->conn_op) {
				op_complete(&in->rt->ops, tp->conn_op);
				tp->conn_op = NULL;
			}
		}
	}
	/* RFC 5961 section 5.2: an ACK outside [SND.UNA - MAX.SND.WND, SND.NXT] is answered and dropped. */
	if (SEQ_GT(s->ack, tp->snd_max) || SEQ_LT(s->ack, tp->snd_una - tp->max_sndwnd)) {
		tcp_send_challenge_ack(tp);
		goto drop;
	}
	bool ack_current = SEQ_GEQ(s->ack, tp->snd_una); /* RFC 9293: only SND.UNA =< SEG.ACK updates the window */
	uint32_t newly_sacked = 0;
	if ((tp->flags & TF_SACK) && (s->o.flags & TCP_OPTF_SACK))
		newly_sacked = tcp_sb_update(&tp->sb, tp->snd_una, tp->snd_max, s->o.sack, s->o.nsack);
	bool rec_hooks = ack_current && tp->rec->ack;
	if (rec_hooks)
		tp->rec->ack(tp, s->ack, newly_sacked, &s->o); /* RACK: what this ACK delivered, before the ranges go */
	if (SEQ_GT(s->ack, tp->snd_una))
		process_new_ack(tp, s);
	else if (s->ack == tp->snd_una)
		process_dup_ack(tp, s, newly_sacked);
	if (rec_hooks)
		tp->rec->acked(tp); /* RACK: time-based loss detection, PRR */
	/* The send window (RFC 9293 section 3.10.7.4 fifth, SND.WL1/SND.WL2). */
	if (ack_current && (SEQ_LT(tp->snd_wl1, s->seq) || (tp->snd_wl1 == s->seq && SEQ_LEQ(tp->snd_wl2, s->ack)))) {
		uint32_t wnd = s->win << tp->snd_wscale;
		if (wnd > tp->snd_wnd)
			tp->flags |= TF_NEEDOUT;
		tp->snd_wnd = wnd;
		tp->snd_wl1 = s->seq;
		tp->snd_wl2 = s->ack;
		if (wnd > tp->max_sndwnd)
			tp->max_sndwnd = wnd;
		if (wnd && (tp->flags & TF_PERSIST)) {
			tcp_timer_rexmt_stop(tp);
			tp->rxtshift = 0;
		}
	}
	switch (tp->state) {
	case TCPS_FIN_WAIT_1:
		if (our_fin_acked(tp)) {
			tcb_set_state(tp, TCPS_FIN_WAIT_2);
			tcp_timer_rexmt_stop(tp);
			if (tp->flags & TF_ORPHAN) /* nobody will close it: bound FIN-WAIT-2 */
				tcp_timer_2msl_arm(tp, in->tcp.fin_timeout);
		}
		break;
	case TCPS_CLOSING:
		if (our_fin_acked(tp))
			enter_time_wait(tp);
		break;
	case TCPS_LAST_ACK:
		if (our_fin_acked(tp)) {
			pkt_free(in, p);
			tcb_close(tp, 0);
			return;
		}
		break;
	case TCPS_TIME_WAIT:
		/* A retransmitted FIN: ACK it and restart the 2MSL wait. */
		if (s->flags & TH_FIN) {
			tp->flags |= TF_ACKNOW;
			tcp_timer_2msl_arm(tp, in->tcp.time_wait);
		}
		break;
	default:
		break;
	}

	/* RFC 7323 section 4.3: TS.Recent from a segment that covers Last.ACK.sent. */
	if ((tp->flags & TF_TS) && (s->o.flags & TCP_OPTF_TIMESTAMP) && SEQ_LEQ(s->seq, tp->last_ack_sent) &&
	    SEQ_GEQ(s->o.ts_val, tp->ts_recent)) {
		tp->ts_recent = s->o.ts_val;
		tp->ts_recent_age = now;
	}
	tp->last_recv = now;
	tp->keep_probes = 0;
	tp->persist_probes = 0;

	/*
	 * Seventh: text. Nobody will read data for a closed descriptor: reset
	 * (as Linux; RFC 2525 section 2.17). A child on its listener's accept
	 * queue has no descriptor yet either, but it will: it keeps its data.
	 */
	if (s->len && (tp->flags & TF_ORPHAN) && !tp->listener && tcps_synchronized(tp->state)) {
		pkt_free(in, p);
		tcb_drop(tp, ECONNRESET);
		return;
	}
	if (s->len && tcps_can_recv(tp->state)) {
		process_text(tp, s, p);
	} else {
		if (s->len)
			tp->flags |= TF_ACKNOW; /* data after the peer's FIN: ACK what we have */
		pkt_free(in, p);
	}

	/* Eighth: FIN, once everything before it has arrived; one beyond a hole waits for the hole (TF_OOO_FIN). */
	bool fin = (s->flags & TH_FIN) && s->seq + s->len == tp->rcv_nxt;
	if ((s->flags & TH_FIN) && SEQ_GT(s->seq + s->len, tp->rcv_nxt) && !s->len && tcps_can_recv(tp->state)) {
		tp->flags |= TF_OOO_FIN | TF_ACKNOW; /* a bare FIN beyond a hole */
		tp->ooo_fin = s->seq;
	}
	if (!fin && (tp->flags & TF_OOO_FIN) && tp->ooo_fin == tp->rcv_nxt)
		fin = true;
	if (fin && !(tp->flags & TF_RCVD_FIN) && tp->state != TCPS_TIME_WAIT) {
		tp->rcv_nxt++;
		tp->flags &= ~(uint32_t)TF_OOO_FIN;
		tp->flags |= TF_RCVD_FIN | TF_ACKNOW;
		/* Nothing follows a FIN: out-of-order data above it was never part of the stream (as Linux's tcp_fin). */
		tcp_rcvq_drop_ooo(&tp->rq, in->pool);
		switch (tp->state) {
		case TCPS_ESTABLISHED:
			tcb_set_state(tp, TCPS_CLOSE_WAIT);
			break;
		case TCPS_FIN_WAIT_1:
			if (our_fin_acked(tp))
				enter_time_wait(tp);
			else
				tcb_set_state(tp, TCPS_CLOSING);
			break;
		case TCPS_FIN_WAIT_2:
			enter_time_wait(tp);
			break;
		default:
			break;
		}
		tcp_wake_readers(tp);
	}
	if (tp->flags & (TF_ACKNOW | TF_NEEDOUT))
		tcp_output(tp);
	return;
drop_out:
	pkt_free(in, p);
	tcp_output(tp);
	return;
drop:
	pkt_free(in, p);
}

void tcp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted)
{
	struct demi_netstats_tcp *st = &in->st.tcp;
	struct seg s;
	if (p->len < TCP_HDR_LEN) {
		INET_DROP(st->drop_short, "tcp short");
		goto drop;
	}
	const struct tcp_hdr *th = (const struct tcp_hdr *)p->data;
	uint32_t hlen = tcp_hdr_len(th);
	if (hlen < TCP_HDR_LEN || hlen > p->len) {
		INET_DROP(st->drop_bad_offset, "tcp bad-offset");
		goto drop;
	}
	if (!trusted && !(in->caps & NETDEV_RX_CSUM_OK) && !(p->flags & PKT_RX_CSUM_OK) && !tcp_cksum_ok(ih->src, ih->dst, p->data, p->len)) {
		INET_DROP(st->drop_checksum, "tcp checksum");
		goto drop;
	}
	/* TCP is unicast only (RFC 1122 4.2.3.10). */
	if (ih->dst != in->addr) {
		INET_DROP(st->drop_short, "tcp short");
		goto drop;
	}
	uint32_t ow[3];
	if (hlen == TCP_HDR_LEN + 12 && (memcpy(ow, th + 1, 12), ow[0] == htonl(0x0101080a))) {
		/* Timestamps alone, aligned as Linux, FreeBSD and we send them (RFC 7323 appendix A): read directly. */
		s.o.flags = TCP_OPTF_TIMESTAMP;
		s.o.nsack = 0;
		s.o.ts_val = ntohl(ow[1]);
		s.o.ts_ecr = ntohl(ow[2]);
	} else if (tcp_opt_parse((const uint8_t *)(th + 1), hlen - TCP_HDR_LEN, &s.o) < 0) {
		INET_DROP(st->drop_bad_options, "tcp bad-options");
		goto drop;
	}
	s.ih = ih;
	s.th = th;
	s.seq = ntohl(th->seq);
	s.ack = ntohl(th->ack);
	s.win = ntohs(th->win);
	s.flags = th->flags;
	s.len = p->len - hlen;
	st->rx_segments++;
	struct tcb *tp = tcp_conn_lookup(in, ih->dst, th->dport, ih->src, th->sport);
	/* RFC 9293 section 3.6.1 / RFC 6191: a new SYN may reopen a connection in TIME-WAIT. */
	if (tp && tp->state == TCPS_TIME_WAIT && (s.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN &&
	    (SEQ_GT(s.seq, tp->rcv_nxt) || ((tp->flags & TF_TS) && (s.o.flags & TCP_OPTF_TIMESTAMP) &&
					      SEQ_GT(s.o.ts_val, tp->ts_recent))) &&
	    tcp_listener_lookup(in, ih->dst, th->dport)) {
		tcb_close(tp, 0);
		tp = NULL;
	}
	if (!tp) {
		/*
		 * LAND: equal endpoints reach no connection but a listener, whose
		 * child would answer itself through the loopback forever. (A
		 * self-connect's own SYN finds its connection above.)
		 */
		if (__builtin_expect(ih->src == ih->dst && th->sport == th->dport, 0)) {
			INET_DROP(in->st.neigh.drop_land, "tcp land");
			goto drop;
		}
		struct tcb *lp = tcp_listener_lookup(in, ih->dst, th->dport);
		if (!lp) {
			/* CLOSED (RFC 9293 section 3.10.7.1): a reset for anything but a reset. */
			tcp_respond_rst(in, ih, th, seg_seqlen(&s));
			goto drop;
		}
		/* LISTEN (RFC 9293 section 3.10.7.2). */
		if (s.flags & TH_RST)
			goto drop;
		if (s.flags & TH_ACK) {
			if ((s.flags & TH_SYN) || !tcp_listen_cookie_ack(lp, ih, th, &s.o, &tp)) {
				tcp_respond_rst(in, ih, th, seg_seqlen(&s));
				goto drop;
			}
			if (!tp) /* handed to an accept that had no descriptor left: reset, and freed */
				goto drop;
			/* The cookie made the connection: the ACK may carry data; go on as established. */
		} else {
			if (s.flags & TH_SYN)
				tcp_listen_syn(lp, ih, th, &s.o);
			goto drop;
		}
	}
	pkt_strip(p, hlen);
	if (tp->state == TCPS_SYN_SENT)
		syn_sent(tp, &s, p);
	else if (tp->state == TCPS_CLOSED || tp->state == TCPS_LISTEN)
		goto drop;
	else
		established(tp, &s, p);
	return;
drop:
	pkt_free(in, p);
}
