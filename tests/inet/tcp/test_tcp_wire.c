/* TCP groundwork: sequence arithmetic, option parsing and writing, ISNs (RFC 6528), the checksum. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/prot/tcp.h"
#include "inetstack/tcp/tcp_csum.h"
#include "inetstack/tcp/tcp_isn.h"
#include "inetstack/tcp/tcp_opt.h"
#include "inetstack/tcp/tcp_seq.h"
#include "runtime/clock.h"

/* ---- sequence arithmetic (RFC 9293 section 3.4) ---- */

Test(tcp_seq, plain_order)
{
	cr_assert(SEQ_LT(1, 2));
	cr_assert_not(SEQ_LT(2, 1));
	cr_assert_not(SEQ_LT(5, 5));
	cr_assert(SEQ_LEQ(5, 5));
	cr_assert(SEQ_GEQ(5, 5));
	cr_assert_not(SEQ_GT(5, 5));
	cr_assert(SEQ_GT(1000, 999));
}

Test(tcp_seq, wrap_at_2_32)
{
	cr_assert(SEQ_LT(0xffffffffu, 0));
	cr_assert(SEQ_GT(0, 0xffffffffu));
	cr_assert(SEQ_LT(0xfffffff0u, 0x10));
	cr_assert(SEQ_GEQ(0x10, 0xfffffff0u));
	cr_assert(SEQ_LEQ(0xfffffff0u, 0x10));
	cr_assert_not(SEQ_GT(0xfffffff0u, 0x10));
	tcp_seq s = 0xfffffffeu;
	s += 5;
	cr_assert_eq(s, 3);
	cr_assert(SEQ_GT(s, 0xfffffffeu));
}

Test(tcp_seq, around_2_31)
{
	/* Less than 2^31 apart: ordered as expected, whatever the absolute values. */
	cr_assert(SEQ_LT(0, 0x7fffffffu));
	cr_assert(SEQ_GT(0x7fffffffu, 0));
	cr_assert(SEQ_LT(0x7fffffffu, 0x80000000u));
	cr_assert(SEQ_LT(0x80000000u, 0xfffffffeu));
	cr_assert(SEQ_LT(0x80000001u, 0)); /* 0 is 2^31 - 1 ahead of 0x80000001 */
	/* More than 2^31 apart: the later number is "before" (it wrapped). */
	cr_assert(SEQ_GT(0, 0x80000001u));
	cr_assert(SEQ_LT(0x80000001u, 0));
	/* Exactly 2^31 apart: the modular order has no answer; both read "before" (documented). */
	cr_assert(SEQ_LT(0, 0x80000000u));
	cr_assert(SEQ_LT(0x80000000u, 0));
}

Test(tcp_seq, min_max)
{
	cr_assert_eq(SEQ_MIN(3, 7), 3);
	cr_assert_eq(SEQ_MAX(3, 7), 7);
	cr_assert_eq(SEQ_MAX(0xfffffff0u, 5), 5);
	cr_assert_eq(SEQ_MIN(0xfffffff0u, 5), 0xfffffff0u);
	int n = 0;
	tcp_seq v = SEQ_MAX((tcp_seq)(n++), 0xffffffffu); /* each argument evaluated once */
	cr_assert_eq(n, 1);
	cr_assert_eq(v, 0);
}

Test(tcp_seq, between)
{
	cr_assert(seq_between(10, 10, 20));
	cr_assert(seq_between(10, 19, 20));
	cr_assert_not(seq_between(10, 20, 20));
	cr_assert_not(seq_between(10, 9, 20));
	/* A window across the 2^32 wrap. */
	cr_assert(SEQ_BETWEEN(0xfffffff0u, 0xfffffff0u, 0x10));
	cr_assert(SEQ_BETWEEN(0xfffffff0u, 0xffffffffu, 0x10));
	cr_assert(SEQ_BETWEEN(0xfffffff0u, 0, 0x10));
	cr_assert(SEQ_BETWEEN(0xfffffff0u, 0xf, 0x10));
	cr_assert_not(SEQ_BETWEEN(0xfffffff0u, 0x10, 0x10));
	cr_assert_not(SEQ_BETWEEN(0xfffffff0u, 0xffffffefu, 0x10));
	/* An empty window holds nothing. */
	cr_assert_not(seq_between(5, 5, 5));
	/* A window wider than 2^31 (SEQ_LT could not say it), still right. */
	cr_assert(seq_between(0, 0xc0000000u, 0xf0000000u));
	/* The ACK test of RFC 9293 section 3.4: SND.UNA < SEG.ACK =< SND.NXT. */
	tcp_seq una = 0xfffffffcu, nxt = 4;
	cr_assert_not(seq_between(una + 1, una, nxt + 1));
	cr_assert(seq_between(una + 1, 0, nxt + 1));
	cr_assert(seq_between(una + 1, nxt, nxt + 1));
	cr_assert_not(seq_between(una + 1, nxt + 1, nxt + 1));
}

/* ---- options: parsing ---- */

/* Parses from a heap copy of exactly n bytes, so a read past the end shows under ASan. */
static int parse(const uint8_t *bytes, size_t n, struct tcp_opts *o)
{
	uint8_t *p = malloc(n ? n : 1);
	cr_assert_not_null(p);
	memcpy(p, bytes, n);
	int rc = tcp_opt_parse(p, n, o);
	free(p);
	return rc;
}

#define PARSE(o, ...)                                                                                                  \
	({                                                                                                             \
		const uint8_t b_[] = { __VA_ARGS__ };                                                                  \
		parse(b_, sizeof(b_), (o));                                                                            \
	})

Test(tcp_opt, empty)
{
	struct tcp_opts o;
	memset(&o, 0xa5, sizeof(o));
	cr_assert_eq(tcp_opt_parse(NULL, 0, &o), 0);
	cr_assert_eq(o.flags, 0);
}

Test(tcp_opt, mss)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 2, 4, 0x05, 0xb4), 0);
	cr_assert_eq(o.flags, TCP_OPTF_MSS);
	cr_assert_eq(o.mss, 1460);
}

Test(tcp_opt, wscale_and_cap)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 1, 3, 3, 7), 0);
	cr_assert_eq(o.flags, TCP_OPTF_WSCALE);
	cr_assert_eq(o.wscale, 7);
	cr_assert_eq(PARSE(&o, 1, 3, 3, 14), 0);
	cr_assert_eq(o.wscale, 14);
	/* RFC 7323 section 2.3: over 14 is taken as 14. */
	cr_assert_eq(PARSE(&o, 1, 3, 3, 15), 0);
	cr_assert_eq(o.wscale, 14);
	cr_assert_eq(PARSE(&o, 1, 3, 3, 255), 0);
	cr_assert_eq(o.wscale, 14);
}

Test(tcp_opt, sack_permitted)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 1, 1, 4, 2), 0);
	cr_assert_eq(o.flags, TCP_OPTF_SACK_PERMITTED);
}

Test(tcp_opt, timestamp)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 1, 1, 8, 10, 0x01, 0x02, 0x03, 0x04, 0xfe, 0xdc, 0xba, 0x98), 0);
	cr_assert_eq(o.flags, TCP_OPTF_TIMESTAMP);
	cr_assert_eq(o.ts_val, 0x01020304u);
	cr_assert_eq(o.ts_ecr, 0xfedcba98u);
}

Test(tcp_opt, sack_blocks)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2), 0);
	cr_assert_eq(o.flags, TCP_OPTF_SACK);
	cr_assert_eq(o.nsack, 1);
	cr_assert_eq(o.sack[0].start, 1);
	cr_assert_eq(o.sack[0].end, 2);

	uint8_t b[36] = { 1, 1, 5, 34 };
	for (int i = 0; i < 8; i++) {
		uint32_t v = htonl(0xfffffff0u + (uint32_t)i * 100);
		memcpy(b + 4 + 4 * i, &v, 4);
	}
	cr_assert_eq(parse(b, sizeof(b), &o), 0);
	cr_assert_eq(o.nsack, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(o.sack[i].start, 0xfffffff0u + (uint32_t)(2 * i) * 100);
		cr_assert_eq(o.sack[i].end, 0xfffffff0u + (uint32_t)(2 * i + 1) * 100);
	}
}

/* What Linux sends on a SYN: MSS, SACK-permitted, timestamp, NOP, window scale. */
Test(tcp_opt, linux_syn)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7), 0);
	cr_assert_eq(o.flags, TCP_OPTF_MSS | TCP_OPTF_SACK_PERMITTED | TCP_OPTF_TIMESTAMP | TCP_OPTF_WSCALE);
	cr_assert_eq(o.mss, 1460);
	cr_assert_eq(o.ts_val, 0x1234);
	cr_assert_eq(o.ts_ecr, 0);
	cr_assert_eq(o.wscale, 7);
}

Test(tcp_opt, eol_ends_list)
{
	struct tcp_opts o;
	/* After EOL, anything (even a malformed option) is padding. */
	cr_assert_eq(PARSE(&o, 2, 4, 0x02, 0x18, 0, 0, 1), 0);
	cr_assert_eq(o.flags, TCP_OPTF_MSS);
	cr_assert_eq(o.mss, 0x218);
	cr_assert_eq(PARSE(&o, 0, 2, 4, 5, 0xb4), 0);
	cr_assert_eq(o.flags, 0);
}

Test(tcp_opt, nops_only)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 1, 1, 1, 1), 0);
	cr_assert_eq(o.flags, 0);
}

Test(tcp_opt, unknown_kind_skipped)
{
	struct tcp_opts o;
	/* RFC 9293 MUST-6: kind 30 (MPTCP) and 34 (TFO) with lengths are skipped. */
	cr_assert_eq(PARSE(&o, 30, 4, 0xaa, 0xbb, 34, 2, 2, 4, 0x05, 0xb4), 0);
	cr_assert_eq(o.flags, TCP_OPTF_MSS);
	cr_assert_eq(o.mss, 1460);
}

Test(tcp_opt, last_of_repeated_counts)
{
	struct tcp_opts o;
	cr_assert_eq(PARSE(&o, 2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18), 0);
	cr_assert_eq(o.mss, 0x218);
}

/*
 * MUST-7 as Linux's tcp_parse_options: an illegal length (below 2, or past the end) ends the parse, a known kind with
 * the wrong length is ignored alone; the segment is processed with what was read (0, nothing from the bad option).
 */
#define PARSE_NONE(...)                                                                                                \
	do {                                                                                                           \
		cr_assert_eq(PARSE(&o, __VA_ARGS__), 0);                                                               \
		cr_assert_eq(o.flags, 0, "an option was taken from a malformed list");                                 \
	} while (0)
Test(tcp_opt, malformed)
{
	struct tcp_opts o;
	/* Length 0 and 1, for known and unknown kinds. */
	PARSE_NONE(2, 0, 0, 0);
	PARSE_NONE(2, 1, 0, 0);
	PARSE_NONE(99, 0, 1, 1);
	PARSE_NONE(99, 1, 1, 1);
	/* A kind byte with no length byte behind it. */
	PARSE_NONE(1, 1, 1, 2);
	PARSE_NONE(99);
	/* Running past the end. */
	PARSE_NONE(2, 4, 5);
	PARSE_NONE(8, 10, 0, 0, 0, 0, 0, 0, 0);
	PARSE_NONE(99, 40, 0, 0);
	PARSE_NONE(5, 18, 0, 0, 0, 1, 0, 0, 0, 2);
	/* Wrong fixed lengths. */
	PARSE_NONE(2, 3, 5, 1);
	PARSE_NONE(2, 5, 5, 0xb4, 0);
	PARSE_NONE(3, 2, 1, 1);
	PARSE_NONE(3, 4, 7, 0);
	PARSE_NONE(4, 3, 0, 1);
	PARSE_NONE(8, 8, 0, 0, 0, 0, 0, 0);
	PARSE_NONE(8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	/* SACK: no block, or not a whole number of blocks. */
	PARSE_NONE(5, 2, 1, 1);
	PARSE_NONE(5, 9, 0, 0, 0, 1, 0, 0, 0, 0);
	PARSE_NONE(5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0);
	/* More than 40 bytes of options cannot come from a TCP header. */
	uint8_t big[41];
	memset(big, TCPOPT_NOP, sizeof(big));
	cr_assert_eq(parse(big, sizeof(big), &o), -EINVAL);
	cr_assert_eq(parse(big, 40, &o), 0);
}

Test(tcp_opt, kept_before_an_illegal_length)
{
	struct tcp_opts o;
	/* A good MSS, then an illegal length: the MSS stands, the parse ends there (Linux). */
	cr_assert_eq(PARSE(&o, 2, 4, 5, 0xb4, 3, 0, 1, 1), 0);
	cr_assert_eq(o.flags, TCP_OPTF_MSS);
	cr_assert_eq(o.mss, 1460);
	/* A wrong length for a known kind skips that option only: the timestamp after it is read. */
	cr_assert_eq(PARSE(&o, 2, 3, 5, 1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9), 0);
	cr_assert_eq(o.flags, TCP_OPTF_TIMESTAMP);
	cr_assert_eq(o.ts_val, 7);
	cr_assert_eq(o.ts_ecr, 9);
}

/* Every prefix of a valid list parses or fails cleanly (ASan catches an out-of-bounds read). */
Test(tcp_opt, truncations)
{
	const uint8_t full[] = { 2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7,
				 1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4 };
	struct tcp_opts o;
	cr_assert_eq(parse(full, sizeof(full), &o), 0);
	cr_assert_eq(o.nsack, 2);
	cr_assert_eq(o.sack[1].start, 3);
	for (size_t n = 0; n < sizeof(full); n++) {
		int rc = parse(full, n, &o);
		cr_assert(rc == 0 || rc == -EINVAL);
		if (rc < 0)
			cr_assert_eq(o.flags, 0);
	}
}

/* ---- options: writing ---- */

static void check_bytes(const uint8_t *got, int n, const uint8_t *want, size_t wn)
{
	cr_assert_eq((size_t)n, wn, "wrote %d bytes, want %zu", n, wn);
	for (size_t i = 0; i < wn; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: %u, want %u", i, got[i], want[i]);
}

Test(tcp_opt, write_syn)
{
	struct tcp_opts o = {
		.flags = TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERMITTED | TCP_OPTF_TIMESTAMP,
		.mss = 1460,
		.wscale = 7,
		.ts_val = 0x11223344,
		.ts_ecr = 0,
	};
	uint8_t b[40];
	int n = tcp_opt_write(b, sizeof(b), &o);
	const uint8_t want[] = { 2, 4, 5, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7 };
	check_bytes(b, n, want, sizeof(want));
}

Test(tcp_opt, write_synack_without_timestamps)
{
	struct tcp_opts o = {
		.flags = TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERMITTED,
		.mss = 8960,
		.wscale = 0,
	};
	uint8_t b[40];
	int n = tcp_opt_write(b, sizeof(b), &o);
	const uint8_t want[] = { 2, 4, 0x23, 0x00, 1, 1, 4, 2, 1, 3, 3, 0 };
	check_bytes(b, n, want, sizeof(want));
}

Test(tcp_opt, write_mss_only_and_nothing)
{
	struct tcp_opts o = { .flags = TCP_OPTF_MSS, .mss = 536 };
	uint8_t b[40];
	const uint8_t want[] = { 2, 4, 0x02, 0x18 };
	check_bytes(b, tcp_opt_write(b, sizeof(b), &o), want, sizeof(want));
	o.flags = 0;
	cr_assert_eq(tcp_opt_write(b, 0, &o), 0);
}

Test(tcp_opt, write_data_timestamp)
{
	struct tcp_opts o = { .flags = TCP_OPTF_TIMESTAMP, .ts_val = 1, .ts_ecr = 0xffffffffu };
	uint8_t b[40];
	const uint8_t want[] = { 1, 1, 8, 10, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff };
	check_bytes(b, tcp_opt_write(b, sizeof(b), &o), want, sizeof(want));
}

Test(tcp_opt, write_sack_trimmed_next_to_timestamp)
{
	struct tcp_opts o = { .flags = TCP_OPTF_TIMESTAMP | TCP_OPTF_SACK, .ts_val = 5, .ts_ecr = 6, .nsack = 4 };
	for (int i = 0; i < 4; i++)
		o.sack[i] = (struct tcp_sack_block){ 1000u * (uint32_t)i, 1000u * (uint32_t)i + 500 };
	uint8_t b[40];
	int n = tcp_opt_write(b, sizeof(b), &o);
	cr_assert_eq(n, 40); /* 12 + 4 + 3 * 8: the fourth block does not fit */
	struct tcp_opts p;
	cr_assert_eq(tcp_opt_parse(b, (size_t)n, &p), 0);
	cr_assert_eq(p.flags, TCP_OPTF_TIMESTAMP | TCP_OPTF_SACK);
	cr_assert_eq(p.nsack, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(p.sack[i].start, o.sack[i].start);
		cr_assert_eq(p.sack[i].end, o.sack[i].end);
	}
	/* Without the timestamp all four fit. */
	o.flags = TCP_OPTF_SACK;
	n = tcp_opt_write(b, sizeof(b), &o);
	cr_assert_eq(n, 36);
	cr_assert_eq(tcp_opt_parse(b, (size_t)n, &p), 0);
	cr_assert_eq(p.nsack, 4);
	cr_assert_eq(p.sack[3].end, 3500);
}

Test(tcp_opt, write_errors)
{
	uint8_t b[40];
	memset(b, 0x5a, sizeof(b));
	struct tcp_opts o = { .flags = TCP_OPTF_WSCALE, .wscale = 15 };
	cr_assert_eq(tcp_opt_write(b, sizeof(b), &o), -EINVAL);
	o = (struct tcp_opts){ .flags = TCP_OPTF_SACK, .nsack = 0 };
	cr_assert_eq(tcp_opt_write(b, sizeof(b), &o), -EINVAL);
	o.nsack = 5;
	cr_assert_eq(tcp_opt_write(b, sizeof(b), &o), -EINVAL);
	o = (struct tcp_opts){ .flags = TCP_OPTF_MSS | TCP_OPTF_TIMESTAMP, .mss = 1 };
	cr_assert_eq(tcp_opt_write(b, 15, &o), -ENOSPC);
	for (size_t i = 0; i < sizeof(b); i++)
		cr_assert_eq(b[i], 0x5a); /* untouched on error */
	cr_assert_eq(tcp_opt_write(b, 16, &o), 16);
}

/* Every combination of options, written then parsed, comes back equal and 4-byte aligned. */
Test(tcp_opt, round_trip_all_combinations)
{
	srand(42);
	for (uint32_t f = 0; f < 32; f++) {
		for (int rep = 0; rep < 50; rep++) {
			struct tcp_opts o = { .flags = f };
			o.mss = (uint16_t)rand();
			o.wscale = (uint8_t)(rand() % 15);
			o.ts_val = (uint32_t)rand() << 1 ^ (uint32_t)rand();
			o.ts_ecr = (uint32_t)rand() << 1 ^ (uint32_t)rand();
			o.nsack = (f & TCP_OPTF_SACK) ? (uint8_t)(1 + rand() % 4) : 0;
			for (int i = 0; i < o.nsack; i++)
				o.sack[i] = (struct tcp_sack_block){ (uint32_t)rand() * 3u, (uint32_t)rand() * 5u };
			uint8_t b[40];
			int n = tcp_opt_write(b, sizeof(b), &o);
			cr_assert_geq(n, 0, "flags %#x", f);
			cr_assert_eq(n % 4, 0);
			cr_assert_leq(n, 40);
			struct tcp_opts p;
			cr_assert_eq(tcp_opt_parse(b, (size_t)n, &p), 0, "flags %#x", f);
			uint32_t want = f;
			/* Blocks that did not fit are dropped; with MSS, timestamp and window scale (20 bytes) only 2 fit. */
			unsigned room = 40 - ((f & TCP_OPTF_MSS) ? 4 : 0) - ((f & TCP_OPTF_TIMESTAMP) ? 12 : 0) -
					(!(f & TCP_OPTF_TIMESTAMP) && (f & TCP_OPTF_SACK_PERMITTED) ? 4 : 0) -
					((f & TCP_OPTF_WSCALE) ? 4 : 0);
			unsigned fit = room >= 12 ? (room - 4) / 8 : 0;
			unsigned nsack = o.nsack < fit ? o.nsack : fit;
			if (nsack == 0)
				want &= ~(uint32_t)TCP_OPTF_SACK;
			cr_assert_eq(p.flags, want, "flags %#x: parsed %#x", f, p.flags);
			if (f & TCP_OPTF_MSS)
				cr_assert_eq(p.mss, o.mss);
			if (f & TCP_OPTF_WSCALE)
				cr_assert_eq(p.wscale, o.wscale);
			if (f & TCP_OPTF_TIMESTAMP) {
				cr_assert_eq(p.ts_val, o.ts_val);
				cr_assert_eq(p.ts_ecr, o.ts_ecr);
			}
			cr_assert_eq(p.nsack, nsack);
			for (unsigned i = 0; i < nsack; i++) {
				cr_assert_eq(p.sack[i].start, o.sack[i].start);
				cr_assert_eq(p.sack[i].end, o.sack[i].end);
			}
		}
	}
}

/* ---- ISNs (RFC 6528) and SipHash-2-4 ---- */

/* The reference vectors of the SipHash paper (appendix A) and its vectors.h: key 00..0f, message 00..len-1. */
Test(tcp_isn, siphash_vectors)
{
	uint8_t key[16], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	cr_assert_eq(tcp_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
	cr_assert_eq(tcp_siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
}

Test(tcp_isn, keys_random)
{
	struct tcp_isn_secret a, b;
	cr_assert_eq(tcp_isn_init(&a), 0);
	cr_assert_eq(tcp_isn_init(&b), 0);
	cr_assert_neq(memcmp(a.key, b.key, sizeof(a.key)), 0);
}

#define LADDR 0x0100000au /* 10.0.0.1 in network order on a little-endian host; any value will do */
#define RADDR 0x0900000au

Test(tcp_isn, advances_with_time)
{
	struct tcp_isn_secret s;
	cr_assert_eq(tcp_isn_init(&s), 0);
	clock_use_virtual(1000 * NSEC_PER_SEC);
	uint16_t lp = htons(80), rp = htons(40000);
	uint32_t i0 = tcp_isn(&s, LADDR, lp, RADDR, rp);
	cr_assert_eq(tcp_isn(&s, LADDR, lp, RADDR, rp), i0); /* same instant, same tuple */
	clock_advance(NSEC_PER_SEC);
	uint32_t i1 = tcp_isn(&s, LADDR, lp, RADDR, rp);
	cr_assert_eq(i1 - i0, 250000u); /* 1 s of 4 us ticks */
	/* Monotonic in sequence space across the 2^32 wrap (4.77 hours): steps of 1 s to 17 min. */
	uint32_t prev = i1;
	for (int k = 0; k < 200; k++) {
		clock_advance((uint64_t)(1 + k * 5) * NSEC_PER_SEC);
		uint32_t cur = tcp_isn(&s, LADDR, lp, RADDR, rp);
		cr_assert(SEQ_GT(cur, prev), "step %d: %#x after %#x", k, cur, prev);
		prev = cur;
	}
	clock_use_real();
}

Test(tcp_isn, differs_per_tuple_and_key)
{
	struct tcp_isn_secret s, s2;
	cr_assert_eq(tcp_isn_init(&s), 0);
	cr_assert_eq(tcp_isn_init(&s2), 0);
	clock_use_virtual(NSEC_PER_SEC);
	uint16_t lp = htons(80), rp = htons(40000);
	uint32_t base = tcp_isn(&s, LADDR, lp, RADDR, rp);
	cr_assert_neq(tcp_isn(&s, LADDR, lp, RADDR, htons(40001)), base);
	cr_assert_neq(tcp_isn(&s, LADDR, htons(81), RADDR, rp), base);
	cr_assert_neq(tcp_isn(&s, LADDR + 1, lp, RADDR, rp), base);
	cr_assert_neq(tcp_isn(&s, LADDR, lp, RADDR + 1, rp), base);
	cr_assert_neq(tcp_isn(&s, RADDR, rp, LADDR, lp), base); /* the reverse direction */
	cr_assert_neq(tcp_isn(&s2, LADDR, lp, RADDR, rp), base);
	/* 100 remote ports: no two ISNs alike (a collision is about 1 in 860,000 for a good PRF). */
	uint32_t seen[100];
	for (int i = 0; i < 100; i++) {
		seen[i] = tcp_isn(&s, LADDR, lp, RADDR, htons((uint16_t)(30000 + i)));
		for (int j = 0; j < i; j++)
			cr_assert_neq(seen[i], seen[j], "ports %d and %d", 30000 + i, 30000 + j);
	}
	clock_use_real();
}

/* ---- the checksum (RFC 9293 section 3.1) ---- */

/* An independent checksum: big-endian 16-bit words summed as RFC 1071 describes, over a built pseudo-header. */
static uint16_t ref_cksum(const uint8_t src[4], const uint8_t dst[4], const uint8_t *seg, size_t len, int complement)
{
	uint8_t buf[12 + 128];
	cr_assert_leq(len, 128);
	memcpy(buf, src, 4);
	memcpy(buf + 4, dst, 4);
	buf[8] = 0;
	buf[9] = 6;
	buf[10] = (uint8_t)(len >> 8);
	buf[11] = (uint8_t)len;
	memcpy(buf + 12, seg, len);
	size_t n = 12 + len;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
	if (n & 1)
		sum += (uint32_t)buf[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return complement ? (uint16_t)~sum : (uint16_t)sum;
}

static const uint8_t IP9[4] = { 10, 0, 0, 9 }, IP1[4] = { 10, 0, 0, 1 };

static uint32_t ip(const uint8_t a[4])
{
	uint32_t v;
	memcpy(&v, a, 4);
	return v;
}

/* A SYN from 10.0.0.9:40000 to 10.0.0.1:80, seq 0x01020304, window 65535, MSS 1460; checksum 0xe386 (from Python). */
Test(tcp_csum, known_syn)
{
	uint8_t seg[24] = { 0x9c, 0x40, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0x60, TH_SYN, 0xff, 0xff, 0, 0, 0, 0, 2, 4, 5, 0xb4 };
	struct tcp_hdr *th = (struct tcp_hdr *)seg;
	cr_assert_eq(sizeof(struct tcp_hdr), TCP_HDR_LEN);
	cr_assert_eq(ntohs(th->sport), 40000);
	cr_assert_eq(ntohl(th->seq), 0x01020304u);
	cr_assert_eq(tcp_hdr_len(th), 24);
	cr_assert_eq(tcp_off(24), 0x60);
	cr_assert_eq(th->flags, TH_SYN);

	uint16_t want = ref_cksum(IP9, IP1, seg, sizeof(seg), 1);
	cr_assert_eq(want, 0xe386);
	uint16_t got = tcp_cksum(ip(IP9), ip(IP1), seg, sizeof(seg));
	cr_assert_eq(ntohs(got), want, "got %#x want %#x", ntohs(got), want);
	th->sum = got;
	cr_assert_eq(seg[16], 0xe3);
	cr_assert_eq(seg[17], 0x86);
	cr_assert(tcp_cksum_ok(ip(IP9), ip(IP1), seg, sizeof(seg)));
	cr_assert_eq(tcp_cksum(ip(IP9), ip(IP1), seg, sizeof(seg)), 0); /* over a correct sum: zero */
	/* One flipped bit, or the wrong addresses, and it no longer checks. */
	seg[5] ^= 0x10;
	cr_assert_not(tcp_cksum_ok(ip(IP9), ip(IP1), seg, sizeof(seg)));
	seg[5] ^= 0x10;
	cr_assert_not(tcp_cksum_ok(ip(IP1), ip(IP1), seg, sizeof(seg)));
}

/* A data segment with an odd length (5 bytes of "hello"), header and data apart or together; checksum 0x17b7. */
Test(tcp_csum, odd_length_data)
{
	uint8_t seg[25] = { 0, 80, 0x9c, 0x40, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 5, 0x50, TH_PSH | TH_ACK, 2, 0, 0, 0, 0, 0 };
	memcpy(seg + 20, "hello", 5);
	uint16_t want = ref_cksum(IP1, IP9, seg, sizeof(seg), 1);
	cr_assert_eq(want, 0x17b7);
	cr_assert_eq(ntohs(tcp_cksum(ip(IP1), ip(IP9), seg, sizeof(seg))), want);
	cr_assert_eq(ntohs(tcp_cksum2(ip(IP1), ip(IP9), seg, 20, "hello", 5)), want);
	memcpy(seg + 16, &(uint16_t){ htons(want) }, 2);
	cr_assert(tcp_cksum_ok(ip(IP1), ip(IP9), seg, sizeof(seg)));
}

Test(tcp_csum, pseudo_for_offload)
{
	uint8_t seg[24] = { 0 };
	/* The pseudo-header alone for a 24-byte segment, summed, not complemented. */
	uint8_t ph[12] = { 10, 0, 0, 9, 10, 0, 0, 1, 0, 6, 0, 24 };
	uint32_t sum = 0;
	for (int i = 0; i < 12; i += 2)
		sum += (uint32_t)ph[i] << 8 | ph[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	cr_assert_eq(ntohs(tcp_cksum_pseudo(ip(IP9), ip(IP1), sizeof(seg))), sum);
	/* What a device would do: the pseudo sum in the field, then the complement of the sum over the segment. */
	seg[0] = 0x12;
	seg[12] = 0x50;
	memcpy(seg + 16, &(uint16_t){ tcp_cksum_pseudo(ip(IP9), ip(IP1), sizeof(seg)) }, 2);
	uint32_t s2 = 0;
	for (int i = 0; i < 24; i += 2)
		s2 += (uint32_t)seg[i] << 8 | seg[i + 1];
	while (s2 >> 16)
		s2 = (s2 & 0xffff) + (s2 >> 16);
	memcpy(seg + 16, &(uint16_t){ htons((uint16_t)~s2) }, 2);
	cr_assert(tcp_cksum_ok(ip(IP9), ip(IP1), seg, sizeof(seg)));
}
