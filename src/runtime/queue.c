/* Queue-descriptor table: QD_BASE + slot, integers of Demi's own apart from kernel descriptors, reused lowest-first. */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int qd_table_init(struct qd_table *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	if (cap > QD_MAX_COUNT)
		return -EINVAL;
	t->slots = calloc(cap, sizeof(*t->slots));
	t->free = calloc(cap, sizeof(*t->free));
	if (!t->slots || !t->free) {
		qd_table_fini(t);
		return -ENOMEM;
	}
	t->cap = cap;
	/* Ascending order is already a min-heap. */
	for (uint32_t i = 0; i < cap; i++)
		t->free[i] = i;
	t->nfree = cap;
	return 0;
}

void qd_table_fini(struct qd_table *t)
{
	free(t->slots);
	free(t->free);
	memset(t, 0, sizeof(*t));
}

/*
 * Slots are freed in any order, so a stack would hand out the last one
 * freed; a min-heap keeps "lowest first" at O(log n).
 */
static void free_push(struct qd_table *t, uint32_t slot)
{
	uint32_t i = t->nfree++;
	while (i > 0 && t->free[(i - 1) / 2] > slot) {
		t->free[i] = t->free[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	t->free[i] = slot;
}

static uint32_t free_pop(struct qd_table *t)
{
	uint32_t lowest = t->free[0], last = t->free[--t->nfree], i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= t->nfree)
			break;
		if (c + 1 < t->nfree && t->free[c + 1] < t->free[c])
			c++;
		if (last <= t->free[c])
			break;
		t->free[i] = t->free[c];
		i = c;
	}
	t->free[i] = last;
	return lowest;
}

int qd_install(struct qd_table *t, struct queue *q, const struct queue_ops *ops)
{
	if (t->nfree == 0)
		return -EMFILE;
	uint32_t slot = free_pop(t);
	q->ops = ops;
	q->qd = QD_BASE + (int)slot;
	list_init(&q->pending);
	t->slots[slot] = q;
	t->used++;
	return 0;
}

void qd_remove(struct qd_table *t, int qd)
{
	if (!qd_get(t, qd))
		return;
	uint32_t slot = (uint32_t)qd - (uint32_t)QD_BASE;
	t->slots[slot] = NULL;
	free_push(t, slot);
	t->used--;
}
