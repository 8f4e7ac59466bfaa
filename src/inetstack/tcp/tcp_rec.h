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
 * connection from TF_SACK. A time-based algorithm (RACK-TLP, RFC 8985)
 * would be a third file, reading the send queue's sent ranges (tcp_sndq.h).
 *
 * No entry runs on the common path: the core calls them only for
 * duplicate ACKs, in recovery and on timeouts.
 */
#ifndef DEMI_INETSTACK_TCP_REC_H
#define DEMI_INETSTACK_TCP_REC_H

#include <stdbool.h>
#include <stdint.h>

struct tcb;

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
	/* A retransmission timeout (go-back-N from SND.UNA follows): forgets the algorithm's state (RFC 6675 section 5.1). */
	void (*rto)(struct tcb *tp);
	/* In recovery: sends what may go now (RFC 6675 NextSeg, RFC 6582's new data); true when something left. */
	bool (*output)(struct tcb *tp);
};

extern const struct tcp_rec_ops tcp_rec_sack;
extern const struct tcp_rec_ops tcp_rec_newreno;

/* ---- tcp_rec.c: the core's side, and helpers both algorithms share ---- */

/* A duplicate ACK outside recovery (tp->dupacks counted): the algorithm's test, limited transmit, entering recovery. */
void tcp_rec_dupack(struct tcb *tp);
/* New data acknowledged in recovery (SND.UNA advanced to ack): leave at the recovery point, else a partial ACK. */
void tcp_rec_ack(struct tcb *tp, uint32_t ack, uint64_t now);
/* A retransmission timeout: recovery is over, fast retransmit barred for what was in flight (RFC 6582 section 3.2 step 4). */
void tcp_rec_rto(struct tcb *tp);

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
