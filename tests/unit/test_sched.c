/* Unit tests for the coroutine scheduler: kinds, park and wake, rounds, cancel, stack reuse, limits. */
#include "runtime/sched.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#define STACK (64u << 10)

static struct sched S;

static void setup(void) { sched_init(&S, STACK, 1024); }
static void teardown(void) { sched_fini(&S); }

TestSuite(sched, .init = setup, .fini = teardown);

/* A trace of which coroutine ran, in order. */
static int trace[4096];
static int ntrace;
static void note(int id)
{
	cr_assert_lt(ntrace, 4096);
	trace[ntrace++] = id;
}

static size_t free_count(const struct sched *s)
{
	size_t n = 0;
	for (const struct list_node *p = s->free_tasks.next; p != &s->free_tasks; p = p->next)
		n++;
	return n;
}

/* ---- kinds and plain runs ---- */

struct kind_probe {
	int id;
	enum task_kind seen;
	struct task *self;
};

static void probe_fn(void *arg)
{
	struct kind_probe *p = arg;
	p->self = sched_current(&S);
	p->seen = p->self->kind;
	note(p->id);
}

Test(sched, three_kinds_run_in_a_round)
{
	struct kind_probe p[3] = { { .id = 0 }, { .id = 1 }, { .id = 2 } };
	static const enum task_kind kinds[3] = { TASK_FAST, TASK_BACKGROUND, TASK_APP };
	struct task *t[3];
	for (int i = 0; i < 3; i++) {
		p[i].seen = (enum task_kind)-1;
		t[i] = sched_spawn(&S, kinds[i], probe_fn, &p[i]);
		cr_assert_not_null(t[i]);
		cr_assert_eq(t[i]->state, TASK_RUNNABLE);
	}
	cr_assert_eq(S.live, 3);
	cr_assert_eq(ntrace, 0, "a spawned coroutine ran before its round");
	cr_assert_null(sched_current(&S));
	uint64_t progress = S.progress;
	sched_round(&S);
	cr_assert_null(sched_current(&S), "current not cleared after the round");
	cr_assert_eq(ntrace, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(trace[i], i, "spawned coroutines run in spawn order");
		cr_assert_eq(p[i].seen, kinds[i]);
		cr_assert_eq(p[i].self, t[i]);
		cr_assert_eq(t[i]->state, TASK_FREE);
	}
	cr_assert_eq(S.live, 0);
	cr_assert_geq(S.progress, progress + 3, "completions must count as progress");
	/* Nothing left: an empty round runs nothing. */
	sched_round(&S);
	cr_assert_eq(ntrace, 3);
}

/* ---- park and wake ---- */

struct parker {
	int wakes;
	int rc;
	bool done;
};

static void park_loop(void *arg)
{
	struct parker *p = arg;
	for (int i = 0; i < 3; i++) {
		p->rc = sched_park(&S);
		if (p->rc < 0)
			return;
		p->wakes++;
	}
	p->done = true;
}

Test(sched, run_now_park_wake)
{
	struct parker p = { 0 };
	struct task *t = sched_spawn(&S, TASK_APP, park_loop, &p);
	cr_assert_not_null(t);
	sched_run_now(&S, t);
	cr_assert_eq(t->state, TASK_PARKED, "run_now must run the coroutine until it parks");
	cr_assert_eq(p.wakes, 0);
	/* A parked coroutine does not run in a round unless woken. */
	sched_round(&S);
	cr_assert_eq(p.wakes, 0);
	uint64_t progress = S.progress;
	sched_wake(&S, t);
	cr_assert_eq(t->state, TASK_RUNNABLE);
	cr_assert_gt(S.progress, progress, "a wake must count as progress");
	/* A second wake before it runs must not queue it twice. */
	sched_wake(&S, t);
	sched_round(&S);
	cr_assert_eq(p.wakes, 1);
	cr_assert_eq(t->state, TASK_PARKED);
	sched_round(&S);
	cr_assert_eq(p.wakes, 1);
	sched_wake(&S, t);
	sched_round(&S);
	sched_wake(&S, t);
	sched_round(&S);
	cr_assert(p.done);
	cr_assert_eq(p.rc, 0);
	cr_assert_eq(S.live, 0);
	/* Waking a finished coroutine is harmless. */
	sched_wake(&S, t);
	cr_assert_eq(t->state, TASK_FREE);
	sched_round(&S);
	cr_assert_eq(S.live, 0);
}

static void note_and_park(void *arg)
{
	note((int)(intptr_t)arg);
	sched_park(&S);
	note(100 + (int)(intptr_t)arg);
}

Test(sched, wake_order_is_fifo)
{
	struct task *t[5];
	for (int i = 0; i < 5; i++) {
		t[i] = sched_spawn(&S, TASK_APP, note_and_park, (void *)(intptr_t)i);
		sched_run_now(&S, t[i]);
	}
	cr_assert_eq(ntrace, 5);
	sched_wake(&S, t[3]);
	sched_wake(&S, t[0]);
	sched_wake(&S, t[4]);
	sched_round(&S);
	cr_assert_eq(ntrace, 8);
	cr_assert_eq(trace[5], 103);
	cr_assert_eq(trace[6], 100);
	cr_assert_eq(trace[7], 104);
	cr_assert_eq(S.live, 2);
	sched_wake(&S, t[1]);
	sched_wake(&S, t[2]);
	sched_round(&S);
	cr_assert_eq(S.live, 0);
}

/* ---- yield and rounds ---- */

static int round_no;

struct yielder {
	int id;
	int left;
	int rc;
	struct task *to_wake; /* woken on the first run, if set */
};

static void yield_loop(void *arg)
{
	struct yielder *y = arg;
	for (;;) {
		note(y->id * 1000 + round_no);
		if (y->to_wake) {
			sched_wake(&S, y->to_wake);
			y->to_wake = NULL;
		}
		if (--y->left == 0)
			return;
		y->rc = sched_defer(&S);
		if (y->rc < 0)
			return;
	}
}

Test(sched, yield_resumes_next_round_in_order)
{
	struct yielder y[3] = { { .id = 1, .left = 4 }, { .id = 2, .left = 4 }, { .id = 3, .left = 4 } };
	for (int i = 0; i < 3; i++)
		cr_assert_not_null(sched_spawn(&S, TASK_BACKGROUND, yield_loop, &y[i]));
	for (round_no = 0; round_no < 4; round_no++) {
		int before = ntrace;
		sched_round(&S);
		/* Each coroutine runs exactly once per round: a yield never resumes in the same round. */
		cr_assert_eq(ntrace - before, 3, "round %d ran %d coroutines", round_no, ntrace - before);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(trace[before + i], (i + 1) * 1000 + round_no);
	}
	cr_assert_eq(S.live, 0);
	sched_round(&S);
	cr_assert_eq(ntrace, 12);
}

static void park_note(void *arg)
{
	for (;;) {
		if (sched_park(&S) < 0)
			return;
		note((int)(intptr_t)arg * 1000 + round_no);
	}
}

Test(sched, woken_during_round_runs_in_same_round)
{
	struct task *sleeper = sched_spawn(&S, TASK_APP, park_note, (void *)(intptr_t)9);
	sched_run_now(&S, sleeper);
	cr_assert_eq(sleeper->state, TASK_PARKED);
	struct yielder y = { .id = 1, .left = 3, .to_wake = sleeper };
	cr_assert_not_null(sched_spawn(&S, TASK_BACKGROUND, yield_loop, &y));
	round_no = 0;
	sched_round(&S);
	cr_assert_eq(ntrace, 2);
	cr_assert_eq(trace[0], 1000);
	cr_assert_eq(trace[1], 9000, "the coroutine woken during round 0 ran in round %d", trace[1] % 1000);
	round_no = 1;
	sched_round(&S);
	cr_assert_eq(ntrace, 3);
	sched_cancel(&S, sleeper);
	round_no = 2;
	sched_round(&S);
	cr_assert_eq(S.live, 0);
}

Test(sched, pollers_first_in_each_round)
{
	/* Background spawned first, poller second: from the second round on the poller goes first. */
	struct yielder bg = { .id = 1, .left = 3 }, fast = { .id = 2, .left = 3 }, app = { .id = 3, .left = 3 };
	cr_assert_not_null(sched_spawn(&S, TASK_BACKGROUND, yield_loop, &bg));
	cr_assert_not_null(sched_spawn(&S, TASK_APP, yield_loop, &app));
	cr_assert_not_null(sched_spawn(&S, TASK_FAST, yield_loop, &fast));
	round_no = 0;
	sched_round(&S);
	cr_assert_eq(ntrace, 3);
	for (round_no = 1; round_no < 3; round_no++) {
		int before = ntrace;
		sched_round(&S);
		cr_assert_eq(ntrace - before, 3);
		cr_assert_eq(trace[before], 2000 + round_no, "round %d began with coroutine %d, not the poller", round_no,
			     trace[before] / 1000);
		/* The others keep their yield order. */
		cr_assert_eq(trace[before + 1], 1000 + round_no);
		cr_assert_eq(trace[before + 2], 3000 + round_no);
	}
	cr_assert_eq(S.live, 0);
}

/* ---- run_now from a coroutine ---- */

struct nested {
	struct task *inner;
	int inner_ran_before_return;
};

static void inner_fn(void *arg) { note((int)(intptr_t)arg); }

static void outer_fn(void *arg)
{
	struct nested *n = arg;
	n->inner = sched_spawn(&S, TASK_APP, inner_fn, (void *)(intptr_t)7);
	cr_assert_not_null(n->inner);
	/* From a coroutine, run_now only queues: no nested switch. */
	sched_run_now(&S, n->inner);
	n->inner_ran_before_return = ntrace;
	note(1);
}

Test(sched, run_now_inside_coroutine_only_queues)
{
	struct nested n = { 0 };
	struct task *t = sched_spawn(&S, TASK_APP, outer_fn, &n);
	sched_run_now(&S, t);
	cr_assert_eq(n.inner_ran_before_return, 0);
	cr_assert_eq(ntrace, 1);
	cr_assert_eq(n.inner->state, TASK_RUNNABLE);
	sched_round(&S);
	cr_assert_eq(ntrace, 2);
	cr_assert_eq(trace[1], 7);
	cr_assert_eq(S.live, 0);
}

/* ---- cancel ---- */

Test(sched, cancel_parked_returns_ecanceled)
{
	struct parker p = { 0 };
	struct task *t = sched_spawn(&S, TASK_APP, park_loop, &p);
	sched_run_now(&S, t);
	cr_assert_eq(t->state, TASK_PARKED);
	sched_cancel(&S, t);
	/* Cancel runs it at once, from the application's stack. */
	cr_assert_eq(p.rc, -ECANCELED);
	cr_assert_eq(p.wakes, 0);
	cr_assert_not(p.done);
	cr_assert_eq(t->state, TASK_FREE);
	cr_assert_eq(S.live, 0);
	cr_assert_null(sched_current(&S));
	/* Cancelling a finished coroutine is harmless. */
	sched_cancel(&S, t);
	cr_assert_eq(S.live, 0);
}

Test(sched, cancel_runnable_returns_ecanceled_from_yield)
{
	struct yielder y = { .id = 1, .left = 100 };
	struct task *t = sched_spawn(&S, TASK_BACKGROUND, yield_loop, &y);
	sched_round(&S);
	cr_assert_eq(ntrace, 1);
	cr_assert_eq(t->state, TASK_RUNNABLE);
	sched_cancel(&S, t);
	cr_assert_eq(y.rc, -ECANCELED);
	cr_assert_eq(ntrace, 1);
	cr_assert_eq(S.live, 0);
	/* It left the next-round queue: the next round runs nothing. */
	sched_round(&S);
	cr_assert_eq(ntrace, 1);
}

Test(sched, cancel_woken_before_it_runs)
{
	struct parker p = { 0 };
	struct task *t = sched_spawn(&S, TASK_APP, park_loop, &p);
	sched_run_now(&S, t);
	sched_wake(&S, t);
	cr_assert_eq(t->state, TASK_RUNNABLE);
	sched_cancel(&S, t);
	cr_assert_eq(p.rc, -ECANCELED);
	cr_assert_eq(S.live, 0);
	sched_round(&S); /* must not resume the freed coroutine */
	cr_assert_eq(p.wakes, 0);
}

Test(sched, cancel_before_first_run)
{
	struct parker p = { .rc = 12345 };
	struct task *t = sched_spawn(&S, TASK_APP, park_loop, &p);
	sched_cancel(&S, t);
	/* It never ran, so it is dropped without running: its fn would meet a closing queue. */
	cr_assert_eq(p.rc, 12345, "a coroutine cancelled before its first run was run");
	cr_assert_eq(t->state, TASK_FREE);
	cr_assert_eq(S.live, 0);
	sched_round(&S);
	cr_assert_eq(S.live, 0);
}

Test(sched, cancel_before_first_run_of_a_yielding_loop)
{
	/* As the runtime's timer task and the pollers: do work; while (yield() == 0). */
	struct yielder y = { .id = 1, .left = 100 };
	struct task *t = sched_spawn(&S, TASK_BACKGROUND, yield_loop, &y);
	sched_cancel(&S, t);
	cr_assert_eq(ntrace, 0, "a coroutine cancelled before its first run was run");
	cr_assert_eq(S.live, 0, "cancelled coroutine still alive");
	cr_assert_eq(t->state, TASK_FREE);
	sched_round(&S);
	cr_assert_eq(ntrace, 0);
}

struct canceller {
	struct task *victim;
	int victim_ran_before_return;
};

static void cancel_other(void *arg)
{
	struct canceller *c = arg;
	sched_cancel(&S, c->victim);
	c->victim_ran_before_return = ntrace;
}

static void park_then_note(void *arg)
{
	int rc = sched_park(&S);
	note(rc == -ECANCELED ? (int)(intptr_t)arg : -1);
}

Test(sched, cancel_from_inside_a_coroutine)
{
	struct task *victim = sched_spawn(&S, TASK_APP, park_then_note, (void *)(intptr_t)5);
	sched_run_now(&S, victim);
	struct canceller c = { .victim = victim, .victim_ran_before_return = -1 };
	struct task *t = sched_spawn(&S, TASK_APP, cancel_other, &c);
	sched_run_now(&S, t);
	cr_assert_eq(c.victim_ran_before_return, 0, "no nested switch from a coroutine");
	sched_round(&S);
	cr_assert_eq(ntrace, 1);
	cr_assert_eq(trace[0], 5);
	cr_assert_eq(S.live, 0);
}

struct self_cancel {
	int park_rc, yield_rc;
};

static void cancel_self(void *arg)
{
	struct self_cancel *c = arg;
	sched_cancel(&S, sched_current(&S));
	c->park_rc = sched_park(&S);
	c->yield_rc = sched_defer(&S);
}

Test(sched, cancel_of_the_running_coroutine)
{
	struct self_cancel c = { 1, 1 };
	struct task *t = sched_spawn(&S, TASK_APP, cancel_self, &c);
	struct task *other = sched_spawn(&S, TASK_APP, inner_fn, (void *)(intptr_t)3);
	sched_run_now(&S, t);
	for (int i = 0; i < 3; i++)
		sched_round(&S);
	cr_assert_eq(c.park_rc, -ECANCELED);
	cr_assert_eq(c.yield_rc, -ECANCELED);
	cr_assert_eq(ntrace, 1);
	cr_assert_eq(other->state, TASK_FREE);
	cr_assert_eq(S.live, 0);
	/* Both stacks are back on the free list exactly once. */
	cr_assert_eq(free_count(&S), 2);
}

/* ---- stacks: reuse, limits, depth ---- */

static void nothing(void *arg) { (void)arg; }

Test(sched, stack_reuse_100k)
{
	for (int i = 0; i < 100000; i++) {
		struct task *t = sched_spawn(&S, (enum task_kind)(i % 3), nothing, NULL);
		cr_assert_not_null(t, "spawn %d failed", i);
		sched_run_now(&S, t);
		cr_assert_eq(S.live, 0);
	}
	cr_assert_eq(free_count(&S), 1, "%zu stacks for one coroutine at a time", free_count(&S));
	/* And in batches through rounds: 64 at once need 64 stacks, no more. */
	for (int r = 0; r < 100; r++) {
		for (int i = 0; i < 64; i++)
			cr_assert_not_null(sched_spawn(&S, TASK_APP, nothing, NULL));
		cr_assert_eq(S.live, 64);
		sched_round(&S);
		cr_assert_eq(S.live, 0);
	}
	cr_assert_eq(free_count(&S), 64);
}

static void park_once(void *arg)
{
	(void)arg;
	sched_park(&S);
}

Test(sched, max_live_limit)
{
	struct sched s4;
	sched_fini(&S);
	sched_init(&S, STACK, 4);
	struct task *t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = sched_spawn(&S, TASK_APP, park_once, NULL);
		cr_assert_not_null(t[i]);
		sched_run_now(&S, t[i]);
	}
	cr_assert_eq(S.live, 4);
	cr_assert_null(sched_spawn(&S, TASK_APP, park_once, NULL), "spawn beyond max_live");
	cr_assert_eq(S.live, 4);
	sched_wake(&S, t[2]);
	sched_round(&S);
	cr_assert_eq(S.live, 3);
	struct task *again = sched_spawn(&S, TASK_APP, park_once, NULL);
	cr_assert_eq(again, t[2], "a finished coroutine's stack is reused");
	cr_assert_null(sched_spawn(&S, TASK_APP, park_once, NULL));
	sched_run_now(&S, again);
	for (int i = 0; i < 4; i++)
		sched_cancel(&S, t[i]);
	cr_assert_eq(S.live, 0);
	/* A zero limit allows nothing. */
	sched_init(&s4, STACK, 0);
	cr_assert_null(sched_spawn(&s4, TASK_APP, nothing, NULL));
	sched_fini(&s4);
}

struct deep {
	uintptr_t top;
	size_t target;
	size_t reached;
	int depth;
	uint64_t sum;
};

static __attribute__((noinline)) uint64_t recurse(struct deep *d, int level)
{
	volatile uint8_t pad[192];
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(level + i);
	size_t used = d->top - (uintptr_t)__builtin_frame_address(0);
	if (used > d->reached)
		d->reached = used;
	uint64_t below = 0;
	if (used < d->target && level < 50000)
		below = recurse(d, level + 1);
	else
		d->depth = level;
	/* Reading pad after the call keeps every frame live (no tail call). */
	uint64_t s = below;
	for (size_t i = 0; i < sizeof(pad); i++)
		s += pad[i];
	return s;
}

static void deep_fn(void *arg)
{
	struct deep *d = arg;
	d->top = (uintptr_t)__builtin_frame_address(0);
	d->sum = recurse(d, 0);
	sched_park(&S); /* the stack must survive a switch away and back */
	d->sum += recurse(d, 0);
}

Test(sched, deep_recursion_on_coroutine_stack)
{
	struct deep d = { .target = STACK / 2 };
	struct task *t = sched_spawn(&S, TASK_APP, deep_fn, &d);
	sched_run_now(&S, t);
	cr_assert_geq(d.reached, STACK / 2, "only %zu bytes of stack used", d.reached);
	uint64_t expect = 0;
	for (int level = 0; level <= d.depth; level++)
		for (size_t i = 0; i < 192; i++)
			expect += (uint8_t)(level + i);
	cr_assert_eq(d.sum, expect);
	sched_wake(&S, t);
	sched_round(&S);
	cr_assert_eq(d.sum, 2 * expect);
	cr_assert_eq(S.live, 0);
}

/* ---- plain pollers ---- */

struct plain {
	struct sched_poller p;
	int id;
	int calls;
	int remove_self_at; /* call number at which it unregisters itself, 0: never */
	bool report;        /* what poll returns */
};

static bool plain_poll(void *arg)
{
	struct plain *pl = arg;
	pl->calls++;
	note(pl->id);
	if (pl->calls == pl->remove_self_at)
		sched_poller_del(&pl->p);
	return pl->report;
}

static void plain_init(struct plain *pl, int id)
{
	memset(pl, 0, sizeof(*pl));
	pl->id = id;
	pl->p = (struct sched_poller){ .poll = plain_poll, .arg = pl };
	list_node_init(&pl->p.node);
}

Test(sched, plain_pollers_run_first_every_round_in_order)
{
	struct plain a, b;
	plain_init(&a, 100);
	plain_init(&b, 101);
	sched_poller_add(&S, &a.p);
	sched_poller_add(&S, &b.p);
	struct kind_probe k = { .id = 7 };
	cr_assert_not_null(sched_spawn(&S, TASK_APP, probe_fn, &k));
	sched_round(&S);
	cr_assert_eq(ntrace, 3);
	cr_assert_eq(trace[0], 100, "pollers run before the coroutines of the round");
	cr_assert_eq(trace[1], 101, "pollers run in the order they were added");
	cr_assert_eq(trace[2], 7);
	/* Every round, also one with no coroutine at all. */
	sched_round(&S);
	sched_round(&S);
	cr_assert_eq(a.calls, 3);
	cr_assert_eq(b.calls, 3);
	sched_poller_del(&a.p);
	sched_poller_del(&a.p); /* harmless twice */
	sched_round(&S);
	cr_assert_eq(a.calls, 3, "a removed poller is not called");
	cr_assert_eq(b.calls, 4);
	sched_poller_del(&b.p);
}

Test(sched, plain_poller_progress_and_self_removal)
{
	struct plain a, b;
	plain_init(&a, 1);
	plain_init(&b, 2);
	a.remove_self_at = 2;
	b.report = true;
	sched_poller_add(&S, &a.p);
	sched_poller_add(&S, &b.p);
	uint64_t progress = S.progress;
	sched_round(&S);
	cr_assert_eq(S.progress, progress + 1, "only a poller that reports work counts as progress");
	b.report = false;
	sched_round(&S); /* a removes itself; b, after it, still runs */
	cr_assert_eq(b.calls, 2, "removing itself must not skip the next poller");
	sched_round(&S);
	cr_assert_eq(a.calls, 2);
	cr_assert_eq(b.calls, 3);
	cr_assert_eq(S.progress, progress + 1);
	sched_poller_del(&b.p);
}
