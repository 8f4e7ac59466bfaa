/* The receive queue's buffer code: its rings, appending in-order data (coalescing small segments), pulling held data. */
#include "tcp_rcvq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int tcp_rcvq_alloc(struct tcp_rcvq *q)
{
	if (q->ring)
		return 0;
	q->ring = malloc(TCP_RCVQ_MIN * sizeof(*q->ring));
	if (!q->ring)
		return -ENOMEM;
	q->cap = TCP_RCVQ_MIN;
	q->ooo = &q->ooo_q;
	q->head = q->tail = q->bytes = 0;
	tcp_ooo_init(q->ooo);
	return 0;
}

/* Doubles the ring (up to TCP_RCVQ_LEN): entry i moves to i & (2 * cap - 1), so the indices stay. False: it stays full. */
static bool grow(struct tcp_rcvq *q)
{
	if (q->cap >= TCP_RCVQ_LEN)
		return false;
	struct pkt *r = malloc((size_t)q->cap * 2 * sizeof(*r));
	if (!r)
		return false;
	for (uint32_t i = q->head; i != q->tail; i++)
		r[i & (q->cap * 2 - 1)] = q->ring[i & (q->cap - 1)];
	free(q->ring);
	q->ring = r;
	q->cap *= 2;
	return true;
}

void tcp_rcvq_free(struct tcp_rcvq *q, struct buf_pool *pool)
{
	if (!q->ring)
		return;
	while (q->head != q->tail)
		buf_unref(pool, q->ring[q->head++ & (q->cap - 1)].buf);
	tcp_ooo_purge(q->ooo, pool); /* frees its array too */
	free(q->ring);
	q->ring = NULL;
	q->cap = 0;
	q->ooo = NULL;
	q->bytes = 0;
}

/* Appends in-order data; false when the ring has no room (p untouched). */
static bool append(struct tcp_rcvq *q, struct inet *in, struct pkt *p)
{
	if (q->head != q->tail && p->len <= TCP_COALESCE_MAX) {
		/* Small segments join the previous one when its buffer has room and is ours alone: bounded memory. */
		struct pkt *last = &q->ring[(q->tail - 1) & (q->cap - 1)];
		struct buf *b = last->buf;
		uint8_t *end = last->data + last->len;
		if (b->refcnt == 1 && !b->owner && end + p->len <= buf_data(b) + b->cap) {
			memcpy(end, p->data, p->len);
			last->len += p->len;
			q->bytes += p->len;
			in->st.tcp.rx_coalesced++;
			pkt_free(in, p);
			return true;
		}
	}
	if (q->tail - q->head == q->cap && !grow(q))
		return false;
	q->ring[q->tail++ & (q->cap - 1)] = *p;
	q->bytes += p->len;
	return true;
}

enum tcp_rcvq_took tcp_rcvq_in_order_slow(struct tcp_rcvq *q, struct inet *in, struct pkt *p, tcp_seq *rcv_nxt)
{
	uint32_t len = p->len;
	if (!append(q, in, p))
		return TCP_RCVQ_NOROOM;
	*rcv_nxt += len;
	enum tcp_rcvq_took took = TCP_RCVQ_APPENDED;
	struct pkt h;
	while (q->ooo->n && tcp_ooo_pull(q->ooo, in->pool, rcv_nxt, &h)) {
		took = TCP_RCVQ_FILLED;
		if (!append(q, in, &h)) {
			/* No room after all: put it back and stop (the window accounted for it, so rare). */
			*rcv_nxt -= h.len;
			tcp_ooo_insert(q->ooo, in->pool, *rcv_nxt, &h);
			break;
		}
	}
	return took;
}
