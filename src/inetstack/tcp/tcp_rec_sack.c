/* SACK-based loss recovery (RFC 6675) on the scoreboard of tcp_sack.c, with limited transmit and early retransmit. */
#include "tcp_rec.h"

#include "../inet_tx.h"
#include "tcp_priv.h"

static bool sack_dupack(struct tcb *tp)
{
	/* RFC 6675 section 5 step 4: DupThresh duplicates, or IsLost(SND.UNA) from the scoreboard. */
	return tp->dupacks >= tcp_rec_dupthresh(tp) || tcp_sb_is_lost(&tp->sb, tp->snd_una, tp->mss);
}

static void sack_enter(struct tcb *tp)
{
	uint32_t len = tcp_rec_retransmit_first(tp);
	if (len)
		tp->sb.high_rxt = tp->snd_una + len;
}

static void sack_partial_ack(struct tcb *tp)
{
	(void)tp; /* the scoreboard already moved; output's NextSeg goes on from HighRxt */
}

static void sack_leave(struct tcb *tp) { (void)tp; }

static bool sack_rto(struct tcb *tp)
{
	/* RFC 6675 section 5.1 lets the sender keep or drop the scoreboard after a timeout; this one drops it (RACK keeps it). */
	tcp_sb_reset(&tp->sb, tp->snd_una);
	return false;
}

/* Retransmits [seq, seq + len) and moves HighRxt past it. False when it could not leave. */
static bool rexmit(struct tcb *tp, tcp_seq seq, uint32_t len)
{
	if (tcp_send_seg(tp, TH_ACK, seq, len) < 0)
		return false;
	tp->sb.high_rxt = seq + len;
	tp->in->st.tcp.retransmits++;
	return true;
}

/* RFC 6675 section 5: while cwnd allows more than pipe, NextSeg rules 1-3. */
static bool sack_output(struct tcb *tp)
{
	bool sent = false;
	for (int guard = 0; guard < 64; guard++) {
		uint32_t pipe = tcp_sb_pipe(&tp->sb, tp->snd_una, tp->snd_max, tp->mss);
		if (tp->cc.cwnd < pipe + tp->mss)
			break;
		tcp_seq seq;
		uint32_t len;
		/* Rule 1: a lost segment not yet retransmitted. */
		if (tcp_sb_next_seg(&tp->sb, tp->snd_una, tp->snd_max, tp->mss, true, &seq, &len)) {
			if (!rexmit(tp, seq, len))
				break;
			sent = true;
			continue;
		}
		/* Rule 2: new data, if the peer's window has room. */
		int r = tcp_rec_send_new(tp);
		if (r < 0)
			break;
		if (r > 0) {
			sent = true;
			continue;
		}
		/* Rule 3: any unSACKed segment below the highest SACKed one. */
		if (tcp_sb_next_seg(&tp->sb, tp->snd_una, tp->snd_max, tp->mss, false, &seq, &len)) {
			if (!rexmit(tp, seq, len))
				break;
			sent = true;
			continue;
		}
		break;
	}
	return sent;
}

const struct tcp_rec_ops tcp_rec_sack = {
	.name = "sack",
	.dupack = sack_dupack,
	.enter = sack_enter,
	.partial_ack = sack_partial_ack,
	.leave = sack_leave,
	.rto = sack_rto,
	.output = sack_output,
};
