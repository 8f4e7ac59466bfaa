/*
 * Bulk transfers over Demi TCP for the memwire tests: each side pushes a
 * deterministic byte stream (xorshift, seeded per direction) and checks what
 * it pops against the peer's stream byte by byte, then both close and read
 * the end of the stream. Header-only: each test file includes it once.
 */
#ifndef DEMI_TESTS_TCP_XFER_H
#define DEMI_TESTS_TCP_XFER_H

#include "inet_test.h"

#include "runtime/sched.h"

struct xstream {
	uint64_t state;
	uint64_t hash; /* FNV-1a over the bytes so far */
};

static inline void xs_init(struct xstream *x, uint64_t seed)
{
	x->state = seed * 0x9e3779b97f4a7c15ull + 1;
	x->hash = 0xcbf29ce484222325ull;
}

static inline uint8_t xs_next(struct xstream *x)
{
	x->state ^= x->state << 13;
	x->state ^= x->state >> 7;
	x->state ^= x->state << 17;
	uint8_t b = (uint8_t)(x->state >> 24);
	x->hash = (x->hash ^ b) * 0x100000001b3ull;
	return b;
}

/* One direction's progress at each end. */
struct xdir {
	int tx_qd, rx_qd;
	uint64_t total, sent, acked, received;
	struct xstream tx, rx;
	demi_qtoken_t push_qt[8];
	int npush;
	demi_qtoken_t pop_qt;
	bool pop_pending, eof, closed;
	uint64_t mismatch_at; /* UINT64_MAX: none */
};

static inline void xdir_init(struct xdir *d, int tx_qd, int rx_qd, uint64_t total, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->tx_qd = tx_qd;
	d->rx_qd = rx_qd;
	d->total = total;
	xs_init(&d->tx, seed);
	xs_init(&d->rx, seed);
	d->mismatch_at = UINT64_MAX;
}

/* Pushes up to `window` chunks in flight, pops and checks; returns true once all bytes arrived. */
static inline bool xdir_step(struct xdir *d, uint32_t chunk, int window)
{
	/* Collect finished pushes. */
	for (int i = 0; i < d->npush;) {
		if (tnet_done(d->push_qt[i])) {
			demi_qresult_t r;
			struct timespec z = { 0, 0 };
			cr_assert_eq(demi_wait(&r, d->push_qt[i], &z), 0);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_PUSH, "push failed: %d", (int)r.qr_ret);
			d->push_qt[i] = d->push_qt[--d->npush];
		} else {
			i++;
		}
	}
	while (d->sent < d->total && d->npush < window && d->npush < 8) {
		uint32_t n = d->total - d->sent < chunk ? (uint32_t)(d->total - d->sent) : chunk;
		demi_sgarray_t sga = demi_sgaalloc(n);
		cr_assert_not_null(sga.sga_buf);
		uint8_t *p = sga.sga_segs[0].sgaseg_buf;
		for (uint32_t i = 0; i < n; i++)
			p[i] = xs_next(&d->tx);
		cr_assert_eq(demi_push(&d->push_qt[d->npush++], d->tx_qd, &sga), 0);
		cr_assert_eq(demi_sgafree(&sga), 0); /* the stack keeps it alive as long as it needs it */
		d->sent += n;
	}
	if (!d->pop_pending && d->received < d->total) {
		cr_assert_eq(demi_pop(&d->pop_qt, d->rx_qd), 0);
		d->pop_pending = true;
	}
	while (d->pop_pending && tnet_done(d->pop_qt)) {
		demi_qresult_t r;
		struct timespec z = { 0, 0 };
		cr_assert_eq(demi_wait(&r, d->pop_qt, &z), 0);
		d->pop_pending = false;
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP, "pop failed: %d", (int)r.qr_ret);
		uint32_t n = r.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert_gt(n, 0, "early end of stream after %llu bytes", (unsigned long long)d->received);
		const uint8_t *p = r.qr_value.sga.sga_segs[0].sgaseg_buf;
		for (uint32_t i = 0; i < n; i++)
			if (p[i] != xs_next(&d->rx) && d->mismatch_at == UINT64_MAX)
				d->mismatch_at = d->received + i;
		d->received += n;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
		cr_assert_leq(d->received, d->total);
		if (d->received < d->total) {
			cr_assert_eq(demi_pop(&d->pop_qt, d->rx_qd), 0);
			d->pop_pending = true;
		}
	}
	return d->received == d->total && d->npush == 0;
}

/* Runs both directions (either total may be 0) until done or max_ns of virtual time; asserts the bytes. */
static inline void xfer_run(struct xdir *dirs, int n, uint32_t chunk, int window, uint64_t max_ns)
{
	uint64_t end = clock_now() + max_ns;
	/* Steps grow while nothing moves (waiting out a timeout) and shrink back once bytes flow. */
	uint64_t step = 50 * NSEC_PER_USEC, last = UINT64_MAX;
	for (;;) {
		bool all = true;
		uint64_t moved = 0;
		for (int i = 0; i < n; i++) {
			all &= xdir_step(&dirs[i], chunk, window);
			moved += dirs[i].received + dirs[i].sent;
		}
		if (moved == last && step < 20 * NSEC_PER_MSEC)
			step *= 2;
		else if (moved != last)
			step = 50 * NSEC_PER_USEC;
		last = moved;
		if (all)
			break;
		cr_assert_lt(clock_now(), end, "transfer incomplete: dir0 %llu/%llu dir1 %llu/%llu",
			     (unsigned long long)dirs[0].received, (unsigned long long)dirs[0].total,
			     (unsigned long long)(n > 1 ? dirs[1].received : 0),
			     (unsigned long long)(n > 1 ? dirs[1].total : 0));
		tnet_run(step);
	}
	for (int i = 0; i < n; i++) {
		cr_assert_eq(dirs[i].mismatch_at, UINT64_MAX, "direction %d differs at byte %llu", i,
			     (unsigned long long)dirs[i].mismatch_at);
		cr_assert_eq(dirs[i].tx.hash, dirs[i].rx.hash, "direction %d: hashes differ", i);
	}
}

#endif
