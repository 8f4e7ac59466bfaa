/* Memory queues: an in-process FIFO of sgas between coroutines, under any libOS. */
#include "memq.h"

#include <errno.h>
#include <stdlib.h>

struct memq_item {
	struct buf *buf;
	void *data;
	uint32_t len;
};

struct memq {
	struct queue q;
	struct rt *rt;
	struct memq_item *ring; /* capacity is a power of two */
	uint32_t head, tail, cap;
};

static int ring_put(struct memq *m, struct memq_item it)
{
	if (m->tail - m->head == m->cap) {
		/* Full: double. Rare and amortised; keeps a push from ever failing on a burst. */
		struct memq_item *n = malloc(2 * (size_t)m->cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (uint32_t i = 0; i < m->cap; i++)
			n[i] = m->ring[(m->head + i) & (m->cap - 1)];
		free(m->ring);
		m->ring = n;
		m->tail -= m->head;
		m->head = 0;
		m->cap *= 2;
	}
	m->ring[m->tail++ & (m->cap - 1)] = it;
	return 0;
}

/* Completes a pop with an item; the item's reference passes to the application. */
static void deliver(struct memq *m, struct op *op, struct memq_item it)
{
	buf_give_app(&m->rt->pool, it.buf, it.data, it.len, &op->result.qr_value.sga);
	op_complete(&m->rt->ops, op);
}

static int memq_push(struct queue *q, struct op *op)
{
	struct memq *m = container_of(q, struct memq, q);
	struct memq_item it = { op->buf, op->sga.sga_segs[0].sgaseg_buf, op->sga.sga_segs[0].sgaseg_len };
	buf_ref(it.buf); /* the queue's own reference; the push's is dropped at completion */
	sga_copy(&op->result.qr_value.sga, &op->sga);
	/* The oldest waiting pop (pending ops here are pops) gets the item directly. */
	struct op *waiter = NULL;
	for (struct list_node *n = q->pending.next; n != &q->pending; n = n->next) {
		struct op *p = container_of(n, struct op, qnode);
		if (p->opcode == DEMI_OPC_POP) {
			waiter = p;
			break;
		}
	}
	if (waiter) {
		deliver(m, waiter, it);
	} else if (ring_put(m, it) < 0) {
		buf_unref(&m->rt->pool, it.buf);
		return -ENOMEM;
	}
	op_complete(&m->rt->ops, op);
	return 0;
}

/*
 * A pop that finds the queue empty waits in q->pending with no coroutine: the
 * next push completes it, or the close fails it. A coroutine would outlive
 * the op once the application collects the result before it runs again, and
 * it might then find the op's slot reused and park forever.
 */
static int memq_pop(struct queue *q, struct op *op)
{
	struct memq *m = container_of(q, struct memq, q);
	/* Only the oldest pop may take from the ring, so pops complete in order. */
	if (m->head != m->tail && q->pending.next == &op->qnode)
		deliver(m, op, m->ring[m->head++ & (m->cap - 1)]);
	return 0;
}

static int memq_close(struct queue *q)
{
	struct memq *m = container_of(q, struct memq, q);
	while (m->head != m->tail)
		buf_unref(&m->rt->pool, m->ring[m->head++ & (m->cap - 1)].buf);
	free(m->ring);
	free(m);
	return 0;
}

static const struct queue_ops memq_ops = {
	.kind = "memq",
	.push = memq_push,
	.pop = memq_pop,
	.close = memq_close,
};

int memq_create(struct rt *rt, int *qd_out)
{
	struct memq *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->rt = rt;
	m->cap = 64;
	m->ring = malloc(m->cap * sizeof(*m->ring));
	if (!m->ring) {
		free(m);
		return -ENOMEM;
	}
	int err = qd_install(&rt->qds, &m->q, &memq_ops);
	if (err) {
		memq_close(&m->q);
		return err;
	}
	*qd_out = m->q.qd;
	return 0;
}
