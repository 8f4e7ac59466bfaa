/*
 * Loss recovery behind an operations table, beside congestion control's
 * (tcp_cc.h): the core (tcp_in.c, tcp_out.c, tcp_timer.c) sees ACKs,
 * duplicates and timeouts and keeps the episode's bookkeeping (recover,
 * TF_INRECOVERY, the counters, telling congestion control); the algorithm
 * decides when a loss is detected and what to retransmit. Two fill it:
 *   tcp_rec_sack.c     RFC 6675 SACK-based recovery (IsLost, pipe, NextSeg)
 *   tcp_rec_newreno.c  RFC 6582 NewReno, when SACK was not negotiated
 * Both keep RFC 3042 limited transmit and RFC 5827 early retransmit
 * (tcp_rec.c's shared helpers). tcp_apply_syn_opts picks one per
 * connection from TF_SACK and the config (tcp.recovery):
 *   tcp_rec_rack.c     RFC 8985 RACK-TLP with RFC 6937 PRR, the default
 *                      where SACK is negotiated: time-based loss detection
 *                      on the send queue's sent ranges (tcp_sndq.h), a tail
 *                      loss probe, the scoreboard kept across a timeout
 *
 * The SACK and NewReno entries run only for duplicate ACKs, in recovery and
 * on timeouts; RACK's optional ack/acked/arm entries run on every ACK (they
 * read the ranges the ACK delivered: one or two in the common case).
 */
#ifndef DEMI_INETSTACK_TCP_REC_H
#define DEMI_INETSTACK_TCP_REC_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/timer.h"
#include "tcp_opt.h"
#include "tcp_seq.h"

struct tcb;

/* RACK-TLP's per-connection state (RFC 8985 section 5.2) and PRR's (RFC 6937 section 3). */
struct tcp_rack {
	uint64_t xmit_ns;        /* RACK.xmit_ts: when the most recently sent delivered data left */
	tcp_seq end_seq;         /* RACK.end_seq: the end of that data */
	uint64_t rtt_ns;         /* RACK.rtt: its round trip */
	uint64_t min_rtt_ns;     /* the least RTT seen (RACK's reordering window is a quarter of it) */
	tcp_seq fack;            /* the highest sequence delivered (cumulatively or SACKed) */
	tcp_seq dsack_round;     /* RACK.dsack_round: SND.NXT when the reordering window last grew (valid: dsack_on) */
	uint32_t reo_wnd_mult;   /* RACK.reo_wnd_mult */
	uint32_t reo_wnd_persist;/* RACK.reo_wnd_persist: recoveries before the window shrinks back */
	bool dsack_on, reordering_seen;
	bool tlp_on;             /* a probe is out (TLP episode, RFC 8985 section 7.4): no other until tlp_end is acked */
	tcp_seq tlp_end;         /* RACK's TLP.end_seq: SND.NXT when the probe left */
	bool tlp_rxt, tlp_dsack; /* the probe resent data; a D-SACK showed it was not needed */
	uint8_t timer_kind;      /* what t_rack is armed for: TCP_RACK_T_* */
	uint64_t timer_at;       /* when it is due; 0: stopped (lazy, as t_rexmt) */
	struct timer t;          /* the reordering timeout and the probe timeout */
	/* PRR (RFC 6937): in bytes. */
	uint32_t prr_delivered, prr_out, recover_fs;
	uint32_t sndcnt;         /* what PRR lets out now */
	uint32_t delivered;      /* bytes the ACK being processed delivered (cumulatively or SACKed) */
	/* Counters this connection contributes to (tests read them). */
	uint32_t rack_marked, tlp_sent;
};

enum {
	TCP_RACK_T_NONE,
	TCP_RACK_T_REO, /* RFC 8985 section 6.3: the reordering timeout */
	TCP_RACK_T_PTO, /* RFC 8985 section 7.2: the probe timeout */
};

struct tcp_rec_ops {
	const char *name; /* "sack", "newreno" */
	/*
	 * A duplicate ACK arrived outside recovery (RFC 5681 section 2; with
	 * SACK also an ACK carrying new SACK information, RFC 6675 section 2),
	 * tp->dupacks already counting it: true when it shows a loss at SND.UNA.
	 */
	bool (*dupack)(struct tcb *tp);
	/*
	 * Recovery starts (the core set recover, TF_INRECOVERY and told
	 * congestion control): the fast retransmit (RFC 5681 section 3.2 step
	 * 3, RFC 6675 section 5 step 4.3).
	 */
	void (*enter)(struct tcb *tp);
	/* New data acknowledged in recovery, below the recovery point (a partial ACK, RFC 6582 section 3.2 step 5). */
	void (*partial_ack)(struct tcb *tp);
	/* Recovery ended: the recovery point was acknowledged (the core cleared TF_INRECOVERY and told congestion control). */
	void (*leave)(struct tcb *tp);
	/*
	 * A retransmission timeout: forgets the algorithm's state (RFC 6675
	 * section 5.1) and returns false (go-back-N from SND.UNA follows), or
	 * keeps the scoreboard, marks what it resends and returns true (RACK).
	 */
	bool (*rto)(struct tcb *tp);
	/* In recovery: sends what may go now (RFC 6675 NextSeg, RFC 6582's new data); true when something left. */
	bool (*output)(struct tcb *tp);
	/* Optional (RACK). An acceptable ACK arrived, before SND.UNA moves to ack (the sent ranges it covers still there). */
	void (*ack)(struct tcb *tp, tcp_seq ack, uint32_t newly_sacked, const struct tcp_opts *o);
	/* Optional (RACK). The same ACK was processed (SND.UNA moved, recovery entered or left): detect losses. */
	void (*acked)(struct tcb *tp);
	/* Optional (RACK). The retransmission timer was armed with data out at now: an earlier timer (the probe) may go. */
	void (*arm)(struct tcb *tp, uint64_t now);
	/* Optional (RACK). The retransmission timer stopped (nothing out) or the connection ends: stop the algorithm's. */
	void (*stop)(struct tcb *tp);
};

extern const struct tcp_rec_ops tcp_rec_sack;
extern const struct tcp_rec_ops tcp_rec_newreno;
extern const struct tcp_rec_ops tcp_rec_rack;

/* RACK's state for a new connection (from SND.UNA): tcp_apply_syn_opts. */
void tcp_rack_reset(struct tcb *tp);
/*
 * RFC 6937 section 3.1 (PRR with its slow-start reduction bound, PRR-SSRB):
 * the bytes recovery may send after an ACK that delivered `delivered` bytes,
 * given prr_delivered (including them), prr_out, RecoverFS, ssthresh and
 * pipe; at least one MSS while nothing has been sent in the episode.
 */
uint32_t tcp_prr_sndcnt(uint32_t prr_delivered, uint32_t prr_out, uint32_t recover_fs, uint32_t ssthresh,
			uint32_t pipe, uint32_t delivered, uint32_t mss);

/* The algorithm named name ("rack", "sack"), or NULL (tcp.recovery; NewReno is taken without SACK whatever it says). */
const struct tcp_rec_ops *tcp_rec_find(const char *name);

/* ---- tcp_rec.c: the core's side, and helpers both algorithms share ---- */

/* A duplicate ACK outside recovery (tp->dupacks counted): the algorithm's test, limited transmit, entering recovery. */
void tcp_rec_dupack(struct tcb *tp);
/* New data acknowledged in recovery (SND.UNA advanced to ack): leave at the recovery point, else a partial ACK. */
void tcp_rec_ack(struct tcb *tp, uint32_t ack, uint64_t now);
/* Enters recovery (the loss was detected; the counters, congestion control, the algorithm's enter). */
void tcp_rec_enter(struct tcb *tp);
/*
 * A retransmission timeout: recovery is over, fast retransmit barred for
 * what was in flight (RFC 6582 section 3.2 step 4). True when the algorithm
 * kept its scoreboard and resends from it (RACK): SND.NXT stays; false:
 * go-back-N from SND.UNA follows.
 */
bool tcp_rec_rto(struct tcb *tp);

/* RFC 5827 (early retransmit): the duplicate ACKs that show a loss, fewer than DupThresh with few segments out. */
uint32_t tcp_rec_dupthresh(const struct tcb *tp);
/* Retransmits the first unacknowledged segment (at most one MSS); its length when it left, 0 when it could not. */
uint32_t tcp_rec_retransmit_first(struct tcb *tp);
/*
 * RFC 6675 NextSeg rule 2 (and RFC 6582): one segment of new data if the
 * peer's window has room. 1: it left; 0: none may; -1: it could not leave.
 */
int tcp_rec_send_new(struct tcb *tp);

#endif
