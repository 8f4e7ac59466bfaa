/* NewReno loss recovery (RFC 6582, RFC 5681 section 3.2) for connections without SACK, with limited and early retransmit. */
#include "tcp_rec.h"

#include "../inet_tx.h"
#include "tcp_priv.h"

static bool newreno_dupack(struct tcb *tp) { return tp->dupacks >= tcp_rec_dupthresh(tp); }

static void newreno_enter(struct tcb *tp) { tcp_rec_retransmit_first(tp); }

static void newreno_partial_ack(struct tcb *tp)
{
	/* RFC 6582 section 3.2 step 5: a partial ACK retransmits the next unacknowledged segment. */
	tcp_rec_retransmit_first(tp);
}

static void newreno_leave(struct tcb *tp) { (void)tp; }

static bool newreno_rto(struct tcb *tp)
{
	(void)tp;
	return false;
}

/*
 * Without a scoreboard, pipe is the flight less a segment per duplicate ACK
 * (RFC 5681 section 3.2 step 4's inflation); only new data goes.
 */
static bool newreno_output(struct tcb *tp)
{
	bool sent = false;
	for (int guard = 0; guard < 64; guard++) {
		uint32_t flight = tp->snd_max - tp->snd_una, out = tp->dupacks * tp->mss;
		uint32_t pipe = flight > out ? flight - out : 0;
		if (tp->cc.cwnd < pipe + tp->mss)
			break;
		if (tcp_rec_send_new(tp) <= 0)
			break;
		sent = true;
	}
	return sent;
}

const struct tcp_rec_ops tcp_rec_newreno = {
	.name = "newreno",
	.dupack = newreno_dupack,
	.enter = newreno_enter,
	.partial_ack = newreno_partial_ack,
	.leave = newreno_leave,
	.rto = newreno_rto,
	.output = newreno_output,
};
