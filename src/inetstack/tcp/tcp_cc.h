/*
 * Congestion control behind an operations table (RFC 5681 section 3): the
 * connection's core (tcp_in.c, and loss recovery behind tcp_rec.h, which
 * holds the RFC 6675 / RFC 6582 mechanics) detects acknowledgements, loss
 * and recovery and tells the algorithm; the algorithm owns cwnd and ssthresh. NewReno (RFC 5681, RFC 6582) and CUBIC
 * (RFC 9438, the default) are provided; the config picks one by name.
 *
 * Units: bytes for windows, clock_now() nanoseconds for time. No allocation:
 * every algorithm's state fits in struct tcp_cc.
 */
#ifndef DEMI_INETSTACK_TCP_CC_H
#define DEMI_INETSTACK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_cc_cubic {
	uint64_t epoch_start;  /* ns; 0: no congestion avoidance epoch yet (RFC 9438 section 4.2) */
	uint32_t w_max;        /* bytes: cwnd at the last reduction (W_max) */
	uint32_t w_last_max;   /* bytes: for fast convergence (RFC 9438 section 4.7) */
	uint32_t cwnd_prior;   /* bytes: cwnd before the last reduction (for undo/ssthresh) */
	uint64_t k_ns;         /* K of RFC 9438 eq. 2, in ns */
	uint64_t w_est;        /* bytes, scaled by 1024: the Reno-friendly estimate (RFC 9438 section 4.3) */
	uint32_t acked_accum;  /* bytes acked not yet turned into cwnd growth */
};

struct tcp_cc_reno {
	uint32_t acked_accum;  /* bytes acked in congestion avoidance not yet turned into cwnd growth */
};

struct tcp_cc {
	const struct tcp_cc_ops *ops;
	uint32_t cwnd;      /* congestion window, bytes */
	uint32_t ssthresh;  /* slow start threshold, bytes */
	uint32_t mss;       /* SMSS: the sender's maximum segment size in bytes */
	union {
		struct tcp_cc_reno reno;
		struct tcp_cc_cubic cubic;
	} u;
};

struct tcp_cc_ops {
	const char *name; /* "newreno", "cubic" */
	/* Sets the initial window (RFC 5681 section 3.1, IW = min(10*SMSS, ...) per RFC 6928) and ssthresh (large). */
	void (*init)(struct tcp_cc *c, uint32_t mss, uint64_t now);
	/*
	 * New data was cumulatively acknowledged (acked bytes) outside loss
	 * recovery; flight is the bytes in flight before this ACK, srtt_ns the
	 * smoothed RTT (0 when not yet measured), app_limited true when the
	 * sender had nothing to send (cwnd not the limit: RFC 7661, grow no further).
	 * Slow start below ssthresh, congestion avoidance above.
	 */
	void (*on_ack)(struct tcp_cc *c, uint32_t acked, uint32_t flight, uint64_t srtt_ns, bool app_limited,
		       uint64_t now);
	/*
	 * Loss detected by duplicate ACKs or SACK: entering fast recovery
	 * (RFC 5681 section 3.2 step 2, RFC 6675 section 5 step 4.2, RFC 9438
	 * section 4.6): sets ssthresh and cwnd. flight: bytes in flight.
	 */
	void (*on_loss)(struct tcp_cc *c, uint32_t flight, uint64_t now);
	/* Fast recovery ended (the recovery point was acknowledged): cwnd = ssthresh (RFC 6582 section 3.2 step 3). */
	void (*on_recovery_exit)(struct tcp_cc *c, uint64_t now);
	/* Retransmission timeout (RFC 5681 section 3.1 eq. 4, cwnd = 1 SMSS; RFC 9438 section 4.8). flight: bytes in flight. */
	void (*on_rto)(struct tcp_cc *c, uint32_t flight, uint64_t now);
	/* The path's MSS changed (a smaller one negotiated): rescale. Optional (NULL: only c->mss changes). */
	void (*set_mss)(struct tcp_cc *c, uint32_t mss);
};

extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;

/* The algorithm named name ("newreno", "reno", "cubic"), or NULL. */
const struct tcp_cc_ops *tcp_cc_find(const char *name);

/* Initial window in bytes for a given SMSS (RFC 6928: min(10*MSS, max(2*MSS, 14600))). */
uint32_t tcp_cc_initial_window(uint32_t mss);

/*
 * Helpers shared by the algorithms (and their tests). cwnd never exceeds
 * TCP_CC_CWND_MAX: the largest window a peer can offer is 65535 << 14
 * (RFC 7323 section 2.3), so this is never the limit, and sums stay far from
 * wrapping a uint32_t.
 */
#define TCP_CC_CWND_MAX (1u << 31)

/*
 * The SMSS an algorithm keeps: 0 becomes 536 (RFC 9293 section 3.7.1), more
 * than the 16-bit MSS option can carry becomes 65535, so 2 * SMSS and
 * cwnd + SMSS cannot wrap.
 */
static inline uint32_t tcp_cc_clamp_mss(uint32_t mss) { return !mss ? 536 : mss > 65535 ? 65535 : mss; }

/* Slow start (RFC 5681 section 3.1): cwnd += min(acked, SMSS), capped at TCP_CC_CWND_MAX. */
void tcp_cc_slow_start(struct tcp_cc *c, uint32_t acked);

/* v (bytes) counted in segments of old_mss, re-expressed in segments of new_mss; at least min. */
uint32_t tcp_cc_rescale(uint32_t v, uint32_t old_mss, uint32_t new_mss, uint32_t min);

/* CUBIC's W_cubic(t) (RFC 9438 eq. 1) in bytes for the current epoch; t_ns: time since epoch_start. */
uint64_t tcp_cc_cubic_window(const struct tcp_cc *c, uint64_t t_ns);

#endif
