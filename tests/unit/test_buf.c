/* Unit tests for buffer pools: size classes, refcounts, tokens, sga checks, limits. */
#include "runtime/buf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t caps[BUF_NCLASSES] = {
	256, 2048, 16384, 65536, 262144, 1u << 20, 4u << 20, BUF_MAX_SIZE,
};

static struct buf_pool P;

static void setup(void) { cr_assert_eq(buf_pool_init(&P, 4096, 256ull << 20), 0); }
static void teardown(void) { buf_pool_fini(&P); }

TestSuite(buf, .init = setup, .fini = teardown);

/* A test that must give back every buffer it took (checked in the body: .fini cannot fail a test). */
#define BUF_TEST(name)                                                                                                 \
	static void name##_body(void);                                                                                 \
	Test(buf, name)                                                                                                \
	{                                                                                                              \
		name##_body();                                                                                         \
		cr_assert_eq(P.in_use, 0, "%u buffers still in use", P.in_use);                                        \
	}                                                                                                              \
	static void name##_body(void)

/* The whole slot, headroom included, is ours to write. */
static void scribble(struct buf *b, uint8_t v)
{
	memset(b->base, v, BUF_HEADROOM + b->cap);
	cr_assert_eq(buf_data(b)[b->cap - 1], v);
}

BUF_TEST(every_size_class_and_boundary)
{
	for (int i = 0; i < BUF_NCLASSES; i++) {
		struct buf *b = buf_alloc(&P, caps[i]);
		cr_assert_not_null(b, "alloc of class cap %u failed", caps[i]);
		cr_assert_eq(b->cls, i);
		cr_assert_eq(b->cap, caps[i]);
		cr_assert_eq(b->refcnt, 1);
		cr_assert_eq(b->app_refs, 0);
		cr_assert_eq(buf_data(b), b->base + BUF_HEADROOM);
		cr_assert_eq((uintptr_t)b->base % 64, 0, "slot not cache-line aligned");
		scribble(b, (uint8_t)i);
		if (i + 1 < BUF_NCLASSES) {
			/* One byte past a class's cap goes to the next class. */
			struct buf *c = buf_alloc(&P, (size_t)caps[i] + 1);
			cr_assert_not_null(c);
			cr_assert_eq(c->cls, i + 1);
			scribble(c, 0xee);
			buf_unref(&P, c);
		}
		/* The neighbour's scribble did not reach into this buffer. */
		cr_assert_eq(buf_data(b)[0], (uint8_t)i);
		cr_assert_eq(buf_data(b)[b->cap - 1], (uint8_t)i);
		buf_unref(&P, b);
	}
	struct buf *one = buf_alloc(&P, 1);
	cr_assert_not_null(one);
	cr_assert_eq(one->cls, 0);
	cr_assert_geq(one->cap, 1);
	buf_unref(&P, one);
	cr_assert_null(buf_alloc(&P, 0));
	cr_assert_null(buf_alloc(&P, (size_t)BUF_MAX_SIZE + 1));
	cr_assert_null(buf_alloc(&P, SIZE_MAX));
	struct buf *max = buf_alloc(&P, BUF_MAX_SIZE);
	cr_assert_not_null(max);
	cr_assert_eq(max->cap, BUF_MAX_SIZE);
	buf_unref(&P, max);
	cr_assert_eq(P.in_use, 0);
}

BUF_TEST(buffers_of_one_class_are_disjoint)
{
	enum { N = 64 };
	struct buf *b[N];
	for (int i = 0; i < N; i++) {
		b[i] = buf_alloc(&P, 2000);
		cr_assert_not_null(b[i]);
		scribble(b[i], (uint8_t)i);
	}
	cr_assert_eq(P.in_use, N);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(buf_data(b[i])[0], (uint8_t)i);
		cr_assert_eq(buf_data(b[i])[b[i]->cap - 1], (uint8_t)i);
		for (int j = 0; j < N; j++)
			if (i != j)
				cr_assert(b[i]->base + BUF_HEADROOM + b[i]->cap <= b[j]->base ||
					  b[j]->base + BUF_HEADROOM + b[j]->cap <= b[i]->base);
	}
	for (int i = 0; i < N; i++)
		buf_unref(&P, b[i]);
}

BUF_TEST(refcounting)
{
	struct buf *b = buf_alloc(&P, 100);
	void *tok = buf_token(&P, b);
	cr_assert_not_null(tok);
	cr_assert_eq(buf_lookup(&P, tok), b);
	buf_ref(b);
	buf_ref(b);
	cr_assert_eq(b->refcnt, 3);
	buf_unref(&P, b);
	buf_unref(&P, b);
	cr_assert_eq(buf_lookup(&P, tok), b, "freed while a reference remained");
	cr_assert_eq(P.in_use, 1);
	buf_unref(&P, b);
	cr_assert_eq(P.in_use, 0);
	cr_assert_null(buf_lookup(&P, tok), "token of a freed buffer still resolves");
	/* The slot comes back under a new generation: the old token stays dead. */
	struct buf *again = buf_alloc(&P, 100);
	cr_assert_eq(again, b);
	void *tok2 = buf_token(&P, again);
	cr_assert_neq(tok2, tok);
	cr_assert_null(buf_lookup(&P, tok));
	cr_assert_eq(buf_lookup(&P, tok2), again);
	buf_unref(&P, again);
}

BUF_TEST(forged_and_stale_tokens)
{
	struct buf *b = buf_alloc(&P, 10);
	uint64_t good = (uint64_t)(uintptr_t)buf_token(&P, b);
	uint32_t idx = (uint32_t)good, gen = (uint32_t)(good >> 32);
	cr_assert_null(buf_lookup(&P, NULL));
	cr_assert_null(buf_lookup(&P, (void *)(uintptr_t)idx), "generation 0");
	cr_assert_null(buf_lookup(&P, (void *)(uintptr_t)(((uint64_t)(gen + 1) << 32) | idx)), "future generation");
	cr_assert_null(buf_lookup(&P, (void *)(uintptr_t)(((uint64_t)gen << 32) | (idx + 1))), "index never carved");
	cr_assert_null(buf_lookup(&P, (void *)(uintptr_t)(((uint64_t)gen << 32) | 0)), "index 0");
	cr_assert_null(buf_lookup(&P, (void *)(uintptr_t)(((uint64_t)gen << 32) | 0xffffffffu)), "huge index");
	cr_assert_null(buf_lookup(&P, b), "a raw pointer is not a token");
	cr_assert_null(buf_lookup(&P, buf_data(b)));
	srand(7);
	for (int i = 0; i < 100000; i++) {
		uint64_t v = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
		if (v == good)
			continue;
		cr_assert_null(buf_lookup(&P, (void *)(uintptr_t)v));
	}
	cr_assert_eq(buf_lookup(&P, (void *)(uintptr_t)good), b);
	buf_unref(&P, b);
	cr_assert_null(buf_lookup(&P, (void *)(uintptr_t)good));
}

BUF_TEST(give_app_builds_sga)
{
	struct buf *b = buf_alloc(&P, 300);
	demi_sgarray_t sga;
	memset(&sga, 0x5a, sizeof(sga));
	buf_give_app(&P, b, buf_data(b) + 4, 200, &sga);
	cr_assert_eq(sga.sga_numsegs, 1);
	cr_assert_eq(sga.sga_buf, buf_token(&P, b));
	cr_assert_eq(sga.sga_segs[0].sgaseg_buf, buf_data(b) + 4);
	cr_assert_eq(sga.sga_segs[0].sgaseg_len, 200);
	cr_assert_eq(sga.sga_addr.sin_family, 0);
	cr_assert_eq(sga.sga_addr.sin_port, 0);
	cr_assert_eq(sga.sga_addr.sin_addr.s_addr, 0);
	cr_assert_eq(b->app_refs, 1);
	cr_assert_eq(b->refcnt, 1, "give_app hands over the caller's reference, it takes none");
	cr_assert_eq(buf_app_free(&P, &sga), 0);
}

BUF_TEST(check_sga)
{
	struct buf *b = buf_alloc(&P, 1000);
	cr_assert_eq(b->cap, 2048);
	demi_sgarray_t good;
	buf_give_app(&P, b, buf_data(b), 1000, &good);
	struct buf *out = NULL;
	cr_assert_eq(buf_check_sga(&P, &good, &out), 0);
	cr_assert_eq(out, b);

	demi_sgarray_t s;
#define CHECK_BAD(what)                                                                                                \
	do {                                                                                                           \
		out = NULL;                                                                                            \
		cr_assert_eq(buf_check_sga(&P, &s, &out), -EINVAL, "accepted: %s", what);                              \
		cr_assert_null(out);                                                                                   \
	} while (0)
#define CHECK_OK(what)                                                                                                 \
	do {                                                                                                           \
		out = NULL;                                                                                            \
		cr_assert_eq(buf_check_sga(&P, &s, &out), 0, "rejected: %s", what);                                    \
		cr_assert_eq(out, b);                                                                                  \
	} while (0)

	cr_assert_eq(buf_check_sga(&P, NULL, &out), -EINVAL);
	s = good, s.sga_numsegs = 0;
	CHECK_BAD("0 segments");
	s = good, s.sga_numsegs = 2;
	CHECK_BAD("2 segments");
	s = good, s.sga_numsegs = UINT32_MAX;
	CHECK_BAD("UINT32_MAX segments");
	s = good, s.sga_buf = NULL;
	CHECK_BAD("NULL sga_buf");
	s = good, s.sga_buf = b;
	CHECK_BAD("raw pointer as sga_buf");
	s = good, s.sga_segs[0].sgaseg_len = 0;
	CHECK_BAD("zero length");
	s = good, s.sga_segs[0].sgaseg_buf = NULL;
	CHECK_BAD("NULL segment");

	uint8_t *lo = b->base, *data = buf_data(b), *hi = data + b->cap;
	/* Before the base. */
	s = good, s.sga_segs[0].sgaseg_buf = lo - 1, s.sga_segs[0].sgaseg_len = 1;
	CHECK_BAD("one byte before the base");
	s = good, s.sga_segs[0].sgaseg_buf = lo - 64, s.sga_segs[0].sgaseg_len = 128;
	CHECK_BAD("straddles the base");
	/* The headroom is inside the buffer. */
	s = good, s.sga_segs[0].sgaseg_buf = lo, s.sga_segs[0].sgaseg_len = BUF_HEADROOM + b->cap;
	CHECK_OK("the whole slot from the base");
	s = good, s.sga_segs[0].sgaseg_buf = lo, s.sga_segs[0].sgaseg_len = BUF_HEADROOM + b->cap + 1;
	CHECK_BAD("whole slot plus one");
	/* Past the end. */
	s = good, s.sga_segs[0].sgaseg_buf = data, s.sga_segs[0].sgaseg_len = b->cap;
	CHECK_OK("whole data");
	s = good, s.sga_segs[0].sgaseg_buf = data, s.sga_segs[0].sgaseg_len = b->cap + 1;
	CHECK_BAD("one byte past the end");
	s = good, s.sga_segs[0].sgaseg_buf = hi - 1, s.sga_segs[0].sgaseg_len = 1;
	CHECK_OK("last byte");
	s = good, s.sga_segs[0].sgaseg_buf = hi, s.sga_segs[0].sgaseg_len = 1;
	CHECK_BAD("starts at the end");
	s = good, s.sga_segs[0].sgaseg_buf = hi + 4096, s.sga_segs[0].sgaseg_len = 1;
	CHECK_BAD("far past the end");
	/* Lengths that overflow the address arithmetic. */
	s = good, s.sga_segs[0].sgaseg_buf = data, s.sga_segs[0].sgaseg_len = UINT32_MAX;
	CHECK_BAD("UINT32_MAX length");
	s = good, s.sga_segs[0].sgaseg_buf = hi - 1, s.sga_segs[0].sgaseg_len = UINT32_MAX;
	CHECK_BAD("near the end with UINT32_MAX length");
	s = good, s.sga_segs[0].sgaseg_buf = (void *)(UINTPTR_MAX - 10), s.sga_segs[0].sgaseg_len = 100;
	CHECK_BAD("segment wraps the address space");

	/* A live buffer the application no longer holds: only the stack does. */
	buf_ref(b);
	cr_assert_eq(buf_app_free(&P, &good), 0);
	s = good;
	CHECK_BAD("buffer the application freed");
	buf_unref(&P, b);
	/* And one that went back to its pool. */
	CHECK_BAD("freed buffer");
#undef CHECK_BAD
#undef CHECK_OK
}

BUF_TEST(app_double_free)
{
	struct buf *b = buf_alloc(&P, 64);
	demi_sgarray_t sga;
	buf_give_app(&P, b, buf_data(b), 64, &sga);
	cr_assert_eq(buf_app_free(&P, &sga), 0);
	cr_assert_eq(P.in_use, 0);
	cr_assert_eq(buf_app_free(&P, &sga), -EINVAL);
	cr_assert_eq(P.in_use, 0);
	cr_assert_eq(buf_app_free(&P, NULL), -EINVAL);
	demi_sgarray_t zero;
	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(buf_app_free(&P, &zero), -EINVAL);

	/* The stack still holds it: the app's second free must not take the stack's reference. */
	b = buf_alloc(&P, 64);
	buf_give_app(&P, b, buf_data(b), 64, &sga);
	buf_ref(b);
	cr_assert_eq(buf_app_free(&P, &sga), 0);
	cr_assert_eq(buf_app_free(&P, &sga), -EINVAL);
	cr_assert_eq(b->refcnt, 1);
	cr_assert_eq(P.in_use, 1);
	/* A stale sga must not free a reused slot either. */
	buf_unref(&P, b);
	struct buf *c = buf_alloc(&P, 64);
	cr_assert_eq(c, b);
	cr_assert_eq(buf_app_free(&P, &sga), -EINVAL);
	cr_assert_eq(c->refcnt, 1);
	buf_unref(&P, c);
}

BUF_TEST(exhaustion_by_max_buffers)
{
	struct buf_pool p;
	cr_assert_eq(buf_pool_init(&p, 8, 64ull << 20), 0);
	struct buf *b[8];
	for (int i = 0; i < 8; i++) {
		b[i] = buf_alloc(&p, 100);
		cr_assert_not_null(b[i]);
	}
	cr_assert_eq(p.in_use, 8);
	cr_assert_null(buf_alloc(&p, 100), "ninth buffer of eight");
	cr_assert_eq(p.in_use, 8);
	buf_unref(&p, b[3]);
	b[3] = buf_alloc(&p, 100);
	cr_assert_not_null(b[3], "no recovery after a free");
	cr_assert_null(buf_alloc(&p, 100));
	for (int i = 0; i < 8; i++)
		buf_unref(&p, b[i]);
	cr_assert_eq(p.in_use, 0);
	for (int i = 0; i < 8; i++) {
		b[i] = buf_alloc(&p, 100);
		cr_assert_not_null(b[i]);
	}
	for (int i = 0; i < 8; i++)
		buf_unref(&p, b[i]);
	cr_assert_eq(p.in_use, 0);
	buf_pool_fini(&p);
}

BUF_TEST(exhaustion_by_max_bytes)
{
	/* Room for exactly three 16 KiB-class slots. */
	const uint64_t slot = (16384 + BUF_HEADROOM + 63) & ~63u;
	struct buf_pool p;
	cr_assert_eq(buf_pool_init(&p, 1000, 3 * slot), 0);
	struct buf *b[3];
	for (int i = 0; i < 3; i++) {
		b[i] = buf_alloc(&p, 10000);
		cr_assert_not_null(b[i], "alloc %d within max_bytes failed", i);
		scribble(b[i], 1);
	}
	cr_assert_null(buf_alloc(&p, 10000), "past max_bytes");
	cr_assert_null(buf_alloc(&p, 10), "another class past max_bytes");
	cr_assert_leq(p.bytes, 3 * slot);
	buf_unref(&p, b[1]);
	b[1] = buf_alloc(&p, 10000);
	cr_assert_not_null(b[1], "no recovery after a free");
	for (int i = 0; i < 3; i++)
		buf_unref(&p, b[i]);
	cr_assert_eq(p.in_use, 0);
	buf_pool_fini(&p);

	/* The largest class: one 16 MiB buffer fits in 20 MiB, two do not. */
	cr_assert_eq(buf_pool_init(&p, 1000, 20ull << 20), 0);
	struct buf *big = buf_alloc(&p, BUF_MAX_SIZE);
	cr_assert_not_null(big);
	cr_assert_null(buf_alloc(&p, BUF_MAX_SIZE));
	buf_unref(&p, big);
	big = buf_alloc(&p, BUF_MAX_SIZE);
	cr_assert_not_null(big);
	buf_unref(&p, big);
	cr_assert_eq(p.in_use, 0);
	buf_pool_fini(&p);
}

BUF_TEST(fini_invalidates_tokens)
{
	struct buf_pool p;
	cr_assert_eq(buf_pool_init(&p, 16, 8ull << 20), 0);
	struct buf *b = buf_alloc(&p, 10);
	void *tok = buf_token(&p, b);
	buf_pool_fini(&p);
	cr_assert_null(buf_lookup(&p, tok));
}

/* A watcher (catnip registering memory with DPDK) hears of every chunk: those mapped before, and each new one. */
struct watch_log {
	int calls;
	uintptr_t lo[8], hi[8];
};

static void on_map(void *arg, void *mem, size_t len)
{
	struct watch_log *w = arg;
	cr_assert_lt(w->calls, 8);
	cr_assert_eq(len % 4096, 0, "whole pages");
	w->lo[w->calls] = (uintptr_t)mem;
	w->hi[w->calls++] = (uintptr_t)mem + len;
}

static bool watched(const struct watch_log *w, const struct buf *b)
{
	for (int i = 0; i < w->calls; i++)
		if ((uintptr_t)b->base >= w->lo[i] && (uintptr_t)buf_data(b) + b->cap <= w->hi[i])
			return true;
	return false;
}

BUF_TEST(watch_sees_every_chunk)
{
	struct watch_log w = { 0 };
	struct buf *a = buf_alloc(&P, 100);
	buf_pool_watch(&P, on_map, &w);
	cr_assert_eq(w.calls, 1, "the chunk mapped before watching");
	struct buf *b = buf_alloc(&P, 100000);
	cr_assert_eq(w.calls, 2, "a new chunk for a new class");
	cr_assert(watched(&w, a) && watched(&w, b), "every buffer lies in a chunk the watcher was told of");
	buf_pool_watch(&P, NULL, NULL);
	struct buf *c = buf_alloc(&P, 1u << 20);
	cr_assert_eq(w.calls, 2, "no calls after unwatching");
	buf_unref(&P, a);
	buf_unref(&P, b);
	buf_unref(&P, c);
}
