/*
 * TCP timers on the runtime's timer heap: retransmission (RFC 6298) doubling
 * as SYN retry and persist (RFC 9293 section 3.8.6.1), delayed ACK (RFC 9293
 * section 3.8.6.3), keepalive (RFC 9293 section 3.8.4, RFC 1122 4.2.3.6)
 * doubling as the SYN-RECEIVED limit, and 2MSL (TIME-WAIT, FIN-WAIT-2 limit).
 *
 * The retransmission and delayed-ACK timers move on nearly every segment, so
 * they are lazy: the connection keeps the due time (rexmt_at, delack_at) and
 * the heap entry only ever moves earlier; an expiry before the due time
 * re-arms itself, a stopped timer's expiry does nothing. A heap operation
 * per segment becomes one per RTO or delayed-ACK period.
 */
#include <errno.h>

#include "../../runtime/clock.h"
#include "../inet_tx.h"
#include "tcp_priv.h"

#define RTO_G_NS 1000000ull /* RFC 6298 clock granularity G: 1 ms */

uint64_t tcp_rto(const struct tcb *tp)
{
	const struct tcp *t = &tp->in->tcp;
	/* RFC 6298 section 2.4 then 5.5: the bounded RTO is what each timeout doubles. */
	uint64_t rto = tp->rto_ns < t->rto_min ? t->rto_min : tp->rto_ns;
	uint32_t shift = tp->rxtshift < 30 ? tp->rxtshift : 30;
	rto = shift && rto > (t->rto_max >> shift) ? t->rto_max : rto << shift;
	return rto > t->rto_max ? t->rto_max : rto;
}

void tcp_rtt_sample(struct tcb *tp, uint64_t r)
{
	if (r == 0)
		r = 1;
	if (!tp->srtt_ns) { /* RFC 6298 section 2.2 */
		tp->srtt_ns = r;
		tp->rttvar_ns = r / 2;
	} else { /* section 2.3, alpha 1/8, beta 1/4 */
		uint64_t d = tp->srtt_ns > r ? tp->srtt_ns - r : r - tp->srtt_ns;
		tp->rttvar_ns = (3 * tp->rttvar_ns + d) / 4;
		tp->srtt_ns = (7 * tp->srtt_ns + r) / 8;
	}
	uint64_t k = 4 * tp->rttvar_ns;
	tp->rto_ns = tp->srtt_ns + (k > RTO_G_NS ? k : RTO_G_NS);
	tp->rxtshift = 0; /* a valid sample ends any backoff (section 5, after 5.7) */
}

static void rexmt_fire(struct timer *t, void *arg);

/* Makes t_rexmt due at `at`: the heap entry moves only when that is earlier than where it sits. */
static void rexmt_set(struct tcb *tp, uint64_t at)
{
	tp->rexmt_at = at;
	if (!timer_armed(&tp->t_rexmt) || tp->t_rexmt.deadline > at)
		timer_arm(&tp->in->rt->timers, &tp->t_rexmt, at, rexmt_fire, tp);
}

static void finish(struct inet *in)
{
	if (!in->in_poll)
		inet_tx_flush(in);
}

static void rexmt_fire(struct timer *t, void *arg)
{
	(void)t;
	struct tcb *tp = arg;
	struct inet *in = tp->in;
	struct tcp *tc = &in->tcp;
	uint64_t now = clock_now();
	if (!tp->rexmt_at)
		return; /* stopped since it was armed */
	if (now < tp->rexmt_at) {
		timer_arm(&in->rt->timers, &tp->t_rexmt, tp->rexmt_at, rexmt_fire, tp);
		return;
	}
	tp->rexmt_at = 0;
	if ((tp->flags & TF_PERSIST) && tp->snd_wnd) {
		/* A window too small for sender SWS avoidance: send what fits (RFC 9293 section 3.8.6.2.1). */
		tp->flags &= ~(uint32_t)TF_PERSIST;
		tp->flags |= TF_FORCE;
		tcp_output(tp);
		tp->flags &= ~(uint32_t)TF_FORCE;
		finish(in);
		return;
	}
	if ((tp->flags & TF_PERSIST) && ++tp->persist_probes > tc->retries) {
		/*
		 * RFC 9293 section 3.8.6.1 keeps probing a zero window for as long
		 * as the peer answers; one that stopped answering (every segment
		 * resets the count) is gone, as after the retransmission limit.
		 */
		tcb_drop(tp, ETIMEDOUT);
		finish(in);
		return;
	}
	if (tp->flags & TF_PERSIST) {
		/* A zero-window probe (as Linux: an old sequence number, which the peer must ACK with its window). */
		in->st.tcp.window_probes++;
		tcp_send_raw(tp, TH_ACK, tp->snd_una - 1, tp->rcv_nxt, true);
		if (tp->rxtshift < 16)
			tp->rxtshift++;
		rexmt_set(tp, now + tcp_rto(tp));
		finish(in);
		return;
	}
	in->st.tcp.rto_timeouts++;
	tp->rxtshift++;
	if (tp->state == TCPS_SYN_SENT || tp->state == TCPS_SYN_RECEIVED) {
		if (tp->rxtshift > tc->syn_retries) {
			tcb_drop(tp, ETIMEDOUT);
			finish(in);
			return;
		}
		tp->snd_nxt = tp->iss;
		tcp_output(tp);
		rexmt_set(tp, now + tcp_rto(tp));
		finish(in);
		return;
	}
	if (tp->snd_una == tp->snd_max)
		return; /* nothing outstanding: a stale expiry */
	if (tp->rxtshift > tc->retries) {
		tcb_drop(tp, tp->so_error ? tp->so_error : ETIMEDOUT);
		finish(in);
		return;
	}
	/* RFC 6298 section 5.4-5.6, RFC 5681 section 3.1: go back to snd_una with one segment's window. */
	uint32_t flight = tp->snd_max - tp->snd_una;
	tp->cc.ops->on_rto(&tp->cc, flight, clock_now());
	/* RACK keeps its scoreboard (RFC 6675 section 5.1, as Linux) and resends what it marked lost; else go-back-N. */
	if (!tcp_rec_rto(tp))
		tp->snd_nxt = tp->snd_una;
	tp->rtt_start = 0; /* Karn: nothing retransmitted is timed */
	/* A FIN already sent goes again with the data (tcp_output). */
	tcp_output(tp);
	if (!tp->rexmt_at)
		tcp_timer_rexmt_arm(tp);
	finish(in);
}

void tcp_timer_rexmt_arm_at(struct tcb *tp, uint64_t now)
{
	tp->flags &= ~(uint32_t)TF_PERSIST;
	rexmt_set(tp, now + tcp_rto(tp));
	if (tp->rec->arm)
		tp->rec->arm(tp, now); /* RACK's probe timeout, earlier than the RTO */
}

void tcp_timer_rexmt_arm(struct tcb *tp) { tcp_timer_rexmt_arm_at(tp, inet_now(tp->in)); }

void tcp_timer_rexmt_stop(struct tcb *tp)
{
	tp->rexmt_at = 0; /* the heap entry, if any, fires once and does nothing */
	tp->flags &= ~(uint32_t)TF_PERSIST;
	if (tp->rec->stop)
		tp->rec->stop(tp);
}

void tcp_timer_persist_arm(struct tcb *tp)
{
	tp->flags |= TF_PERSIST;
	rexmt_set(tp, inet_now(tp->in) + tcp_rto(tp));
}

static void delack_fire(struct timer *t, void *arg)
{
	(void)t;
	struct tcb *tp = arg;
	if (!(tp->flags & TF_DELACK))
		return;
	uint64_t now = clock_now();
	if (now < tp->delack_at) { /* an earlier delay's entry: this one is due later */
		timer_arm(&tp->in->rt->timers, &tp->t_delack, tp->delack_at, delack_fire, tp);
		return;
	}
	tp->in->st.tcp.delayed_acks++;
	tcp_send_ack(tp);
	finish(tp->in);
}

void tcp_timer_delack_arm(struct tcb *tp)
{
	tp->flags |= TF_DELACK;
	tp->delack_at = inet_now(tp->in) + tp->in->tcp.delack;
	if (!timer_armed(&tp->t_delack))
		timer_arm(&tp->in->rt->timers, &tp->t_delack, tp->delack_at, delack_fire, tp);
}

static void keep_fire(struct timer *t, void *arg)
{
	(void)t;
	struct tcb *tp = arg;
	struct inet *in = tp->in;
	struct tcp *tc = &in->tcp;
	if (tp->state == TCPS_SYN_RECEIVED) {
		/* An embryonic connection that never completed (RFC 9293 leaves the limit to us: 75 s, as BSD). */
		tcb_drop(tp, ETIMEDOUT);
		finish(in);
		return;
	}
	if (!(tp->flags & TF_KEEPALIVE) || !tcps_synchronized(tp->state) || tp->state == TCPS_TIME_WAIT)
		return;
	uint64_t now = clock_now();
	if (now - tp->last_recv < tc->keep_idle) {
		tp->keep_probes = 0;
		timer_arm(&in->rt->timers, &tp->t_keep, tp->last_recv + tc->keep_idle, keep_fire, tp);
		return;
	}
	if (tp->keep_probes >= tc->keep_probes) {
		tcb_drop(tp, ETIMEDOUT);
		finish(in);
		return;
	}
	/* RFC 1122 4.2.3.6: SEG.SEQ = SND.NXT - 1, no data; the peer answers with an ACK. */
	tp->keep_probes++;
	in->st.tcp.keepalive_probes++;
	tcp_send_raw(tp, TH_ACK, tp->snd_una - 1, tp->rcv_nxt, true);
	timer_arm(&in->rt->timers, &tp->t_keep, now + tc->keep_intvl, keep_fire, tp);
	finish(in);
}

void tcp_timer_keep_arm(struct tcb *tp)
{
	struct tcp *tc = &tp->in->tcp;
	uint64_t when = tp->state == TCPS_SYN_RECEIVED ? 75 * NSEC_PER_SEC : tc->keep_idle;
	if (tp->state != TCPS_SYN_RECEIVED && !(tp->flags & TF_KEEPALIVE)) {
		timer_cancel(&tp->in->rt->timers, &tp->t_keep);
		return;
	}
	timer_arm(&tp->in->rt->timers, &tp->t_keep, clock_now() + when, keep_fire, tp);
}

static void twomsl_fire(struct timer *t, void *arg)
{
	(void)t;
	struct tcb *tp = arg;
	/* TIME-WAIT over, or an orphan stuck in FIN-WAIT-2. */
	tcb_close(tp, tp->state == TCPS_TIME_WAIT ? 0 : ETIMEDOUT);
}

void tcp_timer_2msl_arm(struct tcb *tp, uint64_t ns)
{
	timer_arm(&tp->in->rt->timers, &tp->t_2msl, clock_now() + ns, twomsl_fire, tp);
}

void tcp_timers_stop(struct tcb *tp)
{
	struct timer_heap *h = &tp->in->rt->timers;
	timer_cancel(h, &tp->t_rexmt);
	timer_cancel(h, &tp->t_delack);
	timer_cancel(h, &tp->t_keep);
	timer_cancel(h, &tp->t_2msl);
	timer_cancel(h, &tp->rack.t);
	tp->rack.timer_at = 0;
	tp->rexmt_at = 0;
	tp->flags &= ~(uint32_t)(TF_PERSIST | TF_DELACK);
}
