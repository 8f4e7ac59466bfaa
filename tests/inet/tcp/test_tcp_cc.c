/* Congestion control unit tests: NewReno (RFC 5681) and CUBIC (RFC 9438) driven through tcp_cc_ops alone. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "inetstack/tcp/tcp_cc.h"

#define MSS 1000u
#define MS 1000000ull
#define SEC 1000000000ull

static struct tcp_cc cc_new(const struct tcp_cc_ops *ops)
{
	struct tcp_cc c = {.ops = ops};
	ops->init(&c, MSS, 0);
	return c;
}

/*
 * One round trip: a window's worth of MSS-sized ACKs (the window at the start
 * of the round) spread over rtt, each acking one segment.
 */
static void ack_round(struct tcp_cc *c, uint64_t *now, uint64_t rtt)
{
	uint32_t n = c->cwnd / MSS, flight = c->cwnd;
	for (uint32_t i = 0; i < n; i++) {
		c->ops->on_ack(c, MSS, flight, rtt, false, *now + rtt * i / n);
		flight -= MSS;
	}
	*now += rtt;
}

/* The state after a loss at cwnd = w segments, reduced and recovered; cwnd = 0.7 * w for CUBIC. */
static struct tcp_cc after_loss(const struct tcp_cc_ops *ops, uint32_t w, uint64_t now)
{
	struct tcp_cc c = cc_new(ops);
	c.cwnd = w * MSS;
	ops->on_loss(&c, w * MSS, now);
	ops->on_recovery_exit(&c, now);
	return c;
}

Test(tcp_cc, initial_window)
{
	/* RFC 6928: min(10 * MSS, max(2 * MSS, 14600)). */
	cr_expect_eq(tcp_cc_initial_window(1460), 14600);
	cr_expect_eq(tcp_cc_initial_window(536), 5360);
	cr_expect_eq(tcp_cc_initial_window(1000), 10000);
	cr_expect_eq(tcp_cc_initial_window(2000), 14600);
	cr_expect_eq(tcp_cc_initial_window(9000), 18000);
	for (int i = 0; i < 2; i++) {
		struct tcp_cc c = {0};
		const struct tcp_cc_ops *ops = i ? &tcp_cc_cubic : &tcp_cc_newreno;
		ops->init(&c, 1460, 0);
		cr_expect_eq(c.cwnd, 14600, "%s", ops->name);
		cr_expect_eq(c.mss, 1460);
		cr_expect_geq(c.ssthresh, TCP_CC_CWND_MAX, "ssthresh starts arbitrarily high");
		ops->init(&c, 0, 0);
		cr_expect_eq(c.mss, 536, "an MSS of 0 must not reach a division");
	}
}

Test(tcp_cc, find)
{
	cr_expect_eq(tcp_cc_find("newreno"), &tcp_cc_newreno);
	cr_expect_eq(tcp_cc_find("reno"), &tcp_cc_newreno);
	cr_expect_eq(tcp_cc_find("cubic"), &tcp_cc_cubic);
	cr_expect_null(tcp_cc_find("bbr"));
	cr_expect_null(tcp_cc_find(""));
	cr_expect_null(tcp_cc_find("cubicx"));
	cr_expect_null(tcp_cc_find(NULL));
	cr_expect_str_eq(tcp_cc_newreno.name, "newreno");
	cr_expect_str_eq(tcp_cc_cubic.name, "cubic");
}

Test(tcp_cc, slow_start_doubles_per_rtt)
{
	for (int i = 0; i < 2; i++) {
		struct tcp_cc c = cc_new(i ? &tcp_cc_cubic : &tcp_cc_newreno);
		uint64_t now = 0;
		for (uint32_t r = 1; r <= 5; r++) {
			ack_round(&c, &now, 10 * MS);
			cr_assert_eq(c.cwnd, (10 * MSS) << r, "%s round %u: cwnd %u", c.ops->name, r, c.cwnd);
		}
		/* RFC 5681 section 3.1: a stretch ACK grows cwnd by at most one SMSS. */
		uint32_t before = c.cwnd;
		c.ops->on_ack(&c, 64 * 1024, c.cwnd, 10 * MS, false, now);
		cr_expect_eq(c.cwnd, before + MSS, "%s", c.ops->name);
	}
}

Test(tcp_cc, reno_congestion_avoidance_one_mss_per_rtt)
{
	struct tcp_cc c = after_loss(&tcp_cc_newreno, 200, 0);
	cr_assert_eq(c.cwnd, 100 * MSS);
	cr_assert_eq(c.ssthresh, 100 * MSS);
	uint64_t now = 0;
	for (uint32_t r = 1; r <= 20; r++) {
		ack_round(&c, &now, 50 * MS);
		cr_assert_eq(c.cwnd, (100 + r) * MSS, "round %u: cwnd %u", r, c.cwnd);
	}
	/* A stretch ACK of five windows is still one SMSS, and leaves less than a window of credit. */
	c.ops->on_ack(&c, 5 * c.cwnd, c.cwnd, 50 * MS, false, now);
	cr_expect_eq(c.cwnd, 121 * MSS);
	cr_expect_lt(c.u.reno.acked_accum, c.cwnd);
	c = after_loss(&tcp_cc_newreno, 240, 0);
	/* Byte counting: half a window of ACKs is not yet an SMSS. */
	for (uint32_t i = 0; i < 60; i++)
		c.ops->on_ack(&c, MSS, c.cwnd, 50 * MS, false, now);
	cr_expect_eq(c.cwnd, 120 * MSS);
}

Test(tcp_cc, reno_loss_and_rto)
{
	struct tcp_cc c = cc_new(&tcp_cc_newreno);
	c.cwnd = 80 * MSS;
	/* RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS); no inflation here. */
	c.ops->on_loss(&c, 60 * MSS, 0);
	cr_expect_eq(c.ssthresh, 30 * MSS);
	cr_expect_eq(c.cwnd, 30 * MSS);
	c.cwnd = 45 * MSS; /* as if the core inflated it */
	c.ops->on_recovery_exit(&c, 0);
	cr_expect_eq(c.cwnd, 30 * MSS);
	c.ops->on_loss(&c, MSS, 0);
	cr_expect_eq(c.ssthresh, 2 * MSS, "floor of 2 SMSS");
	cr_expect_eq(c.cwnd, 2 * MSS);

	c.cwnd = 50 * MSS;
	c.ops->on_rto(&c, 40 * MSS, 0);
	cr_expect_eq(c.ssthresh, 20 * MSS);
	cr_expect_eq(c.cwnd, MSS, "loss window");
	/* A second timeout of the same segment holds ssthresh (RFC 5681 section 3.1). */
	c.ops->on_rto(&c, MSS, 0);
	cr_expect_eq(c.ssthresh, 20 * MSS);
	cr_expect_eq(c.cwnd, MSS);
	/* Slow start again up to ssthresh, then linear. */
	uint64_t now = 0;
	while (c.cwnd < c.ssthresh)
		ack_round(&c, &now, 10 * MS);
	cr_expect_eq(c.cwnd, 20 * MSS, "1, 2, 4, 8, 16, then linear from ssthresh");
	for (int r = 0; r < 3; r++)
		ack_round(&c, &now, 10 * MS);
	cr_expect_eq(c.cwnd, 23 * MSS, "one SMSS a round, the crossing round left 12 SMSS of credit");
}

Test(tcp_cc, cubic_loss_and_rto)
{
	struct tcp_cc c = cc_new(&tcp_cc_cubic);
	c.cwnd = 100 * MSS;
	c.ops->on_loss(&c, 10 * MSS, 0);
	/* RFC 9438 section 4.6: beta_cubic = 0.7, on cwnd (not the small flight). */
	cr_expect_eq(c.ssthresh, 70 * MSS);
	cr_expect_eq(c.cwnd, 70 * MSS);
	cr_expect_eq(c.u.cubic.w_max, 100 * MSS);
	cr_expect_eq(c.u.cubic.cwnd_prior, 100 * MSS);
	cr_expect_eq(c.u.cubic.epoch_start, 0);

	c.cwnd = 2 * MSS;
	c.ops->on_loss(&c, 2 * MSS, 0);
	cr_expect_eq(c.ssthresh, 2 * MSS, "floor of 2 SMSS");
	cr_expect_eq(c.cwnd, 2 * MSS);

	c = cc_new(&tcp_cc_cubic);
	c.cwnd = 100 * MSS;
	c.ops->on_rto(&c, 100 * MSS, 0);
	cr_expect_eq(c.ssthresh, 70 * MSS);
	cr_expect_eq(c.cwnd, MSS);
	cr_expect_eq(c.u.cubic.w_max, 100 * MSS);
	cr_expect_eq(tcp_cc_cubic_window(&c, SEC), 100 * MSS + 400, "no epoch yet: K = 0 until one starts");
	c.ops->on_rto(&c, MSS, 0);
	cr_expect_eq(c.ssthresh, 70 * MSS, "back-to-back timeout holds ssthresh");
	cr_expect_eq(c.cwnd, MSS);

	/* Section 4.8: the first congestion avoidance after a timeout starts at K = 0, W_max = cwnd_epoch. */
	uint64_t now = SEC;
	while (c.cwnd < c.ssthresh)
		c.ops->on_ack(&c, MSS, c.cwnd, 10 * MS, false, now);
	uint32_t epoch_cwnd = c.cwnd;
	c.ops->on_ack(&c, MSS, c.cwnd, 10 * MS, false, now);
	cr_expect_neq(c.u.cubic.epoch_start, 0);
	cr_expect_eq(c.u.cubic.k_ns, 0);
	cr_expect_eq(c.u.cubic.w_max, epoch_cwnd);
	cr_expect_gt(tcp_cc_cubic_window(&c, SEC), epoch_cwnd, "convex from the start");
}

Test(tcp_cc, cubic_curve)
{
	struct tcp_cc c = after_loss(&tcp_cc_cubic, 100, 0);
	const uint32_t w_max = 100 * MSS;
	const uint64_t rtt = 100 * MS;
	uint64_t now = SEC;
	c.ops->on_ack(&c, MSS, c.cwnd, rtt, false, now); /* starts the epoch */
	cr_assert_eq(c.u.cubic.epoch_start, now);
	/* RFC 9438 eq. 2: K = cbrt((100 - 70) / 0.4) s = 4.2171633 s. */
	uint64_t k = c.u.cubic.k_ns;
	cr_assert(k > 4217163 * 1000ull - MS && k < 4217163 * 1000ull + MS, "K = %llu ns", (unsigned long long)k);
	cr_expect(tcp_cc_cubic_window(&c, 0) + 1 >= 70 * MSS && tcp_cc_cubic_window(&c, 0) <= 70 * MSS + 1,
		  "W(0) = cwnd_epoch, got %llu", (unsigned long long)tcp_cc_cubic_window(&c, 0));
	cr_expect_eq(tcp_cc_cubic_window(&c, k), w_max, "W(K) = W_max");
	/* Concave before K (shrinking steps, below W_max), convex after (growing steps, above). */
	uint64_t step = k / 8, prev_d = UINT64_MAX;
	for (uint64_t t = step; t <= k; t += step) {
		uint64_t d = tcp_cc_cubic_window(&c, t) - tcp_cc_cubic_window(&c, t - step);
		cr_expect_lt(d, prev_d, "concave at t = %llu", (unsigned long long)t);
		cr_expect_leq(tcp_cc_cubic_window(&c, t), w_max);
		prev_d = d;
	}
	prev_d = 0;
	for (uint64_t t = k + step; t <= 2 * k; t += step) {
		uint64_t d = tcp_cc_cubic_window(&c, t) - tcp_cc_cubic_window(&c, t - step);
		cr_expect_gt(d, prev_d, "convex at t = %llu", (unsigned long long)t);
		cr_expect_gt(tcp_cc_cubic_window(&c, t), w_max);
		prev_d = d;
	}

	/*
	 * Sections 4.4/4.5: each ACK aims at W_cubic(t + RTT), so by the end of
	 * a round cwnd has caught up with the curve (aiming at W_cubic(t)
	 * would lag it by a round trip, about 2 segments here).
	 */
	for (int r = 1; r <= 10; r++) {
		ack_round(&c, &now, rtt);
		uint64_t w = tcp_cc_cubic_window(&c, now - c.u.cubic.epoch_start);
		cr_expect_gt(c.cwnd + MSS, w, "round %d: cwnd %u behind W(t) %llu", r, c.cwnd, (unsigned long long)w);
		cr_expect_lt(c.cwnd, w + 2 * MSS, "round %d: cwnd %u ahead of W(t) %llu", r, c.cwnd,
			     (unsigned long long)w);
	}
	/* Near W_max after about K. */
	while (now + rtt < SEC + k)
		ack_round(&c, &now, rtt);
	cr_expect(c.cwnd >= w_max * 97 / 100 && c.cwnd <= w_max * 103 / 100, "cwnd %u near W_max at K", c.cwnd);
	uint32_t at_k = c.cwnd;
	while (now < SEC + 2 * k)
		ack_round(&c, &now, rtt);
	uint64_t w2k = tcp_cc_cubic_window(&c, 2 * k + rtt);
	cr_expect_gt(c.cwnd, at_k + 20 * MSS, "convex growth: %u", c.cwnd);
	cr_expect(c.cwnd >= w2k * 9 / 10 && c.cwnd <= w2k * 11 / 10, "cwnd %u tracks W(2K) %llu", c.cwnd,
		  (unsigned long long)w2k);
}

Test(tcp_cc, cubic_growth_bounded_per_rtt)
{
	/*
	 * Far along the curve the target is capped at 1.5 * cwnd (sections 4.4,
	 * 4.5): half a segment per segment acked, 1.5 times a round.
	 */
	struct tcp_cc c = after_loss(&tcp_cc_cubic, 100, 0);
	uint64_t now = SEC;
	c.ops->on_ack(&c, MSS, c.cwnd, 100 * MS, false, now);
	now += 100 * SEC;
	uint32_t before = c.cwnd;
	ack_round(&c, &now, 100 * MS);
	cr_expect_geq(c.cwnd + MSS, before * 3 / 2, "cwnd %u", c.cwnd);
	cr_expect_leq(c.cwnd, before * 3 / 2 + MSS, "cwnd %u", c.cwnd);
}

Test(tcp_cc, cubic_reno_friendly_region)
{
	/* Short RTT: Reno's linear growth beats the cubic curve (RFC 9438 section 4.3). */
	struct tcp_cc c = after_loss(&tcp_cc_cubic, 100, 0);
	const uint64_t rtt = MS;
	uint64_t now = SEC;
	for (int r = 0; r < 10; r++)
		ack_round(&c, &now, rtt);
	/* alpha_cubic = 9/17 per RTT while W_est < cwnd_prior: 70 + 10 * 0.53 = 75.3 segments. */
	cr_expect(c.cwnd >= 74 * MSS && c.cwnd <= 77 * MSS, "cwnd %u", c.cwnd);
	while (now < 2 * SEC)
		ack_round(&c, &now, rtt);
	uint64_t t = now - c.u.cubic.epoch_start;
	cr_expect_gt(c.cwnd, 2 * tcp_cc_cubic_window(&c, t), "cwnd %u, W_cubic %llu", c.cwnd,
		     (unsigned long long)tcp_cc_cubic_window(&c, t));
	/* About 1000 RTTs: 57 at 9/17 to regain 100 segments, then one per RTT. */
	cr_expect(c.cwnd >= 900 * MSS && c.cwnd <= 1100 * MSS, "cwnd %u", c.cwnd);
}

Test(tcp_cc, cubic_fast_convergence)
{
	struct tcp_cc c = after_loss(&tcp_cc_cubic, 100, 0);
	c.cwnd = 90 * MSS; /* lost again before regaining W_max */
	c.ops->on_loss(&c, 90 * MSS, 0);
	cr_expect_eq(c.u.cubic.w_max, 90 * MSS * 17 / 20, "W_max = cwnd * (1 + beta) / 2");
	cr_expect_eq(c.u.cubic.w_last_max, 100 * MSS);
	cr_expect_eq(c.ssthresh, 63 * MSS);
	c.cwnd = 110 * MSS; /* beyond the last W_max: no fast convergence */
	c.ops->on_loss(&c, 110 * MSS, 0);
	cr_expect_eq(c.u.cubic.w_max, 110 * MSS);
	cr_expect_eq(c.ssthresh, 77 * MSS);
}

Test(tcp_cc, app_limited_does_not_grow)
{
	for (int i = 0; i < 2; i++) {
		const struct tcp_cc_ops *ops = i ? &tcp_cc_cubic : &tcp_cc_newreno;
		struct tcp_cc ss = cc_new(ops), ca = after_loss(ops, 100, 0);
		uint32_t ss0 = ss.cwnd, ca0 = ca.cwnd;
		for (uint64_t n = 1; n <= 10000; n++) {
			ss.ops->on_ack(&ss, MSS, MSS, MS, true, n * MS);
			ca.ops->on_ack(&ca, MSS, MSS, MS, true, n * MS);
		}
		cr_expect_eq(ss.cwnd, ss0, "%s slow start", ops->name);
		cr_expect_eq(ca.cwnd, ca0, "%s congestion avoidance", ops->name);
	}
	/* CUBIC: ten idle seconds do not count in t, so the first busy round does not jump to 1.5 * cwnd. */
	struct tcp_cc c = after_loss(&tcp_cc_cubic, 100, 0);
	uint64_t now = SEC;
	ack_round(&c, &now, 100 * MS);
	for (int n = 0; n < 100; n++, now += 100 * MS)
		c.ops->on_ack(&c, MSS, MSS, 100 * MS, true, now);
	uint32_t before = c.cwnd;
	ack_round(&c, &now, 100 * MS);
	cr_expect_lt(c.cwnd, before + 5 * MSS, "cwnd %u -> %u after idle", before, c.cwnd);
	cr_expect_gt(c.cwnd, before, "but it grows again once cwnd-limited");
}

Test(tcp_cc, floors)
{
	for (int i = 0; i < 2; i++) {
		struct tcp_cc c = cc_new(i ? &tcp_cc_cubic : &tcp_cc_newreno);
		for (int n = 0; n < 10; n++) {
			c.ops->on_loss(&c, 0, 0);
			cr_expect_geq(c.cwnd, 2 * MSS, "%s", c.ops->name);
			cr_expect_geq(c.ssthresh, 2 * MSS);
			c.ops->on_rto(&c, 0, 0);
			cr_expect_eq(c.cwnd, MSS, "%s", c.ops->name);
			cr_expect_geq(c.ssthresh, 2 * MSS);
			c.ops->on_recovery_exit(&c, 0);
			cr_expect_geq(c.cwnd, MSS);
		}
	}
}

Test(tcp_cc, set_mss_rescales)
{
	for (int i = 0; i < 2; i++) {
		struct tcp_cc c = after_loss(i ? &tcp_cc_cubic : &tcp_cc_newreno, 40, 0);
		uint32_t segs = c.cwnd / MSS, ss = c.ssthresh / MSS;
		c.ops->set_mss(&c, 500);
		cr_expect_eq(c.mss, 500);
		cr_expect_eq(c.cwnd, segs * 500, "%s", c.ops->name);
		cr_expect_eq(c.ssthresh, ss * 500);
	}
}

/*
 * 10^6 ACKs of 64 KiB, step apart, on a window near the cap: cwnd never wraps
 * nor shrinks. One second apart, CUBIC's t runs past its clamp and its target
 * is always 1.5 * cwnd.
 */
static void no_wrap(const struct tcp_cc_ops *ops, bool slow_start, uint64_t step)
{
	struct tcp_cc c = cc_new(ops);
	if (slow_start) {
		c.cwnd = TCP_CC_CWND_MAX - 3 * MSS;
	} else {
		c.cwnd = TCP_CC_CWND_MAX;
		ops->on_loss(&c, TCP_CC_CWND_MAX, 0);
		ops->on_recovery_exit(&c, 0);
	}
	uint32_t start = c.cwnd, prev = c.cwnd;
	for (uint64_t n = 1; n <= 1000000; n++) {
		ops->on_ack(&c, 64 * 1024, c.cwnd, MS, false, n * step);
		if (c.cwnd < prev || c.cwnd > TCP_CC_CWND_MAX)
			cr_assert_fail("%s ack %llu: cwnd %u after %u", ops->name, (unsigned long long)n, c.cwnd,
				       prev);
		prev = c.cwnd;
	}
	cr_expect_gt(c.cwnd, start, "%s grew", ops->name);
	if (slow_start || step == SEC)
		cr_expect_gt(c.cwnd + MSS, TCP_CC_CWND_MAX, "%s reached the cap (to an SMSS): %u", ops->name, c.cwnd);
}

Test(tcp_cc, no_wrap_newreno_slow_start) { no_wrap(&tcp_cc_newreno, true, MS); }
Test(tcp_cc, no_wrap_newreno_avoidance) { no_wrap(&tcp_cc_newreno, false, MS); }
Test(tcp_cc, no_wrap_cubic_slow_start) { no_wrap(&tcp_cc_cubic, true, MS); }
Test(tcp_cc, no_wrap_cubic_avoidance) { no_wrap(&tcp_cc_cubic, false, MS); }
Test(tcp_cc, no_wrap_cubic_avoidance_long) { no_wrap(&tcp_cc_cubic, false, SEC); }
