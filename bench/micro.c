/*
 * Micro-benchmarks of the runtime's fixed costs, in wall-clock ns per operation:
 *   coro_switch  two coroutines switching straight to each other (raw coro_switch)
 *   sched_defer  two coroutines yielding through the scheduler, rounds driven by sched_round
 *   push_wait    demi_push to a memory queue (completes at once) + demi_wait on its token
 *   wait_done    demi_wait alone on tokens that already completed
 *   sga_pair     demi_sgaalloc(64) + demi_sgafree
 *   poll_round   demi_wait with a zero timeout on a pending accept: one scheduler
 *                round (the libOS's epoll_wait included), then ETIMEDOUT
 *   epoll_wait0  a bare epoll_wait(timeout 0) on one idle listening socket, as
 *                the busy-polling baseline issues it: poll_round minus this is
 *                what the runtime adds to every poll of the device
 *   clock        clock_gettime(CLOCK_MONOTONIC), which the wait loop reads
 * Built twice: `micro` links the static internal library and runs everything;
 * `micro_so` (MICRO_PUBLIC_ONLY) links libdemi.so, as applications do, and
 * runs only the public-API figures. Each figure is the best of --reps runs.
 *   micro [--iters N] [--reps R]    (default 10000000 switches, 5 reps)
 */
#include <sched.h>

#include <demi/libos.h>
#include <demi/memq.h>
#include <demi/sga.h>
#include <demi/userdata.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench.h"

#ifndef MICRO_PUBLIC_ONLY
#include "runtime/coro.h"
#include "runtime/sched.h"
#endif

#define BATCH 1024 /* tokens outstanding at once: well under max_qtokens */

static const char *variant =
#ifdef MICRO_PUBLIC_ONLY
	"so";
#else
	"static";
#endif

static void report(const char *name, const char *unit, double ns, long ops)
{
	printf("%-12s %8.2f ns per %s  (%ld of them, %s)\n", name, ns, unit, ops, variant);
	printf("RESULT kind=micro name=%s link=%s ns=%.3f ops=%ld\n", name, variant, ns, ops);
	fflush(stdout);
}

static double min_d(double a, double b) { return a < b ? a : b; }

#ifndef MICRO_PUBLIC_ONLY
/* ---- raw coro_switch: A and B switch straight to each other ---- */

static struct coro_ctx main_ctx, ctx_a, ctx_b;
static volatile long switch_rounds;

static void coro_a(void *arg)
{
	long n = *(long *)arg;
	for (long i = 0; i < n; i++)
		coro_switch(&ctx_a, &ctx_b); /* A -> B */
	coro_switch(&ctx_a, &main_ctx);
	__builtin_unreachable();
}

static void coro_b(void *arg)
{
	(void)arg;
	for (;;) {
		switch_rounds++;
		coro_switch(&ctx_b, &ctx_a); /* B -> A */
	}
}

/* ns per switch: a round trip A -> B -> A is two switches. */
static double bench_coro_switch(long rounds)
{
	const size_t stack = 64 * 1024;
	void *sa = coro_stack_alloc(stack), *sb = coro_stack_alloc(stack);
	if (!sa || !sb)
		exit(1);
	coro_make(&ctx_a, sa, stack, coro_a, &rounds);
	coro_make(&ctx_b, sb, stack, coro_b, NULL);
	uint64_t t0 = now_ns();
	coro_switch(&main_ctx, &ctx_a);
	uint64_t t1 = now_ns();
	coro_stack_free(sa, stack);
	coro_stack_free(sb, stack);
	return (double)(t1 - t0) / (2.0 * (double)rounds);
}

/* ---- sched_defer: two coroutines, each yields once per round ---- */

struct yielder {
	struct sched *s;
	long yields;
};

static void yielder_fn(void *arg)
{
	struct yielder *y = arg;
	do
		y->yields++;
	while (sched_defer(y->s) == 0);
}

/*
 * ns per yield round trip: a coroutine yields (switch to the scheduler's
 * stack, requeue) and is resumed in the next round (dequeue, switch back).
 * Two switches per yield.
 */
static double bench_sched_yield(long yields)
{
	struct sched s;
	sched_init(&s, 64 * 1024, 16);
	struct yielder a = { &s, 0 }, b = { &s, 0 };
	struct task *ta = sched_spawn(&s, TASK_APP, yielder_fn, &a);
	struct task *tb = sched_spawn(&s, TASK_APP, yielder_fn, &b);
	if (!ta || !tb)
		exit(1);
	sched_round(&s); /* first entry into each: not a yield round trip */
	long rounds = yields / 2;
	uint64_t t0 = now_ns();
	for (long i = 0; i < rounds; i++)
		sched_round(&s);
	uint64_t t1 = now_ns();
	sched_cancel(&s, ta);
	sched_cancel(&s, tb);
	sched_fini(&s);
	return (double)(t1 - t0) / (double)(2 * rounds);
}
#endif

/* ---- public API on a memory queue ---- */

/* Pops everything queued on qd (each pop completes at once) and frees it. */
static void drain(int qd, int n)
{
	for (int i = 0; i < n; i++) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		CHECK(demi_pop(&qt, qd));
		CHECK(demi_wait(&qr, qt, NULL));
		CHECK(demi_sgafree(&qr.qr_value.sga));
	}
}

/* demi_push + demi_wait, timed per batch; the queue is drained between batches, untimed. */
static double bench_push_wait(int qd, const demi_sgarray_t *sga, long ops)
{
	uint64_t total = 0;
	long done = 0;
	while (done < ops) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < BATCH; i++) {
			demi_qtoken_t qt;
			demi_qresult_t qr;
			CHECK(demi_push(&qt, qd, sga));
			CHECK(demi_wait(&qr, qt, NULL));
		}
		total += now_ns() - t0;
		done += BATCH;
		drain(qd, BATCH);
	}
	return (double)total / (double)done;
}

/* demi_wait alone: a batch of completed push tokens is made first, then only the waits are timed. */
static double bench_wait_done(int qd, const demi_sgarray_t *sga, long ops)
{
	static demi_qtoken_t qts[BATCH];
	uint64_t total = 0;
	long done = 0;
	while (done < ops) {
		for (int i = 0; i < BATCH; i++)
			CHECK(demi_push(&qts[i], qd, sga));
		uint64_t t0 = now_ns();
		for (int i = 0; i < BATCH; i++) {
			demi_qresult_t qr;
			CHECK(demi_wait(&qr, qts[i], NULL));
		}
		total += now_ns() - t0;
		done += BATCH;
		drain(qd, BATCH);
	}
	return (double)total / (double)done;
}

/*
 * demi_wait_next_n (ud: demi_wait_next_n_ud) alone, one result per call: a
 * batch of completed push tokens is made first, then only the waits are timed.
 */
static double bench_next_n_done(int qd, const demi_sgarray_t *sga, long ops, bool ud)
{
	uint64_t total = 0;
	long done = 0;
	while (done < ops) {
		for (int i = 0; i < BATCH; i++) {
			demi_qtoken_t qt;
			CHECK(demi_push(&qt, qd, sga));
		}
		uint64_t t0 = now_ns();
		for (int i = 0; i < BATCH; i++) {
			demi_qresult_t qr;
			uint64_t v;
			int n;
#ifdef DEMI_USERDATA_H_IS_INCLUDED
			if (ud)
				CHECK(demi_wait_next_n_ud(&qr, &v, 1, &n, NULL));
			else
#endif
				CHECK(demi_wait_next_n(&qr, 1, &n, NULL));
			(void)v;
		}
		total += now_ns() - t0;
		done += BATCH;
		drain(qd, BATCH);
	}
	return (double)total / (double)done;
}

static double bench_sga_pair(long ops)
{
	uint64_t t0 = now_ns();
	for (long i = 0; i < ops; i++) {
		demi_sgarray_t sga = demi_sgaalloc(64);
		if (!sga.sga_buf)
			exit(1);
		CHECK(demi_sgafree(&sga));
	}
	return (double)(now_ns() - t0) / (double)ops;
}

/* A listening TCP socket on 127.0.0.1 with a kernel-chosen port. */
static int demi_listener(void)
{
	int qd;
	CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
	CHECK(demi_listen(qd, 16));
	return qd;
}

/* demi_wait(timeout 0) on a pending accept: one scheduler round with the device polled, then ETIMEDOUT. */
static double bench_poll_round(demi_qtoken_t qt, long ops)
{
	const struct timespec zero = { 0, 0 };
	demi_qresult_t qr;
	uint64_t t0 = now_ns();
	for (long i = 0; i < ops; i++)
		if (demi_wait(&qr, qt, &zero) != ETIMEDOUT)
			exit(1);
	return (double)(now_ns() - t0) / (double)ops;
}

/* The baseline's poll: epoll_wait(0) on an epoll set holding one idle listening socket. */
static double bench_epoll_wait0(long ops)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK_SYS(fd);
	CHECK_SYS(bind(fd, (const struct sockaddr *)&a, sizeof(a)));
	CHECK_SYS(listen(fd, 16));
	int ep = epoll_create1(0);
	CHECK_SYS(ep);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = fd }, out[8];
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	uint64_t t0 = now_ns();
	for (long i = 0; i < ops; i++)
		if (epoll_wait(ep, out, 8, 0) != 0)
			exit(1);
	double ns = (double)(now_ns() - t0) / (double)ops;
	close(ep);
	close(fd);
	return ns;
}

static double bench_clock(long ops)
{
	uint64_t sink = 0, t0 = now_ns();
	for (long i = 0; i < ops; i++)
		sink += now_ns();
	double ns = (double)(now_ns() - t0) / (double)ops;
	return sink ? ns : ns; /* sink keeps the calls */
}

int main(int argc, char **argv)
{
	long iters = 10000000;
	int reps = 5;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--iters"))
			iters = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--reps"))
			reps = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--iters N] [--reps R]\n", argv[0]);
			return 2;
		}
	}
	if (iters < BATCH || reps < 1) {
		fprintf(stderr, "micro: --iters must be at least %d and --reps at least 1\n", BATCH);
		return 2;
	}
	bench_pin(bench_cpu(0));

	double best;
#ifndef MICRO_PUBLIC_ONLY
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_coro_switch(iters / 2));
	report("coro_switch", "switch", best, iters);
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_sched_yield(iters / 2));
	report("sched_defer", "defer", best, iters / 2);
#endif

	struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	int qd;
	CHECK(demi_queue(&qd));
	demi_sgarray_t sga = demi_sgaalloc(64);
	if (!sga.sga_buf)
		return 1;
	long api_ops = iters / 4;
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_push_wait(qd, &sga, api_ops));
	report("push_wait", "pair", best, api_ops);
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_wait_done(qd, &sga, api_ops));
	report("wait_done", "call", best, api_ops);
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_next_n_done(qd, &sga, api_ops, false));
	report("wait_next_n_done", "call", best, api_ops);
	if (getenv("MICRO_UD")) { /* not in a libdemi.so older than <demi/userdata.h> */
		best = 1e30;
		for (int r = 0; r < reps; r++)
			best = min_d(best, bench_next_n_done(qd, &sga, api_ops, true));
		report("wait_next_n_ud_done", "call", best, api_ops);
	}
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_sga_pair(api_ops));
	report("sga_pair", "pair", best, api_ops);
	CHECK(demi_sgafree(&sga));
	CHECK(demi_close(qd));

	/* Polling: a syscall each, so fewer iterations. */
	long polls = iters / 20;
	int lqd = demi_listener();
	demi_qtoken_t aqt;
	CHECK(demi_accept(&aqt, lqd));
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_poll_round(aqt, polls));
	report("poll_round", "call", best, polls);
	CHECK(demi_close(lqd)); /* cancels the accept */
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_epoll_wait0(polls));
	report("epoll_wait0", "call", best, polls);
	best = 1e30;
	for (int r = 0; r < reps; r++)
		best = min_d(best, bench_clock(api_ops));
	report("clock", "call", best, api_ops);
	return 0;
}
