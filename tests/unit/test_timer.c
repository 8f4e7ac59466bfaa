/* Unit tests for the timer heap: firing order, cancel, re-arm from a callback, timer_next. */
#include "runtime/timer.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Where each firing is recorded, in order. */
struct fired_log {
	struct timer *order[4096];
	uint64_t at[4096];
	int n;
};

static void record(struct timer *t, void *arg)
{
	struct fired_log *log = arg;
	cr_assert_lt(log->n, 4096);
	log->at[log->n] = t->deadline;
	log->order[log->n++] = t;
}

/* Every parent's deadline is <= its children's, and every heap_idx names its own slot. */
static void assert_heap_ok(const struct timer_heap *h)
{
	for (uint32_t i = 0; i < h->len; i++) {
		cr_assert_eq(h->items[i]->heap_idx, i + 1, "heap_idx of slot %u is %u", i, h->items[i]->heap_idx);
		if (i > 0)
			cr_assert_leq(h->items[(i - 1) / 2]->deadline, h->items[i]->deadline, "heap order broken at %u", i);
	}
}

Test(timer, empty_heap)
{
	struct timer_heap h;
	cr_assert_eq(timer_heap_init(&h, 0), 0);
	cr_assert_eq(timer_next(&h), UINT64_MAX);
	cr_assert_eq(timer_run(&h, UINT64_MAX), 0);
	struct timer t = { 0 };
	cr_assert_not(timer_armed(&t));
	timer_cancel(&h, &t); /* harmless when not armed */
	cr_assert_eq(h.len, 0);
	timer_heap_fini(&h);
}

Test(timer, fires_in_deadline_order)
{
	static const uint64_t dl[] = { 50, 10, 40, 30, 20, 60, 5, 45 };
	enum { N = sizeof(dl) / sizeof(dl[0]) };
	struct timer_heap h;
	struct timer t[N];
	struct fired_log log = { .n = 0 };
	memset(t, 0, sizeof(t));
	cr_assert_eq(timer_heap_init(&h, 2), 0); /* small: arming must grow it */
	for (int i = 0; i < N; i++) {
		cr_assert_eq(timer_arm(&h, &t[i], dl[i], record, &log), 0);
		cr_assert(timer_armed(&t[i]));
		assert_heap_ok(&h);
	}
	cr_assert_eq(timer_next(&h), 5);
	/* Nothing is due before the earliest deadline. */
	cr_assert_eq(timer_run(&h, 4), 0);
	cr_assert_eq(log.n, 0);
	/* Deadline == now fires. */
	cr_assert_eq(timer_run(&h, 20), 3);
	cr_assert_eq(log.n, 3);
	cr_assert_eq(log.at[0], 5);
	cr_assert_eq(log.at[1], 10);
	cr_assert_eq(log.at[2], 20);
	cr_assert_eq(timer_next(&h), 30);
	cr_assert_not(timer_armed(&t[6]));
	cr_assert(timer_armed(&t[3]));
	cr_assert_eq(timer_run(&h, 1000), 5);
	for (int i = 1; i < log.n; i++)
		cr_assert_leq(log.at[i - 1], log.at[i]);
	cr_assert_eq(timer_next(&h), UINT64_MAX);
	for (int i = 0; i < N; i++)
		cr_assert_not(timer_armed(&t[i]));
	timer_heap_fini(&h);
}

Test(timer, cancel_root_middle_last)
{
	struct timer_heap h;
	struct timer t[7];
	struct fired_log log = { .n = 0 };
	memset(t, 0, sizeof(t));
	cr_assert_eq(timer_heap_init(&h, 16), 0);
	for (int i = 0; i < 7; i++)
		cr_assert_eq(timer_arm(&h, &t[i], 100 + 10 * (uint64_t)i, record, &log), 0);
	timer_cancel(&h, &t[0]); /* root */
	assert_heap_ok(&h);
	cr_assert_not(timer_armed(&t[0]));
	cr_assert_eq(timer_next(&h), 110);
	timer_cancel(&h, &t[3]); /* middle */
	assert_heap_ok(&h);
	timer_cancel(&h, h.items[h.len - 1]); /* the last slot */
	assert_heap_ok(&h);
	cr_assert_eq(h.len, 4);
	timer_cancel(&h, &t[3]); /* twice: harmless */
	cr_assert_eq(h.len, 4);
	cr_assert_eq(timer_run(&h, UINT64_MAX - 1), 4);
	for (int i = 0; i < log.n; i++)
		cr_assert(log.order[i] != &t[0] && log.order[i] != &t[3]);
	timer_heap_fini(&h);
}

Test(timer, rearm_moves_deadline)
{
	struct timer_heap h;
	struct timer a = { 0 }, b = { 0 };
	struct fired_log log = { .n = 0 };
	cr_assert_eq(timer_heap_init(&h, 4), 0);
	cr_assert_eq(timer_arm(&h, &a, 10, record, &log), 0);
	cr_assert_eq(timer_arm(&h, &b, 20, record, &log), 0);
	/* Re-arming an armed timer moves it; it is never in the heap twice. */
	cr_assert_eq(timer_arm(&h, &a, 30, record, &log), 0);
	cr_assert_eq(h.len, 2);
	cr_assert_eq(timer_next(&h), 20);
	cr_assert_eq(timer_arm(&h, &a, 1, record, &log), 0);
	cr_assert_eq(h.len, 2);
	cr_assert_eq(timer_next(&h), 1);
	cr_assert_eq(timer_run(&h, 100), 2);
	cr_assert_eq(log.order[0], &a);
	cr_assert_eq(log.order[1], &b);
	timer_heap_fini(&h);
}

struct periodic {
	struct timer_heap *h;
	uint64_t period;
	int left;
	int fired;
	struct timer *victim; /* cancelled from the callback, if set */
};

static void periodic_fire(struct timer *t, void *arg)
{
	struct periodic *p = arg;
	p->fired++;
	/* The timer is disarmed while its callback runs, so it may be armed again. */
	cr_assert_not(timer_armed(t));
	if (p->victim) {
		timer_cancel(p->h, p->victim);
		p->victim = NULL;
	}
	if (--p->left > 0)
		cr_assert_eq(timer_arm(p->h, t, t->deadline + p->period, periodic_fire, p), 0);
}

Test(timer, rearm_from_callback)
{
	struct timer_heap h;
	struct timer t = { 0 }, other = { 0 };
	struct fired_log log = { .n = 0 };
	struct periodic p = { .h = &h, .period = 10, .left = 5, .victim = &other };
	cr_assert_eq(timer_heap_init(&h, 1), 0);
	cr_assert_eq(timer_arm(&h, &t, 10, periodic_fire, &p), 0);
	cr_assert_eq(timer_arm(&h, &other, 15, record, &log), 0);
	/* One run at 25 fires the 10 and the re-armed 20, not the future 30. */
	cr_assert_eq(timer_run(&h, 25), 2);
	cr_assert_eq(p.fired, 2);
	cr_assert_eq(log.n, 0, "the timer cancelled from the callback fired");
	cr_assert(timer_armed(&t));
	cr_assert_eq(timer_next(&h), 30);
	cr_assert_eq(timer_run(&h, 1000), 3);
	cr_assert_eq(p.fired, 5);
	cr_assert_not(timer_armed(&t));
	cr_assert_eq(timer_next(&h), UINT64_MAX);
	timer_heap_fini(&h);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

Test(timer, random_deadlines_vs_sorted_reference)
{
	enum { N = 4000 };
	struct timer_heap h;
	struct timer *t = calloc(N, sizeof(*t));
	uint64_t *ref = calloc(N, sizeof(*ref));
	struct fired_log *log = calloc(1, sizeof(*log));
	cr_assert(t && ref && log);
	srand(12345);
	cr_assert_eq(timer_heap_init(&h, 8), 0);
	for (int i = 0; i < N; i++) {
		/* Small range: many equal deadlines too. */
		uint64_t d = (uint64_t)(rand() % 3000);
		cr_assert_eq(timer_arm(&h, &t[i], d, record, log), 0);
	}
	assert_heap_ok(&h);
	/* Cancel every third one, and re-arm every seventh to a new deadline. */
	int n = 0;
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0) {
			timer_cancel(&h, &t[i]);
			continue;
		}
		if (i % 7 == 0)
			cr_assert_eq(timer_arm(&h, &t[i], (uint64_t)(rand() % 3000), record, log), 0);
		ref[n++] = t[i].deadline;
	}
	assert_heap_ok(&h);
	cr_assert_eq(h.len, (uint32_t)n);
	qsort(ref, (size_t)n, sizeof(*ref), cmp_u64);
	cr_assert_eq(timer_next(&h), ref[0]);
	/* Fire in slices: each run fires exactly the deadlines <= now, in order. */
	int done = 0;
	for (uint64_t now = 0; now < 3000; now += 97) {
		int expect = 0;
		while (done + expect < n && ref[done + expect] <= now)
			expect++;
		cr_assert_eq(timer_run(&h, now), expect, "at %lu", (unsigned long)now);
		done += expect;
		cr_assert_eq(timer_next(&h), done < n ? ref[done] : UINT64_MAX);
	}
	cr_assert_eq(timer_run(&h, UINT64_MAX), n - done);
	cr_assert_eq(log->n, n);
	for (int i = 0; i < n; i++)
		cr_assert_eq(log->at[i], ref[i], "firing %d: %lu, expected %lu", i, (unsigned long)log->at[i],
			     (unsigned long)ref[i]);
	cr_assert_eq(h.len, 0);
	timer_heap_fini(&h);
	free(log);
	free(ref);
	free(t);
}

Test(timer, fini_disarms)
{
	struct timer_heap h;
	struct timer a = { 0 }, b = { 0 };
	cr_assert_eq(timer_heap_init(&h, 4), 0);
	cr_assert_eq(timer_arm(&h, &a, 1, record, NULL), 0);
	cr_assert_eq(timer_arm(&h, &b, 2, record, NULL), 0);
	timer_heap_fini(&h);
	/* An owner freed after the heap must not think its timer is still armed. */
	cr_assert_not(timer_armed(&a));
	cr_assert_not(timer_armed(&b));
}
