/* NewReno congestion control (RFC 5681 section 3, RFC 6582); loss recovery (tcp_rec.h) runs the pipe itself. */
#include "tcp_cc.h"

/* ssthresh before the first loss: "arbitrarily high" (RFC 5681 section 3.1). */
#define SSTHRESH_INF UINT32_MAX

/* RFC 5681 eq. 4: max(FlightSize / 2, 2 * SMSS). */
static uint32_t half_flight(const struct tcp_cc *c, uint32_t flight)
{
	return flight / 2 > 2 * c->mss ? flight / 2 : 2 * c->mss;
}

static void reno_init(struct tcp_cc *c, uint32_t mss, uint64_t now)
{
	(void)now;
	c->mss = tcp_cc_clamp_mss(mss);
	c->cwnd = tcp_cc_initial_window(c->mss);
	c->ssthresh = SSTHRESH_INF;
	c->u.reno.acked_accum = 0;
}

static void reno_on_ack(struct tcp_cc *c, uint32_t acked, uint32_t flight, uint64_t srtt_ns, bool app_limited,
			uint64_t now)
{
	(void)flight;
	(void)srtt_ns;
	(void)now;
	/* RFC 7661: a window the sender does not fill has not been validated; do not grow it. */
	if (app_limited || !acked)
		return;
	if (c->cwnd < c->ssthresh) {
		tcp_cc_slow_start(c, acked);
		return;
	}
	/*
	 * Congestion avoidance, byte counting (RFC 5681 section 3.1, RFC 3465
	 * section 2.1): one SMSS once a full cwnd of bytes has been acked, i.e.
	 * SMSS*SMSS/cwnd per SMSS acked without per-ACK rounding loss.
	 */
	uint64_t acc = (uint64_t)c->u.reno.acked_accum + acked;
	if (acc >= c->cwnd) {
		acc -= c->cwnd;
		uint64_t cwnd = (uint64_t)c->cwnd + c->mss;
		c->cwnd = cwnd > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)cwnd;
	}
	/* A stretch ACK grows cwnd at most one SMSS: keep less than one window's credit. */
	c->u.reno.acked_accum = acc >= c->cwnd ? c->cwnd - 1 : (uint32_t)acc;
}

static void reno_on_loss(struct tcp_cc *c, uint32_t flight, uint64_t now)
{
	(void)now;
	/* RFC 5681 section 3.2 step 2 / RFC 6675 section 5 step 4.2; the core's pipe does the inflation. */
	c->ssthresh = half_flight(c, flight);
	c->cwnd = c->ssthresh;
	c->u.reno.acked_accum = 0;
}

static void reno_on_recovery_exit(struct tcp_cc *c, uint64_t now)
{
	(void)now;
	c->cwnd = c->ssthresh; /* RFC 6582 section 3.2 step 3, "deflate" */
	c->u.reno.acked_accum = 0;
}

static void reno_on_rto(struct tcp_cc *c, uint32_t flight, uint64_t now)
{
	(void)now;
	/*
	 * RFC 5681 section 3.1: ssthresh is held when the segment has already
	 * been retransmitted by the timer. cwnd still at the loss window means
	 * no ACK came since the last timeout, i.e. this is a back-to-back one.
	 */
	if (c->cwnd > c->mss)
		c->ssthresh = half_flight(c, flight);
	c->cwnd = c->mss; /* loss window, RFC 5681 eq. 4 and the text after it */
	c->u.reno.acked_accum = 0;
}

static void reno_set_mss(struct tcp_cc *c, uint32_t mss)
{
	mss = tcp_cc_clamp_mss(mss);
	if (mss == c->mss)
		return;
	/* Keep the window in segments, as it was probed. */
	c->cwnd = tcp_cc_rescale(c->cwnd, c->mss, mss, mss);
	if (c->ssthresh != SSTHRESH_INF)
		c->ssthresh = tcp_cc_rescale(c->ssthresh, c->mss, mss, 2 * mss);
	c->u.reno.acked_accum = 0;
	c->mss = mss;
}

const struct tcp_cc_ops tcp_cc_newreno = {
	.name = "newreno",
	.init = reno_init,
	.on_ack = reno_on_ack,
	.on_loss = reno_on_loss,
	.on_recovery_exit = reno_on_recovery_exit,
	.on_rto = reno_on_rto,
	.set_mss = reno_set_mss,
};
