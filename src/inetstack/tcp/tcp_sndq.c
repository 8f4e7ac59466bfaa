/* The send queue's buffer code: its rings, building a segment's payload, forgetting cancelled pushes, the sent ranges. */
#include "tcp_sndq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SENT_MASK (q->sent_cap - 1)

/*
 * A ring of free-running indices [head, tail) moved into one of twice the
 * size: entry i goes to i & (2 * cap - 1), so every index stays valid.
 */
static void *ring_double(void *old, uint32_t cap, size_t size, uint32_t head, uint32_t tail)
{
	uint8_t *r = malloc((size_t)cap * 2 * size);
	if (!r)
		return NULL;
	for (uint32_t i = head; i != tail; i++)
		memcpy(r + (size_t)(i & (cap * 2 - 1)) * size, (uint8_t *)old + (size_t)(i & (cap - 1)) * size, size);
	free(old);
	return r;
}

int tcp_sndq_alloc(struct tcp_sndq *q)
{
	if (q->ring)
		return 0;
	q->ring = malloc(TCP_SNDQ_MIN * sizeof(*q->ring));
	q->sent = malloc(TCP_SENT_MIN * sizeof(*q->sent));
	if (!q->ring || !q->sent) {
		free(q->ring);
		free(q->sent);
		q->ring = NULL;
		q->sent = NULL;
		return -ENOMEM;
	}
	q->cap = TCP_SNDQ_MIN;
	q->sent_cap = TCP_SENT_MIN;
	q->head = q->tail = q->bytes = q->uncommitted = 0;
	q->cur_idx = q->cur_off = 0;
	q->sent_head = q->sent_tail = 0;
	return 0;
}

void tcp_sndq_free(struct tcp_sndq *q, struct buf_pool *pool)
{
	if (!q->ring)
		return;
	while (q->head != q->tail)
		buf_unref(pool, q->ring[q->head++ & (q->cap - 1)].buf);
	free(q->ring);
	free(q->sent);
	q->ring = NULL;
	q->sent = NULL;
	q->cap = q->sent_cap = 0;
	q->bytes = q->uncommitted = 0;
}

int tcp_sndq_grow(struct tcp_sndq *q)
{
	if (!q->ring || q->cap >= TCP_SNDQ_LEN)
		return -ENOMEM;
	struct tcp_sndseg *r = ring_double(q->ring, q->cap, sizeof(*r), q->head, q->tail);
	if (!r)
		return -ENOMEM;
	q->ring = r;
	q->cap *= 2;
	return 0;
}

/* Doubles the record of sent ranges (up to TCP_SENT_LEN); false: it stays full. */
static bool sent_grow(struct tcp_sndq *q)
{
	if (q->sent_cap >= TCP_SENT_LEN)
		return false;
	struct tcp_sent *r = ring_double(q->sent, q->sent_cap, sizeof(*r), q->sent_head, q->sent_tail);
	if (!r)
		return false;
	q->sent = r;
	q->sent_cap *= 2;
	return true;
}

void tcp_sndq_uncommit(struct tcp_sndq *q, struct buf_pool *pool, uint32_t unsent)
{
	/* Bytes of cancelled pushes that never left: dropped from the tail; what was sent stays in the stream. */
	uint32_t n = q->uncommitted < unsent ? q->uncommitted : unsent;
	q->bytes -= n;
	while (n) {
		struct tcp_sndseg *s = &q->ring[(q->tail - 1) & (q->cap - 1)];
		if (n < s->len) {
			s->len -= n;
			break;
		}
		n -= s->len;
		buf_unref(pool, s->buf);
		q->tail--;
	}
	if ((int32_t)(q->tail - q->cur_idx) < 0) {
		q->cur_idx = q->head;
		q->cur_off = 0;
	}
	q->uncommitted = 0;
}

int tcp_sndq_payload_slow(struct tcp_sndq *q, struct inet *in, uint32_t off, uint32_t len, struct pkt *p)
{
	/* Walk from where the last walk ended when that lies below off: a bulk send finds its place in O(1). */
	uint32_t i = q->head, start = 0;
	if (off >= q->cur_off) {
		i = q->cur_idx;
		start = q->cur_off;
	}
	off -= start;
	while (off >= q->ring[i & (q->cap - 1)].len) {
		off -= q->ring[i & (q->cap - 1)].len;
		start += q->ring[i & (q->cap - 1)].len;
		i++;
	}
	q->cur_idx = i;
	q->cur_off = start;
	struct tcp_sndseg *s = &q->ring[i & (q->cap - 1)];
	struct buf *b = s->buf;
	if (off == 0 && tcp_sndq_in_place(s, len)) {
		buf_ref(b);
		*p = (struct pkt){ .buf = b, .data = s->data, .len = len };
		in->st.tcp.tx_in_place++;
		return 0;
	}
	if (inet_pkt_alloc(in, len, p) < 0)
		return -ENOMEM;
	uint8_t *dst = p->data;
	uint32_t left = len;
	while (left) {
		s = &q->ring[i++ & (q->cap - 1)];
		uint32_t n = s->len - off;
		if (n > left)
			n = left;
		memcpy(dst, s->data + off, n);
		dst += n;
		left -= n;
		off = 0;
	}
	in->st.tcp.tx_copies++;
	return 0;
}

/* ---- sent ranges ---- */

static inline tcp_seq sent_start(const struct tcp_sndq *q, uint32_t i, tcp_seq una)
{
	return i == q->sent_head ? una : q->sent[(i - 1) & SENT_MASK].end;
}

/* Splits the range holding seq strictly inside it in two at seq; a full record keeps it whole. */
static void sent_split(struct tcp_sndq *q, tcp_seq una, tcp_seq seq)
{
	if (q->sent_tail - q->sent_head == q->sent_cap && !sent_grow(q))
		return;
	for (uint32_t i = q->sent_head; i != q->sent_tail; i++) {
		struct tcp_sent *e = &q->sent[i & SENT_MASK];
		if (SEQ_LEQ(e->end, seq))
			continue;
		if (SEQ_LT(sent_start(q, i, una), seq)) {
			for (uint32_t j = q->sent_tail; j != i; j--)
				q->sent[j & SENT_MASK] = q->sent[(j - 1) & SENT_MASK];
			q->sent_tail++;
			q->sent[i & SENT_MASK].end = seq; /* the lower half; the copy above keeps the upper */
		}
		return;
	}
}

void tcp_sndq_sent_slow(struct tcp_sndq *q, tcp_seq una, tcp_seq seq, uint32_t len, uint64_t now)
{
	bool empty = q->sent_head == q->sent_tail;
	tcp_seq end = empty ? una : q->sent[(q->sent_tail - 1) & SENT_MASK].end;
	tcp_seq stop = seq + len;
	if (SEQ_LT(seq, end)) {
		/* Sent before: split off the range at both ends, then mark what lies inside. */
		tcp_seq rend = SEQ_LT(stop, end) ? stop : end;
		sent_split(q, una, seq);
		sent_split(q, una, rend);
		for (uint32_t i = q->sent_head; i != q->sent_tail; i++) {
			struct tcp_sent *e = &q->sent[i & SENT_MASK];
			if (SEQ_LEQ(e->end, seq))
				continue;
			if (SEQ_GEQ(sent_start(q, i, una), rend))
				break;
			e->flags = (e->flags | TCP_SENT_RXT) & ~(uint32_t)TCP_SENT_LOST;
			e->xmit_ns = now;
		}
		if (SEQ_LEQ(stop, end))
			return;
	}
	/* New data (a segment that could not leave earlier counts as sent now). */
	if (q->sent_tail - q->sent_head == q->sent_cap && !sent_grow(q)) {
		/* Full: the last range grows and takes the later time, which only ever makes a loss look later. */
		struct tcp_sent *last = &q->sent[(q->sent_tail - 1) & SENT_MASK];
		last->end = stop;
		last->xmit_ns = now;
		return;
	}
	q->sent[q->sent_tail++ & SENT_MASK] = (struct tcp_sent){ .end = stop, .flags = 0, .xmit_ns = now };
}

void tcp_sndq_mark_lost(struct tcp_sndq *q, tcp_seq una, tcp_seq s, tcp_seq e)
{
	sent_split(q, una, s);
	sent_split(q, una, e);
	for (uint32_t i = q->sent_head; i != q->sent_tail; i++) {
		struct tcp_sent *r = &q->sent[i & SENT_MASK];
		if (SEQ_LEQ(r->end, s))
			continue;
		if (SEQ_GEQ(sent_start(q, i, una), e))
			break;
		r->flags |= TCP_SENT_LOST;
	}
}
