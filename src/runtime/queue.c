/* Queue-descriptor table: small non-negative integers of Demi's own, reused lowest-first. */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int qd_table_init(struct qd_table *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	t->slots = calloc(cap, sizeof(*t->slots));
	t->free = calloc(cap, sizeof(*t->free));
	if (!t->slots || !t->free) {
		qd_table_fini(t);
		return -ENOMEM;
	}
	t->cap = cap;
	for (uint32_t i = 0; i < cap; i++)
		t->free[i] = cap - 1 - i;
	t->nfree = cap;
	return 0;
}

void qd_table_fini(struct qd_table *t)
{
	free(t->slots);
	free(t->free);
	memset(t, 0, sizeof(*t));
}

int qd_install(struct qd_table *t, struct queue *q, const struct queue_ops *ops)
{
	if (t->nfree == 0)
		return -EMFILE;
	uint32_t qd = t->free[--t->nfree];
	q->ops = ops;
	q->qd = (int)qd;
	list_init(&q->pending);
	t->slots[qd] = q;
	t->used++;
	return 0;
}

void qd_remove(struct qd_table *t, int qd)
{
	if (!qd_get(t, qd))
		return;
	t->slots[qd] = NULL;
	t->free[t->nfree++] = (uint32_t)qd;
	t->used--;
}
