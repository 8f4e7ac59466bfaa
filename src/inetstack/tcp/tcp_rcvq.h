/*
 * The receive queue: in-order data not yet popped (zero copy: the received
 * buffers, small segments coalesced), and the out-of-order queue above
 * RCV.NXT (tcp_ooo.c). Only tcp_rcvq.c and the inline functions below touch
 * the fields.
 *
 * The rings live apart from the tcb (tcp_rcvq_alloc), only for connections
 * that carry data; a listener, a socket never connected and a child in
 * SYN-RECEIVED have none (ring and ooo NULL, bytes 0: the window offered is
 * the empty buffer's, no data is taken before ESTABLISHED). The in-order
 * ring starts at TCP_RCVQ_MIN slots and doubles when full, up to
 * TCP_RCVQ_LEN; the out-of-order array is allocated at the first hole and
 * doubles up to TCP_OOO_MAX (tcp_ooo.c). Both grow only as the data held
 * does, which the window (SO_RCVBUF) bounds, once per doubling.
 */
#ifndef DEMI_INETSTACK_TCP_RCVQ_H
#define DEMI_INETSTACK_TCP_RCVQ_H

#include <stdbool.h>
#include <stdint.h>

#include "../inet_tx.h"
#include "tcp_sack.h"
#include "tcp_seq.h"

#define TCP_RCVQ_LEN 1024    /* at most, in-order segments waiting for pops (power of two): 1 MiB of full segments */
#define TCP_RCVQ_MIN 8       /* the ring's first size (power of two): an idle connection's */
#define TCP_COALESCE_MAX 512 /* in-order segments up to this size are copied onto the previous one */

struct tcp_rcvq {
	uint32_t head, tail;  /* ring indices, free running */
	uint32_t bytes;       /* bytes in the ring */
	struct pkt *ring;     /* cap entries (a power of two), NULL when the tcb carries no data */
	uint32_t cap;
	struct tcp_ooo *ooo;  /* segments above RCV.NXT: &ooo_q while the tcb carries data, else NULL */
	struct tcp_ooo ooo_q;
};

/* Gives q its rings (empty, at their first size). 0 or -ENOMEM. */
int tcp_rcvq_alloc(struct tcp_rcvq *q);
/* Drops every held buffer and frees the rings (none: nothing to do). */
void tcp_rcvq_free(struct tcp_rcvq *q, struct buf_pool *pool);
/* Bytes of memory the rings take now (0 without rings). */
static inline uint32_t tcp_rcvq_mem(const struct tcp_rcvq *q)
{
	return q->cap * (uint32_t)sizeof(struct pkt) + q->ooo_q.cap * (uint32_t)sizeof(struct tcp_ooo_seg);
}

/* Bytes held in order (what pops will return). */
static inline uint32_t tcp_rcvq_bytes(const struct tcp_rcvq *q) { return q->bytes; }
/* True when segments wait above a hole. */
static inline bool tcp_rcvq_has_ooo(const struct tcp_rcvq *q) { return q->ooo && q->ooo->n != 0; }
/* True when anything received is still held, in order or not (RFC 2525 section 2.17: close resets). */
static inline bool tcp_rcvq_holds(const struct tcp_rcvq *q) { return q->bytes || (q->ooo && q->ooo->n); }

/*
 * The room to offer (before scaling): the free part of a buffer of rcvbuf
 * bytes, no more than the ring's free slots take in full segments of mss
 * (never offer what would be dropped).
 */
static inline uint32_t tcp_rcvq_space(const struct tcp_rcvq *q, uint32_t rcvbuf, uint32_t mss)
{
	/* Without rings yet (SYN-RECEIVED): nothing held. */
	uint32_t used = q->ooo ? q->bytes + q->ooo->bytes : 0;
	uint32_t win = used < rcvbuf ? rcvbuf - used : 0;
	uint32_t taken = q->ooo ? q->tail - q->head + q->ooo->n : 0;
	uint32_t slots = taken < TCP_RCVQ_LEN ? TCP_RCVQ_LEN - taken : 0; /* the ring grows to TCP_RCVQ_LEN */
	if ((uint64_t)slots * mss < win)
		win = slots * mss;
	return win;
}

/*
 * Takes the oldest in-order segment into *p (the reference passes to the
 * caller); false when there is none. Its slot is free at once, its bytes
 * stay counted until tcp_rcvq_popped (the window before a pop is measured
 * in between).
 */
static inline bool tcp_rcvq_pop(struct tcp_rcvq *q, struct pkt *p)
{
	if (q->head == q->tail)
		return false;
	*p = q->ring[q->head++ & (q->cap - 1)];
	return true;
}

static inline void tcp_rcvq_popped(struct tcp_rcvq *q, const struct pkt *p) { q->bytes -= p->len; }

enum tcp_rcvq_took {
	TCP_RCVQ_NOROOM = -1, /* nothing taken (p untouched): the ring is full */
	TCP_RCVQ_APPENDED = 0,
	TCP_RCVQ_FILLED = 1,  /* appended, and it filled a hole: held segments followed */
};

/*
 * In-order data at *rcv_nxt (p: its payload): appended (consuming p), then
 * what the out-of-order queue holds from there on. Advances *rcv_nxt past
 * all of it.
 */
enum tcp_rcvq_took tcp_rcvq_in_order_slow(struct tcp_rcvq *q, struct inet *in, struct pkt *p, tcp_seq *rcv_nxt);

static inline enum tcp_rcvq_took tcp_rcvq_in_order(struct tcp_rcvq *q, struct inet *in, struct pkt *p, tcp_seq *rcv_nxt)
{
	/* The common case inline: an empty queue (nothing to coalesce with) and no hole. */
	if (q->head == q->tail && !q->ooo->n) {
		q->ring[q->tail++ & (q->cap - 1)] = *p;
		q->bytes += p->len;
		*rcv_nxt += p->len;
		return TCP_RCVQ_APPENDED;
	}
	return tcp_rcvq_in_order_slow(q, in, p, rcv_nxt);
}

/* Data above RCV.NXT (seq, trimmed to the window): kept in the out-of-order queue; consumes p. False: nothing new kept. */
static inline bool tcp_rcvq_ooo_insert(struct tcp_rcvq *q, struct buf_pool *pool, tcp_seq seq, struct pkt *p)
{
	return tcp_ooo_insert(q->ooo, pool, seq, p) != 0;
}

/*
 * True when the out-of-order queue can take no more segments: its array is
 * full (after an insert, one that could not grow: at TCP_OOO_MAX, or memory
 * refused; no array at all counts as full).
 */
static inline bool tcp_rcvq_ooo_full(const struct tcp_rcvq *q) { return q->ooo->n == q->ooo->cap; }

/* Drops the out-of-order data (nothing follows the peer's FIN). */
static inline void tcp_rcvq_drop_ooo(struct tcp_rcvq *q, struct buf_pool *pool) { tcp_ooo_purge(q->ooo, pool); }

/* The SACK blocks to report (RFC 2018 section 4), at most max. */
static inline uint32_t tcp_rcvq_sack_blocks(const struct tcp_rcvq *q, tcp_seq rcv_nxt, struct tcp_sack_block *out,
					    uint32_t max)
{
	return tcp_ooo_sack_blocks(q->ooo, rcv_nxt, out, max);
}

#endif
