/* The public storage calls (include/demi/storage.h): checks, then the storage queue or engine. */
#include <demi/storage.h>
#include <string.h>

#include "../../api/api.h"
#include "storage.h"

/* The storage queue qd names; returns EBADF or ENOTSUP from the calling function otherwise. */
#define API_SQUEUE(sq, rt, qd)                                                 \
	struct queue *sq##_q = qd_get(&(rt)->qds, (qd));                       \
	if (!sq##_q)                                                           \
		return EBADF;                                                  \
	if (sq##_q->ops != &storage_queue_ops)                                 \
		return ENOTSUP;                                                \
	struct squeue *sq = container_of(sq##_q, struct squeue, q)

DEMI_EXPORT int demi_open_file(int *qd_out, const char *path, int flags, mode_t mode)
{
	API_RT(rt);
	if (!qd_out || !path)
		return EINVAL;
	struct squeue *sq;
	int err = squeue_open(rt, path, flags, mode, &sq);
	if (err)
		return api_err(err);
	err = qd_install(&rt->qds, &sq->q, &storage_queue_ops);
	if (err) {
		storage_queue_ops.close(&sq->q);
		return api_err(err);
	}
	*qd_out = sq->q.qd;
	return 0;
}

DEMI_EXPORT int demi_storage_seek(int qd, uint64_t offset, uint32_t size)
{
	API_RT(rt);
	API_SQUEUE(sq, rt, qd);
	if (size > BUF_MAX_SIZE)
		return EINVAL;
	sq->read_pos = offset;
	if (size)
		sq->read_size = size;
	return 0;
}

DEMI_EXPORT int demi_storage_set_durability(int qd, int durability)
{
	API_RT(rt);
	API_SQUEUE(sq, rt, qd);
	if (durability != DEMI_STORAGE_FLUSH && durability != DEMI_STORAGE_FUA && durability != DEMI_STORAGE_NONE)
		return EINVAL;
	sq->durability = durability;
	return 0;
}

DEMI_EXPORT int demi_storage_stat(int qd, struct demi_storage_stat *out)
{
	API_RT(rt);
	if (!out)
		return EINVAL;
	API_SQUEUE(sq, rt, qd);
	memset(out, 0, sizeof(*out));
	out->read_pos = sq->read_pos;
	out->write_pos = sq->write_pos;
	out->durable_pos = sq->durable_pos;
	out->read_size = sq->read_size;
	out->align = sq->direct ? sq->align : 0;
	out->durability = (uint32_t)sq->durability;
	out->flags = (sq->direct ? DEMI_STORAGE_DIRECT : 0) | (sq->eng->sqpoll ? DEMI_STORAGE_SQPOLL : 0) |
		     (sq->eng->bufs->max_fixed ? DEMI_STORAGE_REGISTERED : 0);
	return 0;
}

DEMI_EXPORT demi_sgarray_t demi_storage_sgaalloc(size_t size)
{
	demi_sgarray_t sga;
	memset(&sga, 0, sizeof(sga));
	struct rt *rt = rt_self();
	struct stg_engine *e;
	if (!rt || size == 0 || size > BUF_MAX_SIZE || stg_engine_get(rt, &e) < 0)
		return sga;
	struct buf *b = sbuf_alloc(e->bufs, size);
	if (!b)
		return sga;
	buf_give_app(&rt->pool, b, buf_data(b), (uint32_t)size, &sga);
	return sga;
}
