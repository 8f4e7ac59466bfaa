/* Message and return rings of a pipe: record layout, stamps, padding, and the memory order between two processes. */
#include "pipe_ring.h"

#include <errno.h>
#include <string.h>

#define RING_MASK ((uint64_t)PIPE_RING_BYTES - 1)

/* Bytes a record with `payload` inline bytes takes: whole lines, so records never share one. */
static inline uint64_t span_of(uint32_t payload)
{
	return ((uint64_t)PIPE_REC_HDR + payload + PIPE_LINE - 1) & ~(uint64_t)(PIPE_LINE - 1);
}

static inline struct pipe_rec *rec_at(const uint8_t *ring, uint64_t pos)
{
	return (struct pipe_rec *)(uintptr_t)(ring + (pos & RING_MASK));
}

/*
 * A field of a record the peer wrote, loaded exactly once: a misbehaving peer
 * could change it between two plain loads, after it was checked.
 */
#define LOAD_ONCE(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

void ring_tx_init(struct ring_tx *t, uint8_t *ring, _Atomic uint64_t *head, uint64_t key)
{
	*t = (struct ring_tx){ .ring = ring, .head = head, .key = key };
}

void ring_rx_init(struct ring_rx *r, const uint8_t *ring, _Atomic uint64_t *head, uint64_t key)
{
	*r = (struct ring_rx){ .ring = ring, .head = head, .key = key };
}

/* Padding needed before a record of `span` bytes at the tail: records never wrap. */
static inline uint64_t pad_for(const struct ring_tx *t, uint64_t span)
{
	uint64_t off = t->tail & RING_MASK;
	return off + span > PIPE_RING_BYTES ? PIPE_RING_BYTES - off : 0;
}

static int room(struct ring_tx *t, uint64_t need)
{
	if (t->tail + need - t->head_seen <= PIPE_RING_BYTES)
		return 0;
	/*
	 * Acquire pairs with the consumer's release of head: its reads of the
	 * bytes it gave back are finished before we overwrite them.
	 */
	uint64_t h = atomic_load_explicit(t->head, memory_order_acquire);
	if (h < t->head_seen || h > t->tail)
		return -EPROTO; /* the consumer cannot release what was not written, nor take it back */
	t->head_seen = h;
	return t->tail + need - h <= PIPE_RING_BYTES ? 0 : -EAGAIN;
}

int ring_tx_room(struct ring_tx *t, uint32_t payload)
{
	uint64_t span = span_of(payload);
	return room(t, pad_for(t, span) + span);
}

/* Publishes the record at the tail. */
static inline void commit(struct ring_tx *t, struct pipe_rec *rec, uint64_t span)
{
	/*
	 * Release: the payload, len and info stores above must be visible before
	 * the stamp, which is what the consumer's acquire load waits for.
	 */
	atomic_store_explicit(&rec->stamp, t->tail ^ t->key, memory_order_release);
	t->tail += span;
}

/* Makes room for a record of `span` bytes and pads to the ring's start when it would not fit before the end. */
static int reserve(struct ring_tx *t, uint64_t span, struct pipe_rec **out)
{
	uint64_t pad = pad_for(t, span);
	int err = room(t, pad + span);
	if (err)
		return err;
	if (pad) {
		struct pipe_rec *p = rec_at(t->ring, t->tail);
		p->len = 0;
		p->info = PIPE_REC_PAD;
		commit(t, p, pad);
	}
	*out = rec_at(t->ring, t->tail);
	return 0;
}

int ring_put_inline(struct ring_tx *t, const void *src, uint32_t len)
{
	uint64_t span = span_of(len);
	struct pipe_rec *rec;
	int err = reserve(t, span, &rec);
	if (err)
		return err;
	memcpy(rec + 1, src, len);
	rec->len = len;
	rec->info = PIPE_REC_INLINE;
	commit(t, rec, span);
	return 0;
}

int ring_put_block(struct ring_tx *t, uint32_t block, uint32_t off, uint32_t len)
{
	uint64_t span = span_of(0);
	struct pipe_rec *rec;
	int err = reserve(t, span, &rec);
	if (err)
		return err;
	rec->len = len;
	rec->info = pipe_rec_info(PIPE_REC_BLOCK, block, off);
	commit(t, rec, span);
	return 0;
}

/* Hands consumed bytes back to the producer. */
static inline void release_to(struct ring_rx *r)
{
	/*
	 * Release: our reads of the records before rd (the inline payload copied
	 * out) happen before the producer can see that it may overwrite them.
	 */
	atomic_store_explicit(r->head, r->rd, memory_order_release);
}

int ring_get(struct ring_rx *r, struct ring_msg *m)
{
	for (;;) {
		const struct pipe_rec *rec = rec_at(r->ring, r->rd);
		/* Acquire pairs with the producer's release of the stamp: the record it published is visible. */
		uint64_t stamp = atomic_load_explicit(&rec->stamp, memory_order_acquire);
		/*
		 * The line after the stamp's, loaded alongside and unused: a record
		 * of more than 48 payload bytes goes on there, and its miss then
		 * overlaps the stamp line's instead of following the branch.
		 */
		(void)*(const volatile uint64_t *)rec_at(r->ring, r->rd + PIPE_LINE);
		if (stamp != (r->rd ^ r->key))
			return -EAGAIN;
		uint32_t len = LOAD_ONCE(rec->len), info = LOAD_ONCE(rec->info);
		uint64_t off = r->rd & RING_MASK;
		switch (info & 0xf) {
		case PIPE_REC_PAD:
			if (len != 0 || info != PIPE_REC_PAD)
				return -EPROTO;
			r->rd += PIPE_RING_BYTES - off;
			release_to(r);
			continue;
		case PIPE_REC_INLINE: {
			uint64_t span = span_of(len);
			if (len == 0 || len > PIPE_INLINE_MAX || info != PIPE_REC_INLINE || off + span > PIPE_RING_BYTES)
				return -EPROTO;
			*m = (struct ring_msg){ .type = PIPE_REC_INLINE, .len = len, .data = (const uint8_t *)(rec + 1),
						.span = span };
			return 0;
		}
		case PIPE_REC_BLOCK: {
			uint32_t block = (info >> 4) & 0xfff, boff = info >> 16;
			if (len == 0 || block >= PIPE_NBLOCKS || (uint64_t)boff + len > PIPE_BLOCK_BYTES)
				return -EPROTO;
			*m = (struct ring_msg){ .type = PIPE_REC_BLOCK, .len = len, .block = block, .off = boff,
						.span = span_of(0) };
			return 0;
		}
		default:
			return -EPROTO;
		}
	}
}

void ring_consume(struct ring_rx *r, const struct ring_msg *m)
{
	r->rd += m->span;
	release_to(r);
}

bool ring_ready(const struct ring_rx *r)
{
	const struct pipe_rec *rec = rec_at(r->ring, r->rd);
	return atomic_load_explicit(&rec->stamp, memory_order_acquire) == (r->rd ^ r->key);
}

void ret_tx_init(struct ret_tx *t, _Atomic uint32_t *slot, _Atomic uint64_t *tail, _Atomic uint64_t *head)
{
	*t = (struct ret_tx){ .slot = slot, .tail = tail, .head = head };
}

void ret_rx_init(struct ret_rx *r, _Atomic uint32_t *slot, _Atomic uint64_t *tail, _Atomic uint64_t *head)
{
	*r = (struct ret_rx){ .slot = slot, .tail = tail, .head = head };
}

int ret_put(struct ret_tx *t, uint32_t block)
{
	/*
	 * Acquire pairs with the sender's release of ret_head: it has read the
	 * slot we are about to reuse. At most PIPE_NBLOCKS blocks are ever out,
	 * so a full ring means a corrupt index or a block returned twice.
	 */
	uint64_t h = atomic_load_explicit(t->head, memory_order_acquire);
	if (h > t->tail_priv || t->tail_priv - h >= PIPE_NBLOCKS)
		return -EPROTO;
	atomic_store_explicit(&t->slot[t->tail_priv % PIPE_NBLOCKS], block, memory_order_relaxed);
	/* Release: the slot is written before the sender can see the new tail. */
	atomic_store_explicit(t->tail, ++t->tail_priv, memory_order_release);
	return 0;
}

int ret_get(struct ret_rx *r, uint32_t *block)
{
	/* Acquire pairs with the receiver's release of ret_tail: the slots before it are written. */
	uint64_t tail = atomic_load_explicit(r->tail, memory_order_acquire);
	if (tail == r->head_priv)
		return -EAGAIN;
	if (tail < r->head_priv || tail - r->head_priv > PIPE_NBLOCKS)
		return -EPROTO;
	*block = atomic_load_explicit(&r->slot[r->head_priv % PIPE_NBLOCKS], memory_order_relaxed);
	/* Release: we read the slot before the receiver may write it again. */
	atomic_store_explicit(r->head, ++r->head_priv, memory_order_release);
	return 0;
}
