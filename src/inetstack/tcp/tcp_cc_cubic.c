/*
 * CUBIC congestion control (RFC 9438), in integers: windows in bytes, the
 * curve's time in microseconds, so that K^3 and (t - K)^3 fit in 128 bits
 * and no libm or floating point is needed on the datapath.
 */
#include "tcp_cc.h"

#define SSTHRESH_INF UINT32_MAX
/* k_ns while no epoch runs: the next epoch follows a timeout (RFC 9438 section 4.8). */
#define K_AFTER_RTO UINT64_MAX
/* (t - K) is clamped to this many microseconds (about 4.8 hours) so (t - K)^3 * 2 * SMSS fits in 127 bits. */
#define DT_MAX_US (1ll << 34)

typedef unsigned __int128 u128;
typedef __int128 i128;

/* Largest r with r^3 <= x, for x < 2^96. */
static uint64_t icbrt(u128 x)
{
	uint64_t lo = 0, hi = 1ull << 32;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if ((u128)mid * mid * mid <= x)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * RFC 9438 eq. 2, K = cbrt((W_max - cwnd_epoch) / C) seconds with windows in
 * segments and C = 0.4: K_us^3 = diff_bytes / SMSS * 2.5 * 10^18. At most
 * 2^31 * 2.5e18 < 2^93.
 */
static uint64_t cubic_k_ns(uint32_t diff, uint32_t mss)
{
	return icbrt((u128)diff * 5000000000000000000ull / (2 * (uint64_t)mss)) * 1000;
}

uint64_t tcp_cc_cubic_window(const struct tcp_cc *c, uint64_t t_ns)
{
	const struct tcp_cc_cubic *cu = &c->u.cubic;
	int64_t k_us = cu->k_ns == K_AFTER_RTO ? 0 : (int64_t)(cu->k_ns / 1000);
	int64_t d = (int64_t)(t_ns / 1000 > (uint64_t)DT_MAX_US ? DT_MAX_US : t_ns / 1000) - k_us;
	/* RFC 9438 eq. 1: W = C * (t - K)^3 + W_max, C = 0.4 segments/s^3 = 2 * SMSS / 5 bytes/s^3. */
	i128 w = (i128)cu->w_max + (i128)d * d * d * (2 * (i128)c->mss) / ((i128)5 * 1000000000000000000ll);
	if (w < 0)
		return 0;
	return w > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint64_t)w;
}

static void epoch_reset(struct tcp_cc_cubic *cu)
{
	cu->epoch_start = 0;
	cu->acked_accum = 0;
}

static void cubic_init(struct tcp_cc *c, uint32_t mss, uint64_t now)
{
	(void)now;
	c->mss = tcp_cc_clamp_mss(mss);
	c->cwnd = tcp_cc_initial_window(c->mss);
	c->ssthresh = SSTHRESH_INF;
	c->u.cubic = (struct tcp_cc_cubic){0};
}

/* RFC 9438 section 4.2: the first ACK of a congestion avoidance stage starts an epoch. */
static void epoch_start(struct tcp_cc *c, uint64_t now)
{
	struct tcp_cc_cubic *cu = &c->u.cubic;
	cu->epoch_start = now ? now : 1; /* 0 means "no epoch" */
	cu->acked_accum = 0;
	cu->w_est = (uint64_t)c->cwnd << 10; /* section 4.3: W_est = cwnd_epoch */
	if (cu->k_ns == K_AFTER_RTO || cu->w_max <= c->cwnd) {
		/*
		 * After a timeout (section 4.8), or above W_max (no loss yet, or
		 * the window regrew past it): the curve starts here, convex.
		 */
		cu->w_max = c->cwnd;
		cu->k_ns = 0;
	} else {
		cu->k_ns = cubic_k_ns(cu->w_max - c->cwnd, c->mss);
	}
}

static void set_cwnd(struct tcp_cc *c, uint64_t cwnd)
{
	c->cwnd = cwnd > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)cwnd;
}

static void cubic_on_ack(struct tcp_cc *c, uint32_t acked, uint32_t flight, uint64_t srtt_ns, bool app_limited,
			 uint64_t now)
{
	struct tcp_cc_cubic *cu = &c->u.cubic;
	(void)flight;
	if (app_limited) {
		/*
		 * RFC 9438 section 5.8 / RFC 7661: no growth while the window is
		 * not used, and the idle time must not count in t. A new epoch
		 * from the current cwnd follows the same curve towards W_max.
		 */
		epoch_reset(cu);
		return;
	}
	if (!acked)
		return;
	if (c->cwnd < c->ssthresh) {
		tcp_cc_slow_start(c, acked); /* section 4.10: as Reno (no HyStart++) */
		return;
	}
	if (!cu->epoch_start)
		epoch_start(c, now);
	uint64_t t = now > cu->epoch_start ? now - cu->epoch_start : 0;

	/*
	 * Section 4.3: W_est += alpha_cubic * segments_acked / cwnd, alpha_cubic
	 * = 3 * (1 - 0.7) / (1 + 0.7) = 9/17, and 1 once W_est reaches
	 * cwnd_prior. Scaled by 1024: at most 2^32 * 2^16 * 2^10 * 17 < 2^63.
	 */
	uint64_t alpha17 = cu->w_est >= (uint64_t)cu->cwnd_prior << 10 ? 17 : 9;
	cu->w_est += ((uint64_t)acked * c->mss << 10) * alpha17 / (17 * (uint64_t)c->cwnd);
	if (cu->w_est > (uint64_t)TCP_CC_CWND_MAX << 10)
		cu->w_est = (uint64_t)TCP_CC_CWND_MAX << 10;
	uint64_t w_est = cu->w_est >> 10;

	if (tcp_cc_cubic_window(c, t) < w_est) {
		/* Reno-friendly region: cwnd = W_est (never shrinking it on an ACK). */
		if (w_est > c->cwnd)
			set_cwnd(c, w_est);
		return;
	}

	/* Sections 4.4 and 4.5: aim at W_cubic(t + RTT), within [cwnd, 1.5 * cwnd]. */
	uint64_t target = tcp_cc_cubic_window(c, t + srtt_ns);
	if (target <= c->cwnd)
		return;
	if (target > (uint64_t)c->cwnd * 3 / 2)
		target = (uint64_t)c->cwnd * 3 / 2;
	/*
	 * cwnd += (target - cwnd) / cwnd per segment acked: one SMSS every
	 * cwnd * SMSS / (target - cwnd) bytes acked, counted in acked_accum.
	 */
	uint64_t need = (uint64_t)c->cwnd * c->mss / (target - c->cwnd);
	if (!need)
		need = 1;
	uint64_t acc = (uint64_t)cu->acked_accum + acked;
	set_cwnd(c, c->cwnd + acc / need * c->mss);
	acc %= need;
	cu->acked_accum = acc > UINT32_MAX ? UINT32_MAX : (uint32_t)acc;
}

/* Sections 4.6 and 4.7: W_max with fast convergence, ssthresh = cwnd * beta_cubic. */
static void reduce(struct tcp_cc *c)
{
	struct tcp_cc_cubic *cu = &c->u.cubic;
	cu->w_last_max = cu->w_max;
	/* Loss before the last W_max was regained: release bandwidth to newer flows, W_max *= (1 + beta) / 2. */
	cu->w_max = c->cwnd < cu->w_max ? (uint32_t)((uint64_t)c->cwnd * 17 / 20) : c->cwnd;
	cu->cwnd_prior = c->cwnd;
	/*
	 * Section 4.6 allows cwnd for flight_size provided cwnd cannot grow
	 * while unused: on_ack's app_limited sees to that.
	 */
	uint32_t ss = (uint32_t)((uint64_t)c->cwnd * 7 / 10);
	c->ssthresh = ss > 2 * c->mss ? ss : 2 * c->mss;
}

static void cubic_on_loss(struct tcp_cc *c, uint32_t flight, uint64_t now)
{
	(void)flight;
	(void)now;
	reduce(c);
	c->cwnd = c->ssthresh;
	epoch_reset(&c->u.cubic);
	c->u.cubic.k_ns = 0;
}

static void cubic_on_recovery_exit(struct tcp_cc *c, uint64_t now)
{
	(void)now;
	c->cwnd = c->ssthresh;
	epoch_reset(&c->u.cubic); /* the congestion avoidance stage begins now */
}

static void cubic_on_rto(struct tcp_cc *c, uint32_t flight, uint64_t now)
{
	(void)flight;
	(void)now;
	/* Back-to-back timeout (cwnd still the loss window): hold ssthresh (RFC 5681 section 3.1). */
	if (c->cwnd > c->mss)
		reduce(c);
	c->cwnd = c->mss; /* section 4.8: as Reno, the loss window */
	epoch_reset(&c->u.cubic);
	c->u.cubic.k_ns = K_AFTER_RTO;
}

static void cubic_set_mss(struct tcp_cc *c, uint32_t mss)
{
	struct tcp_cc_cubic *cu = &c->u.cubic;
	mss = tcp_cc_clamp_mss(mss);
	if (mss == c->mss)
		return;
	c->cwnd = tcp_cc_rescale(c->cwnd, c->mss, mss, mss);
	if (c->ssthresh != SSTHRESH_INF)
		c->ssthresh = tcp_cc_rescale(c->ssthresh, c->mss, mss, 2 * mss);
	cu->w_max = tcp_cc_rescale(cu->w_max, c->mss, mss, 0);
	cu->w_last_max = tcp_cc_rescale(cu->w_last_max, c->mss, mss, 0);
	cu->cwnd_prior = tcp_cc_rescale(cu->cwnd_prior, c->mss, mss, 0);
	c->mss = mss;
	/* K depends on SMSS: restart the curve from the rescaled window. */
	epoch_reset(cu);
}

const struct tcp_cc_ops tcp_cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.on_ack = cubic_on_ack,
	.on_loss = cubic_on_loss,
	.on_recovery_exit = cubic_on_recovery_exit,
	.on_rto = cubic_on_rto,
	.set_mss = cubic_set_mss,
};
