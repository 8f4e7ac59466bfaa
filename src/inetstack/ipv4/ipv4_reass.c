/*
 * IPv4 reassembly (RFC 791 section 3.2, with RFC 815's hole descriptors):
 * at most IPV4_REASS_MAX datagrams at once, one 64 KiB buffer each, dropped
 * after IPV4_REASS_TIMEOUT_NS. A fragment that partly overlaps data already
 * received drops the whole datagram (as Linux since CVE-2018-5391, and
 * RFC 5722 for IPv6); an exact duplicate is ignored.
 */
#include <arpa/inet.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/icmp.h"
#include "ipv4.h"

#define HOLE_INFINITY UINT32_MAX /* RFC 815: the last hole's end until the last fragment arrives */

static void ctx_free(struct inet *in, struct ipv4_reass_ctx *c)
{
	timer_cancel(&in->rt->timers, &c->timer);
	if (c->buf)
		buf_unref(in->pool, c->buf);
	c->buf = NULL;
	c->used = false;
	in->reass.nused--;
}

/*
 * RFC 1122 3.3.2: abandon the datagram; RFC 792: say "fragment reassembly
 * time exceeded" when the first fragment arrived, quoting its header and the
 * first 8 bytes of its data.
 */
static void reass_timeout(struct timer *t, void *arg)
{
	(void)t;
	struct ipv4_reass_ctx *c = arg;
	struct inet *in = c->in;
	in->st.ipv4.reass_timeout++;
	if (c->have_first) {
		uint8_t quote[IPV4_MAX_HDR_LEN + 8];
		memcpy(quote, c->hdr, c->hlen);
		memcpy(quote + c->hlen, buf_data(c->buf), 8); /* the first fragment holds at least 8 bytes */
		icmp_error(in, ICMP_TIME_EXCEEDED, ICMP_TIMX_REASS, (const struct ipv4_hdr *)quote, c->hlen + 8u);
	}
	ctx_free(in, c);
	if (!in->in_poll)
		inet_tx_flush(in);
}

static struct ipv4_reass_ctx *ctx_find(struct ipv4_reass *r, const struct ipv4_hdr *ih)
{
	if (!r->nused)
		return NULL;
	for (int i = 0; i < IPV4_REASS_MAX; i++) {
		struct ipv4_reass_ctx *c = &r->ctx[i];
		/* RFC 791: fragments belong together when source, destination, protocol and identification match. */
		if (c->used && c->id == ih->id && c->src == ih->src && c->dst == ih->dst && c->proto == ih->proto)
			return c;
	}
	return NULL;
}

static struct ipv4_reass_ctx *ctx_new(struct inet *in, const struct ipv4_hdr *ih)
{
	struct ipv4_reass *r = &in->reass;
	struct ipv4_reass_ctx *c = NULL, *oldest = NULL;
	for (int i = 0; i < IPV4_REASS_MAX && !c; i++) {
		if (!r->ctx[i].used)
			c = &r->ctx[i];
		else if (!oldest || r->ctx[i].timer.deadline < oldest->timer.deadline)
			oldest = &r->ctx[i];
	}
	if (!c) {
		/* Memory is bounded: the oldest reassembly makes room (it is the likeliest to be lost). */
		in->st.ipv4.reass_evicted++;
		ctx_free(in, oldest);
		c = oldest;
	}
	c->buf = buf_alloc(in->pool, IPV4_MAX_LEN);
	if (!c->buf) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		return NULL;
	}
	c->used = true;
	r->nused++;
	c->have_first = false;
	c->id = ih->id;
	c->src = ih->src;
	c->dst = ih->dst;
	c->proto = ih->proto;
	c->total = 0;
	c->hlen = 0;
	c->nholes = 1;
	c->holes[0] = (struct ipv4_hole){ 0, HOLE_INFINITY }; /* RFC 815 section 3: one hole, 0 to infinity */
	c->in = in;
	if (timer_arm(&in->rt->timers, &c->timer, clock_now() + IPV4_REASS_TIMEOUT_NS, reass_timeout, c) < 0) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		ctx_free(in, c);
		return NULL;
	}
	return c;
}

/* The datagram is whole: its first fragment's header goes in front of the payload, and it goes up. */
static void complete(struct inet *in, struct ipv4_reass_ctx *c, bool trusted)
{
	struct buf *b = c->buf;
	uint8_t *payload = buf_data(b);
	struct ipv4_hdr *h = (struct ipv4_hdr *)(payload - c->hlen);
	memcpy(h, c->hdr, c->hlen);
	h->len = htons((uint16_t)(c->hlen + c->total));
	h->off = 0;
	h->sum = 0;
	h->sum = cksum_ipv4_hdr(h, c->hlen); /* an ICMP error may quote it */
	uint32_t total = c->total;
	c->buf = NULL;
	ctx_free(in, c);
	in->st.ipv4.reass_ok++;
	struct pkt p = { .buf = b, .data = payload, .len = total };
	ipv4_deliver(in, &p, h, trusted);
}

static void hole_del(struct ipv4_reass_ctx *c, uint32_t i)
{
	c->holes[i] = c->holes[--c->nholes];
}

void ipv4_reass_input(struct inet *in, struct pkt *p, bool trusted)
{
	struct demi_netstats_ipv4 *st = &in->st.ipv4;
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)p->data;
	uint32_t hlen = (ih->vhl & 0xfu) * 4;
	uint16_t off = ntohs(ih->off);
	bool more = off & IPV4_MF;
	uint32_t first = (uint32_t)(off & IPV4_OFFMASK) * 8, len = p->len - hlen, last = first + len;
	/*
	 * RFC 791: every fragment but the last carries a multiple of 8 bytes, and
	 * the datagram fits in 65535 bytes with its header (the "ping of death"
	 * exceeds it).
	 */
	if (len == 0 || (more && (len & 7)) || hlen + last > IPV4_MAX_LEN) {
		st->reass_bad++;
		goto drop;
	}
	struct ipv4_reass_ctx *c = ctx_find(&in->reass, ih);
	if (!c && !(c = ctx_new(in, ih)))
		goto drop;
	/* Once the end is known, nothing may lie past it and another last fragment must agree. */
	if (c->total && (last > c->total || (!more && last != c->total))) {
		st->reass_bad++;
		goto kill;
	}
	/* RFC 815 steps 1 to 3: the holes this fragment touches, and how much of it they cover. */
	uint32_t covered = 0, hi = 0;
	for (uint32_t i = 0; i < c->nholes; i++) {
		uint32_t lo = first > c->holes[i].first ? first : c->holes[i].first;
		uint32_t up = last < c->holes[i].last ? last : c->holes[i].last;
		if (lo < up) {
			covered += up - lo;
			hi = i;
		}
	}
	if (covered == 0) {
		st->reass_dup++; /* all of it arrived before (a duplicate) */
		goto drop;
	}
	if (covered != len) {
		st->reass_overlap++;
		goto kill;
	}
	/* The fragment lies within one hole (hi): RFC 815 steps 4 to 6 replace it by what is left of it. */
	struct ipv4_hole h = c->holes[hi];
	if (!more && h.last != HOLE_INFINITY) {
		st->reass_bad++; /* data past this "last" fragment already arrived */
		goto kill;
	}
	hole_del(c, hi);
	if (first > h.first)
		c->holes[c->nholes++] = (struct ipv4_hole){ h.first, first };
	if (last < h.last && more) {
		if (c->nholes == IPV4_REASS_HOLES) {
			st->reass_bad++; /* too many holes: bounded work per fragment */
			goto kill;
		}
		c->holes[c->nholes++] = (struct ipv4_hole){ last, h.last };
	}
	if (!more)
		c->total = last;
	memcpy(buf_data(c->buf) + first, p->data + hlen, len);
	if (first == 0) {
		c->have_first = true;
		c->hlen = (uint8_t)hlen;
		memcpy(c->hdr, ih, hlen);
	}
	pkt_free(in, p);
	/* RFC 815 step 8: no hole left, the datagram is complete. */
	if (c->nholes == 0)
		complete(in, c, trusted);
	return;
kill:
	ctx_free(in, c);
drop:
	pkt_free(in, p);
}

void ipv4_reass_fini(struct inet *in)
{
	for (int i = 0; i < IPV4_REASS_MAX; i++)
		if (in->reass.ctx[i].used)
			ctx_free(in, &in->reass.ctx[i]);
}
