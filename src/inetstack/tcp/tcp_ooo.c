/* The receiver's out-of-order queue and the SACK blocks it reports (RFC 2018 section 4). */
#include "tcp_sack.h"

#include <stdlib.h>
#include <string.h>

static inline tcp_seq seg_end(const struct tcp_ooo_seg *s) { return s->seq + s->pkt.len; }

void tcp_ooo_init(struct tcp_ooo *o)
{
	o->n = 0;
	o->bytes = 0;
	o->nrecent = 0;
	o->cap = 0;
	o->seg = NULL;
}

/* Room for want more segments (doubling the array, up to TCP_OOO_MAX); what memory refuses leaves it as it is. */
static void reserve(struct tcp_ooo *o, uint32_t want)
{
	uint32_t cap = o->cap ? o->cap : TCP_OOO_MIN;
	while (cap < TCP_OOO_MAX && cap - o->n < want)
		cap *= 2;
	if (cap == o->cap)
		return;
	struct tcp_ooo_seg *s = realloc(o->seg, cap * sizeof(*s));
	if (!s)
		return;
	o->seg = s;
	o->cap = cap;
}

/* Index of the first segment ending after seq (segments are disjoint, so their ends are sorted too). */
static uint32_t first_after(const struct tcp_ooo *o, tcp_seq seq)
{
	uint32_t lo = 0, hi = o->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (SEQ_GT(seg_end(&o->seg[mid]), seq))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The SACK block around segment k: the maximal run of contiguous segments holding it. */
static struct tcp_sack_block run_of(const struct tcp_ooo *o, uint32_t k)
{
	uint32_t a = k, b = k;
	while (a > 0 && seg_end(&o->seg[a - 1]) == o->seg[a].seq)
		a--;
	while (b + 1 < o->n && seg_end(&o->seg[b]) == o->seg[b + 1].seq)
		b++;
	return (struct tcp_sack_block){ .start = o->seg[a].seq, .end = seg_end(&o->seg[b]) };
}

static bool listed(const struct tcp_sack_block *l, uint32_t n, struct tcp_sack_block b)
{
	for (uint32_t i = 0; i < n; i++)
		if (l[i].start == b.start && l[i].end == b.end)
			return true;
	return false;
}

/*
 * RFC 2018 section 4: the block holding the segment just received (segment
 * k) goes first, then the previously reported blocks in their order, each
 * grown to the run it is now part of, those now inside an earlier one left
 * out ("not subsets of a SACK block already included").
 */
static void note_recent(struct tcp_ooo *o, uint32_t k)
{
	struct tcp_sack_block l[TCP_SACK_MAX_BLOCKS];
	uint32_t m = 0;
	l[m++] = run_of(o, k);
	for (uint32_t i = 0; i < o->nrecent && m < TCP_SACK_MAX_BLOCKS; i++) {
		/* Held data only grows between pulls, so a reported block's last octet is still held. */
		uint32_t j = first_after(o, o->recent[i].end - 1);
		if (j == o->n || SEQ_GT(o->seg[j].seq, o->recent[i].end - 1))
			continue;
		struct tcp_sack_block b = run_of(o, j);
		if (!listed(l, m, b))
			l[m++] = b;
	}
	memcpy(o->recent, l, m * sizeof(l[0]));
	o->nrecent = m;
}

uint32_t tcp_ooo_insert(struct tcp_ooo *o, struct buf_pool *pool, tcp_seq seq, struct pkt *p)
{
	const tcp_seq s = seq, e = seq + p->len;
	if (!p->len) {
		buf_unref(pool, p->buf);
		p->buf = NULL;
		return 0;
	}
	const uint32_t i = first_after(o, s), tail = o->n - i;
	/* At most one piece per held segment the new one overlaps, and one more. */
	uint32_t over = 0;
	while (i + over < o->n && SEQ_LT(o->seg[i + over].seq, e))
		over++;
	if (o->cap - o->n < over + 1)
		reserve(o, over + 1);
	const uint32_t room = o->cap - o->n;
	if (!o->seg) {
		/* No array and no memory for one: nothing kept (the sender retransmits). */
		buf_unref(pool, p->buf);
		p->buf = NULL;
		return 0;
	}
	/*
	 * One pass, O(n): park the segments from i on at the top of the array,
	 * then merge them back with the new pieces (one per gap the new segment
	 * leaves between held ones). A piece is written only while room is left,
	 * which also keeps the write index below the next parked segment.
	 */
	struct tcp_ooo_seg *park = &o->seg[o->cap - tail];
	memmove(park, &o->seg[i], tail * sizeof(*park));
	uint32_t w = i, r = 0, pieces = 0, stored = 0;
	tcp_seq cur = s;
	for (;;) {
		bool held = r < tail && SEQ_LT(park[r].seq, e);
		tcp_seq stop = held ? park[r].seq : e;
		if (SEQ_LT(cur, stop) && pieces < room) {
			/* The first piece takes the caller's reference, each further one its own. */
			if (pieces++)
				buf_ref(p->buf);
			struct tcp_ooo_seg *n = &o->seg[w++];
			n->seq = cur;
			n->pkt.buf = p->buf;
			n->pkt.data = p->data + (uint32_t)(cur - s);
			n->pkt.len = stop - cur;
			stored += stop - cur;
		}
		if (!held)
			break;
		if (&o->seg[w] != &park[r])
			o->seg[w] = park[r];
		w++;
		cur = SEQ_MAX(cur, seg_end(&park[r]));
		r++;
	}
	memmove(&o->seg[w], &park[r], (tail - r) * sizeof(*park));
	o->n = w + tail - r;
	o->bytes += stored;
	if (!pieces)
		buf_unref(pool, p->buf); /* duplicate, or no room: nothing kept */
	p->buf = NULL;
	/* Report the block holding this segment first, even a duplicate (RFC 2018 section 4). */
	uint32_t k = first_after(o, s);
	if (k < o->n && SEQ_LT(o->seg[k].seq, e))
		note_recent(o, k);
	return stored;
}

/* Pulls take held data from the front only, so each reported block just loses what fell below rcv_nxt. */
static void trim_recent(struct tcp_ooo *o, tcp_seq rcv_nxt)
{
	uint32_t m = 0;
	for (uint32_t i = 0; i < o->nrecent; i++) {
		struct tcp_sack_block b = o->recent[i];
		if (SEQ_LEQ(b.end, rcv_nxt))
			continue;
		b.start = SEQ_MAX(b.start, rcv_nxt);
		o->recent[m++] = b;
	}
	o->nrecent = m;
}

bool tcp_ooo_pull(struct tcp_ooo *o, struct buf_pool *pool, tcp_seq *rcv_nxt, struct pkt *out)
{
	uint32_t gone = 0;
	bool got = false;
	for (; gone < o->n; gone++) {
		struct tcp_ooo_seg *g = &o->seg[gone];
		if (SEQ_GT(g->seq, *rcv_nxt))
			break; /* a hole remains before it */
		if (SEQ_LEQ(seg_end(g), *rcv_nxt)) {
			/* Already delivered (the in-order segment covered it): drop. */
			o->bytes -= g->pkt.len;
			buf_unref(pool, g->pkt.buf);
			continue;
		}
		uint32_t off = *rcv_nxt - g->seq;
		o->bytes -= g->pkt.len;
		*out = g->pkt;
		out->data += off;
		out->len -= off;
		*rcv_nxt += out->len;
		got = true;
		gone++;
		break;
	}
	if (gone) {
		memmove(&o->seg[0], &o->seg[gone], (o->n - gone) * sizeof(o->seg[0]));
		o->n -= gone;
	}
	trim_recent(o, *rcv_nxt);
	return got;
}

uint32_t tcp_ooo_sack_blocks(const struct tcp_ooo *o, tcp_seq rcv_nxt, struct tcp_sack_block *out, uint32_t max)
{
	uint32_t m = 0;
	for (uint32_t i = 0; i < o->nrecent && m < max; i++) {
		struct tcp_sack_block b = o->recent[i];
		/* RFC 2018 section 4: only data not yet cumulatively acknowledged. */
		if (SEQ_LEQ(b.end, rcv_nxt))
			continue;
		b.start = SEQ_MAX(b.start, rcv_nxt);
		out[m++] = b;
	}
	return m;
}

void tcp_ooo_purge(struct tcp_ooo *o, struct buf_pool *pool)
{
	for (uint32_t i = 0; i < o->n; i++)
		buf_unref(pool, o->seg[i].pkt.buf);
	free(o->seg);
	tcp_ooo_init(o);
}
