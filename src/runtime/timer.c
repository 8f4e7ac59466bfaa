/* Timers on a binary min-heap: O(log n) arm and cancel, O(1) next deadline. */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

int timer_heap_init(struct timer_heap *h, uint32_t cap)
{
	h->len = 0;
	h->cap = cap ? cap : 16;
	h->items = calloc(h->cap, sizeof(*h->items));
	return h->items ? 0 : -ENOMEM;
}

void timer_heap_fini(struct timer_heap *h)
{
	for (uint32_t i = 0; i < h->len; i++)
		h->items[i]->heap_idx = 0;
	free(h->items);
	h->items = NULL;
	h->len = h->cap = 0;
}

static void place(struct timer_heap *h, uint32_t i, struct timer *t)
{
	h->items[i] = t;
	t->heap_idx = i + 1;
}

static void sift_up(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->items[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (h->items[parent]->deadline <= t->deadline)
			break;
		place(h, i, h->items[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, uint32_t i)
{
	struct timer *t = h->items[i];
	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= h->len)
			break;
		if (child + 1 < h->len && h->items[child + 1]->deadline < h->items[child]->deadline)
			child++;
		if (t->deadline <= h->items[child]->deadline)
			break;
		place(h, i, h->items[child]);
		i = child;
	}
	place(h, i, t);
}

void timer_cancel(struct timer_heap *h, struct timer *t)
{
	if (!t->heap_idx)
		return;
	uint32_t i = t->heap_idx - 1;
	t->heap_idx = 0;
	struct timer *last = h->items[--h->len];
	if (i == h->len)
		return;
	h->items[i] = last;
	last->heap_idx = i + 1;
	/* The moved element may belong above or below its new place. */
	sift_up(h, i);
	sift_down(h, last->heap_idx - 1);
}

int timer_arm(struct timer_heap *h, struct timer *t, uint64_t deadline, timer_fn fn, void *arg)
{
	timer_cancel(h, t);
	if (h->len == h->cap) {
		struct timer **n = realloc(h->items, 2 * (size_t)h->cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		h->items = n;
		h->cap *= 2;
	}
	t->deadline = deadline;
	t->fn = fn;
	t->arg = arg;
	place(h, h->len++, t);
	sift_up(h, h->len - 1);
	return 0;
}

int timer_run(struct timer_heap *h, uint64_t now)
{
	int fired = 0;
	while (h->len && h->items[0]->deadline <= now) {
		struct timer *t = h->items[0];
		timer_cancel(h, t);
		/* The callback may re-arm t or arm others: the heap is consistent here. */
		t->fn(t, t->arg);
		fired++;
	}
	return fired;
}

uint64_t timer_next(const struct timer_heap *h)
{
	return h->len ? h->items[0]->deadline : UINT64_MAX;
}
