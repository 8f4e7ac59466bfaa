/*
 * demi_wait_any's cost per call, in ns, next to the algorithm it replaced (issue 18):
 *   N tokens (pops pending on N memory queues), one of them completed, at the head, the middle or the tail of the
 *   array; and none completed with a zero timeout (one scheduler round, then ETIMEDOUT).
 *   new  demi_wait_any: the earliest completion among the tokens; checks only what changed since its last array
 *   pass a copy of issue 18's first demi_wait_any: one pass over every token keeping the smallest completion number
 *   old  a copy of the former demi_wait_any: every token checked, then the lowest index that is done
 * Between two calls the bench does what a server does: the token returned is replaced (a fresh pop at its index),
 * and the push that completed it is collected with demi_wait (a token spent outside the array).
 * Only the call is timed (clock_gettime around it, the clock's own cost subtracted); each run of a case gives the
 * median call (robust on a loaded machine), and each figure is the best of --reps runs, the three alternating.
 * Links the static internal library (the copies read the op table). Run by bench/wait_any_run.
 *   wait_any [--sizes 10,1000,20000] [--reps R] [--calls C]   (C: calls per case at 1,000 tokens; scaled by 1000/N)
 */
#include <demi/libos.h>
#include <demi/memq.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include "bench.h"
#include "old_wait_any.h"
#include "pass_wait_any.h"

/* ---- the cases ---- */

typedef int (*wait_any_fn)(demi_qresult_t *, int *, const demi_qtoken_t[], int, const struct timespec *);

static int *qds;
static demi_qtoken_t *qts;
static double clock_ns; /* one clock_gettime pair, subtracted from every timed call */

static void complete(int i)
{
	demi_sgarray_t sga = demi_sgaalloc(8);
	CHECK(sga.sga_numsegs == 1 ? 0 : ENOMEM);
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_push(&qt, qds[i], &sga));
	CHECK(demi_sgafree(&sga));
	CHECK(demi_wait(&qr, qt, NULL));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static uint64_t *times;

/* Median ns per call with the token at index pos completed (pos < 0: none, zero timeout). */
static double run_case(wait_any_fn fn, int n, int pos, long calls)
{
	struct timespec zero = { 0, 0 };
	for (long c = 0; c < calls; c++) {
		if (pos >= 0)
			complete(pos);
		demi_qresult_t qr;
		int off = -1;
		uint64_t t0 = now_ns();
		int err = fn(&qr, &off, qts, n, pos >= 0 ? NULL : &zero);
		times[c] = now_ns() - t0;
		if (pos >= 0) {
			if (err || off != pos) {
				fprintf(stderr, "wait_any: %s, index %d, want %d\n", strerror(err), off, pos);
				exit(1);
			}
			CHECK(demi_sgafree(&qr.qr_value.sga));
			CHECK(demi_pop(&qts[pos], qds[pos]));
		} else if (err != ETIMEDOUT) {
			fprintf(stderr, "wait_any on pending tokens: %s\n", strerror(err));
			exit(1);
		}
	}
	qsort(times, (size_t)calls, sizeof(*times), cmp_u64);
	return (double)times[calls / 2] - clock_ns;
}

int main(int argc, char **argv)
{
	char sizes[256] = "10,1000,20000";
	int reps = 5;
	long calls1k = 20000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
			snprintf(sizes, sizeof(sizes), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--calls") && i + 1 < argc)
			calls1k = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: wait_any [--sizes 10,1000,20000] [--reps R] [--calls C]\n");
			return 2;
		}
	}
	times = calloc(2000000, sizeof(*times));
	if (!times)
		return 1;
	struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	for (int i = 0; i < 1000000; i++) { /* the clock pair's own median cost */
		uint64_t t0 = now_ns();
		times[i] = now_ns() - t0;
	}
	qsort(times, 1000000, sizeof(*times), cmp_u64);
	clock_ns = (double)times[500000];
	printf("%-7s %-6s %12s %12s %12s\n", "tokens", "done", "old ns/call", "pass ns/call", "new ns/call");
	for (char *s = strtok(sizes, ","); s; s = strtok(NULL, ",")) {
		int n = atoi(s);
		qds = calloc((size_t)n, sizeof(*qds));
		qts = calloc((size_t)n, sizeof(*qts));
		if (!qds || !qts)
			return 1;
		for (int i = 0; i < n; i++) {
			CHECK(demi_queue(&qds[i]));
			CHECK(demi_pop(&qts[i], qds[i]));
		}
		long calls = calls1k * 1000 / n;
		if (calls < 200)
			calls = 200;
		if (calls > 2000000)
			calls = 2000000;
		const struct { const char *name; int pos; } cases[] = {
			{ "head", 0 }, { "middle", n / 2 }, { "tail", n - 1 }, { "none", -1 },
		};
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			double best_old = 1e300, best_pass = 1e300, best_new = 1e300;
			for (int r = 0; r < reps; r++) {
				double o = run_case(old_wait_any, n, cases[k].pos, calls);
				double p = run_case(pass_wait_any, n, cases[k].pos, calls);
				double w = run_case(demi_wait_any, n, cases[k].pos, calls);
				best_old = o < best_old ? o : best_old;
				best_pass = p < best_pass ? p : best_pass;
				best_new = w < best_new ? w : best_new;
			}
			printf("%-7d %-6s %12.1f %12.1f %12.1f\n", n, cases[k].name, best_old, best_pass, best_new);
			printf("RESULT kind=wait_any tokens=%d done=%s old_ns=%.1f pass_ns=%.1f new_ns=%.1f calls=%ld\n", n,
			       cases[k].name, best_old, best_pass, best_new, calls);
			fflush(stdout);
		}
		for (int i = 0; i < n; i++)
			CHECK(demi_close(qds[i]));
		/* The cancelled pops are orphans now: collect them, so the next size starts from an empty table. */
		demi_qresult_t qr[64];
		int got;
		struct timespec zero = { 0, 0 };
		while (demi_wait_next_n(qr, 64, &got, &zero) == 0)
			;
		free(qds);
		free(qts);
	}
	return 0;
}
