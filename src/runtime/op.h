/*
 * Operations and their qtokens. Every asynchronous call creates an op in a
 * fixed table; its token encodes slot and generation, so checking a token is
 * O(1) and a spent or forged one is rejected. A completed op waits on the
 * completion list, numbered in completion order (cseq), until the
 * application collects its result.
 *
 * Reclaiming: an op cancelled by demi_close (FAILED/ECANCELED) whose result
 * the application never collects would hold its slot for ever. Such results,
 * and the closed queue's uncollected results that hold nothing (push,
 * connect, failures), are "orphans": they stay collectable (demi_wait on the
 * token still answers) until the table has no free slot; then an allocation
 * reclaims the oldest orphan instead of failing, and its token is spent
 * (EINVAL, as a collected one). A closed queue's pops (a buffer) and accepts
 * (a queue), and every result of an open queue, are never reclaimed. So
 * -ENOMEM means that every slot holds a pending op or such a result.
 */
#ifndef DEMI_RUNTIME_OP_H
#define DEMI_RUNTIME_OP_H

#include <stdbool.h>
#include <stdint.h>

#include <demi/types.h>

#include "list.h"

struct queue;
struct task;
struct buf;

enum op_state { OP_FREE, OP_PENDING, OP_DONE };

struct op {
	uint32_t gen;
	enum op_state state;
	demi_opcode_t opcode;
	struct queue *q;        /* while pending */
	struct task *task;      /* the application coroutine running it, while pending */
	struct list_node qnode; /* in q->pending while pending */
	struct list_node cnode; /* completion list while done, free list while free */
	struct list_node wnode; /* a queue's waiters (readers, writers) while its coroutine waits its turn */
	struct buf *buf;        /* push: the stack's reference on the pushed buffer */
	demi_sgarray_t sga;     /* push: what the application pushed */
	struct sockaddr_in addr;/* pushto, connect: the peer */
	uint32_t progress;      /* push: bytes already handed to the device */
	uint64_t ud;            /* demi_qtoken_set_ud's value, 0 when none (<demi/userdata.h>) */
	uint64_t cseq;          /* done: its place in completion order (op_table.completions after it) */
	demi_qresult_t result;
};

struct buf_pool;

#define ANY_DIRTY_MAX 8

struct op_table {
	struct buf_pool *pool; /* where push references go back */
	uint64_t completions;  /* bumped by every completion: progress for the wait loop */
	struct op *ops;
	/*
	 * Per slot, (gen << 32) | state, kept with the op's own fields: a token
	 * is checked in this dense array (8 bytes a slot, not the op's 4 cache
	 * lines), so demi_wait_any's pass over 20,000 tokens stays in cache.
	 */
	uint64_t *tags;
	/*
	 * Per slot, the index its token had in the array of the last
	 * demi_wait_any that looked for it: a hint, trusted only when that
	 * call's array holds the op's token at that index.
	 */
	uint32_t *wait_idx;
	/*
	 * demi_wait_any's memory of its last array (src/api/wait.c): a copy of
	 * the any_n tokens it checked (cap slots; 0: none to trust), any_dups
	 * when that array held a token twice, and the indices of the copy whose
	 * token was spent since (by any call, or reclaimed): they are checked
	 * again whatever the array holds there. More than ANY_DIRTY_MAX of them
	 * and the copy is dropped (any_n = 0).
	 */
	uint64_t *any_shadow;
	uint32_t any_n;
	bool any_dups;
	uint32_t any_ndirty;
	uint32_t any_dirty[ANY_DIRTY_MAX];
	uint32_t cap;
	struct list_node free;
	struct list_node completed; /* in completion order, for demi_wait_next_n */
	struct list_node orphans;   /* done ops cancelled by a close, oldest first (linked by qnode): reclaimable */
	uint64_t reclaimed;         /* orphans reclaimed because the table was full */
	uint32_t in_use;
};

int op_table_init(struct op_table *t, uint32_t cap, struct buf_pool *pool);
void op_table_fini(struct op_table *t);

/*
 * A fresh pending op on q with opcode opc; when no slot is free it reclaims
 * the oldest orphan (see above). NULL when every slot holds a pending op or a
 * result that is not an orphan (-ENOMEM).
 */
struct op *op_alloc(struct op_table *t, struct queue *q, demi_opcode_t opc);
/*
 * An op that completed as it was made (queue_ops.push_now): DONE on the
 * completion list with result.qr_value.sga = *sga. The caller has checked
 * that the table has a free op (op_table_full).
 */
struct op *op_done_now(struct op_table *t, struct queue *q, demi_opcode_t opc, const demi_sgarray_t *sga);
static inline bool op_table_full(const struct op_table *t) { return list_empty(&t->free) && list_empty(&t->orphans); }
/* Returns an op that never started (its call failed) to the table. */
void op_discard(struct op_table *t, struct op *op);

static inline demi_qtoken_t op_token(const struct op_table *t, const struct op *op)
{
	return ((uint64_t)op->gen << 32) | (uint64_t)(op - t->ops + 1);
}

/* The state of the op a token names: OP_FREE when the token is spent, forged or out of range. */
static inline enum op_state op_token_state(const struct op_table *t, demi_qtoken_t qt)
{
	uint32_t slot = (uint32_t)qt;
	if (slot == 0 || slot > t->cap)
		return OP_FREE;
	uint64_t tag = t->tags[slot - 1];
	return (tag >> 32) == (qt >> 32) ? (enum op_state)(uint32_t)tag : OP_FREE;
}

/* The op of a token that op_token_state found live. */
static inline struct op *op_of_token(const struct op_table *t, demi_qtoken_t qt)
{
	return &t->ops[(uint32_t)qt - 1];
}

/* The op a token names if it is pending or done and not yet collected; else NULL. */
static inline struct op *op_lookup(const struct op_table *t, demi_qtoken_t qt)
{
	return op_token_state(t, qt) != OP_FREE ? op_of_token(t, qt) : NULL;
}

/*
 * Completes op: the result's opcode, qd and token are filled in here; the
 * caller has set result.qr_value. Releases the push reference and unlinks the
 * op from its queue. Idempotent: a second completion is ignored.
 */
void op_complete(struct op_table *t, struct op *op);
/* Completes op as DEMI_OPC_FAILED with errno err (positive). */
void op_fail(struct op_table *t, struct op *op, int err);
/*
 * Marks a done op of a queue being closed whose result holds nothing (a
 * cancellation, a push, a connect, a failure) as reclaimable once the table
 * is full; a no-op for an op that is not done or already marked.
 */
void op_orphan(struct op_table *t, struct op *op);

/* Copies the result of a done op out and frees the op: its token is spent. */
void op_collect(struct op_table *t, struct op *op, demi_qresult_t *out);

#endif
