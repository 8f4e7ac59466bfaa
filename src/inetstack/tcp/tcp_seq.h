/* Wrap-safe TCP sequence number arithmetic (RFC 9293 section 3.4), as FreeBSD's tcp_seq.h. */
#ifndef DEMI_INETSTACK_TCP_SEQ_H
#define DEMI_INETSTACK_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

typedef uint32_t tcp_seq;

/*
 * RFC 9293 section 3.4: "all arithmetic dealing with sequence numbers must be
 * performed modulo 2**32". a is before b when the signed distance b - a is
 * positive, which holds for any two numbers less than 2^31 apart: windows
 * are at most 2^30 (RFC 7323 section 2.3), so every live comparison is.
 * Numbers exactly 2^31 apart compare "a < b" both ways round, by design of
 * the modular order; the stack never lets them meet.
 */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)

static inline tcp_seq seq_min(tcp_seq a, tcp_seq b) { return SEQ_LT(a, b) ? a : b; }
static inline tcp_seq seq_max(tcp_seq a, tcp_seq b) { return SEQ_GT(a, b) ? a : b; }
#define SEQ_MIN(a, b) seq_min((a), (b))
#define SEQ_MAX(a, b) seq_max((a), (b))

/*
 * lo <= s < hi in sequence space: the half-open window of RFC 9293 section
 * 3.4's acceptability tests ("RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND"). Computed
 * as one unsigned distance, so it is right across the 2^32 wrap and for any
 * window below 2^32; an empty window (lo == hi) contains nothing. For the
 * ACK test "SND.UNA < SEG.ACK =< SND.NXT" use seq_between(snd_una + 1, ack, snd_nxt + 1).
 */
static inline bool seq_between(tcp_seq lo, tcp_seq s, tcp_seq hi) { return (uint32_t)(s - lo) < (uint32_t)(hi - lo); }
#define SEQ_BETWEEN(lo, s, hi) seq_between((lo), (s), (hi))

#endif
