/*
 * SYN cookies: when a listener's SYN queue is full, its SYN-ACK carries all
 * the state in the initial sequence number, and the connection is made only
 * when the ACK returns it (RFC 4987 section 3.6). The layout follows Linux:
 * 24 bits of keyed hash over the 4-tuple, the peer's ISN and a counter that
 * ticks every 64 seconds, 3 bits naming one of 8 MSS values, and the top 5
 * bits the counter itself (so a cookie is valid for two ticks). Window
 * scaling, SACK-permitted and the peer's timestamp use are kept in the low
 * bits of our timestamp value when the peer sent timestamps (as Linux and
 * FreeBSD do); without timestamps those options are lost.
 */
#ifndef DEMI_INETSTACK_TCP_COOKIE_H
#define DEMI_INETSTACK_TCP_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp_isn.h"

/* What a cookie remembers of the SYN. */
struct tcp_cookie_syn {
	uint16_t mss;     /* the peer's MSS option (rounded down to a table value on encode) */
	bool sack_ok;     /* the SYN had SACK-permitted (kept only with timestamps) */
	bool has_ts;      /* the SYN had a timestamp */
	int8_t wscale;    /* the peer's window scale, -1 for none (kept only with timestamps) */
};

/*
 * Our ISN for the SYN-ACK, encoding syn->mss (rounded down to the nearest
 * of 8 table values). Addresses and ports in network order, peer_isn the
 * SYN's sequence number, now clock_now().
 */
uint32_t tcp_cookie_make(const struct tcp_isn_secret *key, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport, uint32_t peer_isn, uint16_t mss, uint64_t now);

/*
 * The low bits to put in our SYN-ACK's timestamp value (tsval with its
 * low 6 bits replaced) so that the returning ACK's ts_ecr gives back wscale
 * and sack_ok: returns tsval with bits 0-3 the window scale (15: none) and
 * bit 4 SACK-permitted, bit 5 set (marks a cookie timestamp).
 */
uint32_t tcp_cookie_ts(uint32_t tsval, const struct tcp_cookie_syn *syn);

/*
 * Checks the ACK that completes a cookie handshake: cookie = its ack - 1,
 * peer_isn = its seq - 1. True when the hash matches for the current or the
 * previous counter tick, with out->mss set; when has_ts, ts_ecr (the ACK's
 * echoed timestamp) gives out->wscale and out->sack_ok, else they are -1
 * and false. out->has_ts is has_ts with the cookie marker (bit 5) set in
 * ts_ecr: an echo without it did not come from tcp_cookie_ts, so the SYN had
 * no timestamp and its window scale and SACK-permitted are lost.
 */
bool tcp_cookie_check(const struct tcp_isn_secret *key, uint32_t laddr, uint16_t lport, uint32_t raddr,
		      uint16_t rport, uint32_t peer_isn, uint32_t cookie, bool has_ts, uint32_t ts_ecr, uint64_t now,
		      struct tcp_cookie_syn *out);

#endif
