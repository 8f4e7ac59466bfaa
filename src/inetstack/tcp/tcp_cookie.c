/* SYN cookies (RFC 4987 section 3.6), laid out as Linux's: counter | MSS index | keyed hash. */
#include "tcp_cookie.h"

#include <string.h>

#include "../../runtime/clock.h"

#define TICK_NS (64 * NSEC_PER_SEC) /* the counter's period: a cookie lives one to two of these */
#define HASH_BITS 24
#define HASH_MASK ((1u << HASH_BITS) - 1)
#define MSS_SHIFT HASH_BITS
#define CNT_SHIFT 27
#define CNT_MASK 31u

#define TS_WSCALE_NONE 15u
#define TS_SACK (1u << 4)
#define TS_COOKIE (1u << 5)
#define TS_BITS 0x3fu

/*
 * Ascending, so encoding rounds down to what the peer can surely take:
 * 536 the RFC 9293 section 3.7.1 default (also used for anything smaller,
 * as Linux does: a peer announcing less is not honoured), 1200 small
 * IPv6-era paths, 1360/1400/1440 common tunnel and VPN paths, 1452 PPPoE
 * (1492 - 40), 1460 Ethernet (1500 - 40), 8960 jumbo frames (9000 - 40).
 */
static const uint16_t mss_tab[8] = { 536, 1200, 1360, 1400, 1440, 1452, 1460, 8960 };

/*
 * 24 bits of SipHash over the tuple, the peer's ISN, the full counter and
 * the MSS index: any change to the cookie's counter or MSS bits, or a
 * replay to another tuple, misses the hash (1 in 2^24 by chance). The
 * leading tag keeps these inputs apart from tcp_isn()'s under the same key.
 */
static uint32_t cookie_hash(const struct tcp_isn_secret *key, uint32_t laddr, uint16_t lport, uint32_t raddr,
			    uint16_t rport, uint32_t peer_isn, uint64_t tick, uint32_t idx)
{
	uint8_t in[26];
	in[0] = 'C';
	memcpy(in + 1, &laddr, 4);
	memcpy(in + 5, &lport, 2);
	memcpy(in + 7, &raddr, 4);
	memcpy(in + 11, &rport, 2);
	memcpy(in + 13, &peer_isn, 4);
	memcpy(in + 17, &tick, 8);
	in[25] = (uint8_t)idx;
	return (uint32_t)tcp_siphash24(key->key, in, sizeof(in)) & HASH_MASK;
}

uint32_t tcp_cookie_make(const struct tcp_isn_secret *key, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport, uint32_t peer_isn, uint16_t mss, uint64_t now)
{
	uint32_t idx = 0;
	for (uint32_t i = 1; i < 8; i++)
		if (mss >= mss_tab[i])
			idx = i;
	uint64_t tick = now / TICK_NS;
	return ((uint32_t)tick & CNT_MASK) << CNT_SHIFT | idx << MSS_SHIFT |
	       cookie_hash(key, laddr, lport, raddr, rport, peer_isn, tick, idx);
}

uint32_t tcp_cookie_ts(uint32_t tsval, const struct tcp_cookie_syn *syn)
{
	uint32_t ws = syn->wscale < 0 ? TS_WSCALE_NONE : syn->wscale > 14 ? 14u : (uint32_t)syn->wscale;
	return (tsval & ~TS_BITS) | ws | (syn->sack_ok ? TS_SACK : 0) | TS_COOKIE;
}

bool tcp_cookie_check(const struct tcp_isn_secret *key, uint32_t laddr, uint16_t lport, uint32_t raddr,
		      uint16_t rport, uint32_t peer_isn, uint32_t cookie, bool has_ts, uint32_t ts_ecr, uint64_t now,
		      struct tcp_cookie_syn *out)
{
	uint64_t tick = now / TICK_NS;
	uint32_t cnt = cookie >> CNT_SHIFT, idx = (cookie >> MSS_SHIFT) & 7u;
	/* Valid in the tick it was made and the next one, so for 64 to 128 seconds. */
	if (cnt != (tick & CNT_MASK)) {
		if (tick == 0 || cnt != ((tick - 1) & CNT_MASK))
			return false;
		tick--;
	}
	if ((cookie & HASH_MASK) != cookie_hash(key, laddr, lport, raddr, rport, peer_isn, tick, idx))
		return false;
	out->mss = mss_tab[idx];
	/*
	 * Only an echo carrying our marker bit came from a cookie timestamp; any
	 * other means the SYN had no timestamp and its options are lost.
	 */
	out->has_ts = has_ts && (ts_ecr & TS_COOKIE);
	out->sack_ok = out->has_ts && (ts_ecr & TS_SACK);
	uint32_t ws = ts_ecr & 0xfu;
	out->wscale = out->has_ts && ws != TS_WSCALE_NONE ? (int8_t)ws : -1;
	return true;
}
