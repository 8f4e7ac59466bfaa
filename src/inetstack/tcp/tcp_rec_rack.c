/*
 * RACK-TLP loss detection (RFC 8985) with Proportional Rate Reduction
 * (RFC 6937), behind struct tcp_rec_ops: the default recovery where SACK is
 * negotiated (tcp.recovery). Its inputs are the send queue's sent ranges
 * (when each range last left, whether it was sent again: tcp_sndq.h) and the
 * SACK scoreboard (tcp_sack.h):
 *   - every ACK records the most recently sent data it delivered (RACK.xmit_ts,
 *     RACK.end_seq, RACK.rtt; RFC 8985 section 6.2 steps 1-3);
 *   - data sent before that and not delivered within RACK.rtt plus the
 *     reordering window is lost (step 5); what is not yet is watched by the
 *     reordering timer (section 6.3). Lost ranges carry TCP_SENT_LOST until
 *     they leave again, so a lost retransmission is found the same way;
 *   - a tail loss probe (section 7) goes about two SRTTs after the last ACK
 *     instead of the RTO: new data if the peer's window has room, else the
 *     last segment again; its ACK's SACK blocks let RACK find the losses;
 *   - in recovery, PRR (RFC 6937) paces what leaves by what the ACKs deliver;
 *   - after a timeout the scoreboard is kept (RFC 6675 section 5.1, as
 *     Linux): unSACKed data is marked lost and resent within cwnd; SACKed
 *     data is not sent again.
 * Differences from Linux are listed in doc/tcp.md.
 */
#include "tcp_rec.h"

#include "../../runtime/clock.h"
#include "../inet_tx.h"
#include "tcp_priv.h"

#define RACK_WCDELACK_NS (200ull * NSEC_PER_MSEC) /* RFC 8985 section 7.2, WCDelAckT */
#define RACK_REO_PERSIST 16                          /* RFC 8985 section 6.2 step 4 */

/* Bytes of [s, e) the scoreboard holds as SACKed. */
static uint32_t sacked_in(const struct tcp_scoreboard *sb, tcp_seq s, tcp_seq e)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < sb->n && SEQ_LT(sb->blk[i].start, e); i++) {
		tcp_seq a = SEQ_MAX(sb->blk[i].start, s), b = SEQ_MIN(sb->blk[i].end, e);
		if (SEQ_LT(a, b))
			n += b - a;
	}
	return n;
}

/* The first unSACKed byte of [s, e) and the end of its hole (*hole_end), or false when all of it is SACKed. */
static bool first_hole(const struct tcp_scoreboard *sb, tcp_seq s, tcp_seq e, tcp_seq *at, tcp_seq *hole_end)
{
	tcp_seq x = s;
	uint32_t i = 0;
	for (; i < sb->n; i++) {
		if (SEQ_LEQ(sb->blk[i].end, x))
			continue;
		if (SEQ_LEQ(sb->blk[i].start, x)) {
			x = sb->blk[i].end;
			continue;
		}
		break;
	}
	if (!SEQ_LT(x, e))
		return false;
	*at = x;
	*hole_end = i < sb->n && SEQ_LT(sb->blk[i].start, e) ? sb->blk[i].start : e;
	return true;
}

void tcp_rack_reset(struct tcb *tp)
{
	struct tcp_rack *r = &tp->rack;
	r->xmit_ns = 0;
	r->end_seq = tp->snd_una;
	r->rtt_ns = 0;
	r->min_rtt_ns = 0;
	r->fack = tp->snd_una;
	r->dsack_on = false;
	r->reo_wnd_mult = 1;
	r->reo_wnd_persist = 0;
	r->reordering_seen = false;
	r->tlp_on = false;
	r->tlp_rxt = false;
	r->tlp_dsack = false;
	r->delivered = 0;
	r->sndcnt = 0;
}

uint32_t tcp_prr_sndcnt(uint32_t prr_delivered, uint32_t prr_out, uint32_t recover_fs, uint32_t ssthresh,
			uint32_t pipe, uint32_t delivered, uint32_t mss)
{
	int64_t sndcnt;
	if (pipe > ssthresh) {
		/* RFC 6937 section 3.1, proportional part: CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out. */
		uint64_t fs = recover_fs ? recover_fs : 1;
		sndcnt = (int64_t)(((uint64_t)prr_delivered * ssthresh + fs - 1) / fs) - prr_out;
	} else {
		/* PRR-SSRB: grow back towards ssthresh, at most one segment beyond what was delivered. */
		int64_t limit = (int64_t)prr_delivered - prr_out;
		if (limit < (int64_t)delivered)
			limit = delivered;
		limit += mss;
		sndcnt = (int64_t)ssthresh - pipe;
		if (sndcnt > limit)
			sndcnt = limit;
	}
	if (sndcnt < 0)
		sndcnt = 0;
	/*
	 * Whole segments, as Linux counts them: a part of one lets one out
	 * (prr_out counts what left, so the next ACK gives that much less).
	 * Rounding down would stall recovery when ssthresh - pipe is below a
	 * segment and no ACK is left to come.
	 */
	sndcnt = (sndcnt + mss - 1) / mss * mss;
	/* The fast retransmit goes whatever the arithmetic says (as Linux's tcp_cwnd_reduction). */
	if (!prr_out && sndcnt < mss)
		sndcnt = mss;
	return (uint32_t)sndcnt;
}

/* ---- RACK: delivery and detection (RFC 8985 section 6.2) ---- */

/* Range e (its data up to dend delivered by this ACK) updates RACK.xmit_ts, end_seq, rtt (steps 1-3). */
static void delivered_range(struct tcb *tp, const struct tcp_sent *e, tcp_seq dend, uint64_t now,
			    const struct tcp_opts *o)
{
	struct tcp_rack *r = &tp->rack;
	uint64_t rtt = now > e->xmit_ns ? now - e->xmit_ns : 0;
	if (e->flags & TCP_SENT_RXT) {
		/* Step 2: an ACK that may be for the first transmission says nothing of the last one. */
		if (rtt < r->min_rtt_ns)
			return;
		if ((tp->flags & TF_TS) && (o->flags & TCP_OPTF_TIMESTAMP) && o->ts_ecr &&
		    SEQ_LT(o->ts_ecr, tcp_ts_at(tp, e->xmit_ns)))
			return;
	}
	if (!r->min_rtt_ns || rtt < r->min_rtt_ns)
		r->min_rtt_ns = rtt ? rtt : 1;
	if (e->xmit_ns > r->xmit_ns || (e->xmit_ns == r->xmit_ns && SEQ_GT(dend, r->end_seq))) {
		r->xmit_ns = e->xmit_ns;
		r->end_seq = dend;
		r->rtt_ns = rtt;
	}
}

/* RFC 2883 / RFC 8985 section 6.2 step 4: a D-SACK widens the reordering window for a while. */
static void saw_dsack(struct tcb *tp)
{
	struct tcp_rack *r = &tp->rack;
	if (r->tlp_on)
		r->tlp_dsack = true; /* the probe was not needed (section 7.4) */
	if (r->dsack_on && SEQ_GEQ(tp->snd_una, r->dsack_round))
		r->dsack_on = false;
	if (!r->dsack_on) {
		r->dsack_on = true;
		r->dsack_round = tp->snd_max;
		if (r->reo_wnd_mult < 64)
			r->reo_wnd_mult++;
		r->reo_wnd_persist = RACK_REO_PERSIST;
	}
}

static void rack_ack(struct tcb *tp, tcp_seq ack, uint32_t newly_sacked, const struct tcp_opts *o)
{
	struct tcp_rack *r = &tp->rack;
	uint64_t now = inet_now(tp->in);
	uint32_t cum = SEQ_GT(ack, tp->snd_una) ? ack - tp->snd_una : 0;
	r->delivered = cum + newly_sacked;
	if ((o->flags & TCP_OPTF_SACK) && o->nsack) {
		/* RFC 2883 section 4: a first block below the ACK, or inside the second block, reports a duplicate. */
		const struct tcp_sack_block *b = o->sack;
		if (SEQ_LEQ(b[0].end, ack) ||
		    (o->nsack > 1 && SEQ_GEQ(b[0].start, b[1].start) && SEQ_LEQ(b[0].end, b[1].end)))
			saw_dsack(tp);
	}
	if (!r->delivered)
		return;
	const struct tcp_scoreboard *sb = &tp->sb;
	uint32_t n = tcp_sndq_nsent(&tp->sq);
	tcp_seq st = tp->snd_una;
	for (uint32_t k = 0; k < n; k++) {
		const struct tcp_sent *e = tcp_sndq_sent_at(&tp->sq, k);
		tcp_seq end = e->end;
		tcp_seq s = st;
		st = end;
		if (SEQ_LT(s, ack)) {
			tcp_seq dend = SEQ_MIN(end, ack);
			/* Data filled in below what was already delivered, never sent twice: the path reorders. */
			if (!(e->flags & TCP_SENT_RXT) && SEQ_LT(dend, r->fack) && sacked_in(sb, s, dend) < dend - s)
				r->reordering_seen = true;
			if (SEQ_GT(dend, r->fack))
				r->fack = dend;
			delivered_range(tp, e, dend, now, o);
			continue;
		}
		if (!newly_sacked || !sb->n)
			break;
		if (SEQ_GEQ(s, tcp_sb_high_sacked(sb, tp->snd_una)))
			break;
		if (!sacked_in(sb, s, end))
			continue;
		/* The highest SACKed byte inside the range. */
		tcp_seq dend = s;
		for (uint32_t i = 0; i < sb->n && SEQ_LT(sb->blk[i].start, end); i++)
			if (SEQ_GT(sb->blk[i].end, s))
				dend = SEQ_MIN(sb->blk[i].end, end);
		if (SEQ_GT(dend, r->fack))
			r->fack = dend;
		delivered_range(tp, e, dend, now, o);
	}
}

/* RFC 8985 section 6.2 step 4 (RACK_update_reo_wnd's result). */
static uint64_t reo_wnd(const struct tcb *tp)
{
	const struct tcp_rack *r = &tp->rack;
	if (!r->reordering_seen) {
		if (tp->flags & (TF_INRECOVERY | TF_LOSS))
			return 0;
		if (tp->sb.sacked_bytes >= (uint32_t)TCP_DUPTHRESH * tp->mss)
			return 0;
	}
	uint64_t w = r->reo_wnd_mult * r->min_rtt_ns / 4;
	return tp->srtt_ns && w > tp->srtt_ns ? tp->srtt_ns : w;
}

static void timer_set(struct tcb *tp, uint8_t kind, uint64_t at);

/*
 * RFC 8985 section 6.2 step 5: marks lost what was sent before RACK.xmit_ts
 * and not delivered within RACK.rtt + the reordering window; arms the
 * reordering timer for what is not yet. True when lost data waits to be
 * sent again (marked now or before).
 */
static bool detect(struct tcb *tp, uint64_t now)
{
	struct tcp_rack *r = &tp->rack;
	uint64_t reo = reo_wnd(tp), next = 0;
	bool lost = false;
	for (uint32_t k = 0; k < tcp_sndq_nsent(&tp->sq); k++) {
		struct tcp_sent *e = tcp_sndq_sent_at(&tp->sq, k);
		tcp_seq s = tcp_sndq_sent_start(&tp->sq, k, tp->snd_una);
		if (e->flags & TCP_SENT_LOST) {
			if (sacked_in(&tp->sb, s, e->end) < e->end - s)
				lost = true;
			continue;
		}
		tcp_seq lim = e->end;
		if (e->xmit_ns > r->xmit_ns)
			continue; /* sent after the most recently delivered: not yet known */
		if (e->xmit_ns == r->xmit_ns) {
			/*
			 * Sent in the same instant (one clock read per burst): the
			 * sequence decides (RFC 8985's tie-break), except for a
			 * retransmission, which may have left after higher data.
			 */
			if (!SEQ_LT(s, r->end_seq) || (e->flags & TCP_SENT_RXT))
				continue;
			lim = SEQ_MIN(e->end, r->end_seq);
		}
		if (sacked_in(&tp->sb, s, lim) == lim - s)
			continue;
		uint64_t due = e->xmit_ns + r->rtt_ns + reo;
		if (due <= now) {
			if (lim == e->end)
				e->flags |= TCP_SENT_LOST;
			else
				tcp_sndq_mark_lost(&tp->sq, tp->snd_una, s, lim);
			r->rack_marked++;
			lost = true;
		} else if (!next || due < next) {
			next = due;
		}
	}
	if (next)
		timer_set(tp, TCP_RACK_T_REO, next);
	else if (r->timer_kind == TCP_RACK_T_REO)
		r->timer_at = 0;
	return lost;
}

/* Bytes in flight (Linux's packets_in_flight in bytes): unSACKed data not marked lost; a resent range counts once. */
static uint32_t pipe(const struct tcb *tp)
{
	uint32_t p = 0;
	for (uint32_t k = 0; k < tcp_sndq_nsent(&tp->sq); k++) {
		const struct tcp_sent *e = tcp_sndq_sent_at(&tp->sq, k);
		if (e->flags & TCP_SENT_LOST)
			continue;
		tcp_seq s = tcp_sndq_sent_start(&tp->sq, k, tp->snd_una);
		p += (e->end - s) - sacked_in(&tp->sb, s, e->end);
	}
	return p;
}

/* The first piece (at most one MSS) of lost, unSACKed data. */
static bool next_lost(const struct tcb *tp, tcp_seq *seq, uint32_t *len)
{
	for (uint32_t k = 0; k < tcp_sndq_nsent(&tp->sq); k++) {
		const struct tcp_sent *e = tcp_sndq_sent_at(&tp->sq, k);
		if (!(e->flags & TCP_SENT_LOST))
			continue;
		tcp_seq s = tcp_sndq_sent_start(&tp->sq, k, tp->snd_una), at, he;
		if (!first_hole(&tp->sb, s, e->end, &at, &he))
			continue;
		*seq = at;
		*len = he - at < tp->mss ? he - at : tp->mss;
		return true;
	}
	return false;
}

/* ---- the table ---- */

static bool rack_dupack(struct tcb *tp)
{
	(void)tp; /* losses are found by time (rack_acked), not by counting duplicates */
	return false;
}

static void rack_enter(struct tcb *tp)
{
	/* RFC 6937 section 3: at the start of recovery. */
	struct tcp_rack *r = &tp->rack;
	r->prr_delivered = 0;
	r->prr_out = 0;
	r->recover_fs = tp->snd_max - tp->snd_una;
	r->sndcnt = 0;
	r->tlp_on = false;
}

static void rack_partial_ack(struct tcb *tp) { (void)tp; }

static void episode_over(struct tcb *tp)
{
	struct tcp_rack *r = &tp->rack;
	if (r->reo_wnd_persist && --r->reo_wnd_persist == 0)
		r->reo_wnd_mult = 1;
}

static void rack_leave(struct tcb *tp) { episode_over(tp); }

static void stop_timer(struct tcb *tp)
{
	tp->rack.timer_at = 0; /* a heap entry left fires once and does nothing */
	tp->rack.timer_kind = TCP_RACK_T_NONE;
}

static bool rack_rto(struct tcb *tp)
{
	struct tcp_rack *r = &tp->rack;
	stop_timer(tp);
	r->tlp_on = false;
	/* A FIN out of the ranges' reach, or nothing recorded: go-back-N as RFC 6675's recovery does. */
	if ((tp->flags & TF_FIN_SENT) || !tcp_sndq_nsent(&tp->sq)) {
		tcp_sb_reset(&tp->sb, tp->snd_una);
		return false;
	}
	/* SACKed data at SND.UNA means the receiver reneged (RFC 2018 section 8): forget the scoreboard. */
	if (tp->sb.n && tp->sb.blk[0].start == tp->snd_una)
		tcp_sb_reset(&tp->sb, tp->snd_una);
	/* RFC 6675 section 5.1 (and Linux's tcp_timeout_mark_lost): every unSACKed byte is lost; SACKed ones stay. */
	for (uint32_t k = 0; k < tcp_sndq_nsent(&tp->sq); k++)
		tcp_sndq_sent_at(&tp->sq, k)->flags |= TCP_SENT_LOST;
	tp->flags |= TF_LOSS;
	return true;
}

/* Sends one lost piece or one new segment within budget; its length, 0 when nothing went. */
static uint32_t send_one(struct tcb *tp, uint32_t budget)
{
	tcp_seq seq;
	uint32_t len;
	if (next_lost(tp, &seq, &len)) {
		if (len > budget)
			return 0;
		if (tcp_send_seg(tp, TH_ACK, seq, len) < 0)
			return 0;
		tp->in->st.tcp.retransmits++;
		return len;
	}
	uint32_t unsent = tcp_unsent(tp);
	if (!unsent || (unsent < tp->mss ? unsent : tp->mss) > budget)
		return 0;
	tcp_seq before = tp->snd_nxt;
	if (tcp_rec_send_new(tp) <= 0)
		return 0;
	return tp->snd_nxt - before;
}

static bool rack_output(struct tcb *tp)
{
	struct tcp_rack *r = &tp->rack;
	bool sent = false;
	uint32_t inflight = (tp->flags & TF_INRECOVERY) ? 0 : pipe(tp);
	for (int guard = 0; guard < 256; guard++) {
		uint32_t budget;
		if (tp->flags & TF_INRECOVERY)
			budget = r->sndcnt; /* PRR (RFC 6937) */
		else
			budget = tp->cc.cwnd > inflight ? tp->cc.cwnd - inflight : 0; /* after a timeout, or SACKed data out */
		if (!budget)
			break;
		uint32_t len = send_one(tp, budget);
		if (!len)
			break;
		sent = true;
		if (tp->flags & TF_INRECOVERY) {
			r->sndcnt -= len < r->sndcnt ? len : r->sndcnt;
			r->prr_out += len;
		} else {
			inflight += len;
		}
	}
	return sent;
}

static void rack_arm(struct tcb *tp, uint64_t now);

static void rack_acked(struct tcb *tp)
{
	struct tcp_rack *r = &tp->rack;
	uint64_t now = inet_now(tp->in);
	uint32_t delivered = r->delivered;
	r->delivered = 0;
	/* RFC 8985 section 7.4: the probe's episode ends once what it covered is acknowledged. */
	if (r->tlp_on && SEQ_GEQ(tp->snd_una, r->tlp_end)) {
		r->tlp_on = false;
		if (r->tlp_rxt && !r->tlp_dsack && !(tp->flags & TF_INRECOVERY)) {
			/* The probe repaired a real loss: congestion control responds once (section 7.4.2). */
			tp->cc.ops->on_loss(&tp->cc, tp->snd_max - tp->snd_una, now);
			tp->cc.ops->on_recovery_exit(&tp->cc, now);
		}
	}
	if ((tp->flags & TF_LOSS) && SEQ_GEQ(tp->snd_una, tp->recover)) {
		tp->flags &= ~(uint32_t)TF_LOSS;
		episode_over(tp);
	}
	if (!tp->sb.n)
		tp->flags &= ~(uint32_t)TF_SACKED;
	if (tp->snd_una == tp->snd_max || !tcp_sndq_nsent(&tp->sq) || !delivered)
		return;
	const struct tcp_sent *first = tcp_sndq_sent_at(&tp->sq, 0);
	bool lost = false;
	if (delivered && (tp->sb.n || (tp->flags & (TF_INRECOVERY | TF_LOSS)) || first->xmit_ns < r->xmit_ns ||
			  (first->flags & TCP_SENT_LOST)))
		lost = detect(tp, now);
	if (lost && !(tp->flags & (TF_INRECOVERY | TF_LOSS)))
		tcp_rec_enter(tp);
	if (tp->flags & TF_INRECOVERY) {
		r->prr_delivered += delivered;
		r->sndcnt = tcp_prr_sndcnt(r->prr_delivered, r->prr_out, r->recover_fs, tp->cc.ssthresh, pipe(tp),
					   delivered, tp->mss);
	}
	/*
	 * With SACKed data out, what may leave is cwnd less the data in flight
	 * (SACKed and lost data are not), as Linux's tcp_packets_in_flight, not
	 * cwnd less everything above SND.UNA: the sender keeps sending while a
	 * hole waits to be found lost.
	 */
	if (tp->sb.n)
		tp->flags |= TF_SACKED;
	else
		tp->flags &= ~(uint32_t)TF_SACKED;
	if (lost || (tp->flags & (TF_INRECOVERY | TF_LOSS | TF_SACKED)))
		tp->flags |= TF_NEEDOUT;
	rack_arm(tp, now); /* RFC 8985 section 7.2: the probe timeout restarts on every ACK that delivered data */
}

/* ---- the reordering and probe timer ---- */

static void finish(struct inet *in)
{
	if (!in->in_poll)
		inet_tx_flush(in);
}

/* RFC 8985 section 7.3: the probe. */
static void probe(struct tcb *tp)
{
	struct tcp_rack *r = &tp->rack;
	int sent_new = 0;
	if (tcp_unsent(tp) && tp->snd_nxt == tp->snd_max)
		sent_new = tcp_rec_send_new(tp);
	if (sent_new <= 0) {
		uint32_t queued = tcp_sndq_bytes(&tp->sq);
		if (!queued)
			return; /* only the FIN is out: the RTO covers it */
		uint32_t len = queued < tp->mss ? queued : tp->mss;
		if (tcp_send_seg(tp, TH_ACK, tp->snd_una + queued - len, len) < 0)
			return;
		tp->in->st.tcp.retransmits++;
	}
	r->tlp_sent++;
	r->tlp_on = true;
	r->tlp_rxt = sent_new <= 0;
	r->tlp_dsack = false;
	r->tlp_end = tp->snd_max;
	tcp_timer_rexmt_arm(tp); /* the RTO from now */
}

static void rack_fire(struct timer *t, void *arg)
{
	(void)t;
	struct tcb *tp = arg;
	struct tcp_rack *r = &tp->rack;
	if (!r->timer_at)
		return;
	uint64_t now = clock_now();
	if (now < r->timer_at) {
		timer_arm(&tp->in->rt->timers, &r->t, r->timer_at, rack_fire, tp);
		return;
	}
	uint8_t kind = r->timer_kind;
	stop_timer(tp);
	if (!tcps_synchronized(tp->state) || tp->state == TCPS_TIME_WAIT || tp->snd_una == tp->snd_max)
		return;
	if (kind == TCP_RACK_T_REO) {
		/* RFC 8985 section 6.3: what the reordering window waited for is due now. */
		if (detect(tp, now) && !(tp->flags & (TF_INRECOVERY | TF_LOSS)))
			tcp_rec_enter(tp);
		if (tp->flags & TF_INRECOVERY)
			r->sndcnt = tcp_prr_sndcnt(r->prr_delivered, r->prr_out, r->recover_fs, tp->cc.ssthresh, pipe(tp), 0,
						   tp->mss);
		else if (!r->timer_at)
			rack_arm(tp, now); /* nothing lost after all: the probe timeout again */
	} else if (kind == TCP_RACK_T_PTO && !(tp->flags & (TF_INRECOVERY | TF_LOSS)) && !r->tlp_on) {
		probe(tp);
	}
	tcp_output(tp);
	finish(tp->in);
}

static void timer_set(struct tcb *tp, uint8_t kind, uint64_t at)
{
	struct tcp_rack *r = &tp->rack;
	r->timer_kind = kind;
	r->timer_at = at;
	if (!timer_armed(&r->t) || r->t.deadline > at)
		timer_arm(&tp->in->rt->timers, &r->t, at, rack_fire, tp);
}

/* RFC 8985 section 7.2: (re)arms the probe timeout when the retransmission timer is armed. */
static void rack_arm(struct tcb *tp, uint64_t now)
{
	struct tcp_rack *r = &tp->rack;
	if (r->timer_at && r->timer_kind == TCP_RACK_T_REO)
		return; /* the reordering timer comes first */
	if ((tp->flags & (TF_INRECOVERY | TF_LOSS)) || r->tlp_on || !tp->srtt_ns || !tcps_synchronized(tp->state)) {
		stop_timer(tp);
		return;
	}
	uint64_t pto = 2 * tp->srtt_ns;
	if (tp->snd_max - tp->snd_una <= tp->mss)
		pto += RACK_WCDELACK_NS; /* one segment out: the peer may be delaying its ACK */
	if (tp->rexmt_at && now + pto >= tp->rexmt_at) {
		stop_timer(tp); /* the RTO comes first anyway */
		return;
	}
	timer_set(tp, TCP_RACK_T_PTO, now + pto);
}

const struct tcp_rec_ops tcp_rec_rack = {
	.name = "rack",
	.dupack = rack_dupack,
	.enter = rack_enter,
	.partial_ack = rack_partial_ack,
	.leave = rack_leave,
	.rto = rack_rto,
	.output = rack_output,
	.ack = rack_ack,
	.acked = rack_acked,
	.arm = rack_arm,
	.stop = stop_timer,
};
