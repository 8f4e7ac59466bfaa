/* Coroutine scheduler: run queues, parking and waking, stack reuse. */
#include "sched.h"

#include <errno.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define DEMI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEMI_ASAN 1
#endif
#endif

#ifdef DEMI_ASAN
/* ASan must be told about stack switches, or it reports false stack overflows. */
#include <sanitizer/common_interface_defs.h>
#define fiber_start(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define fiber_finish(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define fiber_start(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define fiber_finish(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

void sched_init(struct sched *s, size_t stack_size, uint32_t max_live)
{
	*s = (struct sched){ .stack_size = stack_size, .max_live = max_live };
	list_init(&s->runq);
	list_init(&s->nextq);
	list_init(&s->free_tasks);
	list_init(&s->pollers);
}

void sched_poller_add(struct sched *s, struct sched_poller *p)
{
	list_push_back(&s->pollers, &p->node);
}

void sched_poller_del(struct sched_poller *p)
{
	if (list_linked(&p->node))
		list_del(&p->node);
}

void sched_fini(struct sched *s)
{
	struct list_node *n;
	while ((n = list_pop_front(&s->free_tasks))) {
		struct task *t = container_of(n, struct task, node);
		coro_stack_free(t->stack, s->stack_size);
		free(t);
	}
	/* Live coroutines belong to queues and operations, which end them first. */
}

/* Leaves the coroutine's stack for the application's. */
static void switch_to_main(struct sched *s, struct task *t)
{
	fiber_start(&t->asan_fake_stack, s->main_stack_bottom, s->main_stack_size);
	coro_switch(&t->ctx, &s->main_ctx);
	fiber_finish(t->asan_fake_stack, &s->main_stack_bottom, &s->main_stack_size);
}

/* Outer loop of every coroutine: a finished coroutine waits here to be reused. */
static void task_main(void *arg)
{
	struct task *t = arg;
	struct sched *s = t->sched;
	fiber_finish(NULL, &s->main_stack_bottom, &s->main_stack_size);
	for (;;) {
		t->fn(t->arg);
		t->state = TASK_DONE;
		switch_to_main(s, t);
	}
}

struct task *sched_spawn(struct sched *s, enum task_kind kind, task_fn fn, void *arg)
{
	struct task *t;
	struct list_node *n = list_pop_front(&s->free_tasks);
	if (n) {
		t = container_of(n, struct task, node);
	} else {
		if (s->live >= s->max_live)
			return NULL;
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->stack = coro_stack_alloc(s->stack_size);
		if (!t->stack) {
			free(t);
			return NULL;
		}
		t->sched = s;
		coro_make(&t->ctx, t->stack, s->stack_size, task_main, t);
	}
	s->live++;
	t->fn = fn;
	t->arg = arg;
	t->kind = kind;
	t->cancelled = false;
	t->started = false;
	t->state = TASK_RUNNABLE;
	list_node_init(&t->node);
	list_push_back(&s->runq, &t->node);
	return t;
}

/* An ended coroutine's stack goes back to the free list, hot end first. */
static void recycle(struct sched *s, struct task *t)
{
	s->live--;
	s->progress++;
	t->state = TASK_FREE;
	list_push_front(&s->free_tasks, &t->node);
}

/* Resumes t from the application's stack and recycles it if it ended. */
static void resume(struct sched *s, struct task *t)
{
	s->current = t;
	t->state = TASK_RUNNING;
	t->started = true;
	void *fake = NULL;
	fiber_start(&fake, (char *)t->stack, s->stack_size);
	coro_switch(&s->main_ctx, &t->ctx);
	fiber_finish(fake, NULL, NULL);
	s->current = NULL;
	if (t->state == TASK_DONE)
		recycle(s, t);
}

void sched_run_now(struct sched *s, struct task *t)
{
	if (s->current || t->state != TASK_RUNNABLE)
		return; /* stays queued: it runs in this or the next round */
	list_del(&t->node);
	resume(s, t);
}

void sched_round(struct sched *s)
{
	struct list_node *n, *next;
	for (n = s->pollers.next; n != &s->pollers; n = next) {
		struct sched_poller *p = container_of(n, struct sched_poller, node);
		next = n->next; /* p may remove itself */
		if (p->poll(p->arg))
			s->progress++;
	}
	if (list_empty(&s->nextq) && list_empty(&s->runq))
		return; /* the common idle round: only the plain pollers had anything to look at */
	/* Yielded coroutines (pollers first, as they were queued) go before the woken ones. */
	struct list_node batch;
	list_init(&batch);
	list_splice_back(&batch, &s->nextq);
	list_splice_back(&batch, &s->runq);
	list_splice_back(&s->runq, &batch);
	/* Coroutines woken during the round run in it; yielded ones wait for the next. */
	while ((n = list_pop_front(&s->runq)))
		resume(s, container_of(n, struct task, node));
}

int sched_park(struct sched *s)
{
	struct task *t = s->current;
	if (t->cancelled)
		return -ECANCELED;
	t->state = TASK_PARKED;
	switch_to_main(s, t);
	return t->cancelled ? -ECANCELED : 0;
}

int sched_defer(struct sched *s)
{
	struct task *t = s->current;
	/*
	 * As in sched_park: a cancelled coroutine must end, not queue itself
	 * again (one cancelled before its first run would never be resumed).
	 */
	if (t->cancelled)
		return -ECANCELED;
	t->state = TASK_RUNNABLE;
	if (t->kind == TASK_FAST) {
		/* Pollers go ahead of the other yielded coroutines, in their own order: each round polls first. */
		struct list_node *n = s->nextq.next;
		while (n != &s->nextq && container_of(n, struct task, node)->kind == TASK_FAST)
			n = n->next;
		list_insert_between(&t->node, n->prev, n);
	} else {
		list_push_back(&s->nextq, &t->node);
	}
	switch_to_main(s, t);
	return t->cancelled ? -ECANCELED : 0;
}

void sched_wake(struct sched *s, struct task *t)
{
	if (t->state != TASK_PARKED)
		return;
	t->state = TASK_RUNNABLE;
	s->progress++;
	list_push_back(&s->runq, &t->node);
}

void sched_cancel(struct sched *s, struct task *t)
{
	if (t->state == TASK_FREE || t->state == TASK_DONE)
		return;
	t->cancelled = true;
	/*
	 * The running coroutine cancelled itself: queueing it would leave it
	 * linked in the run queue when it ends. Its next park or yield reports it.
	 */
	if (t->state == TASK_RUNNING)
		return;
	if (t->state == TASK_RUNNABLE)
		list_del(&t->node);
	if (!t->started) {
		/* Nothing to unwind, and its fn must not run against a closing queue. */
		recycle(s, t);
		return;
	}
	t->state = TASK_RUNNABLE;
	if (s->current) {
		list_push_back(&s->runq, &t->node);
		return;
	}
	resume(s, t);
}
