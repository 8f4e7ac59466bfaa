/* Timers: a binary min-heap of deadlines, fired by the runtime's background coroutine. */
#ifndef DEMI_RUNTIME_TIMER_H
#define DEMI_RUNTIME_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t, void *arg);

/* Embedded in its owner; zero-initialised means "not armed". */
struct timer {
	uint64_t deadline;
	timer_fn fn;
	void *arg;
	uint32_t heap_idx; /* position + 1 in the heap; 0 when not armed */
};

struct timer_heap {
	struct timer **items;
	uint32_t len, cap;
};

/* Preallocates room for `cap` armed timers; the heap doubles beyond that. -ENOMEM. */
int timer_heap_init(struct timer_heap *h, uint32_t cap);
void timer_heap_fini(struct timer_heap *h);

/* Arms (or re-arms) t to fire fn(t, arg) at `deadline` (clock_now() units). -ENOMEM. */
int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline, timer_fn fn, void *arg);
/* Disarms t; harmless if it is not armed. */
void timer_cancel(struct timer_heap *h, struct timer *t);
static inline bool timer_armed(const struct timer *t) { return t->heap_idx != 0; }
/* Fires every timer whose deadline is <= now, earliest first; returns how many fired. */
int timer_run(struct timer_heap *h, uint64_t now);
/* Earliest deadline, or UINT64_MAX when none is armed. */
uint64_t timer_next(const struct timer_heap *h);

#endif
