/* The storage queue kind's calls beside push and pop: open, seek, durability, stat, buffers (behind include/demi/storage.h). */
#include <demi/storage.h>
#include <string.h>

#include "storage.h"

int storage_open(struct rt *rt, const char *path, int flags, mode_t mode, int *qd_out)
{
	struct squeue *sq;
	int err = squeue_open(rt, path, flags, mode, &sq);
	if (err)
		return err;
	err = qd_install(&rt->qds, &sq->q, &storage_queue_ops);
	if (err) {
		storage_queue_ops.close(&sq->q);
		return err;
	}
	*qd_out = sq->q.qd;
	return 0;
}

int storage_queue_get(struct rt *rt, int qd, struct squeue **out)
{
	struct queue *q = qd_get(&rt->qds, qd);
	if (!q)
		return -EBADF;
	if (q->ops != &storage_queue_ops)
		return -ENOTSUP;
	*out = container_of(q, struct squeue, q);
	return 0;
}

void squeue_seek(struct squeue *sq, uint64_t offset, uint32_t size)
{
	sq->read_pos = offset;
	if (size)
		sq->read_size = size;
}

void squeue_set_durability(struct squeue *sq, int durability)
{
	sq->durability = durability;
}

void squeue_stat(const struct squeue *sq, struct demi_storage_stat *out)
{
	memset(out, 0, sizeof(*out));
	out->read_pos = sq->read_pos;
	out->write_pos = sq->write_pos;
	out->durable_pos = sq->durable_pos;
	out->read_size = sq->read_size;
	out->align = sq->direct ? sq->align : 0;
	out->durability = (uint32_t)sq->durability;
	out->flags = (sq->direct ? DEMI_STORAGE_DIRECT : 0) | (sq->eng->sqpoll ? DEMI_STORAGE_SQPOLL : 0) |
		     (sq->eng->bufs->max_fixed ? DEMI_STORAGE_REGISTERED : 0);
}

int storage_sgaalloc(struct rt *rt, size_t size, demi_sgarray_t *out)
{
	struct stg_engine *e;
	int err = stg_engine_get(rt, &e);
	if (err < 0)
		return err;
	struct buf *b = sbuf_alloc(e->bufs, size);
	if (!b)
		return -ENOMEM;
	buf_give_app(&rt->pool, b, buf_data(b), (uint32_t)size, out);
	return 0;
}
