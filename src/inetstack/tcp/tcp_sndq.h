/*
 * The send queue: the pushed buffers from SND.UNA on, by reference (zero
 * copy; SYN and FIN are not in it), and the record of when each sent range
 * last left and whether it was sent more than once (what RACK, RFC 8985,
 * reads: tcp_rec_rack.c). Only tcp_sndq.c and the inline functions below
 * touch the fields.
 *
 * The rings live apart from the tcb (tcp_sndq_alloc), only for connections
 * that carry data; a listener or a socket never connected has none (ring
 * NULL, every count 0). They start at TCP_SNDQ_MIN / TCP_SENT_MIN entries
 * and double when full, up to TCP_SNDQ_LEN / TCP_SENT_LEN (amortised: a
 * growth copies the ring once per doubling, never per segment); at the
 * maximum, or when memory is short, a full ring refuses as before.
 */
#ifndef DEMI_INETSTACK_TCP_SNDQ_H
#define DEMI_INETSTACK_TCP_SNDQ_H

#include <stdbool.h>
#include <stdint.h>

#include "../inet_tx.h"
#include "tcp_seq.h"

#define TCP_SNDQ_LEN 512 /* at most, pushed buffers queued per connection (power of two) */
#define TCP_SENT_LEN 512 /* at most, sent ranges remembered per connection (power of two) */
#define TCP_SNDQ_MIN 8   /* the rings' first size (power of two): an idle connection's */
#define TCP_SENT_MIN 8

/* A pushed buffer in the send queue: bytes [data, data + len) of buf, one reference. */
struct tcp_sndseg {
	struct buf *buf;
	uint8_t *data;
	uint32_t len;
};

enum {
	TCP_SENT_RXT = 1u << 0,  /* sent more than once */
	TCP_SENT_LOST = 1u << 1, /* marked lost by RACK, not sent again since (its SACKed parts are not lost) */
};

/*
 * A range of sent data: it starts where the entry before it ends (the first
 * at SND.UNA) and ends at end. Ranges sent in the same instant, never
 * retransmitted, share an entry; a retransmission splits them.
 */
struct tcp_sent {
	tcp_seq end;
	uint32_t flags;   /* TCP_SENT_* */
	uint64_t xmit_ns; /* inet_now() of its last transmission */
};

struct tcp_sndq {
	uint32_t head, tail;      /* ring indices, free running */
	uint32_t bytes;           /* bytes queued from SND.UNA on */
	uint32_t uncommitted;     /* bytes of queued pushes not yet completed */
	/* Where the last payload walk ended: ring index cur_idx starts cur_off bytes past SND.UNA (head <= cur_idx <= tail). */
	uint32_t cur_idx, cur_off;
	struct tcp_sndseg *ring;  /* cap entries (a power of two), NULL when the tcb carries no data */
	uint32_t cap;
	uint32_t sent_head, sent_tail;
	struct tcp_sent *sent;    /* sent_cap entries (a power of two) */
	uint32_t sent_cap;
};

/* Gives q its rings (empty, at their first size). 0 or -ENOMEM. */
int tcp_sndq_alloc(struct tcp_sndq *q);
/* Drops every queued buffer and frees the rings (none: nothing to do). */
void tcp_sndq_free(struct tcp_sndq *q, struct buf_pool *pool);
/* Bytes of memory the rings take now (0 without rings). */
static inline uint32_t tcp_sndq_mem(const struct tcp_sndq *q)
{
	return q->cap * (uint32_t)sizeof(struct tcp_sndseg) + q->sent_cap * (uint32_t)sizeof(struct tcp_sent);
}
/* Doubles the ring of pushed buffers (up to TCP_SNDQ_LEN). 0, or -ENOMEM (at the maximum too). */
int tcp_sndq_grow(struct tcp_sndq *q);

static inline uint32_t tcp_sndq_bytes(const struct tcp_sndq *q) { return q->bytes; }
/* True when no further push fits: the ring is full and cannot grow (it grows here when it can). */
static inline bool tcp_sndq_full(struct tcp_sndq *q) { return q->tail - q->head == q->cap && tcp_sndq_grow(q) < 0; }

/* Appends bytes [data, data + len) of buf, taking a reference of the queue's own; the caller checked room. */
static inline void tcp_sndq_append(struct tcp_sndq *q, struct buf *buf, uint8_t *data, uint32_t len)
{
	struct tcp_sndseg *s = &q->ring[q->tail++ & (q->cap - 1)];
	s->buf = buf;
	buf_ref(buf);
	s->data = data;
	s->len = len;
	q->bytes += len;
	q->uncommitted += len;
}

/* A queued push completed: its len bytes are the application's no more. */
static inline void tcp_sndq_commit(struct tcp_sndq *q, uint32_t len) { q->uncommitted -= len; }

/*
 * Drops acked bytes from the head (SND.UNA advanced past them, to una) and
 * the sent ranges below una.
 */
static inline void tcp_sndq_drop(struct tcp_sndq *q, struct buf_pool *pool, uint32_t acked, tcp_seq una)
{
	q->bytes -= acked;
	/* The cursor's buffer starts acked bytes earlier, unless it was dropped or is the (trimmed) head now. */
	q->cur_off -= acked;
	while (acked) {
		struct tcp_sndseg *s = &q->ring[q->head & (q->cap - 1)];
		if (acked < s->len) {
			s->data += acked;
			s->len -= acked;
			break;
		}
		acked -= s->len;
		buf_unref(pool, s->buf);
		q->head++;
	}
	if ((int32_t)(q->cur_idx - q->head) <= 0) {
		q->cur_idx = q->head;
		q->cur_off = 0;
	}
	while (q->sent_head != q->sent_tail && SEQ_LEQ(q->sent[q->sent_head & (q->sent_cap - 1)].end, una))
		q->sent_head++;
}

/*
 * Forgets the bytes of pushes that never completed and never left: at most
 * unsent bytes (those past SND.MAX) from the tail. Every remaining byte is
 * committed afterwards.
 */
void tcp_sndq_uncommit(struct tcp_sndq *q, struct buf_pool *pool, uint32_t unsent);

/*
 * The payload of a segment: len bytes from offset off (bytes past SND.UNA).
 * In place when they are the head of a pushed buffer nobody else is sending
 * from (headers go in its headroom; a reference for p); else copied into a
 * new frame. 0 or -ENOMEM.
 */
int tcp_sndq_payload_slow(struct tcp_sndq *q, struct inet *in, uint32_t off, uint32_t len, struct pkt *p);

/* True when len bytes at the start of s can go in place: its buffer's head, held by the application and the queue only. */
static inline bool tcp_sndq_in_place(const struct tcp_sndseg *s, uint32_t len)
{
	const struct buf *b = s->buf;
	return len <= s->len && !b->owner && s->data == buf_data(b) && b->refcnt == b->app_refs + 1;
}

static inline int tcp_sndq_payload(struct tcp_sndq *q, struct inet *in, uint32_t off, uint32_t len, struct pkt *p)
{
	/* The common case inline: the head of the oldest queued buffer. */
	struct tcp_sndseg *s = &q->ring[q->head & (q->cap - 1)];
	if (off == 0 && tcp_sndq_in_place(s, len)) {
		buf_ref(s->buf);
		*p = (struct pkt){ .buf = s->buf, .data = s->data, .len = len };
		in->st.tcp.tx_in_place++;
		return 0;
	}
	return tcp_sndq_payload_slow(q, in, off, len, p);
}

/*
 * The sent ranges, for loss detection (RACK): how many, the k-th from
 * SND.UNA (k < count) and where it starts. The record grows (moves), so a
 * pointer from tcp_sndq_sent_at is good only until the next send or
 * tcp_sndq_mark_lost: walk by k, never keep the pointer across them.
 */
static inline uint32_t tcp_sndq_nsent(const struct tcp_sndq *q) { return q->sent_tail - q->sent_head; }
static inline struct tcp_sent *tcp_sndq_sent_at(const struct tcp_sndq *q, uint32_t k)
{
	return &q->sent[(q->sent_head + k) & (q->sent_cap - 1)];
}
static inline tcp_seq tcp_sndq_sent_start(const struct tcp_sndq *q, uint32_t k, tcp_seq una)
{
	return k == 0 ? una : tcp_sndq_sent_at(q, k - 1)->end;
}
/*
 * Marks [s, e) lost, splitting the ranges at both ends (the record grows for
 * that, up to TCP_SENT_LEN; a record that cannot keeps them whole).
 */
void tcp_sndq_mark_lost(struct tcp_sndq *q, tcp_seq una, tcp_seq s, tcp_seq e);

/* Records out of line what tcp_sndq_sent does not inline (a retransmission, a gap, a full record). */
void tcp_sndq_sent_slow(struct tcp_sndq *q, tcp_seq una, tcp_seq seq, uint32_t len, uint64_t now);

/*
 * Records that [seq, seq + len) of data (una = SND.UNA) left at now: new
 * data extends the record, data sent before is marked retransmitted.
 */
static inline void tcp_sndq_sent(struct tcp_sndq *q, tcp_seq una, tcp_seq seq, uint32_t len, uint64_t now)
{
	uint32_t n = q->sent_tail - q->sent_head;
	if (n) {
		struct tcp_sent *last = &q->sent[(q->sent_tail - 1) & (q->sent_cap - 1)];
		if (last->end != seq)
			goto slow;
		/* New data in the same instant as the last range, never retransmitted: one range. */
		if (last->xmit_ns == now && !last->flags) {
			last->end = seq + len;
			return;
		}
	} else if (seq != una) {
		goto slow;
	}
	if (n == q->sent_cap)
		goto slow; /* full: grown there, or merged */
	/* New data right after what was sent: a range of its own. */
	struct tcp_sent *e = &q->sent[q->sent_tail++ & (q->sent_cap - 1)];
	e->end = seq + len;
	e->flags = 0;
	e->xmit_ns = now;
	return;
slow:
	tcp_sndq_sent_slow(q, una, seq, len, now);
}

#endif
