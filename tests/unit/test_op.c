/* Unit tests for the operation table: tokens, lookups, completion order, failures, limits. */
#include "runtime/buf.h"
#include "runtime/op.h"
#include "runtime/queue.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CAP 64

static struct op_table T;
static struct buf_pool P;
static struct queue Q;

static void setup(void)
{
	cr_assert_eq(buf_pool_init(&P, 256, 16ull << 20), 0);
	cr_assert_eq(op_table_init(&T, CAP, &P), 0);
	memset(&Q, 0, sizeof(Q));
	Q.qd = 7;
	list_init(&Q.pending);
}

static void teardown(void)
{
	op_table_fini(&T);
	buf_pool_fini(&P);
}

TestSuite(op, .init = setup, .fini = teardown);

/* A test that must leave no op and no buffer behind (checked in the body: .fini cannot fail a test). */
#define OP_TEST(name)                                                                                                  \
	static void name##_body(void);                                                                                 \
	Test(op, name)                                                                                                 \
	{                                                                                                              \
		name##_body();                                                                                         \
		cr_assert_eq(T.in_use, 0, "%u ops still in use", T.in_use);                                            \
		cr_assert_eq(P.in_use, 0, "%u buffers leaked", P.in_use);                                              \
	}                                                                                                              \
	static void name##_body(void)

static size_t list_len(const struct list_node *h)
{
	size_t n = 0;
	for (const struct list_node *p = h->next; p != h; p = p->next)
		n++;
	return n;
}

OP_TEST(alloc_lookup_tokens_never_zero)
{
	demi_qtoken_t seen[CAP];
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < CAP; i++) {
			struct op *op = op_alloc(&T, &Q, DEMI_OPC_POP);
			cr_assert_not_null(op);
			cr_assert_eq(op->state, OP_PENDING);
			cr_assert_eq(op->opcode, DEMI_OPC_POP);
			cr_assert_eq(op->q, &Q);
			seen[i] = op_token(&T, op);
			cr_assert_neq(seen[i], 0, "token 0");
			cr_assert_eq(op_lookup(&T, seen[i]), op);
			for (int j = 0; j < i; j++)
				cr_assert_neq(seen[i], seen[j], "two live ops share a token");
		}
		cr_assert_eq(T.in_use, CAP);
		cr_assert_eq(list_len(&Q.pending), CAP);
		for (int i = 0; i < CAP; i++)
			op_discard(&T, op_lookup(&T, seen[i]));
		cr_assert_eq(T.in_use, 0);
		cr_assert(list_empty(&Q.pending));
		for (int i = 0; i < CAP; i++)
			cr_assert_null(op_lookup(&T, seen[i]), "token of a discarded op still resolves");
	}
}

OP_TEST(spent_token_rejected_after_collect)
{
	struct op *op = op_alloc(&T, &Q, DEMI_OPC_PUSH);
	demi_qtoken_t qt = op_token(&T, op);
	op->result.qr_ret = 0;
	op_complete(&T, op);
	cr_assert_eq(op->state, OP_DONE);
	cr_assert_eq(op_lookup(&T, qt), op, "a done, uncollected op must still resolve");
	demi_qresult_t qr;
	memset(&qr, 0xff, sizeof(qr));
	op_collect(&T, op, &qr);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(qr.qr_qd, 7);
	cr_assert_eq(qr.qr_qt, qt);
	cr_assert_eq(qr.qr_ret, 0);
	cr_assert_null(op_lookup(&T, qt), "spent token accepted");
	cr_assert_eq(T.in_use, 0);
	/* The slot comes back (most recently freed first) under a new token; the old one stays spent. */
	struct op *again = op_alloc(&T, &Q, DEMI_OPC_POP);
	cr_assert_eq(again, op);
	demi_qtoken_t qt2 = op_token(&T, again);
	cr_assert_neq(qt2, qt);
	cr_assert_neq(qt2, 0);
	cr_assert_null(op_lookup(&T, qt));
	cr_assert_eq(op_lookup(&T, qt2), again);
	op_discard(&T, again);
}

OP_TEST(forged_tokens_rejected)
{
	struct op *live[CAP / 2];
	for (int i = 0; i < CAP / 2; i++)
		live[i] = op_alloc(&T, &Q, DEMI_OPC_POP);
	/* A few done ones too: they also resolve, and must not be hit by chance. */
	for (int i = 0; i < 4; i++)
		op_complete(&T, live[i]);
	cr_assert_null(op_lookup(&T, 0));
	cr_assert_null(op_lookup(&T, UINT64_MAX));
	cr_assert_null(op_lookup(&T, ((uint64_t)1 << 32) | (CAP + 1)), "slot past the table");
	cr_assert_null(op_lookup(&T, ((uint64_t)1 << 32) | 0), "slot 0");
	cr_assert_null(op_lookup(&T, op_token(&T, live[0]) + ((uint64_t)1 << 32)), "future generation");
	cr_assert_null(op_lookup(&T, (uint32_t)op_token(&T, live[0])), "generation 0");
	/* A free slot with the right generation is still not an op. */
	cr_assert_null(op_lookup(&T, ((uint64_t)1 << 32) | CAP));
	srand(99);
	int hits = 0;
	for (int i = 0; i < 1000000; i++) {
		uint64_t v = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
		bool real = false;
		for (int j = 0; j < CAP / 2 && !real; j++)
			real = v == op_token(&T, live[j]);
		if (!real && op_lookup(&T, v))
			hits++;
	}
	cr_assert_eq(hits, 0, "%d forged tokens resolved", hits);
	for (int i = 0; i < CAP / 2; i++) {
		if (i < 4) {
			demi_qresult_t qr;
			op_collect(&T, live[i], &qr);
		} else {
			op_discard(&T, live[i]);
		}
	}
	cr_assert_eq(T.in_use, 0);
}

OP_TEST(completion_list_in_completion_order)
{
	struct op *ops[5];
	demi_qtoken_t qt[5];
	for (int i = 0; i < 5; i++) {
		ops[i] = op_alloc(&T, &Q, DEMI_OPC_POP);
		qt[i] = op_token(&T, ops[i]);
	}
	static const int order[5] = { 3, 0, 4, 1, 2 };
	uint64_t c0 = T.completions;
	for (int i = 0; i < 5; i++)
		op_complete(&T, ops[order[i]]);
	cr_assert_eq(T.completions, c0 + 5);
	cr_assert(list_empty(&Q.pending), "completed ops must leave their queue");
	/* A second completion is ignored: not counted, not listed twice. */
	op_complete(&T, ops[3]);
	op_fail(&T, ops[3], EIO);
	cr_assert_eq(T.completions, c0 + 5);
	cr_assert_eq(list_len(&T.completed), 5);
	for (int i = 0; i < 5; i++) {
		cr_assert(!list_empty(&T.completed));
		struct op *op = container_of(T.completed.next, struct op, cnode);
		cr_assert_eq(op, ops[order[i]], "completion %d out of order", i);
		demi_qresult_t qr;
		op_collect(&T, op, &qr);
		cr_assert_eq(qr.qr_qt, qt[order[i]]);
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	}
	cr_assert(list_empty(&T.completed));
	cr_assert_eq(T.in_use, 0);
}

OP_TEST(fail_fills_failed_and_errno)
{
	struct op *op = op_alloc(&T, &Q, DEMI_OPC_POP);
	demi_qtoken_t qt = op_token(&T, op);
	/* Whatever a half-done op left in the result is cleared. */
	memset(&op->result.qr_value, 0xab, sizeof(op->result.qr_value));
	op_fail(&T, op, ECONNRESET);
	cr_assert_eq(op->state, OP_DONE);
	demi_qresult_t qr;
	op_collect(&T, op, &qr);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECONNRESET);
	cr_assert_eq(qr.qr_qd, 7);
	cr_assert_eq(qr.qr_qt, qt);
	cr_assert_null(qr.qr_value.sga.sga_buf);
	cr_assert_eq(qr.qr_value.sga.sga_numsegs, 0);

	/* A reused slot starts clean: not FAILED, no stale errno. */
	op = op_alloc(&T, &Q, DEMI_OPC_PUSH);
	op_complete(&T, op);
	op_collect(&T, op, &qr);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(qr.qr_ret, 0);
}

OP_TEST(complete_releases_push_reference)
{
	struct buf *b = buf_alloc(&P, 100);
	struct op *op = op_alloc(&T, &Q, DEMI_OPC_PUSH);
	buf_ref(b);
	op->buf = b;
	cr_assert_eq(b->refcnt, 2);
	op_complete(&T, op);
	cr_assert_null(op->buf);
	cr_assert_eq(b->refcnt, 1);
	demi_qresult_t qr;
	op_collect(&T, op, &qr);
	/* Failing and discarding release it too. */
	op = op_alloc(&T, &Q, DEMI_OPC_PUSH);
	buf_ref(b);
	op->buf = b;
	op_fail(&T, op, EPIPE);
	cr_assert_eq(b->refcnt, 1);
	op_collect(&T, op, &qr);
	op = op_alloc(&T, &Q, DEMI_OPC_PUSH);
	buf_ref(b);
	op->buf = b;
	op_discard(&T, op);
	cr_assert_eq(b->refcnt, 1);
	buf_unref(&P, b);
}

OP_TEST(table_full_returns_null)
{
	struct op *ops[CAP];
	for (int i = 0; i < CAP; i++) {
		ops[i] = op_alloc(&T, &Q, DEMI_OPC_POP);
		cr_assert_not_null(ops[i]);
	}
	cr_assert_null(op_alloc(&T, &Q, DEMI_OPC_POP), "op %d of %d", CAP + 1, CAP);
	cr_assert_eq(list_len(&Q.pending), CAP, "a failed alloc must not touch the queue");
	cr_assert_eq(T.in_use, CAP);
	/* Done but uncollected ops still hold their slots. */
	op_complete(&T, ops[5]);
	cr_assert_null(op_alloc(&T, &Q, DEMI_OPC_POP));
	demi_qresult_t qr;
	op_collect(&T, ops[5], &qr);
	ops[5] = op_alloc(&T, &Q, DEMI_OPC_POP);
	cr_assert_not_null(ops[5]);
	cr_assert_null(op_alloc(&T, &Q, DEMI_OPC_POP));
	for (int i = 0; i < CAP; i++)
		op_discard(&T, ops[i]);
	cr_assert_eq(T.in_use, 0);
}

/* op_done_now: an op born complete, in completion order with the others, collected like any. */
OP_TEST(done_now_is_complete_in_order)
{
	struct op *first = op_alloc(&T, &Q, DEMI_OPC_POP);
	first->result.qr_value.sga.sga_numsegs = 0;
	op_complete(&T, first);
	demi_sgarray_t sga;
	memset(&sga, 0, sizeof(sga));
	sga.sga_buf = (void *)(uintptr_t)0x1234;
	sga.sga_numsegs = 1;
	sga.sga_segs[0].sgaseg_buf = (void *)(uintptr_t)0x5678;
	sga.sga_segs[0].sgaseg_len = 64;
	sga.sga_addr.sin_port = 99;
	struct op *now = op_done_now(&T, &Q, DEMI_OPC_PUSH, &sga);
	demi_qtoken_t qt = op_token(&T, now);
	cr_assert_eq(op_lookup(&T, qt), now);
	cr_assert_eq(now->state, OP_DONE);
	cr_assert_eq(T.in_use, 2);
	cr_assert_eq(list_len(&T.completed), 2);
	cr_assert_eq(list_len(&Q.pending), 0, "a done op is not pending on its queue");
	cr_assert_eq(T.completed.next, &first->cnode, "completion order: the older op first");
	demi_qresult_t qr;
	op_collect(&T, first, &qr);
	op_collect(&T, now, &qr);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(qr.qr_qd, 7);
	cr_assert_eq(qr.qr_qt, qt);
	cr_assert_eq(qr.qr_ret, 0);
	cr_assert_eq(memcmp(&qr.qr_value.sga, &sga, sizeof(sga)), 0, "the result carries the pushed sga");
	cr_assert_null(op_lookup(&T, qt), "a collected token is spent");
	/* The table never runs dry without saying so first. */
	struct op *ops[CAP];
	for (int i = 0; i < CAP; i++)
		cr_assert_not_null(ops[i] = op_alloc(&T, &Q, DEMI_OPC_POP));
	cr_assert(op_table_full(&T));
	for (int i = 0; i < CAP; i++)
		op_discard(&T, ops[i]);
	cr_assert_not(op_table_full(&T));
}

/* Completion numbers follow completion order, and a token's state is read from the dense tags alone. */
OP_TEST(cseq_and_tags_follow_the_op)
{
	struct op *a = op_alloc(&T, &Q, DEMI_OPC_POP), *b = op_alloc(&T, &Q, DEMI_OPC_POP);
	demi_qtoken_t ta = op_token(&T, a), tb = op_token(&T, b);
	cr_assert_eq(op_token_state(&T, ta), OP_PENDING);
	op_complete(&T, b);
	op_complete(&T, a);
	cr_assert_lt(b->cseq, a->cseq, "b completed first");
	cr_assert_eq(a->cseq, T.completions);
	cr_assert_eq(op_token_state(&T, ta), OP_DONE);
	demi_qresult_t qr;
	op_collect(&T, a, &qr);
	op_collect(&T, b, &qr);
	cr_assert_eq(op_token_state(&T, ta), OP_FREE);
	cr_assert_eq(op_token_state(&T, tb), OP_FREE);
	cr_assert_eq(op_token_state(&T, 0), OP_FREE);
	cr_assert_eq(op_token_state(&T, ((uint64_t)1 << 32) | (CAP + 1)), OP_FREE);
}

/*
 * Orphans (results cancelled by a close) are reclaimed oldest first, only when
 * no slot is free; other results never are; a collected orphan is no longer one.
 */
OP_TEST(orphans_reclaimed_oldest_first_when_full)
{
	struct op *o1 = op_alloc(&T, &Q, DEMI_OPC_POP), *o2 = op_alloc(&T, &Q, DEMI_OPC_POP);
	struct op *o3 = op_alloc(&T, &Q, DEMI_OPC_POP), *kept = op_alloc(&T, &Q, DEMI_OPC_POP);
	demi_qtoken_t t1 = op_token(&T, o1), t2 = op_token(&T, o2), t3 = op_token(&T, o3), tk = op_token(&T, kept);
	op_complete(&T, kept); /* an ordinary result: never reclaimed */
	op_fail(&T, o1, ECANCELED);
	op_orphan(&T, o1);
	op_fail(&T, o2, ECANCELED);
	op_orphan(&T, o2);
	op_fail(&T, o3, ECANCELED);
	op_orphan(&T, o3);
	op_orphan(&T, o3); /* twice: still one entry */
	cr_assert_eq(list_len(&T.orphans), 3);
	demi_qresult_t qr;
	op_collect(&T, o2, &qr); /* collected after all: no longer reclaimable */
	cr_assert_eq(list_len(&T.orphans), 2);
	cr_assert_eq(qr.qr_ret, ECANCELED);
	/* Fill every free slot: nothing is reclaimed while one is free. */
	struct op *fill[CAP];
	int n = 0;
	while (!list_empty(&T.free))
		fill[n++] = op_alloc(&T, &Q, DEMI_OPC_POP);
	cr_assert_eq(T.reclaimed, 0);
	cr_assert_not_null(op_lookup(&T, t1));
	cr_assert(!op_table_full(&T), "orphans left: not full");
	struct op *x = op_alloc(&T, &Q, DEMI_OPC_POP);
	cr_assert_eq(x, o1, "the oldest orphan's slot");
	cr_assert_null(op_lookup(&T, t1), "a reclaimed token must be spent");
	cr_assert_not_null(op_lookup(&T, t3));
	struct op *y = op_alloc(&T, &Q, DEMI_OPC_POP);
	cr_assert_eq(y, o3);
	cr_assert_null(op_lookup(&T, t3));
	cr_assert_eq(T.reclaimed, 2);
	cr_assert(op_table_full(&T));
	cr_assert_null(op_alloc(&T, &Q, DEMI_OPC_POP), "only pending ops and a kept result: full");
	cr_assert_eq(op_lookup(&T, tk), kept, "an ordinary result is never reclaimed");
	cr_assert_eq(list_len(&T.completed), 1);
	op_collect(&T, kept, &qr);
	op_discard(&T, x);
	op_discard(&T, y);
	for (int i = 0; i < n; i++)
		op_discard(&T, fill[i]);
	(void)t2;
}
