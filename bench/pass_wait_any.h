/*
 * The demi_wait_any of issue 18's first stop (src/api/wait.c until the call kept a copy of its last array): the
 * earliest completion, found by one validating pass over every token per call. Benches compare against it.
 */
#ifndef DEMI_BENCH_PASS_WAIT_ANY_H
#define DEMI_BENCH_PASS_WAIT_ANY_H

#include <demi/wait.h>

#include "runtime/clock.h"
#include "runtime/rt.h"

struct pass_wait {
	const demi_qtoken_t *qts;
	uint32_t n;
	uint64_t seen;
	struct op *found;
	int found_i;
};

static int pass_is_done(struct rt *rt, void *arg)
{
	struct pass_wait *w = arg;
	struct op_table *t = &rt->ops;
	if (t->completions == w->seen)
		return 0;
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

/* timeout: NULL, or any other value read as zero (what the benches use). */
static inline int pass_wait_any(demi_qresult_t *qr_out, int *ready_offset, const demi_qtoken_t qts[], int num_qts,
				const struct timespec *timeout)
{
	struct rt *rt = rt_self();
	struct op_table *t = &rt->ops;
	struct op *best = NULL;
	int best_i = -1;
	for (int i = num_qts - 1; i >= 0; i--) {
		enum op_state st = op_token_state(t, qts[i]);
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
	t->any_n = 0; /* the wait_idx hints are this call's now: demi_wait_any must not trust its copy */
	if (!best) {
		uint64_t deadline = timeout ? clock_now() : UINT64_MAX;
		struct pass_wait w = { .qts = qts, .n = (uint32_t)num_qts, .seen = t->completions, .found = NULL };
		if (rt_run_until(rt, pass_is_done, &w, deadline) < 0)
			return ETIMEDOUT;
		best = w.found;
		best_i = w.found_i;
	}
	op_collect(t, best, qr_out);
	*ready_offset = best_i;
	return 0;
}

#endif
