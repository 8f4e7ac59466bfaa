/* Operation table: fixed slots, generation-checked tokens, a completion list. */
#include "op.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "queue.h"

static const char *opc_name(demi_opcode_t opc)
{
	switch (opc) {
	case DEMI_OPC_PUSH: return "push";
	case DEMI_OPC_POP: return "pop";
	case DEMI_OPC_ACCEPT: return "accept";
	case DEMI_OPC_CONNECT: return "connect";
	case DEMI_OPC_CLOSE: return "close";
	case DEMI_OPC_FAILED: return "failed";
	default: return "invalid";
	}
}

/*
 * DEMI_LOG=trace: a line per operation started and completed. Out of line and
 * cold: with the level lower, each call site costs the level test only.
 */
static struct op *__attribute__((noinline, cold)) trace_op(const struct op_table *t, struct op *op, int qd,
							    const char *what)
{
	if (op->state == OP_DONE)
		log_emit(LOG_TRACE, __FILE__, __LINE__, "op %s: qd %d %s qt %#llx ret %lld", what, qd,
			 opc_name(op->opcode), (unsigned long long)op_token(t, op), (long long)op->result.qr_ret);
	else
		log_emit(LOG_TRACE, __FILE__, __LINE__, "op %s: qd %d %s qt %#llx", what, qd, opc_name(op->opcode),
			 (unsigned long long)op_token(t, op));
	return op; /* lets op_alloc tail-call it */
}

int op_table_init(struct op_table *t, uint32_t cap, struct buf_pool *pool)
{
	memset(t, 0, sizeof(*t));
	t->ops = calloc(cap, sizeof(*t->ops));
	t->tags = calloc(cap, sizeof(*t->tags));
	t->wait_idx = calloc(cap, sizeof(*t->wait_idx));
	t->any_shadow = calloc(cap, sizeof(*t->any_shadow));
	if (!t->ops || !t->tags || !t->wait_idx || !t->any_shadow) {
		free(t->ops);
		free(t->tags);
		free(t->wait_idx);
		free(t->any_shadow);
		return -ENOMEM;
	}
	t->cap = cap;
	t->pool = pool;
	list_init(&t->free);
	list_init(&t->completed);
	list_init(&t->orphans);
	/* Pushed in order so that low slots are used first and stay cache-hot. */
	for (uint32_t i = 0; i < cap; i++) {
		t->ops[i].gen = 1;
		t->tags[i] = (uint64_t)1 << 32 | OP_FREE;
		list_node_init(&t->ops[i].qnode);
		list_node_init(&t->ops[i].wnode);
		list_push_back(&t->free, &t->ops[i].cnode);
	}
	return 0;
}

void op_table_fini(struct op_table *t)
{
	free(t->ops);
	free(t->tags);
	free(t->wait_idx);
	free(t->any_shadow);
	memset(t, 0, sizeof(*t));
}

/* Sets op's state, and its tag with it. */
static inline void set_state(struct op_table *t, struct op *op, enum op_state st)
{
	op->state = st;
	t->tags[op - t->ops] = (uint64_t)op->gen << 32 | st;
}

/* Spends every token issued for op's slot (a new generation); the op is free but on no list. */
static void spend(struct op_table *t, struct op *op)
{
	if (t->any_n) {
		/* A token in demi_wait_any's copy dies: that index is checked again (wait_idx is exact for the copy). */
		uint32_t slot = (uint32_t)(op - t->ops), h = t->wait_idx[slot];
		if (h < t->any_n && t->any_shadow[h] == op_token(t, op)) {
			if (t->any_ndirty < ANY_DIRTY_MAX)
				t->any_dirty[t->any_ndirty++] = h;
			else
				t->any_n = 0;
		}
	}
	if (++op->gen == 0)
		op->gen = 1;
	set_state(t, op, OP_FREE);
	t->in_use--;
}

/* A free op: the free list's first, else the oldest orphan's slot (its token is spent); NULL when neither. */
static struct op *take(struct op_table *t)
{
	struct list_node *n = list_pop_front(&t->free);
	struct op *op;
	if (__builtin_expect(n != NULL, 1)) {
		op = container_of(n, struct op, cnode);
	} else {
		n = list_pop_front(&t->orphans);
		if (!n)
			return NULL;
		op = container_of(n, struct op, qnode);
		list_del(&op->cnode); /* off the completion list: nobody collects it now */
		spend(t, op);
		t->reclaimed++;
	}
	return op;
}

struct op *op_alloc(struct op_table *t, struct queue *q, demi_opcode_t opc)
{
	struct op *op = take(t);
	if (!op)
		return NULL;
	set_state(t, op, OP_PENDING);
	op->opcode = opc;
	op->q = q;
	op->task = NULL;
	op->buf = NULL;
	op->progress = 0;
	op->ud = 0;
	memset(&op->addr, 0, sizeof(op->addr));
	memset(&op->result, 0, sizeof(op->result));
	list_push_back(&q->pending, &op->qnode);
	t->in_use++;
	if (__builtin_expect(LOG_TRACE <= log_threshold, 0))
		return trace_op(t, op, q->qd, "start");
	return op;
}

static void release(struct op_table *t, struct op *op)
{
	spend(t, op);
	list_push_front(&t->free, &op->cnode);
}

static inline __attribute__((always_inline)) void drop_refs(struct op_table *t, struct op *op)
{
	if (op->buf) {
		buf_unref(t->pool, op->buf);
		op->buf = NULL;
	}
	if (list_linked(&op->qnode))
		list_del(&op->qnode);
	if (list_linked(&op->wnode))
		list_del(&op->wnode);
	op->q = NULL;
	op->task = NULL;
}

void op_discard(struct op_table *t, struct op *op)
{
	drop_refs(t, op);
	release(t, op);
}

/* The common end of a completion: the result names its op, which joins the completion list. */
static inline __attribute__((always_inline)) void done(struct op_table *t, struct op *op, int qd)
{
	op->result.qr_opcode = op->opcode;
	op->result.qr_qd = qd;
	op->result.qr_qt = op_token(t, op);
	set_state(t, op, OP_DONE);
	list_push_back(&t->completed, &op->cnode);
	op->cseq = ++t->completions;
	if (__builtin_expect(LOG_TRACE <= log_threshold, 0))
		(void)trace_op(t, op, qd, "done");
}

void op_complete(struct op_table *t, struct op *op)
{
	if (op->state != OP_PENDING)
		return;
	int qd = op->q->qd; /* a pending op always has its queue (op_alloc); only drop_refs clears it */
	drop_refs(t, op);
	done(t, op, qd);
}

struct op *op_done_now(struct op_table *t, struct queue *q, demi_opcode_t opc, const demi_sgarray_t *sga)
{
	struct op *op = take(t);
	t->in_use++;
	op->opcode = opc;
	op->q = NULL;
	op->task = NULL;
	op->buf = NULL;
	op->ud = 0;
	op->result.qr_ret = 0;
	sga_copy(&op->result.qr_value.sga, sga);
	done(t, op, q->qd);
	return op;
}

void op_fail(struct op_table *t, struct op *op, int err)
{
	if (op->state != OP_PENDING)
		return;
	memset(&op->result.qr_value, 0, sizeof(op->result.qr_value));
	op->opcode = DEMI_OPC_FAILED;
	op->result.qr_ret = err;
	op_complete(t, op);
}

void op_collect(struct op_table *t, struct op *op, demi_qresult_t *out)
{
	/*
	 * Field by field (the union as an sga covers its 40 bytes whatever it
	 * holds): the result was written moments ago in field-sized stores, and
	 * the application often pushes the sga in *out next (see sga_copy).
	 */
	const demi_qresult_t *r = &op->result;
	out->qr_opcode = r->qr_opcode;
	out->qr_qd = r->qr_qd;
	out->qr_qt = r->qr_qt;
	out->qr_ret = r->qr_ret;
	sga_copy(&out->qr_value.sga, &r->qr_value.sga);
	list_del(&op->cnode);
	if (__builtin_expect(list_linked(&op->qnode), 0))
		list_del(&op->qnode); /* an orphan collected after all */
	release(t, op);
}

void op_orphan(struct op_table *t, struct op *op)
{
	if (op->state == OP_DONE && !list_linked(&op->qnode))
		list_push_back(&t->orphans, &op->qnode);
}
