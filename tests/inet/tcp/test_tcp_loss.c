/*
 * TCP over an impaired memwire: 64 MiB each way under 5% loss, 2%
 * duplication, reordering and 0.5% corruption arrive byte-identical within a
 * bounded simulated time, with NewReno and with CUBIC, with and without SACK.
 */
#include "tcp_xfer.h"

#include <stdio.h>

static const char *cc_name;
static bool no_sack;

static void cfg(struct demi_config *c, int idx)
{
	(void)idx;
	if (cc_name)
		snprintf(c->tcp_cc, sizeof(c->tcp_cc), "%s", cc_name);
	if (no_sack)
		c->tcp_sack = false;
}

static void fini(void) { tnet_fini(); }

static const struct memwire_opts harsh = {
	.seed = 42,
	.loss_ppm = 50000,
	.dup_ppm = 20000,
	.reorder_ppm = 20000,
	.corrupt_ppm = 5000,
	.delay_ns = 100 * 1000,
	.jitter_ns = 20 * 1000,
	.reorder_ns = 300 * 1000,
};

static void run(uint64_t bytes, uint64_t max_sim_s)
{
	tnet_init(NULL, cfg);
	struct tconn c = tnet_tcp_pair(8100);
	memwire_set_opts(T.w, &harsh);
	struct xdir d[2];
	xdir_init(&d[0], c.cqd, c.sqd, bytes, 11);
	xdir_init(&d[1], c.sqd, c.cqd, bytes, 12);
	uint64_t t0 = clock_now();
	xfer_run(d, 2, 65536, 8, max_sim_s * NSEC_PER_SEC);
	const struct memwire_stats *ws = memwire_stats(T.w);
	cr_assert_gt(ws->lost, 0);
	cr_assert_gt(ws->corrupted, 0);
	cr_assert_gt(ws->duplicated, 0);
	cr_assert_gt(ws->reordered, 0);
	struct demi_netstats_tcp *a = &tnet_stats(NA)->tcp, *b = &tnet_stats(NB)->tcp;
	cr_assert_gt(a->retransmits + b->retransmits, 0);
	cr_assert_gt(a->drop_checksum + b->drop_checksum, 0);
	cr_log_info("%s%s: %llu MiB each way in %.2f simulated s; retransmits %llu/%llu, fast recoveries %llu/%llu, "
		    "rto %llu/%llu", cc_name ? cc_name : "cubic", no_sack ? " no-sack" : "",
		    (unsigned long long)(bytes >> 20), (double)(clock_now() - t0) / 1e9,
		    (unsigned long long)a->retransmits, (unsigned long long)b->retransmits,
		    (unsigned long long)a->fast_recoveries, (unsigned long long)b->fast_recoveries,
		    (unsigned long long)a->rto_timeouts, (unsigned long long)b->rto_timeouts);
	/* Quiet the wire so the closes finish. */
	struct memwire_opts none = { 0 };
	memwire_set_opts(T.w, &none);
	demi_close(c.cqd);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(NSEC_PER_SEC);
}

TestSuite(tcp_loss, .fini = fini, .timeout = 600);

Test(tcp_loss, cubic_sack_64mib)
{
	run(64ull << 20, 600);
}

Test(tcp_loss, newreno_sack_16mib)
{
	cc_name = "newreno";
	run(16ull << 20, 600);
}

Test(tcp_loss, cubic_no_sack_16mib)
{
	no_sack = true;
	run(16ull << 20, 600);
}
