/* Completing the application's waiting operations: pops from the receive queue, pushes into the send queue, failures. */
#include <errno.h>

#include "../inet_tx.h"
#include "tcp_priv.h"

static void give_eof(struct tcb *tp, struct op *op)
{
	struct rt *rt = tp->in->rt;
	struct buf *b = buf_alloc(&rt->pool, 1);
	if (!b) {
		op_fail(&rt->ops, op, ENOMEM);
		return;
	}
	buf_give_app(&rt->pool, b, buf_data(b), 0, &op->result.qr_value.sga);
	op_complete(&rt->ops, op);
}

/*
 * Completes a pop from the receive queue: the oldest segment goes to the
 * application as it arrived (zero copy). Returns false when nothing can be
 * said yet (no data, no FIN, no error).
 */
bool tcp_pop_one(struct tcb *tp, struct op *op)
{
	struct inet *in = tp->in;
	struct pkt p;
	if (tcp_rcvq_pop(&tp->rq, &p)) {
		uint32_t before = tcp_rcv_window(tp);
		tcp_rcvq_popped(&tp->rq, &p);
		buf_give_app(in->pool, p.buf, p.data, p.len, &op->result.qr_value.sga);
		op_complete(&in->rt->ops, op);
		/*
		 * RFC 9293 section 3.8.6.2.2 (receiver SWS avoidance): announce the
		 * freed space once it is worth a segment or half the buffer.
		 */
		uint32_t after = tcp_rcv_window(tp);
		if (tcps_can_recv(tp->state) && after >= before + tp->mss && (before < tp->mss * 2u || after - before >= tp->rcvbuf / 2)) {
			tp->flags |= TF_ACKNOW;
			tcp_output(tp);
			if (!in->in_poll)
				inet_tx_flush(in);
		}
		return true;
	}
	if (tp->so_error) {
		op_fail(&in->rt->ops, op, tp->so_error);
		return true;
	}
	if ((tp->flags & (TF_RCVD_FIN | TF_SHUT_RD)) || tp->state == TCPS_CLOSED) {
		tp->flags |= TF_EOF_DELIVERED;
		give_eof(tp, op);
		return true;
	}
	return false;
}

void tcp_wake_readers(struct tcb *tp)
{
	while (!list_empty(&tp->readers)) {
		struct op *op = container_of(tp->readers.next, struct op, wnode);
		list_del(&op->wnode);
		if (!tcp_pop_one(tp, op)) {
			list_push_front(&tp->readers, &op->wnode);
			return;
		}
	}
}

/*
 * Pushes: each one's bytes join the send queue as soon as a slot is free
 * (zero copy: a reference on the pushed buffer), and the push completes
 * once its last byte lies within SO_SNDBUF of snd_una: the bound on what
 * the application has outstanding (PDPIX: a push completes once the send
 * buffer accepted it). The first wq_queued ops on tp->writers are queued.
 */
void tcp_wake_writers(struct tcb *tp)
{
	struct rt *rt = tp->in->rt;
	int err = tp->so_error;
	/* After a half-close the pushes made before it go on; demi_close cancelled any others. */
	if (!err && !(tp->flags & TF_SHUT_WR) && (!tcps_can_send(tp->state) || (tp->flags & TF_FIN_QUEUED)))
		err = tp->state == TCPS_CLOSED ? ENOTCONN : EPIPE;
	if (err) {
		while (!list_empty(&tp->writers)) {
			struct op *op = container_of(list_pop_front(&tp->writers), struct op, wnode);
			list_node_init(&op->wnode);
			op_fail(&rt->ops, op, err);
		}
		tp->wq_queued = 0;
		return;
	}
	uint32_t i = 0;
	bool all_queued = true;
	for (struct list_node *n = tp->writers.next; n != &tp->writers; n = n->next, i++) {
		if (i < tp->wq_queued)
			continue;
		if (tcp_sndq_full(&tp->sq)) {
			all_queued = false;
			break;
		}
		struct op *op = container_of(n, struct op, wnode);
		/* The queue takes its own reference; the push's goes at completion. */
		tcp_sndq_append(&tp->sq, op->buf, op->sga.sga_segs[0].sgaseg_buf, op->sga.sga_segs[0].sgaseg_len);
		op->progress = tp->snd_una + tcp_sndq_bytes(&tp->sq); /* the sequence number past its last byte */
		tp->wq_queued++;
		tp->flags |= TF_NEEDOUT;
	}
	/* A half-close's FIN joins the stream once the last push before it did (RFC 9293 section 3.10.4). */
	if (all_queued && (tp->flags & (TF_SHUT_WR | TF_FIN_QUEUED)) == TF_SHUT_WR && tcps_can_send(tp->state)) {
		tp->flags |= TF_FIN_QUEUED | TF_NEEDOUT;
		tcb_set_state(tp, tp->state == TCPS_CLOSE_WAIT ? TCPS_LAST_ACK : TCPS_FIN_WAIT_1);
	}
	while (tp->wq_queued) {
		struct op *op = container_of(tp->writers.next, struct op, wnode);
		if (SEQ_GT(op->progress, tp->snd_una + tp->sndbuf))
			break;
		list_del(&op->wnode);
		list_node_init(&op->wnode);
		tp->wq_queued--;
		tcp_sndq_commit(&tp->sq, op->sga.sga_segs[0].sgaseg_len);
		sga_copy(&op->result.qr_value.sga, &op->sga);
		op_complete(&rt->ops, op);
	}
}

void tcp_writes_cancelled(struct tcb *tp)
{
	/* Only bytes past SND.MAX never left; what was sent stays in the stream. */
	tcp_seq data_end = tp->snd_una + tcp_sndq_bytes(&tp->sq);
	uint32_t unsent = SEQ_GT(data_end, tp->snd_max) ? data_end - tp->snd_max : 0;
	if (tp->sq.ring)
		tcp_sndq_uncommit(&tp->sq, tp->in->pool, unsent);
	tp->wq_queued = 0;
}

static void fail_list(struct op_table *ops, struct list_node *l, int err)
{
	while (!list_empty(l)) {
		struct op *op = container_of(list_pop_front(l), struct op, wnode);
		list_node_init(&op->wnode);
		op_fail(ops, op, err);
	}
}

void tcp_fail_ops(struct tcb *tp, int err)
{
	struct op_table *ops = &tp->in->rt->ops;
	if (tp->conn_op) {
		op_fail(ops, tp->conn_op, err);
		tp->conn_op = NULL;
	}
	/* Pops see the end of the stream or the error in order: data already queued is still theirs. */
	tcp_wake_readers(tp);
	fail_list(ops, &tp->readers, err);
	fail_list(ops, &tp->writers, err);
	tp->wq_queued = 0;
	fail_list(ops, &tp->acceptors, err);
}
