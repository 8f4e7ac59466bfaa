/* <demi/shutdown.h>: half-close and graceful close, for the queue kinds that fill the entries. */
#include <demi/shutdown.h>

#include "api.h"

DEMI_EXPORT int demi_shutdown(int qd, int how)
{
	API_RT(rt);
	struct queue *q = qd_get(&rt->qds, qd);
	if (!q)
		return EBADF;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return EINVAL;
	if (!q->ops->shutdown)
		return ENOTSUP;
	return api_err(q->ops->shutdown(q, how));
}

DEMI_EXPORT int demi_close_flush(demi_qtoken_t *qt_out, int qd)
{
	API_RT(rt);
	if (!qt_out)
		return EINVAL;
	struct queue *q = qd_get(&rt->qds, qd);
	if (!q)
		return EBADF;
	if (!q->ops->close_flush)
		return ENOTSUP;
	struct op *op = op_alloc(&rt->ops, q, DEMI_OPC_CLOSE);
	if (!op)
		return ENOMEM;
	/* The token is made before the start, which may complete the op and release qd at once. */
	demi_qtoken_t qt = op_token(&rt->ops, op);
	int err = q->ops->close_flush(q, op);
	if (err) {
		op_discard(&rt->ops, op);
		return api_err(err);
	}
	*qt_out = qt;
	return 0;
}
