/* PDPIX conformance: demi_wait, demi_wait_any, demi_wait_next_n and the results they give. */
#include "conformance.h"

#include <unistd.h>

/* A pop that stays pending until someone sends to *addr (a bound UDP socket), or on a TCP pair or a pipe. */
struct pending {
	int qd;                  /* the queue the pop waits on */
	demi_qtoken_t qt;        /* the pop */
	int sender;              /* a queue that can make it complete */
	struct sockaddr_in addr; /* UDP: where to send */
};

static struct pending pending_pop(const struct libos_param *p)
{
	struct pending pp;
	memset(&pp, 0, sizeof(pp));
	if (p->caps & CAP_UDP) {
		pp.qd = bound_socket(p, SOCK_DGRAM, &pp.addr);
		pp.sender = bound_socket(p, SOCK_DGRAM, NULL);
	} else if (!HAS_SOCKETS(p)) {
		pipe_pair(&pp.qd, &pp.sender);
	} else {
		int lqd;
		tcp_pair(p, &lqd, &pp.sender, &pp.qd);
	}
	EXPECT_OK(demi_pop(&pp.qt, pp.qd));
	cr_assert_neq(pp.qt, 0);
	return pp;
}

/* Sends one small message that completes pp's pop; returns the push token. */
static demi_qtoken_t release_pending(const struct libos_param *p, const struct pending *pp)
{
	demi_sgarray_t sga = sga_pattern(32, 1);
	demi_qtoken_t qt;
	if (p->caps & CAP_UDP)
		EXPECT_OK(demi_pushto(&qt, pp->sender, &sga, (const struct sockaddr *)&pp->addr, sizeof(pp->addr)));
	else
		EXPECT_OK(demi_push(&qt, pp->sender, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	return qt;
}

static void fill(demi_qresult_t *qr) { memset(qr, 0xA5, sizeof(*qr)); }

static bool untouched(const demi_qresult_t *qr)
{
	demi_qresult_t ref;
	fill(&ref);
	return memcmp(qr, &ref, sizeof(ref)) == 0;
}

/* ---- demi_wait ---- */

LIBOS_TEST(wait, null_out_einval, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	EXPECT_ERR(EINVAL, demi_wait(VNULL(demi_qresult_t *), pp.qt, NULL));
	/* The token is untouched by the failed call. */
	release_pending(p, &pp);
	wait_op(pp.qt, DEMI_OPC_POP, 2000);
}

LIBOS_TEST(wait, unknown_token_einval, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	demi_qresult_t qr;
	fill(&qr);
	/* With no timeout: an invalid token must fail at once, not wait forever. */
	EXPECT_ERR(EINVAL, demi_wait(&qr, 0, NULL));
	EXPECT_ERR(EINVAL, demi_wait(&qr, 12345, NULL));
	EXPECT_ERR(EINVAL, demi_wait(&qr, UINT64_MAX, NULL));
	EXPECT_ERR(EINVAL, demi_wait(&qr, pp.qt + 1, NULL));
	EXPECT_ERR(EINVAL, demi_wait(&qr, pp.qt ^ (1ull << 32), NULL));
	EXPECT_ERR(EINVAL, demi_wait(&qr, pp.qt ^ (1ull << 63), NULL));
	cr_assert(untouched(&qr));
}

LIBOS_TEST(wait, spent_token_einval, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	demi_qtoken_t push = release_pending(p, &pp);
	wait_op(pp.qt, DEMI_OPC_POP, 2000);
	wait_op(push, DEMI_OPC_PUSH, 2000);
	demi_qresult_t qr;
	struct timespec ts = ms_ts(100);
	EXPECT_ERR(EINVAL, demi_wait(&qr, pp.qt, NULL));
	EXPECT_ERR(EINVAL, demi_wait(&qr, pp.qt, &ts));
	EXPECT_ERR(EINVAL, demi_wait(&qr, push, NULL));
	/* A new op reusing the slot does not revive the old token. */
	struct pending again = pending_pop(p);
	cr_assert_neq(again.qt, pp.qt, "a token must not repeat while an old copy can be waited on");
	EXPECT_ERR(EINVAL, demi_wait(&qr, pp.qt, &ts));
}

LIBOS_TEST(wait, timeout_leaves_result_and_token, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	demi_qresult_t qr;
	fill(&qr);
	struct timespec ts = ms_ts(100);
	uint64_t t0 = mono_ns();
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, pp.qt, &ts));
	uint64_t took = mono_ns() - t0;
	cr_assert(untouched(&qr), "a timed-out wait wrote its result");
	cr_assert_geq(took, 90000000ull, "timed out after %llu ns of 100 ms", (unsigned long long)took);
	cr_assert_lt(took, 2000000000ull, "timed out after %llu ns of 100 ms", (unsigned long long)took);
	/* Still valid: another timeout, then completion. */
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, pp.qt, &ts));
	release_pending(p, &pp);
	qr = wait_op(pp.qt, DEMI_OPC_POP, 2000);
	cr_assert_eq(qr.qr_qd, pp.qd);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 32);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
}

/* Zero timeout on a pending op: a prompt ETIMEDOUT, not a block. */
LIBOS_TEST(wait, zero_timeout_returns_at_once, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	demi_qresult_t qr;
	fill(&qr);
	struct timespec zero = ms_ts(0);
	uint64_t t0 = mono_ns();
	for (int i = 0; i < 1000; i++)
		EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, pp.qt, &zero));
	cr_assert_lt(mono_ns() - t0, 1000000000ull, "1000 zero-timeout waits took over a second");
	cr_assert(untouched(&qr));
}

/*
 * A zero timeout is not "look once": one call lets the libOS run a round
 * and poll its device, so a datagram already delivered to the socket
 * completes the parked pop in that same call.
 */
LIBOS_TEST(wait, zero_timeout_makes_progress, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	int rqd = bound_socket(p, SOCK_DGRAM, &ra);
	int sqd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_qtoken_t pop;
	EXPECT_OK(demi_pop(&pop, rqd));
	demi_qresult_t qr;
	struct timespec zero = ms_ts(0);
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, pop, &zero)); /* parked: nothing there yet */
	demi_sgarray_t sga = sga_pattern(64, 2);
	demi_qtoken_t push;
	EXPECT_OK(demi_pushto(&push, sqd, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_OK(demi_sgafree(&sga));
	/* The push may need the libOS to run too; a zero-timeout wait must give it that. */
	int err = ETIMEDOUT;
	for (int i = 0; i < 3 && err == ETIMEDOUT; i++)
		err = demi_wait(&qr, push, &zero);
	EXPECT_ERR(0, err);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	/* Loopback delivery is synchronous: the datagram is in the socket now. */
	usleep(1000);
	EXPECT_ERR(0, demi_wait(&qr, pop, &zero));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 64);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
}

/* A failed asynchronous operation is a successful wait whose opcode is FAILED. */
LIBOS_TEST(wait, failed_op_is_successful_wait, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	EXPECT_OK(demi_close(pp.qd));
	demi_qresult_t qr;
	EXPECT_OK(demi_wait(&qr, pp.qt, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECANCELED);
	cr_assert_eq(qr.qr_qt, pp.qt);
	cr_assert_eq(qr.qr_qd, pp.qd);
	/* Collected like any result: the token is spent. */
	EXPECT_ERR(EINVAL, demi_wait(&qr, pp.qt, NULL));
}

/* ---- demi_wait_any ---- */

LIBOS_TEST(wait_any, first_invalid_token_einval_at_once, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	demi_qresult_t qr;
	fill(&qr);
	int off = -7;
	demi_qtoken_t bad_last[3] = { pp.qt, pp.qt, 0xbad0000000000bad };
	demi_qtoken_t bad_first[2] = { 0, pp.qt };
	uint64_t t0 = mono_ns();
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, bad_last, 3, NULL));
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, bad_first, 2, NULL));
	cr_assert_lt(mono_ns() - t0, 500000000ull, "an invalid token must be rejected at once");
	cr_assert(untouched(&qr));
	cr_assert_eq(off, -7);
	/* Even when a valid token in the list is already complete. */
	demi_qtoken_t push = release_pending(p, &pp);
	wait_op(push, DEMI_OPC_PUSH, 2000);
	usleep(1000);
	demi_qtoken_t done_then_bad[2] = { pp.qt, 77 };
	struct timespec ts = ms_ts(200);
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, done_then_bad, 2, &ts));
	/* The valid token survived every rejected call. */
	wait_op(pp.qt, DEMI_OPC_POP, 2000);
}

LIBOS_TEST(wait_any, bad_args_einval, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	demi_qresult_t qr;
	int off;
	demi_qtoken_t qts[1] = { pp.qt };
	struct timespec ts = ms_ts(10);
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, qts, -1, &ts));
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, qts, INT32_MIN, NULL));
	EXPECT_ERR(EINVAL, demi_wait_any(VNULL(demi_qresult_t *), &off, qts, 1, &ts));
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, VNULL(int *), qts, 1, &ts));
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, VNULL(const demi_qtoken_t *), 1, &ts));
}

LIBOS_TEST(wait_any, timeout_leaves_result_and_tokens, .timeout = 10)
{
	lp_init(p);
	struct pending a = pending_pop(p), b = pending_pop(p);
	demi_qtoken_t qts[2] = { a.qt, b.qt };
	demi_qresult_t qr;
	fill(&qr);
	int off = -7;
	struct timespec ts = ms_ts(100);
	uint64_t t0 = mono_ns();
	EXPECT_ERR(ETIMEDOUT, demi_wait_any(&qr, &off, qts, 2, &ts));
	uint64_t took = mono_ns() - t0;
	cr_assert_geq(took, 90000000ull);
	cr_assert_lt(took, 2000000000ull);
	cr_assert(untouched(&qr));
	/* Complete the second: wait_any names it by its index. */
	release_pending(p, &b);
	EXPECT_OK(demi_wait_any(&qr, &off, qts, 2, &ts));
	cr_assert_eq(off, 1);
	cr_assert_eq(qr.qr_qt, b.qt);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	/* b is spent; a is still valid. */
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, qts, 2, &ts));
	EXPECT_ERR(ETIMEDOUT, demi_wait_any(&qr, &off, qts, 1, &ts));
	release_pending(p, &a);
	EXPECT_OK(demi_wait_any(&qr, &off, qts, 1, NULL));
	cr_assert_eq(off, 0);
	cr_assert_eq(qr.qr_qt, a.qt);
}

LIBOS_TEST(wait_any, reports_failed_ops, .timeout = 10)
{
	lp_init(p);
	struct pending a = pending_pop(p), b = pending_pop(p);
	demi_qtoken_t qts[2] = { a.qt, b.qt };
	EXPECT_OK(demi_close(b.qd));
	demi_qresult_t qr;
	int off;
	EXPECT_OK(demi_wait_any(&qr, &off, qts, 2, NULL));
	cr_assert_eq(off, 1);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECANCELED);
}

/*
 * Checking a token is O(1): a million made-up tokens, each rejected with
 * EINVAL, in well under two seconds, while a real operation is pending.
 */
LIBOS_TEST(wait_any, million_made_up_tokens_fast, .timeout = 30)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	demi_qresult_t qr;
	int off;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	long wrong = 0;
	uint64_t t0 = mono_ns();
	for (long i = 0; i < 1000000; i++) {
		/* A mix of small slots with wrong generations, 0, and random-looking values. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		demi_qtoken_t t = (i % 4 == 0) ? (x & 0xffffffff00000fffull) : (i % 4 == 1) ? (uint64_t)(i & 0xff) : x;
		if (t == pp.qt)
			continue;
		if (demi_wait_any(&qr, &off, &t, 1, NULL) != EINVAL)
			wrong++;
	}
	uint64_t took = mono_ns() - t0;
	cr_assert_eq(wrong, 0, "%ld made-up tokens were not rejected with EINVAL", wrong);
	cr_assert_lt(took, 2000000000ull, "a million rejections took %.2f s", took / 1e9);
	/* The same through demi_wait. */
	t0 = mono_ns();
	for (long i = 0; i < 1000000; i++) {
		demi_qtoken_t t = ((uint64_t)(i * 2654435761u) << 32) | (uint64_t)(i & 0xffff);
		if (t != pp.qt && demi_wait(&qr, t, NULL) != EINVAL)
			wrong++;
	}
	took = mono_ns() - t0;
	cr_assert_eq(wrong, 0, "%ld made-up tokens were not rejected by demi_wait", wrong);
	cr_assert_lt(took, 2000000000ull, "a million demi_wait rejections took %.2f s", took / 1e9);
	/* None of that disturbed the real one. */
	release_pending(p, &pp);
	wait_op(pp.qt, DEMI_OPC_POP, 2000);
}

/* ---- demi_wait_next_n ---- */

LIBOS_TEST(wait_next_n, bad_args_einval, .timeout = 10)
{
	lp_init(p);
	demi_qresult_t qrs[4];
	int count = 99;
	struct timespec ts = ms_ts(10);
	EXPECT_ERR(EINVAL, demi_wait_next_n(qrs, 0, &count, &ts));
	EXPECT_ERR(EINVAL, demi_wait_next_n(qrs, -1, &count, &ts));
	EXPECT_ERR(EINVAL, demi_wait_next_n(qrs, INT32_MIN, &count, NULL));
	EXPECT_ERR(EINVAL, demi_wait_next_n(VNULL(demi_qresult_t *), 4, &count, &ts));
	EXPECT_ERR(EINVAL, demi_wait_next_n(qrs, 4, VNULL(int *), &ts));
}

LIBOS_TEST(wait_next_n, timeout_sets_count_zero, .timeout = 10)
{
	lp_init(p);
	struct pending pp = pending_pop(p);
	(void)pp;
	/* Settle whatever setup completed (connects, accepts) first. */
	demi_qresult_t qrs[8];
	int count = 99;
	struct timespec zero = ms_ts(0);
	while (demi_wait_next_n(qrs, 8, &count, &zero) == 0)
		;
	count = 99;
	struct timespec ts = ms_ts(100);
	uint64_t t0 = mono_ns();
	EXPECT_ERR(ETIMEDOUT, demi_wait_next_n(qrs, 8, &count, &ts));
	uint64_t took = mono_ns() - t0;
	cr_assert_eq(count, 0);
	cr_assert_geq(took, 90000000ull);
	cr_assert_lt(took, 2000000000ull);
}

/* Collects several completions, each token exactly once, and spends them. */
LIBOS_TEST(wait_next_n, collects_several, .timeout = 10)
{
	lp_init(p);
	enum { N = 3 };
	struct pending pp[N];
	demi_qtoken_t want[2 * N];
	for (int i = 0; i < N; i++)
		pp[i] = pending_pop(p);
	demi_qresult_t qrs[16];
	int count;
	struct timespec zero = ms_ts(0);
	while (demi_wait_next_n(qrs, 16, &count, &zero) == 0) /* setup's own completions */
		;
	for (int i = 0; i < N; i++) {
		want[2 * i] = pp[i].qt;
		want[2 * i + 1] = release_pending(p, &pp[i]);
	}
	bool seen[2 * N] = { false };
	int total = 0;
	struct timespec ts = ms_ts(2000);
	/* At most n per call: ask for one first. */
	EXPECT_OK(demi_wait_next_n(qrs, 1, &count, &ts));
	cr_assert_eq(count, 1);
	for (int round = 0; total < 2 * N; round++) {
		if (round > 0) {
			count = -1;
			EXPECT_OK(demi_wait_next_n(qrs, 16, &count, &ts));
			cr_assert_geq(count, 1);
			cr_assert_leq(count, 16);
		}
		for (int k = 0; k < count; k++) {
			int j = 0;
			while (j < 2 * N && want[j] != qrs[k].qr_qt)
				j++;
			cr_assert_lt(j, 2 * N, "unexpected token %#llx", (unsigned long long)qrs[k].qr_qt);
			cr_assert(!seen[j], "token %#llx reported twice", (unsigned long long)qrs[k].qr_qt);
			seen[j] = true;
			total++;
			cr_assert_eq(qrs[k].qr_opcode, (j % 2) ? DEMI_OPC_PUSH : DEMI_OPC_POP);
			if (j % 2 == 0) {
				cr_assert_eq(qrs[k].qr_qd, pp[j / 2].qd);
				cr_assert_eq(qrs[k].qr_value.sga.sga_segs[0].sgaseg_len, 32);
				EXPECT_OK(demi_sgafree(&qrs[k].qr_value.sga));
			}
		}
		cr_assert_lt(round, 4 * N, "completions trickled in one at a time for too long");
	}
	demi_qresult_t qr;
	for (int j = 0; j < 2 * N; j++)
		EXPECT_ERR(EINVAL, demi_wait(&qr, want[j], &zero));
}

/* ---- demi_wait_any: completion order ---- */

/* Three memory queues with a pop pending on each (pops there complete as the push is made). */
static void memq_pops(int qd[3], demi_qtoken_t pop[3])
{
	for (int i = 0; i < 3; i++) {
		EXPECT_OK(demi_queue(&qd[i]));
		EXPECT_OK(demi_pop(&pop[i], qd[i]));
	}
}

static void memq_send(int qd)
{
	demi_sgarray_t sga = sga_pattern(16, 3);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, qd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	wait_op(qt, DEMI_OPC_PUSH, 2000);
}

/*
 * The earliest completion comes first, wherever its token sits in the array:
 * the tail completed before the head is returned before it.
 */
LIBOS_TEST(wait_any, earliest_completion_first, .timeout = 10)
{
	lp_init(p);
	int qd[3];
	demi_qtoken_t pop[3];
	memq_pops(qd, pop);
	memq_send(qd[2]);
	memq_send(qd[0]);
	demi_qresult_t qr;
	int off = -1;
	EXPECT_OK(demi_wait_any(&qr, &off, pop, 3, NULL));
	cr_assert_eq(off, 2, "wait_any returned index %d, not the earliest completion (2)", off);
	cr_assert_eq(qr.qr_qt, pop[2]);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	demi_qtoken_t rest[2] = { pop[0], pop[1] };
	EXPECT_OK(demi_wait_any(&qr, &off, rest, 2, NULL));
	cr_assert_eq(off, 0);
	cr_assert_eq(qr.qr_qt, pop[0]);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	/* A repeated token answers its first index. */
	memq_send(qd[1]);
	demi_qtoken_t twice[3] = { rest[1], rest[1], rest[1] };
	EXPECT_OK(demi_wait_any(&qr, &off, twice, 3, NULL));
	cr_assert_eq(off, 0);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
}

/* The same when the call has to wait: the token that completes during the wait, at the tail, with its index. */
LIBOS_TEST(wait_any, completes_while_waiting_at_tail, .timeout = 10)
{
	lp_init(p);
	enum { N = 64 };
	struct pending a = pending_pop(p), c = pending_pop(p);
	int qd[N];
	demi_qtoken_t qts[N];
	for (int i = 0; i < N - 2; i++) {
		EXPECT_OK(demi_queue(&qd[i]));
		EXPECT_OK(demi_pop(&qts[i], qd[i]));
	}
	qts[N - 2] = a.qt;
	qts[N - 1] = c.qt;
	demi_qresult_t qr;
	int off = -1;
	struct timespec zero = ms_ts(0);
	EXPECT_ERR(ETIMEDOUT, demi_wait_any(&qr, &off, qts, N, &zero));
	release_pending(p, &c);
	EXPECT_OK(demi_wait_any(&qr, &off, qts, N, NULL));
	cr_assert_eq(off, N - 1);
	cr_assert_eq(qr.qr_qt, c.qt);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
}

/* ---- tokens of closed queues ---- */

/* demi_init with a 16-slot op table, the smallest allowed. */
static void init_16(const struct libos_param *p)
{
	setenv("MAX_QTOKENS", "16", 1);
	lp_init(p);
}

/*
 * demi_queue, demi_pop, demi_close, never collecting the cancelled pop: the
 * slots of the cancelled pops are reclaimed when the table is full, so the
 * loop never meets ENOMEM (it did at the 16th pop).
 */
LIBOS_TEST(tokens, close_loop_never_leaks, .timeout = 30)
{
	init_16(p);
	uint64_t t0 = mono_ns();
	for (long i = 0; i < 100000; i++) {
		int qd;
		demi_qtoken_t qt;
		int err = demi_queue(&qd);
		cr_assert_eq(err, 0, "demi_queue at %ld: %s", i, ename(err));
		err = demi_pop(&qt, qd);
		cr_assert_eq(err, 0, "demi_pop at %ld: %s", i, ename(err));
		EXPECT_OK(demi_close(qd));
	}
	uint64_t took = mono_ns() - t0;
	cr_assert_lt(took, 5000000000ull, "100,000 rounds took %.2f s", took / 1e9);
}

/* The same with a push whose result is never collected before the close: it carries nothing, it is reclaimed. */
LIBOS_TEST(tokens, uncollected_push_then_close_never_leaks, .timeout = 30)
{
	init_16(p);
	for (long i = 0; i < 100000; i++) {
		int qd;
		demi_qtoken_t push, pop;
		EXPECT_OK(demi_queue(&qd));
		demi_sgarray_t sga = demi_sgaalloc(8);
		cr_assert_eq(sga.sga_numsegs, 1);
		int err = demi_push(&push, qd, &sga);
		cr_assert_eq(err, 0, "demi_push at %ld: %s", i, ename(err));
		EXPECT_OK(demi_sgafree(&sga));
		err = demi_pop(&pop, qd); /* completes at once with the pushed item: a result with a buffer */
		cr_assert_eq(err, 0, "demi_pop at %ld: %s", i, ename(err));
		demi_qresult_t qr = wait_op(pop, DEMI_OPC_POP, 1000);
		EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
		EXPECT_OK(demi_close(qd));
	}
}

/*
 * A result of an open queue is never reclaimed, however many cancelled ones
 * come after it; with every slot holding one, a pop answers ENOMEM.
 */
LIBOS_TEST(tokens, open_queue_result_kept, .timeout = 10)
{
	init_16(p);
	int a;
	demi_qtoken_t pop;
	EXPECT_OK(demi_queue(&a));
	EXPECT_OK(demi_pop(&pop, a));
	memq_send(a); /* pop done, uncollected, its queue open */
	for (int i = 0; i < 1000; i++) {
		int qd;
		demi_qtoken_t qt;
		EXPECT_OK(demi_queue(&qd));
		EXPECT_OK(demi_pop(&qt, qd));
		EXPECT_OK(demi_close(qd));
	}
	demi_qresult_t qr = wait_op(pop, DEMI_OPC_POP, 1000);
	cr_assert_eq(qr.qr_qd, a);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 16);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	/* Fill the table with pending pops of an open queue and one done result: then ENOMEM. */
	int b;
	EXPECT_OK(demi_queue(&b));
	demi_qtoken_t qts[16];
	EXPECT_OK(demi_pop(&qts[0], a));
	memq_send(a);
	for (int i = 1; i < 16; i++)
		EXPECT_OK(demi_pop(&qts[i], b));
	demi_qtoken_t qt;
	EXPECT_ERR(ENOMEM, demi_pop(&qt, b));
	qr = wait_op(qts[0], DEMI_OPC_POP, 1000);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	EXPECT_OK(demi_pop(&qt, b)); /* a slot again */
}

/* A cancelled result can be collected until its slot is needed; after that its token is spent: EINVAL. */
LIBOS_TEST(tokens, reclaimed_token_einval, .timeout = 10)
{
	init_16(p);
	int x, y;
	demi_qtoken_t old, old2;
	EXPECT_OK(demi_queue(&x));
	EXPECT_OK(demi_pop(&old, x));
	EXPECT_OK(demi_pop(&old2, x));
	EXPECT_OK(demi_close(x));
	EXPECT_OK(demi_queue(&y));
	demi_qtoken_t qts[15];
	for (int i = 0; i < 14; i++)
		EXPECT_OK(demi_pop(&qts[i], y));
	/* Table full: the next pop reclaims the oldest cancelled result (old), not old2. */
	EXPECT_OK(demi_pop(&qts[14], y));
	demi_qresult_t qr;
	int off;
	EXPECT_ERR(EINVAL, demi_wait(&qr, old, NULL));
	demi_qtoken_t with_old[2] = { qts[0], old };
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &off, with_old, 2, NULL));
	/* old2 is still there to collect, as any cancelled result. */
	qr = wait_ms(old2, 1000);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECANCELED);
	cr_assert_eq(qr.qr_qd, x);
}
