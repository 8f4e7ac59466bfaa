/*
 * TCP socket queues: the PDPIX calls on Demi's TCP, with doc/api's error
 * semantics. Operations that must wait are kept on the connection's lists
 * (op->wnode) and completed by input or timers; none needs a coroutine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../../runtime/sockopt.h"
#include "../inet_tx.h"
#include "tcp_priv.h"

int tcp_socket(struct inet *in, struct queue **out, const struct queue_ops **ops)
{
	struct tcb *tp = tcb_new(in);
	if (!tp)
		return -ENOMEM;
	*out = &tp->q;
	*ops = &tcp_queue_ops;
	return 0;
}

static void flush(struct inet *in)
{
	if (!in->in_poll)
		inet_tx_flush(in);
}

static int ts_bind(struct queue *q, const struct sockaddr_in *addr)
{
	struct tcb *tp = tcb_of(q);
	if ((tp->flags & TF_BOUND) || tp->state != TCPS_CLOSED)
		return -EINVAL;
	return tcp_bind(tp, addr->sin_addr.s_addr, addr->sin_port);
}

static int ts_listen(struct queue *q, int backlog)
{
	struct tcb *tp = tcb_of(q);
	if (tp->state == TCPS_LISTEN)
		return -EADDRINUSE;
	if (tp->state != TCPS_CLOSED)
		return -EISCONN;
	if (!(tp->flags & TF_BOUND))
		return -EDESTADDRREQ;
	tp->backlog = backlog > SOMAXCONN ? SOMAXCONN : (uint32_t)backlog;
	tcb_set_state(tp, TCPS_LISTEN);
	return 0;
}

static int ts_accept(struct queue *q, struct op *op)
{
	struct tcb *tp = tcb_of(q);
	if (tp->state != TCPS_LISTEN)
		return -EINVAL;
	if (list_empty(&tp->acceptors) && tcp_listen_take(tp, op)) {
		flush(tp->in);
		return 0;
	}
	list_push_back(&tp->acceptors, &op->wnode);
	return 0;
}

static int ts_connect(struct queue *q, struct op *op)
{
	struct tcb *tp = tcb_of(q);
	struct inet *in = tp->in;
	switch (tp->state) {
	case TCPS_LISTEN:
		return -EOPNOTSUPP;
	case TCPS_SYN_SENT:
		return -EINPROGRESS;
	case TCPS_CLOSED:
		if (tp->iss || tp->so_error)
			return -EISCONN; /* this socket's connection came and went: a new socket connects again */
		break;
	default:
		return -EISCONN;
	}
	if (op->addr.sin_port == 0)
		return -EINVAL;
	uint32_t hop;
	if (op->addr.sin_addr.s_addr && ipv4_next_hop(in, op->addr.sin_addr.s_addr, &hop) < 0)
		return -ENETUNREACH; /* off the local subnet and no default gateway (doc/inetstack.md, routes) */
	if (tcb_alloc_rings(tp) < 0) /* a connection carries data: its queues' rings */
		return -ENOMEM;
	uint32_t faddr = op->addr.sin_addr.s_addr ? op->addr.sin_addr.s_addr : in->addr; /* RFC 1122 3.2.1.3 */
	uint16_t fport = op->addr.sin_port;
	int err;
	tp->faddr = faddr; /* before the bind: an ephemeral port is picked for this flow (inet_port_pick) */
	tp->fport = fport;
	if (!(tp->flags & TF_BOUND) && (err = tcp_bind(tp, htonl(INADDR_ANY), 0)) < 0)
		return err;
	/* The 4-tuple must be free; a connection in TIME-WAIT on it gives way (RFC 6191: our ISNs only grow). */
	struct tcb *old = tcp_conn_lookup(in, in->addr, tp->lport, faddr, fport);
	if (old) {
		if (old->state != TCPS_TIME_WAIT)
			return -EADDRINUSE;
		tcb_close(old, 0);
	}
	tp->laddr = in->addr;
	struct tcp_opts none;
	memset(&none, 0, sizeof(none));
	tcp_apply_syn_opts(tp, &none); /* our MSS, a provisional cc; the SYN-ACK's options redo it */
	struct tcp *t = &in->tcp;
	/* Offered in the SYN; dropped if the peer does not scale. */
	tp->rcv_wscale = t->wscale_ok ? tcp_wscale_for(tp->rcvbuf) : 0;
	tp->iss = tcp_isn(&t->secret, tp->laddr, tp->lport, faddr, fport);
	tcp_seq_init(tp);
	tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
	tp->ts_offset = tp->iss;
	tp->rtt_start = inet_now(tp->in);
	tcb_set_state(tp, TCPS_SYN_SENT);
	tcp_conn_insert(in, tp);
	tp->conn_op = op;
	tcp_output(tp);
	flush(in);
	return 0;
}

/*
 * Push and pop apply to a connection that is or was established (its end,
 * a reset or EOF, then shows in the operation); before that: ENOTCONN.
 */
static bool was_connected(const struct tcb *tp)
{
	if (tp->state == TCPS_CLOSED)
		return tp->so_error || tp->iss;
	return tcps_synchronized(tp->state);
}

static int ts_push(struct queue *q, struct op *op)
{
	struct tcb *tp = tcb_of(q);
	struct inet *in = tp->in;
	if (!was_connected(tp))
		return -ENOTCONN;
	if (tp->flags & TF_SHUT_WR)
		return tp->close_op ? -EBADF : -EPIPE; /* send(2) after shutdown(SHUT_WR): EPIPE */
	/*
	 * A push that completes at once lets an application push on and on
	 * without waiting on anything pending, so without the stack ever
	 * running: when nothing polled the device since the last push, take in
	 * what arrived first (a reset, a window update).
	 */
	if (!in->in_poll && in->npolls == in->push_mark)
		in->poll(in);
	in->push_mark = in->npolls;
	list_push_back(&tp->writers, &op->wnode);
	tcp_wake_writers(tp);
	tcp_output(tp);
	flush(in);
	return 0;
}

/* A connected stream ignores the address, as send(2) does; unconnected it has nowhere to go. */
static int ts_pushto(struct queue *q, struct op *op)
{
	struct tcb *tp = tcb_of(q);
	if (!tcps_synchronized(tp->state) && !(tp->state == TCPS_CLOSED && tp->so_error))
		return -ENOTCONN;
	return ts_push(q, op);
}

static int ts_pop(struct queue *q, struct op *op)
{
	struct tcb *tp = tcb_of(q);
	if (!was_connected(tp))
		return -ENOTCONN;
	if (tp->close_op)
		return -EBADF;
	if (!list_empty(&tp->readers) || !tcp_pop_one(tp, op))
		list_push_back(&tp->readers, &op->wnode);
	return 0;
}

static int ts_close(struct queue *q)
{
	struct tcb *tp = tcb_of(q);
	struct inet *in = tp->in;
	/* rt_close_queue failed the pending ops already: forget them. */
	list_init(&tp->readers);
	list_init(&tp->writers);
	list_init(&tp->acceptors);
	tp->conn_op = NULL;
	tp->close_op = NULL;
	tcp_writes_cancelled(tp);
	tp->flags |= TF_ORPHAN;
	if (tp->flags & TF_BOUND)
		tcp_port_remove(in, tp); /* the port is free at once; the connection keeps its 4-tuple */
	switch (tp->state) {
	case TCPS_LISTEN:
		tcp_listen_close(tp);
		break;
	case TCPS_CLOSED:
		tcb_free(tp);
		break;
	case TCPS_SYN_SENT:
		tcb_close(tp, 0);
		break;
	case TCPS_SYN_RECEIVED:
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
		/*
		 * An abortive close for SO_LINGER with a zero timeout, and when
		 * received data was never read (RFC 2525 section 2.17): RST.
		 * Otherwise the FIN follows what is queued (RFC 9293 section 3.10.4).
		 */
		if ((tp->linger.l_onoff && tp->linger.l_linger == 0) || tcp_rcvq_holds(&tp->rq)) {
			tcb_drop(tp, ECONNABORTED);
			break;
		}
		tp->flags |= TF_FIN_QUEUED;
		tcb_set_state(tp, tp->state == TCPS_CLOSE_WAIT ? TCPS_LAST_ACK : TCPS_FIN_WAIT_1);
		tcp_output(tp);
		break;
	case TCPS_FIN_WAIT_2:
		/* Half-closed before (demi_shutdown): nobody will close it now, bound FIN-WAIT-2 as tcp_in does. */
		tcp_timer_2msl_arm(tp, in->tcp.fin_timeout);
		break;
	default:
		break; /* already closing */
	}
	flush(in);
	return 0;
}

/* ---- half-close and graceful close (<demi/shutdown.h>) ---- */

static int ts_shutdown(struct queue *q, int how)
{
	struct tcb *tp = tcb_of(q);
	if (tp->close_op)
		return -EBADF;
	if (!tcps_synchronized(tp->state) && tp->state != TCPS_SYN_RECEIVED)
		return -ENOTCONN;
	if (how != SHUT_WR) {
		tp->flags |= TF_SHUT_RD;
		tcp_wake_readers(tp); /* what is queued, then EOF */
	}
	if (how != SHUT_RD && !(tp->flags & TF_SHUT_WR)) {
		tp->flags |= TF_SHUT_WR;
		tcp_wake_writers(tp); /* queues the FIN now if every push is in the send queue */
		tcp_output(tp);
	}
	flush(tp->in);
	return 0;
}

/* Has our FIN been acknowledged, or the connection ended? 1: done, -errno: failed, 0: not yet. */
static int flush_state(const struct tcb *tp)
{
	switch (tp->state) {
	case TCPS_FIN_WAIT_2:
	case TCPS_TIME_WAIT:
		return 1;
	case TCPS_CLOSED:
		return tp->so_error ? -tp->so_error : 1;
	default:
		return 0;
	}
}

static void close_flush_end(struct tcb *tp, struct op *op, int st)
{
	struct rt *rt = tp->in->rt;
	tp->close_op = NULL;
	if (st < 0)
		op_fail(&rt->ops, op, -st);
	else
		op_complete(&rt->ops, op);
	rt_close_queue(rt, &tp->q); /* ts_close: the connection ends in the background (TIME-WAIT) */
}

/* Parks until tcb_set_state says our FIN was acknowledged or the connection ended. */
static void close_flush_co(void *arg)
{
	struct op *op = arg;
	struct tcb *tp = tcb_of(op->q);
	int st;
	while (!(st = flush_state(tp)))
		if (sched_park(&tp->in->rt->sched) < 0)
			return; /* demi_close: the op was failed with ECANCELED */
	close_flush_end(tp, op, st);
}

static int ts_close_flush(struct queue *q, struct op *op)
{
	struct tcb *tp = tcb_of(q);
	struct rt *rt = tp->in->rt;
	if (tp->close_op)
		return -EBADF;
	rt_cancel_but_pushes(rt, q, op);
	tp->close_op = op;
	/* demi_close's reset (SO_LINGER {1, 0}, unread data) where it would send one: ts_close sends it. */
	bool abort = (tp->state == TCPS_SYN_RECEIVED || tp->state == TCPS_ESTABLISHED || tp->state == TCPS_CLOSE_WAIT) &&
		     ((tp->linger.l_onoff && tp->linger.l_linger == 0) || tcp_rcvq_holds(&tp->rq));
	if (abort || (!tcps_synchronized(tp->state) && tp->state != TCPS_SYN_RECEIVED)) {
		/* Or nothing to flush (never connected, a listener, a connection that ended). */
		int st = abort ? -ECONNABORTED : tp->state == TCPS_CLOSED && tp->so_error ? -tp->so_error : 0;
		close_flush_end(tp, op, st);
		return 0;
	}
	if (!(tp->flags & TF_SHUT_WR)) {
		tp->flags |= TF_SHUT_WR;
		tcp_wake_writers(tp);
		tcp_output(tp);
		flush(tp->in);
	}
	int st = flush_state(tp);
	if (st) {
		close_flush_end(tp, op, st);
		return 0;
	}
	int err = rt_op_start(rt, op, close_flush_co);
	if (err)
		tp->close_op = NULL;
	return err;
}

/* ---- options and names ---- */

static int ts_setsockopt(struct queue *q, int level, int name, const void *val, socklen_t len)
{
	struct tcb *tp = tcb_of(q);
	int size = sockopt_size(level, name, true);
	if (size < 0)
		return size;
	if (sockopt_read_only(level, name))
		return -ENOPROTOOPT;
	if (len != (socklen_t)size)
		return -EINVAL;
	if (level == SOL_SOCKET && name == SO_LINGER) {
		memcpy(&tp->linger, val, sizeof(tp->linger));
		return 0;
	}
	int v;
	memcpy(&v, val, sizeof(v));
	if (level == IPPROTO_TCP && name == TCP_NODELAY) {
		if (v)
			tp->flags |= TF_NODELAY;
		else
			tp->flags &= ~(uint32_t)TF_NODELAY;
		if (v && tcps_synchronized(tp->state)) { /* what Nagle held goes now */
			tcp_output(tp);
			flush(tp->in);
		}
		return 0;
	}
	switch (name) {
	case SO_KEEPALIVE:
		if (v)
			tp->flags |= TF_KEEPALIVE;
		else
			tp->flags &= ~(uint32_t)TF_KEEPALIVE;
		if (tcps_synchronized(tp->state) && tp->state != TCPS_TIME_WAIT)
			tcp_timer_keep_arm(tp);
		return 0;
	case SO_RCVBUF:
	case SO_SNDBUF:
		if (v < 0)
			return -EINVAL;
		/* Bounded as Linux bounds them; the window scale is fixed at the SYN, so set it before connecting. */
		if (v < 2048)
			v = 2048;
		if (v > (1 << 30))
			v = 1 << 30;
		if (name == SO_RCVBUF)
			tp->rcvbuf = (uint32_t)v;
		else
			tp->sndbuf = (uint32_t)v;
		if (name == SO_SNDBUF)
			tcp_wake_writers(tp);
		return 0;
	case SO_REUSEADDR:
		tp->reuseaddr = v;
		return 0;
	}
	return -ENOPROTOOPT;
}

static int ts_getsockopt(struct queue *q, int level, int name, void *val, socklen_t *len)
{
	struct tcb *tp = tcb_of(q);
	int size = sockopt_size(level, name, true);
	if (size < 0)
		return size;
	if (*len < (socklen_t)size)
		return -EINVAL;
	*len = (socklen_t)size;
	if (level == SOL_SOCKET && name == SO_LINGER) {
		memcpy(val, &tp->linger, sizeof(tp->linger));
		return 0;
	}
	int v = 0;
	if (level == IPPROTO_TCP && name == TCP_NODELAY)
		v = !!(tp->flags & TF_NODELAY);
	else
		switch (name) {
		case SO_KEEPALIVE:
			v = !!(tp->flags & TF_KEEPALIVE);
			break;
		case SO_RCVBUF:
			v = (int)tp->rcvbuf;
			break;
		case SO_SNDBUF:
			v = (int)tp->sndbuf;
			break;
		case SO_REUSEADDR:
			v = tp->reuseaddr;
			break;
		case SO_TYPE:
			v = SOCK_STREAM;
			break;
		case SO_ERROR:
			v = tp->so_error;
			break;
		}
	memcpy(val, &v, sizeof(v));
	return 0;
}

static int ts_getpeername(struct queue *q, struct sockaddr_in *out)
{
	struct tcb *tp = tcb_of(q);
	if (!tcps_synchronized(tp->state))
		return -ENOTCONN;
	*out = inet_sockaddr(tp->faddr, tp->fport);
	return 0;
}

static int ts_getsockname(struct queue *q, struct sockaddr_in *out)
{
	struct tcb *tp = tcb_of(q);
	*out = inet_sockaddr(tp->laddr, tp->lport);
	return 0;
}

const struct queue_ops tcp_queue_ops = {
	.kind = "inet-tcp",
	.bind = ts_bind,
	.listen = ts_listen,
	.accept = ts_accept,
	.connect = ts_connect,
	.push = ts_push,
	.pushto = ts_pushto,
	.pop = ts_pop,
	.setsockopt = ts_setsockopt,
	.getsockopt = ts_getsockopt,
	.getpeername = ts_getpeername,
	.getsockname = ts_getsockname,
	.shutdown = ts_shutdown,
	.close_flush = ts_close_flush,
	.close = ts_close,
};
