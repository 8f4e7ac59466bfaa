/* The former demi_wait_any (src/api/wait.c before issue 18): the lowest index that is done. Benches compare against it. */
#ifndef DEMI_BENCH_OLD_WAIT_ANY_H
#define DEMI_BENCH_OLD_WAIT_ANY_H

#include <demi/wait.h>

#include "runtime/clock.h"
#include "runtime/rt.h"

struct old_wait {
	const demi_qtoken_t *qts;
	int n;
	int found;
	uint64_t seen;
};

static int old_scan(struct rt *rt, struct old_wait *w)
{
	for (int i = 0; i < w->n; i++) {
		struct op *op = op_lookup(&rt->ops, w->qts[i]);
		if (op && op->state == OP_DONE) {
			w->found = i;
			return 1;
		}
	}
	return 0;
}

static int old_is_done(struct rt *rt, void *arg)
{
	struct old_wait *w = arg;
	if (rt->ops.completions == w->seen)
		return 0;
	w->seen = rt->ops.completions;
	return old_scan(rt, w);
}

/* timeout: NULL, or any other value read as zero (what the benches use). */
static inline int old_wait_any(demi_qresult_t *qr_out, int *ready_offset, const demi_qtoken_t qts[], int num_qts,
			const struct timespec *timeout)
{
	struct rt *rt = rt_self();
	for (int i = 0; i < num_qts; i++)
		if (!op_lookup(&rt->ops, qts[i]))
			return EINVAL;
	struct old_wait w = { .qts = qts, .n = num_qts, .found = -1, .seen = rt->ops.completions };
	if (!old_scan(rt, &w)) {
		uint64_t deadline = timeout ? clock_now() : UINT64_MAX;
		if (rt_run_until(rt, old_is_done, &w, deadline) < 0)
			return ETIMEDOUT;
	}
	op_collect(&rt->ops, op_lookup(&rt->ops, qts[w.found]), qr_out);
	*ready_offset = w.found;
	return 0;
}

#endif
