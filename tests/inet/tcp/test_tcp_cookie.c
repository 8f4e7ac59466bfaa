/* SYN cookies: MSS encoding, tuple binding, tampering, expiry, and the options kept in the timestamp. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "inetstack/tcp/tcp_cookie.h"
#include "runtime/clock.h"

#define TICK (64 * NSEC_PER_SEC)

static const uint16_t table[8] = { 536, 1200, 1360, 1400, 1440, 1452, 1460, 8960 };

static struct tcp_isn_secret K;
static const uint32_t LA = 0x0100000a, RA = 0x0200000a, PISN = 0xdeadbeef; /* network order */
static const uint16_t LP = 0x5000, RP = 0x39a3;
static const uint64_t NOW = 1000 * TICK + 5 * NSEC_PER_SEC;

static void setup(void)
{
	for (int i = 0; i < 16; i++)
		K.key[i] = (uint8_t)(i * 17 + 3);
}
TestSuite(tcp_cookie, .init = setup);

static bool check(uint32_t cookie, uint64_t now, struct tcp_cookie_syn *out)
{
	return tcp_cookie_check(&K, LA, LP, RA, RP, PISN, cookie, false, 0, now, out);
}

static uint32_t make(uint16_t mss, uint64_t now) { return tcp_cookie_make(&K, LA, LP, RA, RP, PISN, mss, now); }

Test(tcp_cookie, round_trip_every_mss)
{
	for (int i = 0; i < 8; i++) {
		struct tcp_cookie_syn out = { .mss = 0 };
		cr_assert(check(make(table[i], NOW), NOW, &out), "mss %u", table[i]);
		cr_assert_eq(out.mss, table[i]);
		cr_assert_eq(out.wscale, -1, "no timestamp: no window scale");
		cr_assert_not(out.sack_ok);
		cr_assert_not(out.has_ts);
	}
}

Test(tcp_cookie, mss_rounds_down)
{
	static const struct {
		uint16_t in, out;
	} c[] = {
		{ 0, 536 },	 { 100, 536 },	 { 536, 536 },	 { 1199, 536 },	  { 1201, 1200 },
		{ 1459, 1452 }, { 1461, 1460 }, { 8959, 1460 }, { 9000, 8960 }, { 65535, 8960 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tcp_cookie_syn out;
		cr_assert(check(make(c[i].in, NOW), NOW, &out));
		cr_assert_eq(out.mss, c[i].out, "mss %u gave %u, want %u", c[i].in, out.mss, c[i].out);
	}
}

Test(tcp_cookie, bound_to_tuple_and_peer_isn)
{
	uint32_t ck = make(1460, NOW);
	struct tcp_cookie_syn out;
	cr_assert(tcp_cookie_check(&K, LA, LP, RA, RP, PISN, ck, false, 0, NOW, &out));
	cr_assert_not(tcp_cookie_check(&K, LA + 1, LP, RA, RP, PISN, ck, false, 0, NOW, &out), "local address");
	cr_assert_not(tcp_cookie_check(&K, LA, LP + 1, RA, RP, PISN, ck, false, 0, NOW, &out), "local port");
	cr_assert_not(tcp_cookie_check(&K, LA, LP, RA ^ 0x80000000, RP, PISN, ck, false, 0, NOW, &out), "remote address");
	cr_assert_not(tcp_cookie_check(&K, LA, LP, RA, RP ^ 1, PISN, ck, false, 0, NOW, &out), "remote port");
	cr_assert_not(tcp_cookie_check(&K, LA, LP, RA, RP, PISN + 1, ck, false, 0, NOW, &out), "peer isn");
	struct tcp_isn_secret k2 = K;
	k2.key[7] ^= 1;
	cr_assert_not(tcp_cookie_check(&k2, LA, LP, RA, RP, PISN, ck, false, 0, NOW, &out), "key");
	/* Different tuples get unrelated cookies. */
	cr_assert_neq(ck, tcp_cookie_make(&K, LA, LP, RA, RP + 1, PISN, 1460, NOW));
}

Test(tcp_cookie, every_bit_flip_rejected)
{
	for (int i = 0; i < 8; i++) {
		uint32_t ck = make(table[i], NOW);
		for (int bit = 0; bit < 32; bit++) {
			struct tcp_cookie_syn out;
			cr_assert_not(check(ck ^ (1u << bit), NOW, &out), "mss %u bit %d", table[i], bit);
		}
	}
}

Test(tcp_cookie, valid_for_two_ticks)
{
	struct tcp_cookie_syn out;
	uint32_t ck = make(1460, NOW);
	uint64_t tick_start = NOW - NOW % TICK;
	cr_assert_eq(make(1460, tick_start), ck, "the same within a tick");
	cr_assert_eq(make(1460, tick_start + TICK - 1), ck);
	cr_assert_neq(make(1460, tick_start + TICK), ck, "the counter moves on");
	cr_assert(check(ck, tick_start, &out));
	cr_assert(check(ck, tick_start + TICK - 1, &out));
	cr_assert(check(ck, tick_start + TICK, &out), "previous tick accepted");
	cr_assert(check(ck, tick_start + 2 * TICK - 1, &out));
	cr_assert_eq(out.mss, 1460);
	cr_assert_not(check(ck, tick_start + 2 * TICK, &out), "expired after two ticks");
	cr_assert_not(check(ck, tick_start + 32 * TICK, &out), "counter wrapped round: hash still misses");
	cr_assert_not(check(ck, tick_start - TICK, &out), "not yet valid");
	/* At the clock's origin there is no previous tick to look back to. */
	uint32_t c0 = make(536, 0);
	cr_assert(check(c0, 0, &out));
	cr_assert(check(c0, TICK, &out));
	cr_assert_not(check(c0, 2 * TICK, &out));
}

Test(tcp_cookie, options_in_timestamp_round_trip)
{
	uint32_t ck = make(1460, NOW);
	for (int ws = -1; ws <= 14; ws++) {
		for (int sack = 0; sack < 2; sack++) {
			struct tcp_cookie_syn syn = { .mss = 1460, .sack_ok = sack, .has_ts = true, .wscale = (int8_t)ws };
			uint32_t tsval = 0x12345678u + (uint32_t)ws * 977u;
			uint32_t ts = tcp_cookie_ts(tsval, &syn);
			cr_assert_eq(ts & ~0x3fu, tsval & ~0x3fu, "only the low 6 bits change");
			cr_assert(ts & 0x20u, "cookie marker");
			struct tcp_cookie_syn out;
			cr_assert(tcp_cookie_check(&K, LA, LP, RA, RP, PISN, ck, true, ts, NOW, &out));
			cr_assert_eq(out.mss, 1460);
			cr_assert(out.has_ts);
			cr_assert_eq(out.wscale, ws, "wscale %d came back as %d", ws, out.wscale);
			cr_assert_eq(out.sack_ok, (bool)sack);
			/* Without a timestamp on the ACK those options are lost. */
			cr_assert(tcp_cookie_check(&K, LA, LP, RA, RP, PISN, ck, false, ts, NOW, &out));
			cr_assert_eq(out.wscale, -1);
			cr_assert_not(out.sack_ok);
			cr_assert_not(out.has_ts);
		}
	}
	/* An echo that is not a cookie timestamp (no marker) carries no options. */
	struct tcp_cookie_syn out;
	cr_assert(tcp_cookie_check(&K, LA, LP, RA, RP, PISN, ck, true, 0x1f, NOW, &out));
	cr_assert_not(out.has_ts);
	cr_assert_eq(out.wscale, -1);
	cr_assert_not(out.sack_ok);
	/* A scale over 14 is sent as 14 (RFC 7323 section 2.3). */
	struct tcp_cookie_syn big = { .wscale = 15, .has_ts = true };
	cr_assert(tcp_cookie_check(&K, LA, LP, RA, RP, PISN, ck, true, tcp_cookie_ts(0, &big), NOW, &out));
	cr_assert_eq(out.wscale, 14);
}
