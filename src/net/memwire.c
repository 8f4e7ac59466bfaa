/* The in-memory test wire: a switch between netdev ports (each with one or more queues) with seeded impairments. */
#include "memwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prot/ethernet.h"
#include "prot/ipv4.h"
#include "../runtime/clock.h"

struct mw_frame {
	uint64_t at, seq; /* arrival time, then order of sending */
	struct buf *buf;
	uint32_t len;
};

/* A receive queue of a port: queue 0 is the port itself (in memwire.ports), the others hang off it. */
struct mw_port {
	struct netdev dev; /* first: a struct netdev * is a struct mw_port * */
	struct memwire *w;
	int idx;               /* the port's index, the same on each of its queues */
	uint32_t n;
	struct mw_frame *heap; /* min-heap on (at, seq) */
	struct mw_port *port0; /* queue 0 of this port */
	struct mw_port *more;  /* on queue 0: queues 1 .. nqueues - 1 */
	memwire_steer_fn steer;
	void *steer_arg;
};

struct memwire {
	struct buf_pool *pool;
	struct memwire_opts o;
	uint64_t rng, seq;
	int nports;
	memwire_filter_fn filter;
	void *filter_arg;
	bool slow; /* a filter, or a port of several queues: carry takes its rare path */
	struct memwire_stats st;
	struct mw_port ports[MEMWIRE_PORTS];
	uint8_t seg[ETH_HDR_LEN + 65535]; /* one segment cut from a TSO super-segment */
};

/* splitmix64: small, seedable, good enough for impairments. */
static uint64_t rnd(struct memwire *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool chance(struct memwire *w, uint32_t ppm)
{
	return ppm && rnd(w) % 1000000u < ppm;
}

static bool before(const struct mw_frame *a, const struct mw_frame *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct mw_port *p, struct mw_frame f)
{
	uint32_t i = p->n++;
	while (i > 0 && before(&f, &p->heap[(i - 1) / 2])) {
		p->heap[i] = p->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	p->heap[i] = f;
}

static struct mw_frame heap_pop(struct mw_port *p)
{
	struct mw_frame top = p->heap[0], last = p->heap[--p->n];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= p->n)
			break;
		if (c + 1 < p->n && before(&p->heap[c + 1], &p->heap[c]))
			c++;
		if (!before(&p->heap[c], &last))
			break;
		p->heap[i] = p->heap[c];
		i = c;
	}
	if (p->n)
		p->heap[i] = last;
	return top;
}

static int enqueue(struct mw_port *to, const uint8_t *data, uint32_t len, uint64_t at, bool corrupt)
{
	struct memwire *w = to->w;
	if (to->n == MEMWIRE_QLEN) {
		w->st.overflow++;
		return -ENOBUFS;
	}
	struct buf *b = buf_alloc(w->pool, len);
	if (!b) {
		w->st.overflow++;
		return -ENOMEM;
	}
	memcpy(buf_data(b), data, len);
	if (corrupt) {
		uint64_t bit = rnd(w) % ((uint64_t)len * 8);
		buf_data(b)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		w->st.corrupted++;
	}
	heap_push(to, (struct mw_frame){ .at = at, .seq = w->seq++, .buf = b, .len = len });
	return 0;
}

/* One frame to queue `to`, through the impairments. */
static inline __attribute__((always_inline)) void impair(struct memwire *w, struct mw_port *to, const uint8_t *data,
							 uint32_t len)
{
	if (chance(w, w->o.loss_ppm)) {
		w->st.lost++;
		return;
	}
	int copies = 1;
	if (chance(w, w->o.dup_ppm)) {
		copies = 2;
		w->st.duplicated++;
	}
	for (int c = 0; c < copies; c++) {
		uint64_t at = clock_now() + w->o.delay_ns;
		if (w->o.jitter_ns)
			at += rnd(w) % w->o.jitter_ns;
		if (chance(w, w->o.reorder_ppm)) {
			at += w->o.reorder_ns ? w->o.reorder_ns : NSEC_PER_MSEC;
			w->st.reordered++;
		}
		enqueue(to, data, len, at, chance(w, w->o.corrupt_ppm));
	}
}

static struct mw_port *queue_of(struct mw_port *port0, uint16_t q)
{
	return q == 0 ? port0 : &port0->more[q - 1];
}

/* carry's rare part (w->slow): the filter, and the steering of a port of several queues. */
static __attribute__((noinline)) void carry_slow(struct memwire *w, int from, struct mw_port *to, const uint8_t *data,
						 uint32_t len)
{
	if (w->filter && w->filter(w->filter_arg, from, to->idx, data, len)) {
		w->st.filtered++;
		return;
	}
	if (to->dev.nqueues <= 1) {
		impair(w, to, data, len);
		return;
	}
	int q = to->steer(to->steer_arg, data, len, to->dev.nqueues);
	if (q != MEMWIRE_QUEUE_ALL) {
		impair(w, queue_of(to, (uint16_t)((unsigned)q % to->dev.nqueues)), data, len);
		return;
	}
	for (uint16_t i = 0; i < to->dev.nqueues; i++)
		impair(w, queue_of(to, i), data, len);
}

/* One frame from port `from` to port `to` (its queue 0). */
static inline __attribute__((always_inline)) void carry(struct memwire *w, int from, struct mw_port *to,
							const uint8_t *data, uint32_t len)
{
	if (__builtin_expect(w->slow, 0))
		carry_slow(w, from, to, data, len);
	else
		impair(w, to, data, len);
}

/* A switch: to the port that owns the destination, or to all for a group address. */
static void switch_frame(struct memwire *w, struct mw_port *p, const uint8_t *f, uint32_t len)
{
	for (int j = 0; j < w->nports; j++) {
		struct mw_port *to = &w->ports[j];
		if (to != p && (eth_is_group(f) || memcmp(f, to->dev.mac, ETH_ADDR_LEN) == 0))
			carry(w, p->idx, to, f, len);
	}
}

/* RFC 1071's sum, plain: the wire checks the stack, so it shares none of the stack's code. */
static uint32_t sum16(uint32_t s, const uint8_t *p, uint32_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t sum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * A TCP super-segment (PKT_TX_TSO) cut as a NIC's TSO does: segments of gso
 * payload bytes with the same headers, IPv4 identification counting up,
 * sequence numbers advanced, FIN and PSH only on the last, CWR only on the
 * first, both checksums computed afresh (whatever the super-segment's held).
 * gso >= len (tso_whole): one segment, the whole of it.
 */
static void tso_cut(struct memwire *w, struct mw_port *p, const uint8_t *f, uint32_t len, uint32_t gso)
{
	uint32_t l4 = ETH_HDR_LEN + (len > ETH_HDR_LEN ? (f[ETH_HDR_LEN] & 0x0fu) * 4u : 0);
	uint32_t hdr = len >= l4 + 20 ? l4 + (f[l4 + 12] >> 4) * 4u : UINT32_MAX;
	if (hdr >= len || gso == 0 || (gso < len && hdr + gso > p->dev.mtu + ETH_HDR_LEN) || f[ETH_HDR_LEN + 9] != 6) {
		w->st.oversize++;
		return;
	}
	w->st.tso_cut++;
	uint32_t seq = (uint32_t)f[l4 + 4] << 24 | (uint32_t)f[l4 + 5] << 16 | (uint32_t)f[l4 + 6] << 8 | f[l4 + 7];
	uint32_t id = (uint32_t)f[ETH_HDR_LEN + 4] << 8 | f[ETH_HDR_LEN + 5];
	uint8_t *s = w->seg;
	for (uint32_t off = hdr, k = 0; off < len; off += gso, k++) {
		uint32_t n = len - off < gso ? len - off : gso;
		memcpy(s, f, hdr);
		memcpy(s + hdr, f + off, n);
		uint8_t *ip = s + ETH_HDR_LEN, *th = s + l4;
		put16(ip + 2, hdr - ETH_HDR_LEN + n);
		put16(ip + 4, id + k);
		ip[10] = ip[11] = 0;
		put16(ip + 10, sum_fold(sum16(0, ip, l4 - ETH_HDR_LEN)));
		uint32_t sq = seq + (off - hdr);
		put16(th + 4, sq >> 16);
		put16(th + 6, sq);
		if (off + n < len)
			th[13] &= (uint8_t)~0x09; /* FIN, PSH */
		if (k)
			th[13] &= (uint8_t)~0x80; /* CWR */
		th[16] = th[17] = 0;
		uint32_t tlen = hdr - l4 + n;
		put16(th + 16, sum_fold(sum16(sum16(0, ip + 12, 8) + 6 + tlen, th, tlen)));
		switch_frame(w, p, s, hdr + n);
	}
}

static int mw_tx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct mw_port *p = (struct mw_port *)d; /* queue 0: the port (mw_q_tx_burst sends the other queues' here) */
	struct memwire *w = p->w;
	for (int i = 0; i < n; i++) {
		const uint8_t *f = pkts[i].data;
		uint32_t len = pkts[i].len;
		w->st.sent++;
		if ((pkts[i].flags & PKT_TX_TSO) && (d->caps & NETDEV_TX_TSO) && len <= ETH_HDR_LEN + d->tso_max)
			tso_cut(w, p, f, len, w->o.tso_whole ? len : pkts[i].gso_size);
		else if (len > d->mtu + ETH_HDR_LEN)
			w->st.oversize++;
		else if (len >= ETH_HDR_LEN)
			switch_frame(w, p, f, len);
		buf_unref(w->pool, pkts[i].buf); /* copied: the sender's buffer is free at once */
	}
	return n;
}

/* A queue other than 0 transmits as its port. */
static int mw_q_tx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	return mw_tx_burst(&((struct mw_port *)d)->port0->dev, pkts, n);
}

static int mw_rx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct mw_port *p = (struct mw_port *)d;
	uint64_t now = clock_now();
	int got = 0;
	while (got < n && p->n && p->heap[0].at <= now) {
		struct mw_frame f = heap_pop(p);
		pkts[got++] = (struct pkt){ .buf = f.buf, .data = buf_data(f.buf), .len = f.len };
	}
	p->w->st.delivered += (uint64_t)got;
	return got;
}

static int mw_wait_fd(struct netdev *d)
{
	(void)d;
	return -1;
}

static void drain(struct mw_port *p)
{
	while (p->n)
		buf_unref(p->w->pool, heap_pop(p).buf);
}

static void mw_close(struct netdev *d)
{
	drain((struct mw_port *)d);
}

static const struct netdev_ops mw_ops = {
	.rx_burst = mw_rx_burst,
	.tx_burst = mw_tx_burst,
	.wait_fd = mw_wait_fd,
	.close = mw_close,
};

static const struct netdev_ops mw_q_ops = {
	.rx_burst = mw_rx_burst,
	.tx_burst = mw_q_tx_burst,
	.wait_fd = mw_wait_fd,
	.close = mw_close,
};

struct memwire *memwire_create(struct buf_pool *pool, const struct memwire_opts *o)
{
	struct memwire *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->pool = pool;
	if (o)
		memwire_set_opts(w, o);
	return w;
}

void memwire_set_opts(struct memwire *w, const struct memwire_opts *o)
{
	w->o = *o;
	w->rng = o->seed;
}

void memwire_set_filter(struct memwire *w, memwire_filter_fn fn, void *arg)
{
	w->filter = fn;
	w->filter_arg = arg;
	w->slow = false;
	for (int i = 0; i < w->nports; i++)
		w->slow |= w->ports[i].dev.nqueues > 1;
	w->slow |= fn != NULL;
}

void memwire_destroy(struct memwire *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nports; i++) {
		struct mw_port *p0 = &w->ports[i];
		for (uint16_t q = 0; q < p0->dev.nqueues; q++) {
			drain(queue_of(p0, q));
			free(queue_of(p0, q)->heap);
		}
		free(p0->more);
	}
	free(w);
}

struct netdev *memwire_attach(struct memwire *w, const uint8_t *mac, uint32_t mtu, uint32_t caps)
{
	return memwire_attach_mq(w, mac, mtu, caps, 1, NULL, NULL);
}

struct netdev *memwire_attach_mq(struct memwire *w, const uint8_t *mac, uint32_t mtu, uint32_t caps,
				 uint16_t nqueues, memwire_steer_fn steer, void *arg)
{
	if (w->nports == MEMWIRE_PORTS || nqueues == 0)
		return NULL;
	struct mw_port *p0 = &w->ports[w->nports];
	if (nqueues > 1 && !(p0->more = calloc(nqueues - 1u, sizeof(*p0->more))))
		return NULL;
	for (uint16_t q = 0; q < nqueues; q++) {
		struct mw_port *p = queue_of(p0, q);
		p->heap = malloc(MEMWIRE_QLEN * sizeof(*p->heap));
		if (!p->heap) {
			while (q--)
				free(queue_of(p0, q)->heap);
			free(p0->more);
			memset(p0, 0, sizeof(*p0));
			return NULL;
		}
		p->w = w;
		p->idx = w->nports;
		p->port0 = p0;
		p->dev.ops = q == 0 ? &mw_ops : &mw_q_ops;
		memcpy(p->dev.mac, mac, 6);
		p->dev.mtu = mtu;
		p->dev.caps = caps;
		p->dev.tso_max = (caps & NETDEV_TX_TSO) ? 65535 : 0;
		p->dev.pool = w->pool;
		p->dev.queue_id = q;
		p->dev.nqueues = nqueues;
	}
	p0->steer = steer ? steer : memwire_steer_flow;
	p0->steer_arg = arg;
	w->slow |= nqueues > 1;
	w->nports++;
	return &p0->dev;
}

struct netdev *memwire_queue(struct netdev *dev, uint16_t q)
{
	struct mw_port *p0 = ((struct mw_port *)dev)->port0;
	return q < p0->dev.nqueues ? &queue_of(p0, q)->dev : NULL;
}

int memwire_port_index(const struct netdev *port)
{
	return ((const struct mw_port *)port)->idx;
}

uint16_t memwire_flow_queue(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport, uint16_t nqueues)
{
	/* The 4-tuple through MurmurHash3's finaliser: every input bit moves the queue, as Toeplitz does. */
	uint32_t h = laddr * 0x9e3779b1u ^ raddr;
	h ^= (uint32_t)lport << 16 | rport;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return (uint16_t)(h % nqueues);
}

int memwire_steer_flow(void *arg, const uint8_t *frame, uint32_t len, uint16_t nqueues)
{
	(void)arg;
	if (len < ETH_HDR_LEN || (frame[12] << 8 | frame[13]) != ETH_TYPE_IPV4)
		return MEMWIRE_QUEUE_ALL;
	struct ipv4_hdr ih;
	if (len < ETH_HDR_LEN + IPV4_HDR_LEN)
		return 0;
	memcpy(&ih, frame + ETH_HDR_LEN, sizeof(ih));
	uint32_t hlen = (ih.vhl & 0x0fu) * 4u;
	uint16_t ports[2]; /* source, destination: the first four bytes of TCP's and UDP's headers */
	if ((ih.proto != IPV4_PROTO_TCP && ih.proto != IPV4_PROTO_UDP) || (ntohs(ih.off) & (IPV4_MF | IPV4_OFFMASK)) ||
	    hlen < IPV4_HDR_LEN || len < ETH_HDR_LEN + hlen + sizeof(ports))
		return 0;
	memcpy(ports, frame + ETH_HDR_LEN + hlen, sizeof(ports));
	return memwire_flow_queue(ih.dst, ports[1], ih.src, ports[0], nqueues);
}

int memwire_inject(struct netdev *port, const void *frame, uint32_t len)
{
	struct mw_port *p = (struct mw_port *)port;
	if (len == 0)
		return -EINVAL;
	return enqueue(p, frame, len, clock_now(), false);
}

uint32_t memwire_in_flight(const struct memwire *w)
{
	uint32_t n = 0;
	for (int i = 0; i < w->nports; i++)
		for (uint16_t q = 0; q < w->ports[i].dev.nqueues; q++)
			n += queue_of((struct mw_port *)&w->ports[i], q)->n;
	return n;
}

uint64_t memwire_next_arrival(const struct memwire *w)
{
	return memwire_next_arrival_except(w, NULL);
}

uint64_t memwire_next_arrival_except(const struct memwire *w, const struct netdev *skip)
{
	uint64_t t = UINT64_MAX;
	for (int i = 0; i < w->nports; i++)
		for (uint16_t q = 0; q < w->ports[i].dev.nqueues; q++) {
			const struct mw_port *p = queue_of((struct mw_port *)&w->ports[i], q);
			if (&p->dev != skip && p->n && p->heap[0].at < t)
				t = p->heap[0].at;
		}
	return t;
}

const struct memwire_stats *memwire_stats(const struct memwire *w)
{
	return &w->st;
}
