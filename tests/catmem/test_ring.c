/*
 * catmem's rings driven directly, in one process: record stamps, padding at
 * the end of the ring, room and wrap-around, and what a corrupt shared index
 * or record turns into (-EPROTO, never an access outside the ring).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queues/catmem/pipe_ring.h"

#define KEY 0x9e3779b97f4a7c15ull

static struct pipe_shared *region;
static struct ring_tx tx;
static struct ring_rx rx;

static void setup(void)
{
	region = aligned_alloc(4096, PIPE_HDR_BYTES + PIPE_RING_BYTES);
	cr_assert_not_null(region);
	memset(region, 0, PIPE_HDR_BYTES + PIPE_RING_BYTES);
	uint8_t *ring = (uint8_t *)region + PIPE_HDR_BYTES;
	ring_tx_init(&tx, ring, &region->ring_head[0].v, KEY);
	ring_rx_init(&rx, ring, &region->ring_head[0].v, KEY);
}

static void teardown(void)
{
	free(region);
}

TestSuite(catmem_ring, .init = setup, .fini = teardown);

static uint8_t *ring_bytes(void)
{
	return (uint8_t *)region + PIPE_HDR_BYTES;
}

Test(catmem_ring, empty_ring_has_nothing)
{
	struct ring_msg m;
	cr_assert_eq(ring_get(&rx, &m), -EAGAIN, "zeroed memory never matches a stamp");
	cr_assert(!ring_ready(&rx));
}

Test(catmem_ring, fifo_with_wrap_and_padding)
{
	uint8_t buf[PIPE_INLINE_MAX], out[PIPE_INLINE_MAX];
	uint64_t sent = 0, got = 0;
	/* Odd sizes, so that records end everywhere and padding is needed at the end of each lap. */
	for (int lap = 0; lap < 2000; lap++) {
		int n = 0;
		for (;;) {
			uint32_t len = 1 + (uint32_t)((sent * 2654435761u) % PIPE_INLINE_MAX);
			memset(buf, (int)(sent & 0xff), len);
			int err = ring_put_inline(&tx, buf, len);
			if (err == -EAGAIN)
				break;
			cr_assert_eq(err, 0);
			sent++;
			if (++n == 64)
				break;
		}
		/* Drain part of it, so that head and tail chase each other around the ring. */
		for (int k = 0; k < 48 && got < sent; k++) {
			struct ring_msg m;
			cr_assert(ring_ready(&rx));
			cr_assert_eq(ring_get(&rx, &m), 0);
			uint32_t want = 1 + (uint32_t)((got * 2654435761u) % PIPE_INLINE_MAX);
			cr_assert_eq(m.type, PIPE_REC_INLINE);
			cr_assert_eq(m.len, want);
			memcpy(out, m.data, m.len);
			for (uint32_t i = 0; i < m.len; i++)
				cr_assert_eq(out[i], (uint8_t)(got & 0xff));
			ring_consume(&rx, &m);
			got++;
		}
	}
	cr_assert_gt(tx.tail, 4 * (uint64_t)PIPE_RING_BYTES, "the test went round the ring several times");
}

Test(catmem_ring, full_ring_says_again)
{
	uint8_t buf[1024] = { 0 };
	int n = 0;
	while (ring_put_inline(&tx, buf, sizeof(buf)) == 0)
		n++;
	cr_assert_eq(n, (int)(PIPE_RING_BYTES / 1088), "1024 + 16 bytes take 17 lines");
	cr_assert_eq(ring_tx_room(&tx, 1024), -EAGAIN);
	cr_assert_eq(ring_tx_room(&tx, 64), 0, "a small record still fits before the end");
	struct ring_msg m;
	cr_assert_eq(ring_get(&rx, &m), 0);
	ring_consume(&rx, &m);
	cr_assert_eq(ring_put_inline(&tx, buf, sizeof(buf)), 0, "a consumed record makes room");
}

Test(catmem_ring, block_records)
{
	cr_assert_eq(ring_put_block(&tx, 31, 100, 65436), 0);
	struct ring_msg m;
	cr_assert_eq(ring_get(&rx, &m), 0);
	cr_assert_eq(m.type, PIPE_REC_BLOCK);
	cr_assert_eq(m.block, 31);
	cr_assert_eq(m.off, 100);
	cr_assert_eq(m.len, 65436);
	ring_consume(&rx, &m);
}

/* Writes a record at position 0 as a corrupt (or hostile) producer would. */
static void forge(uint32_t len, uint32_t info)
{
	struct pipe_rec *r = (struct pipe_rec *)ring_bytes();
	r->len = len;
	r->info = info;
	atomic_store(&r->stamp, 0 ^ KEY);
}

Test(catmem_ring, malformed_records_are_eproto)
{
	struct ring_msg m;
	const struct {
		uint32_t len, info;
	} bad[] = {
		{ 0, PIPE_REC_INLINE },                             /* empty */
		{ PIPE_INLINE_MAX + 1, PIPE_REC_INLINE },           /* too long for the ring */
		{ 0xffffffffu, PIPE_REC_INLINE },                   /* way too long */
		{ 10, PIPE_REC_INLINE | 1u << 8 },                  /* stray bits */
		{ 1, PIPE_REC_PAD },                                /* padding with a length */
		{ 10, 7 },                                          /* unknown type */
		{ 0, PIPE_REC_BLOCK },                              /* empty block */
		{ 10, pipe_rec_info(PIPE_REC_BLOCK, PIPE_NBLOCKS, 0) }, /* no such block */
		{ 100, pipe_rec_info(PIPE_REC_BLOCK, 0, 65500) },       /* past the block's end */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		forge(bad[i].len, bad[i].info);
		cr_assert_eq(ring_get(&rx, &m), -EPROTO, "case %zu", i);
	}
	/* A record that would run past the end of the ring. */
	rx.rd = PIPE_RING_BYTES - 64;
	struct pipe_rec *r = (struct pipe_rec *)(ring_bytes() + PIPE_RING_BYTES - 64);
	r->len = 100;
	r->info = PIPE_REC_INLINE;
	atomic_store(&r->stamp, (PIPE_RING_BYTES - 64) ^ KEY);
	cr_assert_eq(ring_get(&rx, &m), -EPROTO);
}

Test(catmem_ring, corrupt_head_is_eproto)
{
	uint8_t buf[64] = { 0 };
	while (ring_put_inline(&tx, buf, sizeof(buf)) == 0)
		;
	/* A head beyond what was written. */
	uint64_t tail = tx.tail;
	atomic_store(&region->ring_head[0].v, tail + 128);
	cr_assert_eq(ring_put_inline(&tx, buf, sizeof(buf)), -EPROTO);
	/* A head that goes backwards: the consumer released two records, then "took one back". */
	atomic_store(&region->ring_head[0].v, 256);
	cr_assert_eq(ring_put_inline(&tx, buf, sizeof(buf)), 0);
	cr_assert_eq(ring_put_inline(&tx, buf, sizeof(buf)), 0);
	atomic_store(&region->ring_head[0].v, 128);
	cr_assert_eq(ring_put_inline(&tx, buf, sizeof(buf)), -EPROTO);
}

Test(catmem_ring, returns)
{
	struct ret_tx rt;
	struct ret_rx rr;
	ret_tx_init(&rt, region->ret_slot[0], &region->ret_tail[0].v, &region->ret_head[0].v);
	ret_rx_init(&rr, region->ret_slot[0], &region->ret_tail[0].v, &region->ret_head[0].v);
	uint32_t b;
	cr_assert_eq(ret_get(&rr, &b), -EAGAIN);
	for (uint32_t round = 0; round < 5; round++) {
		for (uint32_t i = 0; i < PIPE_NBLOCKS; i++)
			cr_assert_eq(ret_put(&rt, i), 0);
		cr_assert_eq(ret_put(&rt, 0), -EPROTO, "more returns than blocks: a duplicate");
		for (uint32_t i = 0; i < PIPE_NBLOCKS; i++) {
			cr_assert_eq(ret_get(&rr, &b), 0);
			cr_assert_eq(b, i);
		}
		cr_assert_eq(ret_get(&rr, &b), -EAGAIN);
	}
	atomic_store(&region->ret_tail[0].v, rr.head_priv + PIPE_NBLOCKS + 1);
	cr_assert_eq(ret_get(&rr, &b), -EPROTO, "a tail too far ahead");
}
