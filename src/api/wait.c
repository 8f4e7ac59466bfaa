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
 * lowest index, and checks every token (an invalid one is EINVAL at once).
 *
 * A server calls it again and again on one array that changes in a few
 * places between calls (the returned token replaced, one appended). So the
 * call keeps a copy of the array it last checked (op_table.any_shadow) and
 * what it learnt: each token's index (the dense wait_idx, 4 bytes a slot),
 * and that no token appeared twice. A token of the copy stays live until its
 * op is freed, and the freeing (op.c's spend, whoever collects or reclaims
 * it) notes the token's index in the copy as dirty. So the call compares the
 * array with the copy (a streaming compare, 16 or, with AVX2, 32 bytes a
 * vector) and checks only the indices that differ and the dirty ones.
 * Then wait_idx is exact for every token in the array, so the answer is the
 * first op of the completion list (oldest first) whose slot's noted index
 * holds its token: O(1) per completed-but-uncollected op, no pass over the
 * tags.
 *
 * When there is no copy to trust (first call, more than ANY_DIRTY_MAX tokens
 * of the copy spent since, a duplicate token, more tokens than the table has
 * slots, or many uncollected results that are not in the array), the call
 * makes the full pass instead: every token checked in the op table's dense
 * tags (8 bytes a slot), keeping the done op with the smallest completion
 * number (cseq), and the copy is taken anew. Another array is simply one
 * that differs from the copy everywhere.
 *
 * When none is done the call runs rounds, and after a round that completed
 * anything reads only the new completions (the tail of the completion list,
 * newest back to the last check): an op belongs to the call when the array
 * holds its token at the noted index, and the oldest such op is the answer.
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

/* Two tokens, loaded unaligned: the baseline x86-64 vector (SSE2), two lanes on other targets' generic vectors. */
typedef uint64_t v2q __attribute__((vector_size(16), aligned(8), may_alias));

/* The first index from i where a and b differ, n when none: 16 words (two cache lines of each) a step. */
static uint32_t next_diff_base(const uint64_t *a, const uint64_t *b, uint32_t i, uint32_t n)
{
	while (i + 16 <= n) {
		const v2q *x = (const v2q *)(a + i), *y = (const v2q *)(b + i);
		v2q d = ((x[0] ^ y[0]) | (x[1] ^ y[1])) | ((x[2] ^ y[2]) | (x[3] ^ y[3])) |
			((x[4] ^ y[4]) | (x[5] ^ y[5])) | ((x[6] ^ y[6]) | (x[7] ^ y[7]));
		if (d[0] | d[1])
			break;
		i += 16;
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The same with 32-byte vectors, where the CPU has AVX2 (half the instructions for the same bytes). */
typedef uint64_t v4q __attribute__((vector_size(32), aligned(8), may_alias));

__attribute__((target("avx2"))) static uint32_t next_diff_avx2(const uint64_t *a, const uint64_t *b, uint32_t i,
							       uint32_t n)
{
	while (i + 16 <= n) {
		const v4q *x = (const v4q *)(a + i), *y = (const v4q *)(b + i);
		v4q d = ((x[0] ^ y[0]) | (x[1] ^ y[1])) | ((x[2] ^ y[2]) | (x[3] ^ y[3]));
		if ((d[0] | d[1]) | (d[2] | d[3]))
			break;
		i += 16;
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static int have_avx2 = -1;

static inline uint32_t next_diff(const uint64_t *a, const uint64_t *b, uint32_t i, uint32_t n)
{
	if (__builtin_expect(have_avx2 < 0, 0))
		have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	return have_avx2 ? next_diff_avx2(a, b, i, n) : next_diff_base(a, b, i, n);
}
#else
#define next_diff next_diff_base
#endif

/*
 * Checks qts[i] into the copy: 0, -EINVAL for a token that names no live op,
 * 1 when the token is also at another index of the array (the copy's indices
 * are exact for tokens that did not change, as no array it holds has a
 * duplicate, so a second index is found wherever it is).
 */
static inline int check_one(struct op_table *t, const demi_qtoken_t *qts, uint32_t n, uint32_t i)
{
	demi_qtoken_t qt = qts[i];
	if (op_token_state(t, qt) == OP_FREE)
		return -EINVAL;
	uint32_t slot = (uint32_t)qt - 1;
	uint32_t h = t->wait_idx[slot];
	if (h != i && h < n && qts[h] == qt)
		return 1;
	t->wait_idx[slot] = i;
	t->any_shadow[i] = qt;
	return 0;
}

/*
 * The fast check against the copy: 0 when every token is live and its index
 * noted (*best the earliest done op among them, or NULL), -EINVAL, or 1 when
 * the full pass must decide (a duplicate; too many foreign completions).
 */
static int any_fast(struct op_table *t, const demi_qtoken_t *qts, uint32_t n, struct op **best, int *best_i)
{
	uint32_t m = n < t->any_n ? n : t->any_n;
	/* The dirty indices first: check_one overwrites the copy at an index it checks. */
	for (uint32_t k = 0; k < t->any_ndirty; k++) {
		uint32_t i = t->any_dirty[k];
		if (i < m && qts[i] == t->any_shadow[i]) {
			int r = check_one(t, qts, n, i);
			if (r)
				return r;
		}
	}
	for (uint32_t i = next_diff(qts, t->any_shadow, 0, m); i < m; i = next_diff(qts, t->any_shadow, i + 1, m)) {
		int r = check_one(t, qts, n, i);
		if (r)
			return r;
	}
	for (uint32_t i = m; i < n; i++) {
		int r = check_one(t, qts, n, i);
		if (r)
			return r;
	}
	/* Oldest first; ops not in the array are skipped at O(1) each, a bounded number of them. */
	uint32_t budget = n / 4 + 16;
	for (struct list_node *ln = t->completed.next; ln != &t->completed; ln = ln->next) {
		struct op *op = container_of(ln, struct op, cnode);
		uint32_t i = t->wait_idx[op - t->ops];
		if (i < n && qts[i] == op_token(t, op)) {
			*best = op;
			*best_i = (int)i;
			return 0;
		}
		if (--budget == 0)
			return 1;
	}
	*best = NULL;
	return 0;
}

/* The full pass: every token checked, the copy taken anew. */
static int any_full(struct op_table *t, const demi_qtoken_t *qts, uint32_t n, struct op **best, int *best_i)
{
	bool keep = n <= t->cap, dups = false;
	*best = NULL;
	/* Backwards, so that a repeated token is noted at, and answers with, its first index. */
	for (uint32_t i = n; i-- > 0;) {
		demi_qtoken_t qt = qts[i];
		enum op_state st = op_token_state(t, qt); /* the dense tags only: pending ops are not touched */
		if (st == OP_FREE)
			return -EINVAL;
		uint32_t slot = (uint32_t)qt - 1;
		if (t->wait_idx[slot] > i && t->wait_idx[slot] < n && qts[t->wait_idx[slot]] == qt)
			dups = true;
		t->wait_idx[slot] = i;
		if (keep)
			t->any_shadow[i] = qt;
		if (st == OP_DONE) {
			struct op *op = &t->ops[slot];
			if (!*best || op->cseq <= (*best)->cseq) {
				*best = op;
				*best_i = (int)i;
			}
		}
	}
	t->any_dups = dups;
	return 0;
}

DEMI_EXPORT int demi_wait_any(demi_qresult_t *qr_out, int *ready_offset, const demi_qtoken_t qts[], int num_qts,
			      const struct timespec *timeout)
{
	API_RT(rt);
	if (!qr_out || !ready_offset || !qts || num_qts <= 0)
		return EINVAL;
	struct op_table *t = &rt->ops;
	uint32_t n = (uint32_t)num_qts;
	struct op *best = NULL;
	int best_i = -1;
	int r = 1;
	if (t->any_n && !t->any_dups && n <= t->cap)
		r = any_fast(t, qts, n, &best, &best_i);
	if (r > 0)
		r = any_full(t, qts, n, &best, &best_i);
	if (r < 0) {
		t->any_n = 0; /* the copy is half updated: the next call makes the full pass */
		return EINVAL;
	}
	t->any_n = n <= t->cap ? n : 0;
	t->any_ndirty = 0;
	if (!best) {
		uint64_t deadline;
		if (deadline_of(timeout, &deadline) < 0)
			return EINVAL;
		struct any_wait w = { .qts = qts, .n = n, .seen = t->completions, .found = NULL };
		if (rt_run_until(rt, any_is_done, &w, deadline) < 0)
			return ETIMEDOUT;
		best = w.found;
		best_i = w.found_i;
	}
	op_collect(t, best, qr_out); /* notes best_i dirty */
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
