/*
 * Coroutine scheduler with the paper's three kinds of coroutine: fast-path
 * pollers (one per I/O stack), background coroutines (timers, stack work) and
 * application coroutines (one per pending operation). Cooperative, one per
 * thread, run to completion; no locks.
 */
#ifndef DEMI_RUNTIME_SCHED_H
#define DEMI_RUNTIME_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coro.h"
#include "list.h"

enum task_kind { TASK_FAST, TASK_BACKGROUND, TASK_APP };
enum task_state { TASK_FREE, TASK_RUNNABLE, TASK_RUNNING, TASK_PARKED, TASK_DONE };

typedef void (*task_fn)(void *arg);

/*
 * A fast-path poller that never waits may run as a plain call instead of a
 * coroutine: at the start of every round, on the caller's stack. It saves the
 * two coroutine switches of a TASK_FAST poller, which cost more than a poll
 * that only looks at memory (the pipes). poll returns true when it completed
 * or woke something (progress for idle detection). It must not park, yield or
 * remove another poller; removing itself is allowed.
 */
struct sched_poller {
	struct list_node node;
	bool (*poll)(void *arg);
	void *arg;
};

struct task {
	struct coro_ctx ctx;
	void *stack;
	task_fn fn;
	void *arg;
	enum task_kind kind;
	enum task_state state;
	bool cancelled;
	bool started; /* has run at least once: a cancelled one that has not is simply dropped */
	struct list_node node; /* run queue, next-round queue or free list */
	struct sched *sched;
	void *asan_fake_stack;
};

struct sched {
	struct coro_ctx main_ctx;
	struct task *current; /* NULL while the application's own stack runs */
	struct list_node runq;  /* woken this round: run before the round ends */
	struct list_node nextq; /* yielded: run in the next round (pollers first) */
	struct list_node free_tasks;
	struct list_node pollers; /* struct sched_poller, called in order at the start of each round */
	size_t stack_size;
	uint32_t live, max_live;
	uint64_t progress; /* bumped by every wake and completion: idle detection */
	const void *main_stack_bottom;
	size_t main_stack_size;
};

/* max_live bounds the coroutines alive at once (stacks are reused, never freed until fini). */
void sched_init(struct sched *s, size_t stack_size, uint32_t max_live);
void sched_fini(struct sched *s);

/*
 * Creates a coroutine that will run fn(arg). It is runnable: it first runs in
 * the next round, or now through sched_run_now(). Returns NULL when no stack
 * can be had (-ENOMEM for the caller).
 */
struct task *sched_spawn(struct sched *s, enum task_kind kind, task_fn fn, void *arg);

/*
 * Runs t at once from the application's stack, until it parks, yields or
 * ends. From inside a coroutine it only makes t runnable.
 */
void sched_run_now(struct sched *s, struct task *t);

/* Registers p (not yet registered) to be called at the start of every round, after those added before. */
void sched_poller_add(struct sched *s, struct sched_poller *p);
/* Unregisters p; harmless on one already removed (or never added, once list_node_init'd). */
void sched_poller_del(struct sched_poller *p);

/* One round: the plain pollers, then the yielded coroutines (pollers, background) and every coroutine woken meanwhile. */
void sched_round(struct sched *s);

/* Inside a coroutine: sleep until sched_wake; returns 0, or -ECANCELED after sched_cancel. */
int sched_park(struct sched *s);
/* Inside a coroutine: defer to the others; resumes in the next round (not POSIX sched_yield). 0, or -ECANCELED (at once if already cancelled). */
int sched_defer(struct sched *s);
/* Makes a parked coroutine runnable in this round. Harmless on one that is not parked. */
void sched_wake(struct sched *s, struct task *t);
/*
 * Cancels t: its pending sched_park returns -ECANCELED and it runs now (from
 * the application's stack) until it parks again or ends; it must end. One
 * that never ran is dropped without running. A
 * coroutine that cancels itself goes on running: its next park or yield
 * returns -ECANCELED.
 */
void sched_cancel(struct sched *s, struct task *t);

static inline struct task *sched_current(const struct sched *s) { return s->current; }

#endif
