/* TCP bookkeeping: the stack's tables, connection creation and teardown, ports, waking waiting operations. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../../runtime/log.h"
#include "../inet_tx.h"
#include "tcp_priv.h"

int tcp_init(struct inet *in, const struct demi_config *cfg)
{
	struct tcp *t = &in->tcp;
	memset(t, 0, sizeof(*t));
	t->cc = tcp_cc_find(cfg->tcp_cc);
	if (!t->cc) {
		log_error("tcp: unknown congestion control '%s'", cfg->tcp_cc);
		return -EINVAL;
	}
	int err = tcp_isn_init(&t->secret);
	if (err)
		return err;
	t->conn_hash = calloc(TCP_CONN_HASH, sizeof(*t->conn_hash));
	t->port_hash = calloc(TCP_PORT_HASH, sizeof(*t->port_hash));
	t->standin = calloc(1, sizeof(*t->standin));
	if (!t->conn_hash || !t->port_hash || !t->standin) {
		free(t->conn_hash);
		free(t->port_hash);
		free(t->standin);
		return -ENOMEM;
	}
	t->standin->in = in;
	list_init(&t->conns);
	t->next_ephemeral = TCP_EPHEMERAL_FIRST + (t->secret.key[0] | t->secret.key[1] << 8) % 1024;
	t->rto_min = cfg->tcp_rto_min_ms * NSEC_PER_MSEC;
	t->rto_max = cfg->tcp_rto_max_ms * NSEC_PER_MSEC;
	t->rto_initial = cfg->tcp_rto_initial_ms * NSEC_PER_MSEC;
	if (t->rto_max < t->rto_min)
		t->rto_max = t->rto_min;
	t->delack = cfg->tcp_delayed_ack_ms * NSEC_PER_MSEC;
	t->time_wait = cfg->tcp_time_wait_ms * NSEC_PER_MSEC;
	t->fin_timeout = cfg->tcp_fin_timeout_ms * NSEC_PER_MSEC;
	t->keep_idle = cfg->tcp_keepalive_idle_s * NSEC_PER_SEC;
	t->keep_intvl = cfg->tcp_keepalive_intvl_s * NSEC_PER_SEC;
	t->keep_probes = cfg->tcp_keepalive_probes;
	t->retries = cfg->tcp_retries;
	t->syn_retries = cfg->tcp_syn_retries;
	t->syn_backlog = cfg->tcp_syn_backlog;
	t->rcvbuf = cfg->tcp_rcvbuf;
	t->sndbuf = cfg->tcp_sndbuf;
	t->wscale_ok = cfg->tcp_window_scale;
	t->ts_ok = cfg->tcp_timestamps;
	t->sack_ok = cfg->tcp_sack;
	t->syncookies = cfg->tcp_syncookies;
	t->nodelay = cfg->tcp_nodelay;
	t->keepalive = cfg->tcp_keepalive;
	t->linger_s = cfg->tcp_linger_s;
	return 0;
}

/* A connection that still has data or a FIN the peer has not acknowledged. */
static bool tcb_unfinished(const struct tcb *tp)
{
	switch (tp->state) {
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
	case TCPS_FIN_WAIT_1:
	case TCPS_CLOSING:
	case TCPS_LAST_ACK:
		return tp->snd_una != tp->snd_max || tp->sq_bytes;
	default:
		return false;
	}
}

bool tcp_unfinished(struct inet *in)
{
	if (!in->tcp.conn_hash)
		return false;
	for (struct list_node *n = in->tcp.conns.next; n != &in->tcp.conns; n = n->next)
		if (tcb_unfinished(container_of(n, struct tcb, link)))
			return true;
	return false;
}

void tcp_close_all(struct inet *in)
{
	struct tcp *t = &in->tcp;
	if (!t->conn_hash)
		return;
	/*
	 * Queues still open are closed through the runtime, so their pending
	 * ops are cancelled. A close may free other connections (a listener's
	 * children), so the walk starts over after each one.
	 */
	for (bool again = true; again;) {
		again = false;
		for (struct list_node *n = t->conns.next; n != &t->conns; n = n->next) {
			struct tcb *tp = container_of(n, struct tcb, link);
			if (!(tp->flags & TF_ORPHAN) && tp->q.qd >= 0 && qd_get(&in->rt->qds, tp->q.qd) == &tp->q) {
				rt_close_queue(in->rt, &tp->q);
				again = true;
				break;
			}
		}
	}
}

void tcp_fini(struct inet *in)
{
	struct tcp *t = &in->tcp;
	if (!t->conn_hash)
		return;
	/* What is left is orphaned: reset the peers, free it all. */
	while (!list_empty(&t->conns)) {
		struct tcb *tp = container_of(t->conns.next, struct tcb, link);
		tp->flags |= TF_ORPHAN;
		if (tp->state == TCPS_LISTEN)
			tcp_listen_close(tp);
		else
			tcb_drop(tp, ECONNABORTED);
	}
	free(t->conn_hash);
	free(t->port_hash);
	free(t->standin);
	t->conn_hash = NULL;
	t->port_hash = NULL;
	t->standin = NULL;
}

struct tcb *tcp_standin(struct inet *in, const struct ipv4_hdr *ih, const struct tcp_hdr *th)
{
	struct tcb *tp = in->tcp.standin;
	tp->state = TCPS_CLOSED;
	tp->flags = 0;
	tp->laddr = ih->dst;
	tp->lport = th->dport;
	tp->faddr = ih->src;
	tp->fport = th->sport;
	tp->rcvbuf = in->tcp.rcvbuf;
	tp->rcv_nxt = tp->rcv_adv = 0;
	tp->rcv_wscale = tp->snd_wscale = 0;
	tp->ts_offset = tp->ts_recent = 0;
	tp->iss = tp->snd_nxt = 0;
	return tp;
}

struct tcb *tcb_new(struct inet *in)
{
	struct tcb *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	struct tcp *t = &in->tcp;
	tp->in = in;
	tp->q.qd = -1;
	list_init(&tp->q.pending);
	list_init(&tp->readers);
	list_init(&tp->writers);
	list_init(&tp->synq);
	list_init(&tp->acceptq);
	list_init(&tp->acceptors);
	list_node_init(&tp->lnode);
	tp->state = TCPS_CLOSED;
	tp->rcvbuf = t->rcvbuf;
	tp->sndbuf = t->sndbuf;
	if (t->nodelay)
		tp->flags |= TF_NODELAY;
	if (t->keepalive)
		tp->flags |= TF_KEEPALIVE;
	if (t->linger_s >= 0)
		tp->linger = (struct linger){ .l_onoff = 1, .l_linger = t->linger_s };
	tp->rto_ns = t->rto_initial;
	tp->peer_mss = TCP_DEFAULT_MSS;
	tp->mss = TCP_DEFAULT_MSS;
	tcp_ooo_init(&tp->ooo);
	list_push_back(&t->conns, &tp->link);
	t->nconns++;
	return tp;
}

void tcb_free(struct tcb *tp)
{
	struct inet *in = tp->in;
	tcp_timers_stop(tp);
	while (tp->sq_head != tp->sq_tail)
		buf_unref(in->pool, tp->sq[tp->sq_head++ & (TCP_SNDQ_LEN - 1)].buf);
	while (tp->rq_head != tp->rq_tail)
		pkt_free(in, &tp->rq[tp->rq_head++ & (TCP_RCVQ_LEN - 1)]);
	tcp_ooo_purge(&tp->ooo, in->pool);
	list_del(&tp->link);
	in->tcp.nconns--;
	free(tp);
}

void tcb_set_state(struct tcb *tp, enum tcp_state s)
{
	tp->state = s;
}

void tcb_close(struct tcb *tp, int err)
{
	struct inet *in = tp->in;
	if (err && tp->state != TCPS_CLOSED && !tp->so_error)
		tp->so_error = err;
	tcb_set_state(tp, TCPS_CLOSED);
	tcp_timers_stop(tp);
	if (tp->flags & TF_HASHED)
		tcp_conn_remove(in, tp);
	if (tp->listener)
		tcp_listen_unlink(tp);
	tcp_fail_ops(tp, tp->so_error ? tp->so_error : ECONNRESET);
	if (tp->flags & TF_ORPHAN) {
		if (tp->flags & TF_BOUND)
			tcp_port_remove(in, tp);
		tcb_free(tp);
	}
}

void tcb_drop(struct tcb *tp, int err)
{
	if (tcps_synchronized(tp->state) || tp->state == TCPS_SYN_RECEIVED) {
		tcp_send_raw(tp, TH_RST | TH_ACK, tp->snd_max, tp->rcv_nxt, false);
		tp->in->st.tcp.rst_tx++;
	}
	if (err && err != ECONNABORTED)
		tp->in->st.tcp.conn_failed++;
	tcb_close(tp, err);
}

/* ---- tables ---- */

uint32_t tcp_conn_bucket(uint32_t faddr, uint16_t lport, uint16_t fport)
{
	uint32_t h = faddr ^ ((uint32_t)fport << 16 | lport);
	h ^= h >> 16;
	h *= 0x45d9f3bu;
	h ^= h >> 16;
	return h & (TCP_CONN_HASH - 1);
}

struct tcb *tcp_conn_lookup(struct inet *in, uint32_t laddr, uint16_t lport, uint32_t faddr, uint16_t fport)
{
	(void)laddr; /* one local address per stack */
	struct tcb *tp = in->tcp.conn_hash[tcp_conn_bucket(faddr, lport, fport)];
	while (tp && !(tp->lport == lport && tp->fport == fport && tp->faddr == faddr))
		tp = tp->hnext;
	return tp;
}

void tcp_conn_insert(struct inet *in, struct tcb *tp)
{
	struct tcb **b = &in->tcp.conn_hash[tcp_conn_bucket(tp->faddr, tp->lport, tp->fport)];
	tp->hnext = *b;
	*b = tp;
	tp->flags |= TF_HASHED;
}

void tcp_conn_remove(struct inet *in, struct tcb *tp)
{
	for (struct tcb **l = &in->tcp.conn_hash[tcp_conn_bucket(tp->faddr, tp->lport, tp->fport)]; *l;
	     l = &(*l)->hnext) {
		if (*l == tp) {
			*l = tp->hnext;
			break;
		}
	}
	tp->flags &= ~(uint32_t)TF_HASHED;
}

static inline uint32_t port_bucket(uint16_t port) { return (uint32_t)(port ^ (port >> 8)) & (TCP_PORT_HASH - 1); }

struct tcb *tcp_listener_lookup(struct inet *in, uint32_t laddr, uint16_t lport)
{
	for (struct tcb *tp = in->tcp.port_hash[port_bucket(lport)]; tp; tp = tp->pnext)
		if (tp->lport == lport && tp->state == TCPS_LISTEN && (tp->laddr == 0 || tp->laddr == laddr))
			return tp;
	return NULL;
}

static bool port_in_use(struct inet *in, uint16_t lport)
{
	for (struct tcb *tp = in->tcp.port_hash[port_bucket(lport)]; tp; tp = tp->pnext)
		if (tp->lport == lport)
			return true;
	return false;
}

static void port_insert(struct inet *in, struct tcb *tp)
{
	struct tcb **b = &in->tcp.port_hash[port_bucket(tp->lport)];
	tp->pnext = *b;
	*b = tp;
	tp->flags |= TF_BOUND;
}

void tcp_port_remove(struct inet *in, struct tcb *tp)
{
	for (struct tcb **l = &in->tcp.port_hash[port_bucket(tp->lport)]; *l; l = &(*l)->pnext) {
		if (*l == tp) {
			*l = tp->pnext;
			break;
		}
	}
	tp->flags &= ~(uint32_t)TF_BOUND;
}

int tcp_bind(struct tcb *tp, uint32_t laddr, uint16_t lport)
{
	struct inet *in = tp->in;
	if (laddr != htonl(INADDR_ANY) && laddr != in->addr)
		return -EADDRNOTAVAIL;
	if (lport == 0) {
		/* For the flow to faddr:fport when connecting (ts_connect sets them first), so that it comes back here. */
		int err = inet_port_pick(in, &in->tcp.next_ephemeral, tp->faddr, tp->fport, port_in_use, &lport);
		if (err)
			return err;
	} else if (port_in_use(in, lport)) {
		/* One socket per port; connections in TIME-WAIT hold none, so a restarted server binds at once. */
		return -EADDRINUSE;
	}
	tp->laddr = laddr;
	tp->lport = lport;
	port_insert(in, tp);
	return 0;
}

void tcp_seq_init(struct tcb *tp)
{
	/* Every sequence variable starts at the ISS: comparisons against a zero would fail for half of all ISNs. */
	tp->recover = tp->iss; /* RFC 6582 section 3.2 step 1 */
	tp->rtt_seq = tp->iss;
	tcp_sb_reset(&tp->sb, tp->iss);
}

uint32_t tcp_ts_now(const struct tcb *tp)
{
	return (uint32_t)(inet_now(tp->in) / NSEC_PER_MSEC) + tp->ts_offset;
}

/* ---- waiting operations ---- */

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
	if (tp->rq_head != tp->rq_tail) {
		struct pkt p = tp->rq[tp->rq_head++ & (TCP_RCVQ_LEN - 1)];
		uint32_t before = tcp_rcv_window(tp);
		tp->rq_bytes -= p.len;
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
	if ((tp->flags & TF_RCVD_FIN) || tp->state == TCPS_CLOSED) {
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
	if (!err && (!tcps_can_send(tp->state) || (tp->flags & TF_FIN_QUEUED)))
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
	for (struct list_node *n = tp->writers.next; n != &tp->writers; n = n->next, i++) {
		if (i < tp->wq_queued)
			continue;
		if (tp->sq_tail - tp->sq_head == TCP_SNDQ_LEN)
			break;
		struct op *op = container_of(n, struct op, wnode);
		struct tcp_sndseg *s = &tp->sq[tp->sq_tail++ & (TCP_SNDQ_LEN - 1)];
		s->buf = op->buf;
		buf_ref(s->buf); /* the queue's own; the push's goes at completion */
		s->data = op->sga.sga_segs[0].sgaseg_buf;
		s->len = op->sga.sga_segs[0].sgaseg_len;
		tp->sq_bytes += s->len;
		tp->sq_uncommitted += s->len;
		op->progress = tp->snd_una + tp->sq_bytes; /* the sequence number past its last byte */
		tp->wq_queued++;
		tp->flags |= TF_NEEDOUT;
	}
	while (tp->wq_queued) {
		struct op *op = container_of(tp->writers.next, struct op, wnode);
		if (SEQ_GT(op->progress, tp->snd_una + tp->sndbuf))
			break;
		list_del(&op->wnode);
		list_node_init(&op->wnode);
		tp->wq_queued--;
		tp->sq_uncommitted -= op->sga.sga_segs[0].sgaseg_len;
		sga_copy(&op->result.qr_value.sga, &op->sga);
		op_complete(&rt->ops, op);
	}
}

void tcp_sndq_uncommit(struct tcb *tp)
{
	/* Bytes of cancelled pushes that never left: dropped from the tail; what was sent stays in the stream. */
	tcp_seq data_end = tp->snd_una + tp->sq_bytes;
	uint32_t unsent = SEQ_GT(data_end, tp->snd_max) ? data_end - tp->snd_max : 0;
	uint32_t n = tp->sq_uncommitted < unsent ? tp->sq_uncommitted : unsent;
	tp->sq_bytes -= n;
	while (n) {
		struct tcp_sndseg *s = &tp->sq[(tp->sq_tail - 1) & (TCP_SNDQ_LEN - 1)];
		if (n < s->len) {
			s->len -= n;
			break;
		}
		n -= s->len;
		buf_unref(tp->in->pool, s->buf);
		tp->sq_tail--;
	}
	tp->sq_uncommitted = 0;
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
