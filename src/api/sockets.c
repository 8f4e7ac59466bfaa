/* The public socket calls: argument checks, descriptor lookup, then the queue's operation. */
#include <demi/libos.h>
#include <string.h>

#include "../libos/libos.h"
#include "api.h"

/* Looks up qd; returns EBADF from the calling function when it names no queue. */
#define API_QUEUE(q, rt, qd)                                                   \
	struct queue *q = qd_get(&(rt)->qds, (qd));                            \
	if (!q)                                                                \
		return EBADF

static int check_addr(const struct sockaddr *addr, socklen_t len)
{
	if (!addr || len < (socklen_t)sizeof(struct sockaddr_in))
		return EINVAL;
	if (addr->sa_family != AF_INET)
		return EAFNOSUPPORT;
	return 0;
}

DEMI_EXPORT int demi_socket(int *qd_out, int domain, int type, int protocol)
{
	API_RT(rt);
	if (!qd_out)
		return EINVAL;
	if (domain != AF_INET || (type != SOCK_STREAM && type != SOCK_DGRAM))
		return ENOTSUP;
	if (protocol != 0 && !(type == SOCK_STREAM && protocol == IPPROTO_TCP) &&
	    !(type == SOCK_DGRAM && protocol == IPPROTO_UDP))
		return ENOTSUP;
	struct queue *q;
	const struct queue_ops *ops;
	int err = rt->libos->socket(rt, rt->libos_state, type, &q, &ops);
	if (err)
		return api_err(err);
	err = qd_install(&rt->qds, q, ops);
	if (err) {
		ops->close(q);
		return api_err(err);
	}
	*qd_out = q->qd;
	return 0;
}

DEMI_EXPORT int demi_bind(int qd, const struct sockaddr *addr, socklen_t size)
{
	API_RT(rt);
	API_QUEUE(q, rt, qd);
	int err = check_addr(addr, size);
	if (err)
		return err;
	if (!q->ops->bind)
		return ENOTSUP;
	return api_err(q->ops->bind(q, (const struct sockaddr_in *)addr));
}

DEMI_EXPORT int demi_listen(int qd, int backlog)
{
	API_RT(rt);
	API_QUEUE(q, rt, qd);
	if (backlog < 1)
		return EINVAL;
	if (!q->ops->listen)
		return ENOTSUP;
	return api_err(q->ops->listen(q, backlog));
}

/*
 * Allocates an op for an asynchronous call, starts it with `start`, and hands
 * out its token; an op whose start failed is given back.
 */
static int start_op(struct rt *rt, struct queue *q, int (*start)(struct queue *, struct op *), struct op *op,
		    demi_qtoken_t *qt_out)
{
	int err = start(q, op);
	if (err) {
		op_discard(&rt->ops, op);
		return api_err(err);
	}
	*qt_out = op_token(&rt->ops, op);
	return 0;
}

#define API_OP(op, rt, q, opc)                                                 \
	struct op *op = op_alloc(&(rt)->ops, (q), (opc));                      \
	if (!op)                                                               \
		return ENOMEM

DEMI_EXPORT int demi_accept(demi_qtoken_t *qt_out, int qd)
{
	API_RT(rt);
	if (!qt_out)
		return EINVAL;
	API_QUEUE(q, rt, qd);
	if (!q->ops->accept)
		return ENOTSUP;
	API_OP(op, rt, q, DEMI_OPC_ACCEPT);
	return start_op(rt, q, q->ops->accept, op, qt_out);
}

DEMI_EXPORT int demi_connect(demi_qtoken_t *qt_out, int qd, const struct sockaddr *addr, socklen_t size)
{
	API_RT(rt);
	if (!qt_out)
		return EINVAL;
	API_QUEUE(q, rt, qd);
	int err = check_addr(addr, size);
	if (err)
		return err;
	if (!q->ops->connect)
		return ENOTSUP;
	API_OP(op, rt, q, DEMI_OPC_CONNECT);
	memcpy(&op->addr, addr, sizeof(op->addr));
	return start_op(rt, q, q->ops->connect, op, qt_out);
}

/*
 * Takes the stack's own reference on a pushed buffer (b: its buffer if the
 * caller checked sga already, else NULL): the app may free its sga right away.
 */
static int prepare_push(struct rt *rt, struct op *op, const demi_sgarray_t *sga, struct buf *b)
{
	if (!b) {
		int err = buf_check_sga(&rt->pool, sga, &b);
		if (err)
			return err;
	}
	buf_ref(b);
	op->buf = b;
	sga_copy(&op->sga, sga);
	return 0;
}

DEMI_EXPORT int demi_push(demi_qtoken_t *qt_out, int qd, const demi_sgarray_t *sga)
{
	API_RT(rt);
	if (!qt_out || !sga)
		return EINVAL;
	API_QUEUE(q, rt, qd);
	if (!q->ops->push)
		return ENOTSUP;
	struct buf *b = NULL;
	if (q->ops->push_now) {
		/* The data first, the op after it (queue_ops.push_now); a free op is checked for before. */
		int err = buf_check_sga(&rt->pool, sga, &b);
		if (err)
			return api_err(err);
		if (op_table_full(&rt->ops))
			return ENOMEM;
		if (q->ops->push_now(q, sga, b) == 0) {
			*qt_out = op_token(&rt->ops, op_done_now(&rt->ops, q, DEMI_OPC_PUSH, sga));
			return 0;
		}
	}
	API_OP(op, rt, q, DEMI_OPC_PUSH);
	int err = prepare_push(rt, op, sga, b);
	if (err) {
		op_discard(&rt->ops, op);
		return api_err(err);
	}
	return start_op(rt, q, q->ops->push, op, qt_out);
}

DEMI_EXPORT int demi_pushto(demi_qtoken_t *qt_out, int qd, const demi_sgarray_t *sga,
			    const struct sockaddr *dest, socklen_t size)
{
	API_RT(rt);
	if (!qt_out || !sga)
		return EINVAL;
	API_QUEUE(q, rt, qd);
	int err = check_addr(dest, size);
	if (err)
		return err;
	if (!q->ops->pushto)
		return ENOTSUP;
	API_OP(op, rt, q, DEMI_OPC_PUSH);
	err = prepare_push(rt, op, sga, NULL);
	if (err) {
		op_discard(&rt->ops, op);
		return api_err(err);
	}
	memcpy(&op->addr, dest, sizeof(op->addr));
	return start_op(rt, q, q->ops->pushto, op, qt_out);
}

DEMI_EXPORT int demi_pop(demi_qtoken_t *qt_out, int qd)
{
	API_RT(rt);
	if (!qt_out)
		return EINVAL;
	API_QUEUE(q, rt, qd);
	if (!q->ops->pop)
		return ENOTSUP;
	API_OP(op, rt, q, DEMI_OPC_POP);
	return start_op(rt, q, q->ops->pop, op, qt_out);
}

DEMI_EXPORT int demi_close(int qd)
{
	API_RT(rt);
	API_QUEUE(q, rt, qd);
	return api_err(rt_close_queue(rt, q));
}

DEMI_EXPORT int demi_setsockopt(int qd, int level, int optname, const void *optval, socklen_t optlen)
{
	API_RT(rt);
	API_QUEUE(q, rt, qd);
	if (!optval)
		return EINVAL;
	if (!q->ops->setsockopt)
		return ENOTSUP;
	return api_err(q->ops->setsockopt(q, level, optname, optval, optlen));
}

DEMI_EXPORT int demi_getsockopt(int qd, int level, int optname, void *optval, socklen_t *optlen)
{
	API_RT(rt);
	API_QUEUE(q, rt, qd);
	if (!optval || !optlen)
		return EINVAL;
	if (!q->ops->getsockopt)
		return ENOTSUP;
	return api_err(q->ops->getsockopt(q, level, optname, optval, optlen));
}

/* Copies a local or peer address out, truncated to the caller's length as getsockname(2) does. */
static int name_call(int qd, struct sockaddr *addr, socklen_t *len, bool peer)
{
	API_RT(rt);
	API_QUEUE(q, rt, qd);
	if (!addr || !len)
		return EINVAL;
	int (*fn)(struct queue *, struct sockaddr_in *) = peer ? q->ops->getpeername : q->ops->getsockname;
	if (!fn)
		return ENOTSUP;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	int err = fn(q, &sin);
	if (err)
		return api_err(err);
	memcpy(addr, &sin, *len < sizeof(sin) ? *len : sizeof(sin));
	*len = sizeof(sin);
	return 0;
}

DEMI_EXPORT int demi_getpeername(int qd, struct sockaddr *addr, socklen_t *addrlen)
{
	return name_call(qd, addr, addrlen, true);
}

DEMI_EXPORT int demi_getsockname(int qd, struct sockaddr *addr, socklen_t *addrlen)
{
	return name_call(qd, addr, addrlen, false);
}
