/* The receive queue's buffer code: its rings, appending in-order data (coalescing small segments), pulling held data. */
#include "tcp_rcvq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One allocation for both, made when the connection is (connect, or a SYN or cookie to a listener). */
struct rcvq_rings {
	struct pkt ring[TCP_RCVQ_LEN];
	struct tcp_ooo ooo;
};

int tcp_rcvq_alloc(struct tcp_rcvq *q)
{
	if (q->ring)
		return 0;
	struct rcvq_rings *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	q->ring = r->ring;
	q->ooo = &r->ooo;
	q->head = q->tail = q->bytes = 0;
	tcp_ooo_init(q->ooo);
	return 0;
}

void tcp_rcvq_free(struct tcp_rcvq *q, struct buf_pool *pool)
{
	if (!q->ring)
		return;
	while (q->head != q->tail)
		buf_unref(pool, q->ring[q->head++ & (TCP_RCVQ_LEN - 1)].buf);
	tcp_ooo_purge(q->ooo, pool);
	free(container_of(q->ring, struct rcvq_rings, ring[0]));
	q->ring = NULL;
	q->ooo = NULL;
	q->bytes = 0;
}

/* Appends in-order data; false when the ring has no room (p untouched). */
static bool append(struct tcp_rcvq *q, struct inet *in, struct pkt *p)
{
	if (q->head != q->tail && p->len <= TCP_COALESCE_MAX) {
		/* Small segments join the previous one when its buffer has room and is ours alone: bounded memory. */
		struct pkt *last = &q->ring[(q->tail - 1) & (TCP_RCVQ_LEN - 1)];
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
	if (q->tail - q->head == TCP_RCVQ_LEN)
		return false;
	q->ring[q->tail++ & (TCP_RCVQ_LEN - 1)] = *p;
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
