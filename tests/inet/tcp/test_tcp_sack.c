/* SACK on both sides: the sender's scoreboard (RFC 6675) and the receiver's out-of-order queue (RFC 2018). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inetstack/tcp/tcp_sack.h"
#include "runtime/buf.h"

#define MSS 1000u

static uint64_t rng_state;
static uint32_t rnd(void)
{
	/* xorshift64*: reproducible, so a failure replays the same way. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static struct tcp_sack_block blk(uint32_t s, uint32_t e) { return (struct tcp_sack_block){ s, e }; }

static uint32_t upd1(struct tcp_scoreboard *sb, uint32_t una, uint32_t max, uint32_t s, uint32_t e)
{
	struct tcp_sack_block b = blk(s, e);
	return tcp_sb_update(sb, una, max, &b, 1);
}

static void expect_ranges(const struct tcp_scoreboard *sb, const struct tcp_sack_block *want, uint32_t n)
{
	cr_assert_eq(sb->n, n, "%u ranges, want %u", sb->n, n);
	uint32_t bytes = 0;
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_eq(sb->blk[i].start, want[i].start, "range %u starts at %u, want %u", i, sb->blk[i].start,
			     want[i].start);
		cr_assert_eq(sb->blk[i].end, want[i].end, "range %u ends at %u, want %u", i, sb->blk[i].end, want[i].end);
		bytes += want[i].end - want[i].start;
	}
	cr_assert_eq(sb->sacked_bytes, bytes);
}

/* ---------------- scoreboard ---------------- */

/* Every scenario runs twice: far from the wrap, and straddling 2^32. */
static void sb_merge(uint32_t B)
{
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb, B);
	uint32_t una = B, max = B + 10000;
	cr_assert_eq(upd1(&sb, una, max, B + 2000, B + 3000), 1000);
	cr_assert_eq(upd1(&sb, una, max, B + 4000, B + 5000), 1000);
	expect_ranges(&sb, (struct tcp_sack_block[]){ blk(B + 2000, B + 3000), blk(B + 4000, B + 5000) }, 2);
	/* Filling the gap exactly: adjacent ranges merge into one. */
	cr_assert_eq(upd1(&sb, una, max, B + 3000, B + 4000), 1000);
	expect_ranges(&sb, (struct tcp_sack_block[]){ blk(B + 2000, B + 5000) }, 1);
	/* Overlap on the right counts only the new part. */
	cr_assert_eq(upd1(&sb, una, max, B + 4500, B + 6000), 1000);
	/* Overlap on the left too. */
	cr_assert_eq(upd1(&sb, una, max, B + 1500, B + 2500), 500);
	expect_ranges(&sb, (struct tcp_sack_block[]){ blk(B + 1500, B + 6000) }, 1);
	/* A repeat is not new. */
	cr_assert_eq(upd1(&sb, una, max, B + 2500, B + 2600), 0);
	/* One block spanning several ranges and the gaps between. */
	cr_assert_eq(upd1(&sb, una, max, B + 7000, B + 7100), 100);
	cr_assert_eq(upd1(&sb, una, max, B + 8000, B + 8100), 100);
	cr_assert_eq(upd1(&sb, una, max, B + 6500, B + 9000), 2500 - 200);
	expect_ranges(&sb, (struct tcp_sack_block[]){ blk(B + 1500, B + 6000), blk(B + 6500, B + 9000) }, 2);
	cr_assert(tcp_sb_is_sacked(&sb, B + 1500));
	cr_assert(tcp_sb_is_sacked(&sb, B + 5999));
	cr_assert_not(tcp_sb_is_sacked(&sb, B + 6000));
	cr_assert_not(tcp_sb_is_sacked(&sb, B + 1499));
	cr_assert_eq(tcp_sb_high_sacked(&sb, una), B + 9000);
}

Test(tcp_sb, update_merges_and_counts_new_bytes) { sb_merge(1000); }
Test(tcp_sb, update_merges_across_wrap) { sb_merge(UINT32_MAX - 4500); }

static void sb_bogus(uint32_t B)
{
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb, B);
	uint32_t una = B + 1000, max = B + 10000;
	struct tcp_sack_block bad[] = {
		blk(B + 3000, B + 3000),  /* empty */
		blk(B + 4000, B + 3000),  /* inverted */
		blk(B + 9000, B + 10001), /* past snd_max */
		blk(B + 100, B + 1000),   /* D-SACK, wholly below snd_una */
		blk(B + 100, B + 900),
	};
	cr_assert_eq(tcp_sb_update(&sb, una, max, bad, 5), 0);
	cr_assert_eq(sb.n, 0);
	cr_assert_eq(tcp_sb_high_sacked(&sb, una), una);
	/* Part below snd_una is trimmed off; several blocks in one ACK add up. */
	struct tcp_sack_block mixed[] = { blk(B + 500, B + 1500), blk(B + 9000, B + 10000), blk(B + 4000, B + 3000) };
	cr_assert_eq(tcp_sb_update(&sb, una, max, mixed, 3), 500 + 1000);
	expect_ranges(&sb, (struct tcp_sack_block[]){ blk(B + 1000, B + 1500), blk(B + 9000, B + 10000) }, 2);
}

Test(tcp_sb, bogus_blocks_ignored) { sb_bogus(50000); }
Test(tcp_sb, bogus_blocks_ignored_across_wrap) { sb_bogus(UINT32_MAX - 2000); }

static void sb_ack(uint32_t B)
{
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb, B);
	uint32_t max = B + 10000;
	upd1(&sb, B, max, B + 2000, B + 3000);
	upd1(&sb, B, max, B + 4000, B + 5000);
	sb.high_rxt = B + 1000;
	tcp_sb_ack(&sb, B + 2500);
	expect_ranges(&sb, (struct tcp_sack_block[]){ blk(B + 2500, B + 3000), blk(B + 4000, B + 5000) }, 2);
	cr_assert_eq(sb.high_rxt, B + 2500, "HighRxt below SND.UNA moves up with it");
	tcp_sb_ack(&sb, B + 3500);
	expect_ranges(&sb, (struct tcp_sack_block[]){ blk(B + 4000, B + 5000) }, 1);
	sb.high_rxt = B + 7000;
	tcp_sb_ack(&sb, B + 5000);
	cr_assert_eq(sb.n, 0);
	cr_assert_eq(sb.sacked_bytes, 0);
	cr_assert_eq(sb.high_rxt, B + 7000, "HighRxt above SND.UNA stays");
}

Test(tcp_sb, ack_trims) { sb_ack(7); }
Test(tcp_sb, ack_trims_across_wrap) { sb_ack(UINT32_MAX - 3000); }

Test(tcp_sb, full_forgets_highest)
{
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb, 0);
	uint32_t max = 1000000;
	for (uint32_t i = 0; i < TCP_SB_MAX; i++)
		cr_assert_eq(upd1(&sb, 0, max, 1000 + i * 200, 1100 + i * 200), 100);
	cr_assert_eq(sb.n, TCP_SB_MAX);
	/* Above every range: not room for it. */
	cr_assert_eq(upd1(&sb, 0, max, 900000, 900100), 0);
	cr_assert_eq(sb.n, TCP_SB_MAX);
	cr_assert_eq(tcp_sb_high_sacked(&sb, 0), 1100 + (TCP_SB_MAX - 1) * 200);
	/* Below the others: kept, the highest forgotten. */
	cr_assert_eq(upd1(&sb, 0, max, 100, 200), 100);
	cr_assert_eq(sb.n, TCP_SB_MAX);
	cr_assert_eq(sb.blk[0].start, 100);
	cr_assert_eq(tcp_sb_high_sacked(&sb, 0), 1100 + (TCP_SB_MAX - 2) * 200);
	cr_assert_eq(sb.sacked_bytes, TCP_SB_MAX * 100);
	/* A merge needs no room. */
	cr_assert_eq(upd1(&sb, 0, max, 1100, 1200), 100);
	cr_assert_eq(sb.n, TCP_SB_MAX - 1);
}

static void sb_lost(uint32_t B)
{
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb, B);
	uint32_t max = B + 100000;
	/* By count: small ranges, far below (DupThresh - 1) * mss bytes. */
	upd1(&sb, B, max, B + 1000, B + 1100);
	upd1(&sb, B, max, B + 2000, B + 2100);
	cr_assert_not(tcp_sb_is_lost(&sb, B, MSS), "two ranges above");
	upd1(&sb, B, max, B + 3000, B + 3100);
	cr_assert(tcp_sb_is_lost(&sb, B, MSS), "three ranges above");
	cr_assert(tcp_sb_is_lost(&sb, B + 999, MSS));
	cr_assert_not(tcp_sb_is_lost(&sb, B + 1100, MSS), "only two ranges above");
	/* By bytes: one range, more than 2 * mss above. */
	tcp_sb_reset(&sb, B);
	upd1(&sb, B, max, B + 5000, B + 7000);
	cr_assert_not(tcp_sb_is_lost(&sb, B + 100, MSS), "exactly 2 * mss is not more");
	upd1(&sb, B, max, B + 7000, B + 7001);
	cr_assert(tcp_sb_is_lost(&sb, B + 100, MSS), "2 * mss + 1");
	/* Only the octets above seq count: inside the range fewer are above. */
	cr_assert_not(tcp_sb_is_lost(&sb, B + 5000, MSS));
	cr_assert_not(tcp_sb_is_lost(&sb, B + 8000, MSS));
}

Test(tcp_sb, is_lost_thresholds) { sb_lost(3); }
Test(tcp_sb, is_lost_across_wrap) { sb_lost(UINT32_MAX - 5500); }

static void sb_pipe(uint32_t B)
{
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb, B);
	uint32_t una = B, max = B + 10000;
	upd1(&sb, una, max, B + 3000, B + 4000);
	upd1(&sb, una, max, B + 5000, B + 6000);
	upd1(&sb, una, max, B + 7000, B + 8000);
	/* [0,3000) lost (3 ranges above), [4000,5000) not (2 ranges, 2000 bytes), [6000,7000) and [8000,10000) not. */
	cr_assert_eq(tcp_sb_pipe(&sb, una, max, MSS), 4000);
	sb.high_rxt = B + 2000;
	cr_assert_eq(tcp_sb_pipe(&sb, una, max, MSS), 6000);
	/* Retransmitted past a SACKed range: the range itself counts nothing. */
	sb.high_rxt = B + 4500;
	cr_assert_eq(tcp_sb_pipe(&sb, una, max, MSS), 4000 + 3000 + 500);
	/* Nothing SACKed and nothing retransmitted: everything is in flight. */
	tcp_sb_reset(&sb, una);
	cr_assert_eq(tcp_sb_pipe(&sb, una, max, MSS), 10000);
}

Test(tcp_sb, pipe) { sb_pipe(100); }
Test(tcp_sb, pipe_across_wrap) { sb_pipe(UINT32_MAX - 6000); }

static void sb_next(uint32_t B)
{
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb, B);
	uint32_t una = B, max = B + 10000, len;
	tcp_seq seq;
	upd1(&sb, una, max, B + 2500, B + 4000);
	upd1(&sb, una, max, B + 5000, B + 6000);
	upd1(&sb, una, max, B + 7000, B + 8000);
	/* Rule 1: the first lost hole, one mss at a time, stopping at the SACKed range. */
	cr_assert(tcp_sb_next_seg(&sb, una, max, MSS, true, &seq, &len));
	cr_assert_eq(seq, B);
	cr_assert_eq(len, MSS);
	sb.high_rxt = B + 2000;
	cr_assert(tcp_sb_next_seg(&sb, una, max, MSS, true, &seq, &len));
	cr_assert_eq(seq, B + 2000);
	cr_assert_eq(len, 500, "ends before the SACKed range");
	/* The next hole [4000,5000) is not lost: rule 1 has nothing, rule 3 returns it. */
	sb.high_rxt = B + 2500;
	cr_assert_not(tcp_sb_next_seg(&sb, una, max, MSS, true, &seq, &len));
	cr_assert(tcp_sb_next_seg(&sb, una, max, MSS, false, &seq, &len));
	cr_assert_eq(seq, B + 4000);
	cr_assert_eq(len, MSS);
	sb.high_rxt = B + 6500;
	cr_assert(tcp_sb_next_seg(&sb, una, max, MSS, false, &seq, &len));
	cr_assert_eq(seq, B + 6500);
	cr_assert_eq(len, 500);
	/* Above the highest SACKed octet neither rule applies (that is rule 2's or 4's). */
	sb.high_rxt = B + 8000;
	cr_assert_not(tcp_sb_next_seg(&sb, una, max, MSS, false, &seq, &len));
	/* SND.UNA above HighRxt: start from SND.UNA. */
	tcp_sb_ack(&sb, B + 1000);
	sb.high_rxt = B;
	cr_assert(tcp_sb_next_seg(&sb, B + 1000, max, MSS, true, &seq, &len));
	cr_assert_eq(seq, B + 1000);
	/* Nothing SACKed: nothing to retransmit by these rules. */
	tcp_sb_reset(&sb, una);
	cr_assert_not(tcp_sb_next_seg(&sb, una, max, MSS, false, &seq, &len));
}

Test(tcp_sb, next_seg_rules_1_and_3) { sb_next(12345); }
Test(tcp_sb, next_seg_across_wrap) { sb_next(UINT32_MAX - 3500); }

/* Per-octet reference (RFC 6675 section 4 read literally) over a bitmap of SACKed octets. */
#define W 6000u
static bool ref_lost(const bool *sacked, uint32_t off, uint32_t mss)
{
	uint32_t ranges = 0, bytes = 0;
	for (uint32_t k = off + 1; k < W; k++) {
		if (sacked[k]) {
			bytes++;
			if (!sacked[k - 1] || k == off + 1)
				ranges++;
		}
	}
	return ranges >= TCP_DUPTHRESH || bytes > (TCP_DUPTHRESH - 1) * mss;
}

Test(tcp_sb, random_against_per_octet_reference)
{
	rng_state = 0x9e3779b97f4a7c15ull;
	static bool sacked[W];
	for (int round = 0; round < 40; round++) {
		uint32_t B = round & 1 ? UINT32_MAX - rnd() % W : rnd();
		struct tcp_scoreboard sb;
		tcp_sb_reset(&sb, B);
		memset(sacked, 0, sizeof(sacked));
		uint32_t mss = 100 + rnd() % 400;
		for (int k = 0; k < 12; k++) {
			uint32_t s = rnd() % W, l = 1 + rnd() % 300;
			if (s + l > W)
				l = W - s;
			uint32_t fresh = 0;
			for (uint32_t x = s; x < s + l; x++)
				fresh += !sacked[x], sacked[x] = true;
			cr_assert_eq(upd1(&sb, B, B + W, B + s, B + s + l), fresh);
		}
		uint32_t high_rxt = rnd() % W, ref_pipe = 0, total = 0;
		sb.high_rxt = B + high_rxt;
		for (uint32_t x = 0; x < W; x++) {
			cr_assert_eq(tcp_sb_is_sacked(&sb, B + x), sacked[x], "octet %u", x);
			total += sacked[x];
			if (!sacked[x]) {
				bool lost = ref_lost(sacked, x, mss);
				cr_assert_eq(tcp_sb_is_lost(&sb, B + x, mss), lost, "IsLost(%u)", x);
				ref_pipe += !lost;
				ref_pipe += x < high_rxt;
			}
		}
		cr_assert_eq(sb.sacked_bytes, total);
		cr_assert_eq(tcp_sb_pipe(&sb, B, B + W, mss), ref_pipe);
		/* NextSeg: the first qualifying unSACKed octet at or above HighRxt and below the highest SACK. */
		uint32_t high = 0;
		for (uint32_t x = 0; x < W; x++)
			if (sacked[x])
				high = x + 1;
		for (int rule1 = 0; rule1 < 2; rule1++) {
			int32_t want = -1;
			for (uint32_t x = high_rxt; x < high && want < 0; x++)
				if (!sacked[x] && (!rule1 || ref_lost(sacked, x, mss)))
					want = (int32_t)x;
			tcp_seq seq;
			uint32_t len;
			bool got = tcp_sb_next_seg(&sb, B, B + W, mss, rule1, &seq, &len);
			cr_assert_eq(got, want >= 0, "round %d rule1 %d", round, rule1);
			if (got) {
				cr_assert_eq(seq - B, (uint32_t)want);
				uint32_t l = 0;
				while (want + l < W && !sacked[want + l] && l < mss)
					l++;
				cr_assert_eq(len, l);
			}
		}
	}
}

/* ---------------- out-of-order queue ---------------- */

static struct buf_pool P;
static void pool_setup(void) { cr_assert_eq(buf_pool_init(&P, 8192, 256ull << 20), 0); }
static void pool_teardown(void) { buf_pool_fini(&P); }
TestSuite(tcp_ooo, .init = pool_setup, .fini = pool_teardown);

/* A test that must give back every buffer it took (checked in the body: .fini cannot fail a test). */
#define OOO_TEST(name)                                                                                                 \
	static void name##_body(void);                                                                                 \
	Test(tcp_ooo, name)                                                                                            \
	{                                                                                                              \
		name##_body();                                                                                         \
		cr_assert_eq(P.in_use, 0, "%u buffers still referenced", P.in_use);                                    \
	}                                                                                                              \
	static void name##_body(void)

/* The stream's octet at a sequence number, so that any data offset slip shows. */
static uint8_t pat(uint32_t seq) { return (uint8_t)(seq ^ (seq >> 8) ^ (seq >> 16) * 7); }

static struct pkt mkseg(uint32_t seq, uint32_t len)
{
	struct buf *b = buf_alloc(&P, len);
	cr_assert_not_null(b);
	struct pkt p = { .buf = b, .data = buf_data(b), .len = len };
	for (uint32_t i = 0; i < len; i++)
		p.data[i] = pat(seq + i);
	return p;
}

static uint32_t ins(struct tcp_ooo *o, uint32_t seq, uint32_t len)
{
	struct pkt p = mkseg(seq, len);
	return tcp_ooo_insert(o, &P, seq, &p);
}

/* Checks the queue's invariants: sorted, disjoint, bytes counted, data matching the stream. */
static void check_queue(const struct tcp_ooo *o)
{
	uint32_t bytes = 0;
	for (uint32_t i = 0; i < o->n; i++) {
		const struct tcp_ooo_seg *s = &o->seg[i];
		cr_assert_gt(s->pkt.len, 0);
		if (i)
			cr_assert(SEQ_LEQ(o->seg[i - 1].seq + o->seg[i - 1].pkt.len, s->seq), "segment %u overlaps", i);
		for (uint32_t k = 0; k < s->pkt.len; k++)
			cr_assert_eq(s->pkt.data[k], pat(s->seq + k), "segment %u octet %u", i, k);
		bytes += s->pkt.len;
	}
	cr_assert_eq(o->bytes, bytes);
}

/* Pulls one segment, checks it continues the stream, releases it; its length or 0. */
static uint32_t pull1(struct tcp_ooo *o, tcp_seq *rcv_nxt)
{
	struct pkt out;
	tcp_seq from = *rcv_nxt;
	if (!tcp_ooo_pull(o, &P, rcv_nxt, &out))
		return 0;
	cr_assert_eq(*rcv_nxt - from, out.len);
	for (uint32_t k = 0; k < out.len; k++)
		cr_assert_eq(out.data[k], pat(from + k));
	buf_unref(&P, out.buf);
	return out.len;
}

static void expect_blocks(const struct tcp_ooo *o, tcp_seq rcv_nxt, uint32_t max, const struct tcp_sack_block *want,
			  uint32_t n)
{
	struct tcp_sack_block got[TCP_SACK_MAX_BLOCKS];
	uint32_t m = tcp_ooo_sack_blocks(o, rcv_nxt, got, max);
	cr_assert_eq(m, n, "%u blocks, want %u", m, n);
	for (uint32_t i = 0; i < n; i++)
		cr_assert(got[i].start == want[i].start && got[i].end == want[i].end, "block %u is [%u,%u), want [%u,%u)",
			  i, got[i].start, got[i].end, want[i].start, want[i].end);
}

static void ooo_order(uint32_t B)
{
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	tcp_seq rcv = B;
	cr_assert_eq(ins(o, B + 300, 100), 100);
	cr_assert_eq(ins(o, B + 200, 100), 100);
	cr_assert_eq(ins(o, B + 500, 50), 50);
	check_queue(o);
	cr_assert_eq(o->n, 3);
	cr_assert_eq(o->bytes, 250);
	cr_assert_eq(pull1(o, &rcv), 0, "a hole before the first segment");
	rcv = B + 200; /* the caller took [B, B+200) in order */
	cr_assert_eq(pull1(o, &rcv), 100);
	cr_assert_eq(pull1(o, &rcv), 100);
	cr_assert_eq(rcv, B + 400);
	cr_assert_eq(pull1(o, &rcv), 0);
	cr_assert_eq(o->n, 1);
	rcv = B + 500;
	cr_assert_eq(pull1(o, &rcv), 50);
	cr_assert_eq(o->n, 0);
	cr_assert_eq(o->bytes, 0);
	tcp_ooo_purge(o, &P); /* frees the array */
	free(o);
}

OOO_TEST(insert_and_pull_in_sequence) { ooo_order(1000); }
OOO_TEST(insert_and_pull_across_wrap) { ooo_order(UINT32_MAX - 350); }

OOO_TEST(duplicates_and_overlaps)
{
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	const uint32_t B = UINT32_MAX - 250; /* [B+200, B+300) straddles 2^32 */
	cr_assert_eq(ins(o, B + 200, 100), 100);
	cr_assert_eq(ins(o, B + 200, 100), 0, "exact duplicate");
	cr_assert_eq(ins(o, B + 220, 30), 0, "inside a held segment");
	cr_assert_eq(P.in_use, 1, "duplicates released");
	cr_assert_eq(ins(o, B + 150, 100), 50, "overlap on the left keeps the front");
	cr_assert_eq(ins(o, B + 250, 100), 50, "overlap on the right keeps the back");
	check_queue(o);
	cr_assert_eq(o->n, 3);
	cr_assert_eq(o->seg[0].seq, B + 150);
	cr_assert_eq(o->seg[2].seq, B + 300);
	cr_assert_eq(o->seg[2].pkt.len, 50);
	tcp_seq rcv = B + 150;
	cr_assert_eq(pull1(o, &rcv) + pull1(o, &rcv) + pull1(o, &rcv), 200);
	cr_assert_eq(rcv, B + 350);
	tcp_ooo_purge(o, &P); /* frees the array */
	free(o);
}

OOO_TEST(spanning_segment_is_split)
{
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	ins(o, 200, 100);
	struct pkt p = mkseg(150, 200);
	struct buf *b = p.buf;
	cr_assert_eq(tcp_ooo_insert(o, &P, 150, &p), 100);
	cr_assert_eq(o->n, 3);
	cr_assert_eq(b->refcnt, 2, "each piece holds its own reference");
	cr_assert_eq(o->seg[0].pkt.buf, b);
	cr_assert_eq(o->seg[2].pkt.buf, b);
	cr_assert_eq(o->seg[2].seq, 300);
	check_queue(o);
	/* Spanning several: one piece per gap, plus the ends. */
	ins(o, 400, 10);
	ins(o, 420, 10);
	ins(o, 440, 10);
	p = mkseg(390, 70);
	b = p.buf;
	cr_assert_eq(tcp_ooo_insert(o, &P, 390, &p), 40);
	cr_assert_eq(b->refcnt, 4);
	cr_assert_eq(o->n, 3 + 3 + 4);
	check_queue(o);
	tcp_seq rcv = 150;
	uint32_t got = 0, n;
	while ((n = pull1(o, &rcv)))
		got += n;
	cr_assert_eq(got, 200);
	rcv = 390;
	while ((n = pull1(o, &rcv)))
		got += n;
	cr_assert_eq(got, 270);
	cr_assert_eq(rcv, 460);
	tcp_ooo_purge(o, &P); /* frees the array */
	free(o);
}

OOO_TEST(pull_trims_and_drops_delivered)
{
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	ins(o, 100, 50);
	ins(o, 200, 100);
	ins(o, 300, 100);
	/* The in-order path took up to 250: [100,150) is stale, [200,300) half delivered. */
	tcp_seq rcv = 250;
	struct pkt out;
	cr_assert(tcp_ooo_pull(o, &P, &rcv, &out));
	cr_assert_eq(out.len, 50);
	cr_assert_eq(out.data[0], pat(250));
	cr_assert_eq(rcv, 300);
	buf_unref(&P, out.buf);
	cr_assert_eq(o->bytes, 100);
	/* Past everything held: dropped, nothing returned. */
	rcv = 500;
	cr_assert_not(tcp_ooo_pull(o, &P, &rcv, &out));
	cr_assert_eq(rcv, 500);
	cr_assert_eq(o->n, 0);
	cr_assert_eq(o->bytes, 0);
	tcp_ooo_purge(o, &P); /* frees the array */
	free(o);
}

OOO_TEST(full_queue_refuses)
{
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	for (uint32_t i = 0; i < TCP_OOO_MAX; i++)
		cr_assert_eq(ins(o, 100 + i * 20, 10), 10);
	cr_assert_eq(o->n, TCP_OOO_MAX);
	cr_assert_eq(ins(o, 50, 10), 0, "no room");
	cr_assert_eq(ins(o, 110, 5), 0, "no room in a gap");
	cr_assert_eq(P.in_use, TCP_OOO_MAX, "refused segments released");
	check_queue(o);
	/* One slot free: a segment over two gaps keeps only its lowest piece. */
	tcp_seq rcv = 110;
	cr_assert_eq(pull1(o, &rcv), 0);
	cr_assert_eq(o->n, TCP_OOO_MAX - 1);
	struct pkt p = mkseg(125, 30); /* gaps [130,140) and [150,155) */
	struct buf *b = p.buf;
	cr_assert_eq(tcp_ooo_insert(o, &P, 125, &p), 10);
	cr_assert_eq(b->refcnt, 1);
	cr_assert_eq(o->n, TCP_OOO_MAX);
	check_queue(o);
	tcp_ooo_purge(o, &P);
	free(o);
}

OOO_TEST(sack_blocks_most_recent_first)
{
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	const uint32_t B = UINT32_MAX - 650; /* the later blocks straddle 2^32 */
	tcp_seq rcv = B;
	expect_blocks(o, rcv, 4, NULL, 0);
	ins(o, B + 100, 100);
	expect_blocks(o, rcv, 4, (struct tcp_sack_block[]){ blk(B + 100, B + 200) }, 1);
	ins(o, B + 300, 100);
	ins(o, B + 500, 100);
	expect_blocks(o, rcv, 4,
		      (struct tcp_sack_block[]){ blk(B + 500, B + 600), blk(B + 300, B + 400), blk(B + 100, B + 200) }, 3);
	/* Filling [200,300) joins two reported blocks into the first one. */
	ins(o, B + 200, 100);
	expect_blocks(o, rcv, 4, (struct tcp_sack_block[]){ blk(B + 100, B + 400), blk(B + 500, B + 600) }, 2);
	/* Growing a block at its edge. */
	ins(o, B + 600, 50);
	expect_blocks(o, rcv, 4, (struct tcp_sack_block[]){ blk(B + 500, B + 650), blk(B + 100, B + 400) }, 2);
	ins(o, B + 700, 100);
	ins(o, B + 900, 100);
	ins(o, B + 1100, 100);
	const struct tcp_sack_block four[] = { blk(B + 1100, B + 1200), blk(B + 900, B + 1000), blk(B + 700, B + 800),
					      blk(B + 500, B + 650) };
	expect_blocks(o, rcv, 4, four, 4);
	expect_blocks(o, rcv, 3, four, 3);
	/* A duplicate still puts its block first, and an old one comes back. */
	cr_assert_eq(ins(o, B + 150, 50), 0);
	expect_blocks(o, rcv, 4,
		      (struct tcp_sack_block[]){ blk(B + 100, B + 400), blk(B + 1100, B + 1200), blk(B + 900, B + 1000),
						 blk(B + 700, B + 800) },
		      4);
	/* Pulled data is no longer reported. */
	rcv = B + 100;
	while (pull1(o, &rcv))
		;
	cr_assert_eq(rcv, B + 400);
	expect_blocks(o, rcv, 4,
		      (struct tcp_sack_block[]){ blk(B + 1100, B + 1200), blk(B + 900, B + 1000), blk(B + 700, B + 800) },
		      3);
	/* And never below rcv_nxt, even before a pull. */
	expect_blocks(o, B + 950, 4, (struct tcp_sack_block[]){ blk(B + 1100, B + 1200), blk(B + 950, B + 1000) }, 2);
	tcp_ooo_purge(o, &P);
	free(o);
}

OOO_TEST(purge_frees_all)
{
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	for (uint32_t i = 0; i < 10; i++)
		ins(o, 1000 + i * 100, 50);
	ins(o, 990, 1000); /* split into 11 pieces over one buffer */
	cr_assert_eq(P.in_use, 11);
	cr_assert_eq(o->n, 21);
	tcp_ooo_purge(o, &P);
	cr_assert_eq(o->n, 0);
	cr_assert_eq(o->bytes, 0);
	cr_assert_eq(tcp_ooo_sack_blocks(o, 0, (struct tcp_sack_block[4]){ 0 }, 4), 0);
	free(o);
}

/* Each reported block is a maximal run of held data above rcv_nxt, and no two are the same. */
static void check_blocks(const struct tcp_ooo *o, tcp_seq rcv)
{
	struct tcp_sack_block b[TCP_SACK_MAX_BLOCKS];
	uint32_t m = tcp_ooo_sack_blocks(o, rcv, b, TCP_SACK_MAX_BLOCKS);
	for (uint32_t i = 0; i < m; i++) {
		cr_assert(SEQ_GT(b[i].start, rcv));
		uint32_t k = 0;
		while (k < o->n && SEQ_LEQ(o->seg[k].seq + o->seg[k].pkt.len, b[i].start))
			k++;
		cr_assert(k < o->n && o->seg[k].seq == b[i].start, "block %u starts a segment", i);
		cr_assert(k == 0 || o->seg[k - 1].seq + o->seg[k - 1].pkt.len != b[i].start, "block %u starts a run", i);
		while (k + 1 < o->n && o->seg[k].seq + o->seg[k].pkt.len == o->seg[k + 1].seq)
			k++;
		cr_assert_eq(o->seg[k].seq + o->seg[k].pkt.len, b[i].end, "block %u ends its run", i);
		for (uint32_t j = 0; j < i; j++)
			cr_assert(b[j].start != b[i].start);
	}
}

OOO_TEST(random_reassembly_of_1mb)
{
	enum { LEN = 1 << 20, WIN = 256 << 10 };
	rng_state = 0x2545f4914f6cdd1dull;
	uint8_t *src = malloc(LEN), *dst = malloc(LEN);
	for (uint32_t i = 0; i < LEN; i++)
		src[i] = (uint8_t)rnd();
	memset(dst, 0, LEN);
	struct tcp_ooo *o = malloc(sizeof(*o));
	tcp_ooo_init(o);
	const tcp_seq isn = UINT32_MAX - (LEN / 2); /* the stream crosses 2^32 halfway */
	tcp_seq rcv = isn;
	uint32_t done = 0, iters = 0, refused = 0, dups = 0;
	while (done < LEN) {
		iters++;
		cr_assert_lt(iters, 2000000, "no progress");
		/* Mostly out of order within the window, sometimes at or before rcv_nxt (duplicates). */
		uint32_t r = rnd() % 32, off;
		if (r == 0)
			off = done;
		else if (r == 1)
			off = done > 3000 ? done - rnd() % 3000 : 0;
		else
			off = done + rnd() % WIN;
		if (off >= LEN)
			continue;
		/* Many small segments too, so that the queue fills and spanning splits are common. */
		uint32_t len = 1 + rnd() % (rnd() % 4 ? 1460 : 40);
		if (off + len > LEN)
			len = LEN - off;
		struct buf *b = buf_alloc(&P, len);
		cr_assert_not_null(b);
		memcpy(buf_data(b), src + off, len);
		struct pkt p = { .buf = b, .data = buf_data(b), .len = len };
		if (off <= done) {
			/* The in-order path: deliver what is new, then drain the queue. */
			if (off + len > done) {
				memcpy(dst + done, p.data + (done - off), off + len - done);
				rcv += off + len - done;
				done = off + len;
			} else {
				dups++;
			}
			buf_unref(&P, b);
			struct pkt out;
			while (tcp_ooo_pull(o, &P, &rcv, &out)) {
				cr_assert_leq(done + out.len, LEN);
				memcpy(dst + done, out.data, out.len);
				done += out.len;
				buf_unref(&P, out.buf);
			}
			cr_assert_eq(rcv - isn, done);
		} else {
			uint32_t held = o->n;
			if (!tcp_ooo_insert(o, &P, isn + off, &p) && held == TCP_OOO_MAX)
				refused++;
		}
		if (iters % 256 == 0) {
			uint32_t bytes = 0;
			for (uint32_t i = 0; i < o->n; i++) {
				const struct tcp_ooo_seg *s = &o->seg[i];
				cr_assert(SEQ_GT(s->seq, rcv));
				cr_assert(i == 0 || SEQ_LEQ(o->seg[i - 1].seq + o->seg[i - 1].pkt.len, s->seq));
				cr_assert_eq(memcmp(s->pkt.data, src + (s->seq - isn), s->pkt.len), 0);
				bytes += s->pkt.len;
			}
			cr_assert_eq(o->bytes, bytes);
			check_blocks(o, rcv);
		}
	}
	cr_assert_eq(memcmp(src, dst, LEN), 0, "reassembled stream differs");
	cr_assert_gt(dups, 0);
	cr_assert_gt(refused, 0, "the full queue was never reached");
	cr_log_info("%u iterations, %u refused on a full queue, %u old duplicates", iters, refused, dups);
	tcp_ooo_purge(o, &P);
	free(o);
	free(src);
	free(dst);
}
