/* Loss recovery's core side (entering and leaving an episode, timeouts) and what both algorithms share. */
#include "tcp_rec.h"

#include <string.h>

#include "../inet_tx.h"
#include "tcp_priv.h"

void tcp_rec_dupack(struct tcb *tp)
{
	bool lost = tp->rec->dupack(tp);
	if (!lost && tp->dupacks < TCP_DUPTHRESH)
		tp->flags |= TF_NEEDOUT; /* RFC 3042 limited transmit: tcp_output lets one new segment out per duplicate */
	/* RFC 6582 section 3.2 step 2: not again for data sent before the last recovery or timeout. */
	if (!lost || SEQ_LT(tp->snd_una, tp->recover))
		return;
	tcp_rec_enter(tp);
}

void tcp_rec_enter(struct tcb *tp)
{
	struct inet *in = tp->in;
	tp->recover = tp->snd_max;
	tp->flags |= TF_INRECOVERY;
	in->st.tcp.fast_recoveries++;
	tp->cc.ops->on_loss(&tp->cc, tp->snd_max - tp->snd_una, inet_now(tp->in));
	tp->rtt_start = 0;
	tp->rec->enter(tp);
	tcp_timer_rexmt_arm(tp);
	tp->flags |= TF_NEEDOUT;
}

void tcp_rec_ack(struct tcb *tp, uint32_t ack, uint64_t now)
{
	if (SEQ_GEQ(ack, tp->recover)) {
		tp->flags &= ~(uint32_t)TF_INRECOVERY;
		tp->cc.ops->on_recovery_exit(&tp->cc, now);
		tp->rec->leave(tp);
	} else {
		tp->rec->partial_ack(tp);
	}
}

bool tcp_rec_rto(struct tcb *tp)
{
	tp->flags &= ~(uint32_t)TF_INRECOVERY;
	tp->dupacks = 0;
	tp->recover = tp->snd_max; /* RFC 6582 section 3.2 step 4: no fast retransmit for what was in flight */
	return tp->rec->rto(tp);
}

const struct tcp_rec_ops *tcp_rec_find(const char *name)
{
	if (!strcmp(name, "rack"))
		return &tcp_rec_rack;
	if (!strcmp(name, "sack"))
		return &tcp_rec_sack;
	return NULL;
}

uint32_t tcp_rec_dupthresh(const struct tcb *tp)
{
	/*
	 * RFC 5827 (early retransmit): with fewer than four segments out and
	 * nothing new to send, three duplicates can never come; the threshold
	 * is one less than the segments outstanding.
	 */
	uint32_t thresh = TCP_DUPTHRESH;
	uint32_t oseg = (tp->snd_max - tp->snd_una + tp->mss - 1) / tp->mss;
	if (oseg < 4 && tcp_unsent(tp) == 0)
		thresh = oseg > 1 ? oseg - 1 : 1;
	return thresh;
}

uint32_t tcp_rec_retransmit_first(struct tcb *tp)
{
	uint32_t queued = tcp_sndq_bytes(&tp->sq);
	uint32_t len = queued < tp->mss ? queued : tp->mss;
	if (!len || tcp_send_seg(tp, TH_ACK, tp->snd_una, len) != 0)
		return 0;
	tp->in->st.tcp.retransmits++;
	return len;
}

int tcp_rec_send_new(struct tcb *tp)
{
	uint32_t unsent = tcp_unsent(tp);
	if (!unsent || SEQ_LT(tp->snd_nxt, tp->snd_max))
		return 0;
	uint32_t wnd_left = SEQ_LT(tp->snd_nxt, tp->snd_una + tp->snd_wnd) ? tp->snd_una + tp->snd_wnd - tp->snd_nxt : 0;
	uint32_t len = unsent < tp->mss ? unsent : tp->mss;
	if (len > wnd_left)
		len = wnd_left;
	if (!len)
		return 0;
	if (tcp_send_seg(tp, TH_ACK, tp->snd_nxt, len) < 0)
		return -1;
	tp->snd_nxt += len;
	tp->snd_max = tp->snd_nxt;
	return 1;
}
