/* Storage queue operations: appends completed in order, reads at the cursor, repair after a failed append, close. */
#include <demi/storage.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/log.h"
#include "storage.h"

static inline struct squeue *sq_of(struct queue *q) { return container_of(q, struct squeue, q); }
static inline struct rt *rt_of(const struct squeue *sq) { return sq->eng->rt; }

static void squeue_io_done(struct sreq *r);

/* Makes sq the owner of r: the engine completes it through squeue_io_done and counts it in sq->inflight. */
static inline void sq_own(struct squeue *sq, struct sreq *r)
{
	r->owner = sq;
	r->complete = squeue_io_done;
	r->inflight = &sq->inflight;
}

static int fixed_of(const struct buf *b)
{
	const struct sbuf *s = sbuf_of(b);
	return s ? s->fixed : -1;
}

/* The file system refused O_DIRECT on an I/O it accepted at open (EINVAL): use the page cache from now on. */
static void no_direct(struct squeue *sq)
{
	if (sq->direct)
		log_warn("storage: qd %d: direct I/O refused (EINVAL): page cache from now on", sq->q.qd);
	sq->direct = false;
}

/* ---- push ---- */

/*
 * Submits what is left of an append: O_DIRECT when its position, length and
 * memory are aligned, else through the page cache. Both descriptors name one
 * inode, whose page cache the kernel keeps coherent with direct I/O; the
 * block (align) is at least a page, so the two paths never write one page.
 */
static void issue_write(struct squeue *sq, struct sreq *r)
{
	uint8_t *p = r->data + r->done;
	uint64_t off = r->off + r->done;
	uint32_t len = r->len - r->done;
	r->direct = sq->direct && off % sq->align == 0 && len % sq->align == 0 && (uintptr_t)p % sq->mem_align == 0;
	r->io.fd = r->direct ? sq->dfd : sq->bfd;
	r->io.fixed = fixed_of(r->buf);
	r->io.addr = p;
	r->io.off = off;
	r->io.len = len;
	r->io.write = true;
	stg_start(sq->eng, r);
}

/* Appends take their place in the file when they start: pushes in flight land back to back, in call order. */
static void start_push(struct squeue *sq, struct sreq *r)
{
	r->off = sq->write_pos;
	sq->write_pos += r->len;
	list_push_back(&sq->pushes, &r->qnode);
	issue_write(sq, r);
}

/*
 * Cuts the file back to where the failed append began, once it and every
 * append behind it have come back, so that the file holds exactly the
 * appends that completed; then starts the pushes that waited meanwhile.
 */
static void repair(struct squeue *sq)
{
	if (sq->regular && (ftruncate(sq->bfd, (off_t)sq->fail_off) < 0 || fdatasync(sq->bfd) < 0))
		log_error("storage: qd %d: cannot cut the file back to %llu after a failed append: %s", sq->q.qd,
			  (unsigned long long)sq->fail_off, strerror(errno));
	sq->write_pos = sq->durable_pos = sq->fail_off;
	sq->fail_err = 0;
	log_debug("storage: qd %d: cut back to %llu after a failed append; %s pushes waited", sq->q.qd,
		  (unsigned long long)sq->fail_off, list_empty(&sq->held) ? "no" : "some");
	struct list_node *n;
	while (!sq->fail_err && (n = list_pop_front(&sq->held)))
		start_push(sq, container_of(n, struct sreq, qnode));
}

static void push_complete(struct squeue *sq, struct sreq *r)
{
	struct op *op = r->op;
	if (r->res) {
		op_fail(&rt_of(sq)->ops, op, -r->res);
		return;
	}
	sga_copy(&op->result.qr_value.sga, &op->sga);
	op->result.qr_ret = (int64_t)r->off;
	op_complete(&rt_of(sq)->ops, op);
}

/* Completes the finished pushes at the head of the append order: pushes complete in call order. */
static void drain_pushes(struct squeue *sq)
{
	struct list_node *n;
	while ((n = sq->pushes.next) != &sq->pushes) {
		struct sreq *r = container_of(n, struct sreq, qnode);
		if (!r->finished)
			break;
		list_del(&r->qnode);
		if (sq->fail_err) {
			r->res = sq->fail_err; /* behind a failed append: it cannot be part of the log */
		} else if (r->res) {
			sq->fail_err = r->res;
			sq->fail_off = r->off;
		} else {
			sq->durable_pos = r->off + r->len;
		}
		push_complete(sq, r);
		stg_req_free(sq->eng, r);
	}
	if (sq->fail_err && list_empty(&sq->pushes))
		repair(sq);
}

static void write_done(struct squeue *sq, struct sreq *r)
{
	int err = 0;
	if (r->wres < 0) {
		if (r->wres == -EINVAL && r->direct) {
			no_direct(sq);
			issue_write(sq, r);
			return;
		}
		err = r->wres;
	} else {
		r->done += (uint32_t)r->wres;
		bool short_write = r->done < r->len;
		/* A short write breaks the link: its fsync comes back ECANCELED and is redone with the rest. */
		if (r->io.sync == DEMI_STORAGE_FLUSH && r->fres < 0 && !(short_write && r->fres == -ECANCELED)) {
			err = r->fres;
		} else if (short_write) {
			if (r->wres > 0) {
				issue_write(sq, r);
				return;
			}
			err = -EIO; /* no progress and no error: do not loop */
		}
	}
	r->res = err;
	r->finished = true;
	drain_pushes(sq);
}

static int sq_push(struct queue *q, struct op *op)
{
	struct squeue *sq = sq_of(q);
	if (!sq->writable)
		return -EBADF;
	struct sreq *r = stg_req_alloc(sq->eng);
	if (!r)
		return -ENOMEM;
	sq_own(sq, r);
	r->op = op;
	r->buf = op->buf;
	buf_ref(r->buf); /* the push's own reference goes when the op completes, maybe before the kernel is done */
	r->data = op->sga.sga_segs[0].sgaseg_buf;
	r->len = op->sga.sga_segs[0].sgaseg_len;
	r->io.sync = (uint8_t)sq->durability;
	if (sq->fail_err)
		list_push_back(&sq->held, &r->qnode); /* its place in the file is known after the repair */
	else
		start_push(sq, r);
	return 0;
}

/* ---- pop ---- */

/* Completes a pop with `got` bytes; the buffer reference passes to the application. */
static void finish_pop(struct squeue *sq, struct sreq *r, uint32_t got)
{
	/* A short read rewinds the cursor to where the data ended, so a reader at the tail sees later appends. */
	if (got < r->adv && sq->read_pos == r->off + r->adv)
		sq->read_pos = r->off + got;
	struct op *op = r->op;
	buf_give_app(&rt_of(sq)->pool, r->buf, r->data + r->skip, got, &op->result.qr_value.sga);
	r->buf = NULL;
	op_complete(&rt_of(sq)->ops, op);
	stg_req_free(sq->eng, r);
}

/*
 * Reads the asked-for bytes. O_DIRECT reads the aligned blocks around them
 * into one storage buffer and the sga points inside it: no copy even for an
 * unaligned position or size.
 */
static int issue_read(struct squeue *sq, struct sreq *r)
{
	uint64_t aoff = r->off;
	uint32_t len = r->len;
	r->direct = sq->direct;
	r->skip = 0;
	if (r->direct) {
		aoff = r->off & ~(uint64_t)(sq->align - 1);
		r->skip = (uint32_t)(r->off - aoff);
		len = (r->skip + r->len + sq->align - 1) & ~(sq->align - 1);
	}
	if (!r->buf) {
		r->buf = sbuf_alloc(sq->eng->bufs, len);
		if (!r->buf)
			return -ENOMEM;
		r->data = buf_data(r->buf);
	}
	r->io.fd = r->direct ? sq->dfd : sq->bfd;
	r->io.fixed = fixed_of(r->buf);
	r->io.addr = r->data;
	r->io.off = aoff;
	r->io.len = len;
	r->io.write = false;
	stg_start(sq->eng, r);
	return 0;
}

static void read_done(struct squeue *sq, struct sreq *r)
{
	if (r->wres == -EINVAL && r->direct) {
		no_direct(sq);
		if (issue_read(sq, r) == 0) /* the buffer it has is large enough */
			return;
	}
	list_del(&r->qnode);
	if (r->wres < 0) {
		op_fail(&rt_of(sq)->ops, r->op, -r->wres);
		stg_req_free(sq->eng, r);
		return;
	}
	uint32_t n = (uint32_t)r->wres, got = 0;
	if (n > r->skip)
		got = n - r->skip < r->len ? n - r->skip : r->len;
	finish_pop(sq, r, got);
}

static int sq_pop(struct queue *q, struct op *op)
{
	struct squeue *sq = sq_of(q);
	if (!sq->readable)
		return -EBADF;
	struct sreq *r = stg_req_alloc(sq->eng);
	if (!r)
		return -ENOMEM;
	sq_own(sq, r);
	r->op = op;
	r->off = sq->read_pos;
	r->len = r->adv = sq->read_size;
	/* While this queue's appends are in flight, only those that completed are there to read. */
	if (!list_empty(&sq->pushes) || !list_empty(&sq->held)) {
		uint64_t avail = r->off < sq->durable_pos ? sq->durable_pos - r->off : 0;
		if (avail < r->len)
			r->len = (uint32_t)avail;
	}
	if (r->len == 0) {
		/* At the end: complete now with an empty sga, as a stream does at its end. */
		r->buf = sbuf_alloc(sq->eng->bufs, 1);
		if (!r->buf) {
			stg_req_free(sq->eng, r);
			return -ENOMEM;
		}
		r->data = buf_data(r->buf);
		sq->read_pos += r->adv;
		finish_pop(sq, r, 0);
		return 0;
	}
	int err = issue_read(sq, r);
	if (err) {
		stg_req_free(sq->eng, r);
		return err;
	}
	sq->read_pos += r->adv;
	list_push_back(&sq->pops, &r->qnode);
	return 0;
}

/* ---- completion and close ---- */

/* The engine's completion callback (sreq.complete), after a request's last CQE. */
static void squeue_io_done(struct sreq *r)
{
	struct squeue *sq = r->owner;
	if (sq->closed) {
		stg_req_free(sq->eng, r);
		if (sq->inflight == 0)
			squeue_free(sq);
		return;
	}
	if (r->io.write)
		write_done(sq, r);
	else
		read_done(sq, r);
}

void squeue_free(struct squeue *sq)
{
	if (sq->dfd >= 0)
		close(sq->dfd);
	close(sq->bfd);
	free(sq);
}

/*
 * The runtime has failed the pending ops (ECANCELED). Requests the kernel
 * still holds keep the queue, and so its descriptors, alive until they come
 * back: a descriptor number must not be reused under an I/O in flight.
 */
static int sq_close(struct queue *q)
{
	struct squeue *sq = sq_of(q);
	sq->closed = true;
	struct list_node *lists[] = { &sq->pushes, &sq->held, &sq->pops };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct list_node *n;
		while ((n = list_pop_front(lists[i]))) {
			struct sreq *r = container_of(n, struct sreq, qnode);
			r->op = NULL;
			if (r->cqes == 0) {
				stg_unqueue(sq->eng, r);
				stg_req_free(sq->eng, r);
			}
		}
	}
	if (sq->inflight == 0)
		squeue_free(sq);
	return 0;
}

const struct queue_ops storage_queue_ops = {
	.kind = "storage",
	.push = sq_push,
	.pop = sq_pop,
	.close = sq_close,
};
