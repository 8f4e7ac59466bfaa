/*
 * demi_wait_any against a reference, over random arrays that change between calls as servers change them (the
 * returned token replaced, swapped out, appended to, left in place), with duplicates, tokens spent behind the
 * call's back by demi_wait, made-up tokens and results that are not in the array. The reference is the
 * definition: EINVAL when any token names no live op, else the done op with the smallest completion number, at
 * its first index, else ETIMEDOUT. demi_wait_any remembers the array it last checked (src/api/wait.c); this test
 * is what shows that the shortcut answers as the definition does.
 */
#include <demi/libos.h>
#include <demi/memq.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include "runtime/rt.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct timespec ZERO = { 0, 0 };

static void setup(void)
{
	static const char *const vars[] = { "LIBOS", "CONFIG_PATH", "MAX_QTOKENS", "MAX_QUEUES", "MAX_BUFFERS",
					    "MAX_BUFFER_BYTES", "COROUTINE_STACK", "POLL_IDLE_US" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	struct demi_args args = { 0 };
	cr_assert_eq(demi_init(&args), 0);
}

static void teardown(void)
{
	if (rt_self())
		rt_destroy(rt_self());
}

TestSuite(wait_any, .init = setup, .fini = teardown);

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

/* The definition, read from the op table: the error, and the index when 0. */
static int reference(const demi_qtoken_t *qts, int n, int *idx)
{
	struct op_table *t = &rt_self()->ops;
	const struct op *best = NULL;
	for (int i = 0; i < n; i++) {
		enum op_state st = op_token_state(t, qts[i]);
		if (st == OP_FREE)
			return EINVAL;
		const struct op *op = op_of_token(t, qts[i]);
		if (st == OP_DONE && (!best || op->cseq < best->cseq)) {
			best = op;
			*idx = i;
		}
	}
	return best ? 0 : ETIMEDOUT;
}

enum { QUEUES = 24, MAXN = 512, STEPS = 60000, EPOCH = 1500 };

static int qds[QUEUES];
static demi_qtoken_t arr[MAXN];
static int n;

static void push_one(int qd, demi_qtoken_t *qt)
{
	demi_sgarray_t sga = demi_sgaalloc(8);
	cr_assert_eq(sga.sga_numsegs, 1);
	cr_assert_eq(demi_push(qt, qd, &sga), 0);
	cr_assert_eq(demi_sgafree(&sga), 0);
}

static void free_result(demi_qresult_t *qr)
{
	if (qr->qr_opcode == DEMI_OPC_POP)
		cr_assert_eq(demi_sgafree(&qr->qr_value.sga), 0);
}

/* Closes every queue and collects every result: the next epoch starts from an empty table. */
static void new_epoch(void)
{
	for (int q = 0; q < QUEUES; q++)
		if (qds[q] >= 0)
			cr_assert_eq(demi_close(qds[q]), 0);
	demi_qresult_t qr[64];
	int got;
	while (demi_wait_next_n(qr, 64, &got, &ZERO) == 0)
		for (int k = 0; k < got; k++)
			free_result(&qr[k]);
	cr_assert_eq(rt_self()->ops.in_use, 0);
	n = 0;
	for (int q = 0; q < QUEUES; q++) {
		cr_assert_eq(demi_queue(&qds[q]), 0);
		cr_assert_eq(demi_pop(&arr[n++], qds[q]), 0);
	}
}

Test(wait_any, same_answers_as_the_definition, .timeout = 60)
{
	for (int q = 0; q < QUEUES; q++)
		qds[q] = -1;
	new_epoch();
	struct op_table *t = &rt_self()->ops;
	bool dup = false;
	long calls = 0, trusted = 0, einval = 0, found = 0, timedout = 0, far = 0;
	for (long s = 0; s < STEPS; s++) {
		if (s % EPOCH == EPOCH - 1)
			new_epoch();
		uint32_t r = rnd(100);
		demi_qtoken_t qt;
		if (r < 18 && n < MAXN) { /* a push: the pop it completes, if any, is older than the push */
			push_one(qds[rnd(QUEUES)], &qt);
			if (rnd(10) < 8)
				arr[n++] = qt;
		} else if (r < 30 && n < MAXN) { /* a pop, appended or in the place of a token that leaves */
			cr_assert_eq(demi_pop(&qt, qds[rnd(QUEUES)]), 0);
			if (rnd(2) && n)
				arr[rnd((uint32_t)n)] = qt;
			else
				arr[n++] = qt;
		} else if (r < 34 && n > 1) { /* one token leaves: the last swapped in */
			int i = (int)rnd((uint32_t)n);
			n--;
			arr[i] = arr[n];
		} else if (r < 36 && n && n < MAXN) { /* a duplicate */
			demi_qtoken_t d = arr[rnd((uint32_t)n)];
			arr[rnd(2) ? rnd((uint32_t)n) : (uint32_t)n++] = d;
			dup = true;
		} else if (r < 38 && n) { /* spent by demi_wait behind demi_wait_any's back (when done) */
			demi_qresult_t qr;
			if (demi_wait(&qr, arr[rnd((uint32_t)n)], &ZERO) == 0)
				free_result(&qr);
		} else if (r < 39 && n) { /* a made-up token */
			arr[rnd((uint32_t)n)] = ((uint64_t)rnd(1000) << 32) | rnd(70000);
		} else if (n) {
			int want_i = -1, off = -1;
			int want = reference(arr, n, &want_i);
			trusted += t->any_n && !t->any_dups;
			demi_qresult_t qr;
			demi_qtoken_t expect_qt = want == 0 ? arr[want_i] : 0;
			int err = demi_wait_any(&qr, &off, arr, n, &ZERO);
			calls++;
			cr_assert_eq(err, want, "step %ld: demi_wait_any answered %d, the definition %d (n %d)", s, err,
				     want, n);
			if (err == 0) {
				found++;
				far += want_i > n / 2;
				cr_assert_eq(off, want_i, "step %ld: index %d, the definition %d (n %d)", s, off, want_i, n);
				cr_assert_eq(qr.qr_qt, expect_qt);
				free_result(&qr);
				uint32_t how = rnd(10);
				if (how < 5) { /* replaced by a fresh pop */
					cr_assert_eq(demi_pop(&arr[off], qds[rnd(QUEUES)]), 0);
				} else if (how < 9) {
					n--;
					arr[off] = arr[n];
				} /* else left in place: the next call must answer EINVAL */
			} else if (err == EINVAL) {
				einval++;
				for (int i = 0; i < n; i++) /* the dead tokens leave */
					if (op_token_state(t, arr[i]) == OP_FREE) {
						n--;
						arr[i--] = arr[n];
					}
			} else {
				timedout++;
			}
			if (dup) { /* after one call, the array loses its duplicates (so that most calls can trust the copy) */
				for (int i = 0; i < n; i++)
					for (int j = i + 1; j < n; j++)
						if (arr[j] == arr[i]) {
							n--;
							arr[j--] = arr[n];
						}
				dup = false;
			}
		}
	}
	cr_log_info("%ld calls: %ld answered (%ld past the middle), %ld EINVAL, %ld ETIMEDOUT; %ld trusted the copy",
		    calls, found, far, einval, timedout, trusted);
	/* The walk covered what it must: every answer kind, and mostly the shortcut. */
	cr_assert_gt(found, 1000);
	cr_assert_gt(far, 100);
	cr_assert_gt(einval, 100);
	cr_assert_gt(timedout, 10);
	cr_assert_gt(trusted, calls / 3, "only %ld of %ld calls could trust the copy", trusted, calls);
}
