/* The public waits: collect a completed op at once, else run the scheduler until one completes. */
#include <demi/userdata.h>
#include <demi/wait.h>
#include <stdint.h>

#include "../runtime/clock.h"
#include "api.h"

/* Deadline in clock_now() units: UINT64_MAX for NULL; -EINVAL for a malformed timespec. */
static int deadline_of(const struct timespec *ts, uint64_t *out)
{
	if (!ts) {
		*out = UINT64_MAX;
		return 0;
	}
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= (long)NSEC_PER_SEC)
		return -EINVAL;
	uint64_t ns = (uint64_t)ts->tv_nsec;
	uint64_t sec = (uint64_t)ts->tv_sec;
	uint64_t now = clock_now();
	if (sec >= (UINT64_MAX - now - ns) / NSEC_PER_SEC)
		*out = UINT64_MAX;
	else
		*out = now + sec * NSEC_PER_SEC + ns;
	return 0;
}

static int op_is_done(struct rt *rt, void *arg)
{
	(void)rt;
	return ((struct op *)arg)->state == OP_DONE;
}

DEMI_EXPORT int demi_wait(demi_qresult_t *qr_out, demi_qtoken_t qt, const struct timespec *timeout)
{
	API_RT(rt);
	if (!qr_out)
		return EINVAL;
	struct op *op = op_lookup(&rt->ops, qt);
	if (!op)
		return EINVAL;
	if (op->state != OP_DONE) {
		uint64_t deadline;
		if (deadline_of(timeout, &deadline) < 0)
			return EINVAL;
		if (rt_run_until(rt, op_is_done, op, deadline) < 0)
			return ETIMEDOUT;
	}
	op_collect(&rt->ops, op, qr_out);
	return 0;
}

/*
 * demi_wait_any returns the earliest completion among its tokens, not the
 * lowest index. Every token is checked once anyway (an invalid one is EINVAL
 * at once), in the op table's dense tags (8 bytes a slot); that pass keeps
 * the done op with the smallest completion number (cseq) and notes each
 * token's index in the table's dense wait_idx (4 bytes a slot). When none is
 * done the call runs rounds, and after a round that completed anything reads
 * only the new completions (the tail of the completion list, newest back to
 * the last check): an op belongs to the call when the array holds its token
 * at the noted index, and the oldest such op is the answer. A call costs one
 * pass over the array plus the new completions of each round, never a rescan.
 */
struct any_wait {
	const demi_qtoken_t *qts;
	uint32_t n;
	uint64_t seen; /* completions already checked: those with cseq <= seen */
	struct op *found;
	int found_i;
};

static int any_is_done(struct rt *rt, void *arg)
{
	struct any_wait *w = arg;
	struct op_table *t = &rt->ops;
	if (t->completions == w->seen)
		return 0;
	/* Newest first, back to the last check: the last member met is the oldest new one. */
	for (struct list_node *n = t->completed.prev; n != &t->completed; n = n->prev) {
		struct op *op = container_of(n, struct op, cnode);
		if (op->cseq <= w->seen)
			break;
		uint32_t i = t->wait_idx[op - t->ops];
		if (i < w->n && w->qts[i] == op_token(t, op)) {
			w->found = op;
			w->found_i = (int)i;
		}
	}
	w->seen = t->completions;
	return w->found != NULL;
}

DEMI_EXPORT int demi_wait_any(demi_qresult_t *qr_out, int *ready_offset, const demi_qtoken_t qts[], int num_qts,
			      const struct timespec *timeout)
{
	API_RT(rt);
	if (!qr_out || !ready_offset || !qts || num_qts <= 0)
		return EINVAL;
	struct op_table *t = &rt->ops;
	struct op *best = NULL;
	int best_i = -1;
	/* Backwards, so that a repeated token is noted at, and answers with, its first index. */
	for (int i = num_qts - 1; i >= 0; i--) {
		enum op_state st = op_token_state(t, qts[i]); /* the dense tags only: pending ops are not touched */
		if (st == OP_FREE)
			return EINVAL;
		uint32_t slot = (uint32_t)qts[i] - 1;
		t->wait_idx[slot] = (uint32_t)i;
		if (st == OP_DONE) {
			struct op *op = &t->ops[slot];
			if (!best || op->cseq <= best->cseq) {
				best = op;
				best_i = i;
			}
		}
	}
	if (!best) {
		uint64_t deadline;
		if (deadline_of(timeout, &deadline) < 0)
			return EINVAL;
		struct any_wait w = { .qts = qts, .n = (uint32_t)num_qts, .seen = t->completions, .found = NULL };
		if (rt_run_until(rt, any_is_done, &w, deadline) < 0)
			return ETIMEDOUT;
		best = w.found;
		best_i = w.found_i;
	}
	op_collect(t, best, qr_out);
	*ready_offset = best_i;
	return 0;
}

static int any_completed(struct rt *rt, void *arg)
{
	(void)arg;
	return !list_empty(&rt->ops.completed);
}

/*
 * The body of demi_wait_next_n and demi_wait_next_n_ud: inlined into each,
 * so the plain call, with ud_out NULL, has no extra load or branch.
 */
static inline __attribute__((always_inline)) int next_n(demi_qresult_t *qr_out, uint64_t *ud_out, int num_qrs,
							 int *num_qrs_out, const struct timespec *timeout)
{
	API_RT(rt);
	if (!qr_out || !num_qrs_out || num_qrs <= 0)
		return EINVAL;
	*num_qrs_out = 0;
	if (list_empty(&rt->ops.completed)) {
		uint64_t deadline;
		if (deadline_of(timeout, &deadline) < 0)
			return EINVAL;
		if (rt_run_until(rt, any_completed, NULL, deadline) < 0)
			return ETIMEDOUT;
	}
	int n = 0;
	while (n < num_qrs && !list_empty(&rt->ops.completed)) {
		struct op *op = container_of(rt->ops.completed.next, struct op, cnode);
		if (ud_out)
			ud_out[n] = op->ud;
		op_collect(&rt->ops, op, &qr_out[n++]);
	}
	*num_qrs_out = n;
	return 0;
}

DEMI_EXPORT int demi_wait_next_n(demi_qresult_t *qr_out, int num_qrs, int *num_qrs_out, const struct timespec *timeout)
{
	return next_n(qr_out, NULL, num_qrs, num_qrs_out, timeout);
}

DEMI_EXPORT int demi_wait_next_n_ud(demi_qresult_t *qr_out, uint64_t *ud_out, int num_qrs, int *num_qrs_out,
				    const struct timespec *timeout)
{
	if (!ud_out)
		return rt_self() ? EINVAL : ENOSYS;
	return next_n(qr_out, ud_out, num_qrs, num_qrs_out, timeout);
}

DEMI_EXPORT int demi_qtoken_set_ud(demi_qtoken_t qt, uint64_t ud)
{
	API_RT(rt);
	struct op *op = op_lookup(&rt->ops, qt);
	if (!op)
		return EINVAL;
	op->ud = ud;
	return 0;
}
