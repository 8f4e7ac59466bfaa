/* catmem pipe queues: push, pop and close on one end of a shared-memory pipe. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../os/os.h"
#include "pipe.h"

static inline struct pipe *pipe_of(struct queue *q) { return container_of(q, struct pipe, q); }

void pipe_unref(struct pipe *p)
{
	if (--p->refs)
		return;
	pipe_region_unmap(p);
	free(p);
}

/* ---- the peer ---- */

static void mark_broken(struct pipe *p, int err)
{
	if (!p->broken)
		p->broken = err;
}

void pipe_peer_refresh(struct pipe *p)
{
	if (p->broken || p->peer == PEER_CLOSED || p->peer == PEER_DEAD)
		return;
	/*
	 * Acquire pairs with the peer's release of its word: once we read
	 * CLOSED, every record it published before closing is visible.
	 */
	uint64_t w = atomic_load_explicit(&p->sh->end[1 - p->end].word, memory_order_acquire);
	uint32_t st = pipe_word_state(w);
	if ((w & PIPE_WORD_RESERVED) || st > PIPE_END_CLOSED)
		goto corrupt;
	if (p->peer == PEER_UNKNOWN) {
		/* Only the creator waits for its peer; the opener found the creator open. */
		if (st == PIPE_END_FREE) {
			if (w != 0 || p->end != 0)
				goto corrupt;
			return;
		}
		p->peer_pid = pipe_word_pid(w);
		p->peer_flags = pipe_word_flags(w);
		p->hm.peer_asym = (p->peer_flags & PIPE_END_ASYM) != 0;
		p->peer_word = w;
		if (st == PIPE_END_CLOSED) {
			p->peer = PEER_CLOSED;
			return;
		}
		p->peer = PEER_OPEN;
		/* A pidfd turns readable when the peer dies, even unreaped; kill(pid, 0) is the fallback. */
		p->peer_pidfd = os_pid_watch(p->peer_pid);
		if (p->peer_pidfd == -ESRCH)
			p->peer = PEER_DEAD;
		if (p->peer_pidfd < 0)
			p->peer_pidfd = -1;
		return;
	}
	if (pipe_word_pid(w) != p->peer_pid || st == PIPE_END_FREE || pipe_word_flags(w) != p->peer_flags)
		goto corrupt;
	if (st == PIPE_END_CLOSED)
		p->peer = PEER_CLOSED;
	return;
corrupt:
	mark_broken(p, EPROTO);
}

void pipe_notify(struct pipe *p)
{
	if (p->peer == PEER_CLOSED || p->peer == PEER_DEAD || p->broken)
		return;
	/* A peer that never sleeps needs no bell, and no fence: the common datapath. */
	if (p->peer == PEER_OPEN && !(p->peer_flags & PIPE_END_MAY_SLEEP))
		return;
	/*
	 * StoreLoad: what we just published (a record, a released head, a
	 * returned block, our CLOSED word) must be visible before we load the
	 * peer's `sleeping`. The sleeper does the mirror image (stores
	 * sleeping = 1, a barrier, then looks at its rings), so one of us sees
	 * the other: it finds our update, or we find it asleep and ring its bell.
	 * With PIPE_END_ASYM our half of the barrier is the sleeper's
	 * membarrier, which acts on this thread too: only the compiler must
	 * keep the order here. Otherwise a full fence.
	 */
	if (p->own_flags & PIPE_END_ASYM)
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
	if (p->peer == PEER_UNKNOWN) {
		/* The opener may have attached and gone to sleep since we last looked. */
		pipe_peer_refresh(p);
		if (p->peer != PEER_OPEN || !(p->peer_flags & PIPE_END_MAY_SLEEP))
			return;
	}
	struct pipe_end_sh *pe = &p->sh->end[1 - p->end];
	if (atomic_load_explicit(&pe->sleeping, memory_order_relaxed)) {
		/* The bump makes the sleeper's wait fail at once if it has not slept yet. */
		atomic_fetch_add_explicit(&pe->bell, 1, memory_order_relaxed);
		os_bell_ring(&pe->bell);
	}
}

/* ---- pool blocks of our direction ---- */

/*
 * Free blocks are reused oldest first: the block the peer returned last is
 * still in its cache, and writing it would pull every line back across.
 */
static inline void free_put(struct pipe *p, uint32_t blk)
{
	p->tx_free[p->tx_free_tail++ % PIPE_NBLOCKS] = blk;
}

static inline uint32_t free_count(const struct pipe *p)
{
	return p->tx_free_tail - p->tx_free_head;
}

/* Takes back the blocks the peer returned. 0 or -EPROTO (a block it never had). */
static int pool_collect(struct pipe *p)
{
	uint32_t blk;
	int err;
	while ((err = ret_get(&p->ret_in, &blk)) == 0) {
		if (blk >= PIPE_NBLOCKS || !(p->tx_state[blk] & POOL_FLIGHT))
			return -EPROTO;
		p->tx_state[blk] &= ~POOL_FLIGHT;
		if (!p->tx_state[blk])
			free_put(p, blk);
	}
	return err == -EAGAIN ? 0 : err;
}

/* A free block of our pool: 0, -EAGAIN (all out), -EPROTO. */
static int pool_take(struct pipe *p, uint32_t *blk)
{
	if (!free_count(p)) {
		int err = pool_collect(p);
		if (err)
			return err;
		if (!free_count(p))
			return -EAGAIN;
	}
	*blk = p->tx_free[p->tx_free_head++ % PIPE_NBLOCKS];
	return 0;
}

static inline uint32_t block_of(const uint8_t *pool, const void *data)
{
	return (uint32_t)(((uintptr_t)data - (uintptr_t)pool) / PIPE_BLOCK_BYTES);
}

/* The application freed an sga of demi_pipe_sgaalloc: the block is ours again unless in flight. */
static void tx_release(struct buf_owner *o, struct buf *b)
{
	struct pipe *p = container_of(o, struct pipe, tx_owner);
	uint32_t blk = block_of(p->tx_pool, buf_data(b));
	p->tx_state[blk] &= ~POOL_APP;
	if (!p->tx_state[blk])
		free_put(p, blk);
	pipe_unref(p);
}

/* The application freed a popped sga that lives in the peer's pool: give the block back. */
static void rx_release(struct buf_owner *o, struct buf *b)
{
	struct pipe *p = container_of(o, struct pipe, rx_owner);
	uint32_t blk = block_of(p->rx_pool, buf_data(b));
	p->rx_held[blk] = false;
	if (p->open && !p->broken) {
		if (ret_put(&p->ret_out, blk) < 0)
			mark_broken(p, EPROTO);
		else
			pipe_notify(p);
	}
	pipe_unref(p);
}

/* ---- pop ---- */

static void deliver(struct pipe *p, struct op *op, struct buf *b, void *data, uint32_t len)
{
	buf_give_app(&p->rt->pool, b, data, len, &op->result.qr_value.sga);
	op_complete(&p->rt->ops, op);
}

/* End of stream: a zero-length sga, which the application frees like any other. */
static void deliver_eof(struct pipe *p, struct op *op)
{
	struct buf *b = buf_alloc(&p->rt->pool, 1);
	if (!b) {
		op_fail(&p->rt->ops, op, ENOMEM);
		return;
	}
	deliver(p, op, b, buf_data(b), 0);
}

/* Gives the application the message m: copied out of the ring, or the peer's block itself. */
static void take(struct pipe *p, struct op *op, const struct ring_msg *m)
{
	struct buf_pool *pool = &p->rt->pool;
	struct buf *b;
	void *data;
	if (m->type == PIPE_REC_INLINE) {
		b = buf_alloc(pool, m->len);
		if (!b) {
			op_fail(&p->rt->ops, op, ENOMEM); /* the message stays for the next pop */
			return;
		}
		data = buf_data(b);
		memcpy(data, m->data, m->len);
	} else {
		if (p->rx_held[m->block]) {
			mark_broken(p, EPROTO); /* the peer reused a block we have not returned */
			op_fail(&p->rt->ops, op, EPROTO);
			return;
		}
		data = p->rx_pool + (size_t)m->block * PIPE_BLOCK_BYTES + m->off;
		b = buf_wrap(pool, &p->rx_owner, data, m->len);
		if (!b) {
			op_fail(&p->rt->ops, op, ENOMEM);
			return;
		}
		p->rx_held[m->block] = true;
		p->refs++; /* the mapping stays while the application holds the block */
	}
	ring_consume(&p->rx, m);
	p->dirty = true;
	deliver(p, op, b, data, m->len);
}

/* Completes op with the next message, end of stream or an error; -EAGAIN when it must wait. */
static int try_pop(struct pipe *p, struct op *op)
{
	struct ring_msg m;
	int err = p->broken ? -EPROTO : ring_get(&p->rx, &m);
	if (err == -EAGAIN) {
		pipe_peer_check(p);
		if (p->peer == PEER_CLOSED || p->peer == PEER_DEAD) {
			/* Its last records were published before its CLOSED word: look once more after the acquire. */
			err = ring_get(&p->rx, &m);
			if (err == -EAGAIN) {
				if (p->peer == PEER_CLOSED)
					deliver_eof(p, op);
				else
					op_fail(&p->rt->ops, op, ECONNRESET);
				return 0;
			}
		}
		if (p->broken)
			err = -EPROTO;
		if (err == -EAGAIN)
			return -EAGAIN;
	}
	if (err) {
		mark_broken(p, -err);
		op_fail(&p->rt->ops, op, p->broken);
		return 0;
	}
	take(p, op, &m);
	return 0;
}

/* ---- push ---- */

/* Copies one chunk (at most a block) into the ring or into a block of our pool. 0, -EAGAIN, -EPROTO. */
static int put_chunk(struct pipe *p, const uint8_t *src, uint32_t len)
{
	if (len <= PIPE_INLINE_MAX)
		return ring_put_inline(&p->tx, src, len);
	/* Room for the record first, so that a block is never filled for nothing. */
	int err = ring_tx_room(&p->tx, 0);
	uint32_t blk;
	if (!err)
		err = pool_take(p, &blk);
	if (err)
		return err;
	memcpy(p->tx_pool + (size_t)blk * PIPE_BLOCK_BYTES, src, len);
	p->tx_state[blk] = POOL_FLIGHT;
	return ring_put_block(&p->tx, blk, 0, len);
}

/* Zero copy: an sga of demi_pipe_sgaalloc on its own pipe crosses as a block number. -EALREADY: already pushed. */
static int put_own_block(struct pipe *p, const demi_sgaseg_t *seg)
{
	uintptr_t at = (uintptr_t)seg->sgaseg_buf - (uintptr_t)p->tx_pool;
	uint32_t blk = (uint32_t)(at / PIPE_BLOCK_BYTES), off = (uint32_t)(at % PIPE_BLOCK_BYTES);
	if (p->tx_state[blk] & POOL_FLIGHT)
		return -EALREADY;
	int err = ring_put_block(&p->tx, blk, off, seg->sgaseg_len);
	if (!err)
		p->tx_state[blk] |= POOL_FLIGHT;
	return err;
}

/* Why a push cannot go out now (after a look at the peer): 0, or the errno it fails with. */
static int push_error(struct pipe *p)
{
	pipe_peer_check(p);
	return p->broken ? p->broken : p->peer == PEER_CLOSED ? EPIPE : p->peer == PEER_DEAD ? ECONNRESET : 0;
}

/* Pushes what is left of op; completes it, or -EAGAIN while the ring or the pool is full. */
static int try_push(struct pipe *p, struct op *op)
{
	int fail = push_error(p);
	if (fail) {
		op_fail(&p->rt->ops, op, fail);
		return 0;
	}
	const demi_sgaseg_t *seg = &op->sga.sga_segs[0];
	const uint8_t *src = seg->sgaseg_buf;
	int err = 0;
	if (op->progress == 0 && op->buf->owner == &p->tx_owner) {
		err = put_own_block(p, seg);
		if (!err)
			op->progress = seg->sgaseg_len;
		else if (err == -EALREADY)
			err = 0; /* pushed before: it goes as a copy */
	}
	while (!err && op->progress < seg->sgaseg_len) {
		uint32_t chunk = seg->sgaseg_len - op->progress;
		if (chunk > PIPE_BLOCK_BYTES)
			chunk = PIPE_BLOCK_BYTES;
		err = put_chunk(p, src + op->progress, chunk);
		if (!err) {
			op->progress += chunk;
			p->dirty = true;
		}
	}
	if (err == -EAGAIN)
		return -EAGAIN;
	if (err) {
		mark_broken(p, -err);
		op_fail(&p->rt->ops, op, p->broken);
		return 0;
	}
	p->dirty = true;
	sga_copy(&op->result.qr_value.sga, &op->sga);
	op_complete(&p->rt->ops, op);
	return 0;
}

/* ---- queue operations ---- */

static void notify_if_dirty(struct pipe *p)
{
	if (p->dirty) {
		p->dirty = false;
		pipe_notify(p);
	}
}

/* Progress on the waiting operations of p; true when some completed. */
static bool pipe_poll(struct pipe *p)
{
	bool done = false;
	/* op_complete and op_fail unlink the op from these lists (its wnode). */
	while (!list_empty(&p->pops) && try_pop(p, container_of(p->pops.next, struct op, wnode)) == 0)
		done = true;
	while (!list_empty(&p->pushes) && try_push(p, container_of(p->pushes.next, struct op, wnode)) == 0)
		done = true;
	notify_if_dirty(p);
	if (list_empty(&p->pops) && list_empty(&p->pushes))
		pipe_hub_deactivate(p->hub, &p->hm);
	return done;
}

/* ---- what the hub calls (struct pipe_hub_ops) ---- */

static inline struct pipe *pipe_of_member(struct pipe_hub_member *m) { return container_of(m, struct pipe, hm); }

static bool hub_poll(struct pipe_hub_member *m)
{
	return pipe_poll(pipe_of_member(m));
}

/* The peer's pidfd turned readable: it exited, unless it closed its end first. */
static void hub_peer_exited(struct pipe_hub_member *m)
{
	struct pipe *p = pipe_of_member(m);
	pipe_peer_refresh(p);
	if (p->peer == PEER_OPEN)
		p->peer = PEER_DEAD;
}

/* A corrupt header breaks the pipe; an open peer's pidfd goes to the hub, or kill(pid, 0) answers at once. */
static int hub_check(struct pipe_hub_member *m)
{
	struct pipe *p = pipe_of_member(m);
	if (!p->broken && pipe_region_check(p) < 0)
		p->broken = EPROTO;
	pipe_peer_refresh(p);
	if (p->peer != PEER_OPEN)
		return -1;
	if (p->peer_pidfd < 0) {
		if (!os_pid_alive(p->peer_pid))
			hub_peer_exited(m);
		return -1;
	}
	return p->peer_pidfd;
}

static bool hub_doomed(struct pipe_hub_member *m)
{
	struct pipe *p = pipe_of_member(m);
	return p->broken || p->peer >= PEER_CLOSED;
}

static const struct pipe_hub_ops pipe_hub_member_ops = {
	.poll = hub_poll,
	.check = hub_check,
	.peer_exited = hub_peer_exited,
	.doomed = hub_doomed,
};

/* queue_ops.push_now: a message that goes inline into the ring at once, when nothing stands in its way. */
static int pipe_push_now(struct queue *q, const demi_sgarray_t *sga, struct buf *b)
{
	struct pipe *p = pipe_of(q);
	uint32_t len = sga->sga_segs[0].sgaseg_len;
	if (len > PIPE_INLINE_MAX || !list_empty(&p->pushes) || b->owner == &p->tx_owner)
		return -EAGAIN;
	if (push_error(p))
		return -EAGAIN; /* pipe_push fails it */
	if (ring_put_inline(&p->tx, sga->sga_segs[0].sgaseg_buf, len) != 0)
		return -EAGAIN; /* no room yet, or a corrupt head that pipe_push reports */
	p->dirty = true;
	notify_if_dirty(p);
	return 0;
}

/* Tries at once when no older operation of the same kind waits, so that they complete in order. */
static int pipe_push(struct queue *q, struct op *op)
{
	struct pipe *p = pipe_of(q);
	if (list_empty(&p->pushes) && try_push(p, op) == 0) {
		notify_if_dirty(p);
		return 0;
	}
	notify_if_dirty(p); /* part of it may be out */
	list_push_back(&p->pushes, &op->wnode);
	pipe_hub_activate(p->hub, &p->hm);
	return 0;
}

static int pipe_pop(struct queue *q, struct op *op)
{
	struct pipe *p = pipe_of(q);
	if (list_empty(&p->pops) && try_pop(p, op) == 0) {
		notify_if_dirty(p);
		return 0;
	}
	list_push_back(&p->pops, &op->wnode);
	pipe_hub_activate(p->hub, &p->hm);
	return 0;
}

static int pipe_close(struct queue *q)
{
	struct pipe *p = pipe_of(q);
	/* rt_close_queue has already failed our waiting operations with ECANCELED. */
	pipe_hub_deactivate(p->hub, &p->hm);
	pipe_region_close(p);
	p->open = false;
	pipe_notify(p); /* a sleeping peer learns of the end of the stream now */
	if (p->peer_pidfd >= 0)
		os_pid_watch_close(p->peer_pidfd);
	p->peer_pidfd = -1;
	struct pipe_hub *h = p->hub;
	p->hub = NULL;
	pipe_unref(p); /* the region stays mapped while the application holds popped blocks */
	pipe_hub_put(h);
	return 0;
}

const struct queue_ops pipe_queue_ops = {
	.kind = "catmem-pipe",
	.push = pipe_push,
	.push_now = pipe_push_now,
	.pop = pipe_pop,
	.close = pipe_close,
};

/* ---- creation ---- */

/* Points the private cursors at the region: we produce ring and pool `end`, consume the other. */
static void wire(struct pipe *p)
{
	struct pipe_shared *sh = p->sh;
	uint8_t *base = (uint8_t *)sh;
	int d = p->end;
	ring_tx_init(&p->tx, base + PIPE_RING_OFF(d), &sh->ring_head[d].v, p->imm.key[d]);
	ring_rx_init(&p->rx, base + PIPE_RING_OFF(1 - d), &sh->ring_head[1 - d].v, p->imm.key[1 - d]);
	ret_rx_init(&p->ret_in, sh->ret_slot[d], &sh->ret_tail[d].v, &sh->ret_head[d].v);
	ret_tx_init(&p->ret_out, sh->ret_slot[1 - d], &sh->ret_tail[1 - d].v, &sh->ret_head[1 - d].v);
	p->hm.own = &sh->end[d];
	p->tx_pool = base + PIPE_POOL_OFF(d);
	p->rx_pool = base + PIPE_POOL_OFF(1 - d);
	for (uint32_t i = 0; i < PIPE_NBLOCKS; i++)
		free_put(p, i);
}

int pipe_new(struct rt *rt, const char *name, bool create, int *qd_out)
{
	int err = pipe_name_check(name);
	if (err)
		return err;
	struct pipe_hub *h;
	err = pipe_hub_get(rt, false, &h);
	if (err)
		return err;
	struct pipe *p = calloc(1, sizeof(*p));
	if (!p) {
		pipe_hub_put(h);
		return -ENOMEM;
	}
	p->rt = rt;
	p->hub = h;
	p->own_flags = (h->can_sleep ? PIPE_END_MAY_SLEEP : 0) | (h->asym ? PIPE_END_ASYM : 0);
	p->memfd = -1;
	p->peer_pidfd = -1;
	p->refs = 1;
	p->tx_owner.release = tx_release;
	p->rx_owner.release = rx_release;
	list_init(&p->pops);
	list_init(&p->pushes);
	p->hm.ops = &pipe_hub_member_ops;
	list_node_init(&p->hm.node);
	err = create ? pipe_region_create(p, name) : pipe_region_open(p, name);
	if (err) {
		free(p);
		pipe_hub_put(h);
		return err;
	}
	wire(p);
	if (!create) {
		/* The creator must be alive: a name whose creator died reads as missing. */
		pipe_peer_refresh(p);
		if (p->broken || p->peer != PEER_OPEN)
			err = p->broken ? -EPROTO : -ENOENT;
	}
	if (!err)
		err = qd_install(&rt->qds, &p->q, &pipe_queue_ops);
	if (err) {
		pipe_region_close(p);
		if (p->peer_pidfd >= 0)
			os_pid_watch_close(p->peer_pidfd);
		pipe_unref(p);
		pipe_hub_put(h);
		return err;
	}
	p->open = true;
	*qd_out = p->q.qd;
	return 0;
}

int pipe_sgaalloc(struct rt *rt, int qd, size_t size, demi_sgarray_t *out)
{
	struct queue *q = qd_get(&rt->qds, qd);
	if (!q)
		return -EBADF;
	if (q->ops != &pipe_queue_ops)
		return -ENOTSUP;
	if (size == 0 || size > PIPE_BLOCK_BYTES)
		return -EINVAL;
	struct pipe *p = pipe_of(q);
	if (p->broken)
		return -p->broken;
	uint32_t blk;
	int err = pool_take(p, &blk);
	if (err == -EPROTO)
		mark_broken(p, EPROTO);
	if (err)
		return err;
	uint8_t *data = p->tx_pool + (size_t)blk * PIPE_BLOCK_BYTES;
	struct buf *b = buf_wrap(&rt->pool, &p->tx_owner, data, (uint32_t)size);
	if (!b) {
		free_put(p, blk);
		return -ENOMEM;
	}
	p->tx_state[blk] = POOL_APP;
	p->refs++;
	buf_give_app(&rt->pool, b, data, (uint32_t)size, out);
	return 0;
}
