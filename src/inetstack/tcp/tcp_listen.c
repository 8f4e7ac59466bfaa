/*
 * Listeners (RFC 9293 section 3.10.7.2): the SYN queue of half-open
 * connections, bounded by tcp.syn_backlog, SYN cookies once it is full
 * (RFC 4987 section 3.6), and the accept queue bounded by listen's backlog.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../inet_tx.h"
#include "tcp_cookie.h"
#include "tcp_priv.h"

/*
 * A child of lp for the peer of ih/th, hashed, in no queue yet; with its
 * rings when rings (a cookie's child is established at once), else without
 * (SYN-RECEIVED carries none: tcp_in.c gives them at the handshake's ACK).
 * NULL: -ENOMEM.
 */
static struct tcb *child_new(struct tcb *lp, const struct ipv4_hdr *ih, const struct tcp_hdr *th, bool rings)
{
	struct tcb *tp = tcb_new(lp->in);
	if (!tp)
		return NULL;
	if (rings && tcb_alloc_rings(tp) < 0) {
		tcb_free(tp);
		return NULL;
	}
	tp->laddr = ih->dst;
	tp->lport = th->dport;
	tp->faddr = ih->src;
	tp->fport = th->sport;
	/* Options set on the listener carry over (as on Linux). */
	tp->rcvbuf = lp->rcvbuf;
	tp->sndbuf = lp->sndbuf;
	tp->flags = (tp->flags & ~(uint32_t)(TF_NODELAY | TF_KEEPALIVE)) | (lp->flags & (TF_NODELAY | TF_KEEPALIVE));
	tp->linger = lp->linger;
	tp->flags |= TF_ORPHAN; /* nobody holds it until accept hands it out */
	tp->listener = lp;
	tp->irs = ntohl(th->seq);
	tp->rcv_nxt = tp->irs + 1;
	tp->rcv_adv = tp->rcv_nxt;
	tcp_conn_insert(lp->in, tp);
	return tp;
}

void tcp_listen_syn(struct tcb *lp, const struct ipv4_hdr *ih, const struct tcp_hdr *th, const struct tcp_opts *o)
{
	struct inet *in = lp->in;
	struct tcp *t = &in->tcp;
	if (lp->nacceptq >= lp->backlog) {
		INET_DROP(in->st.tcp.drop_listen_overflow, "tcp listen-overflow"); /* as Linux: no room to accept, no handshake */
		return;
	}
	if (lp->nsynq >= t->syn_backlog) {
		if (!t->syncookies) {
			INET_DROP(in->st.tcp.drop_listen_overflow, "tcp listen-overflow");
			return;
		}
		/* Stateless SYN-ACK: everything rides in our ISN and timestamp, built from the SYN alone. */
		struct tcp_syn_nego n;
		tcp_syn_negotiate(in, o, lp->rcvbuf, &n);
		struct tcp_cookie_syn cs = {
			.mss = n.peer_mss,
			.sack_ok = n.tf & TF_SACK,
			.has_ts = n.tf & TF_TS,
			.wscale = (n.tf & TF_WSCALE) ? (int8_t)n.snd_wscale : -1,
		};
		uint32_t cookie = tcp_cookie_make(&t->secret, ih->dst, th->dport, ih->src, th->sport, ntohl(th->seq),
						  n.peer_mss, inet_now(in));
		/* Our clock as a connection with no offset reads it (RFC 7323 section 5.4), the cookie's bits in it. */
		uint32_t ts_val = (n.tf & TF_TS) ? tcp_cookie_ts((uint32_t)(inet_now(in) / NSEC_PER_MSEC), &cs) : 0;
		in->st.tcp.syncookies_sent++;
		tcp_reply_synack(in, ih, th, cookie, &n, ts_val, o->ts_val, lp->rcvbuf);
		return;
	}
	struct tcb *tp = child_new(lp, ih, th, false);
	if (!tp)
		return;
	tcp_apply_syn_opts(tp, o);
	tp->iss = tcp_isn(&t->secret, ih->dst, th->dport, ih->src, th->sport);
	tcp_seq_init(tp);
	tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
	tp->ts_offset = tp->iss; /* any per-connection offset hides the clock */
	tcb_set_state(tp, TCPS_SYN_RECEIVED);
	list_push_back(&lp->synq, &tp->lnode);
	lp->nsynq++;
	tp->rtt_start = inet_now(tp->in);
	tcp_output(tp); /* the SYN-ACK; its retransmission timer is armed there */
	tcp_timer_keep_arm(tp); /* the limit on staying half-open */
}

bool tcp_listen_cookie_ack(struct tcb *lp, const struct ipv4_hdr *ih, const struct tcp_hdr *th,
			   const struct tcp_opts *o, struct tcb **out)
{
	struct inet *in = lp->in;
	struct tcp *t = &in->tcp;
	if (!t->syncookies)
		return false;
	if (lp->nacceptq >= lp->backlog) {
		INET_DROP(in->st.tcp.drop_listen_overflow, "tcp listen-overflow");
		return false;
	}
	struct tcp_cookie_syn cs;
	uint32_t ack = ntohl(th->ack), seq = ntohl(th->seq);
	bool has_ts = o->flags & TCP_OPTF_TIMESTAMP;
	if (!tcp_cookie_check(&t->secret, ih->dst, th->dport, ih->src, th->sport, seq - 1, ack - 1, has_ts,
			      has_ts ? o->ts_ecr : 0, inet_now(in), &cs)) {
		in->st.tcp.syncookies_bad++;
		return false;
	}
	in->st.tcp.syncookies_ok++;
	struct tcb *tp = child_new(lp, ih, th, true);
	if (!tp)
		return false;
	tp->irs = seq - 1;
	tp->rcv_nxt = seq;
	tp->rcv_adv = seq;
	/* Rebuild the SYN's options from what the cookie kept. */
	struct tcp_opts so;
	memset(&so, 0, sizeof(so));
	so.flags = TCP_OPTF_MSS;
	so.mss = cs.mss;
	if (cs.has_ts) {
		so.flags |= TCP_OPTF_TIMESTAMP;
		so.ts_val = o->ts_val;
		if (cs.wscale >= 0) {
			so.flags |= TCP_OPTF_WSCALE;
			so.wscale = (uint8_t)cs.wscale;
		}
		if (cs.sack_ok)
			so.flags |= TCP_OPTF_SACK_PERMITTED;
	}
	tcp_apply_syn_opts(tp, &so);
	/* The SYN-ACK offered an unscaled window of the receive buffer: data on this ACK may fill it. */
	tp->rcv_adv = seq + (tp->rcvbuf < 65535 ? tp->rcvbuf : 65535);
	tp->flags |= TF_COOKIE;
	tp->iss = ack - 1;
	tcp_seq_init(tp);
	tp->snd_una = tp->snd_nxt = tp->snd_max = ack;
	if (has_ts)
		tp->ts_offset = o->ts_ecr - (uint32_t)(inet_now(tp->in) / NSEC_PER_MSEC); /* keep our clock continuous */
	tp->snd_wnd = (uint32_t)ntohs(th->win) << tp->snd_wscale;
	tp->max_sndwnd = tp->snd_wnd;
	tp->snd_wl1 = seq;
	tp->snd_wl2 = ack;
	tcb_set_state(tp, TCPS_ESTABLISHED);
	tp->last_recv = inet_now(tp->in);
	tcp_timer_keep_arm(tp);
	in->st.tcp.passive_opens++;
	/* tcp_listen_established expects it on the SYN queue. */
	list_push_back(&lp->synq, &tp->lnode);
	lp->nsynq++;
	*out = tcp_listen_established(tp) ? tp : NULL;
	return true;
}

/* Hands tp to an accept: a descriptor, the result. False when no descriptor is left (tp is then reset). */
static bool give(struct tcb *tp, struct op *op)
{
	struct inet *in = tp->in;
	int err = qd_install(&in->rt->qds, &tp->q, &tcp_queue_ops);
	if (err) {
		op_fail(&in->rt->ops, op, -err);
		tcb_drop(tp, ECONNABORTED);
		return false;
	}
	tp->flags &= ~(uint32_t)(TF_ORPHAN | TF_ACCEPTQ);
	tp->listener = NULL;
	op->result.qr_value.ares.qd = tp->q.qd;
	op->result.qr_value.ares.addr = inet_sockaddr(tp->faddr, tp->fport);
	op_complete(&in->rt->ops, op);
	return true;
}

bool tcp_listen_established(struct tcb *tp)
{
	struct tcb *lp = tp->listener;
	list_del(&tp->lnode);
	list_node_init(&tp->lnode);
	lp->nsynq--;
	if (!list_empty(&lp->acceptors)) {
		struct op *op = container_of(list_pop_front(&lp->acceptors), struct op, wnode);
		list_node_init(&op->wnode);
		return give(tp, op);
	}
	list_push_back(&lp->acceptq, &tp->lnode);
	lp->nacceptq++;
	tp->flags |= TF_ACCEPTQ;
	return true;
}

void tcp_listen_unlink(struct tcb *tp)
{
	struct tcb *lp = tp->listener;
	if (!lp)
		return;
	if (list_linked(&tp->lnode)) {
		list_del(&tp->lnode);
		list_node_init(&tp->lnode);
		if (tp->flags & TF_ACCEPTQ)
			lp->nacceptq--;
		else
			lp->nsynq--;
	}
	tp->flags &= ~(uint32_t)TF_ACCEPTQ;
	tp->listener = NULL;
}

/* Completes an accept from the accept queue. False when it is empty. */
bool tcp_listen_take(struct tcb *lp, struct op *op)
{
	while (!list_empty(&lp->acceptq)) {
		struct tcb *tp = container_of(lp->acceptq.next, struct tcb, lnode);
		tcp_listen_unlink(tp);
		if (tp->state == TCPS_CLOSED) { /* reset while waiting: skipped, as the kernel does */
			tcb_free(tp);
			continue;
		}
		if (give(tp, op))
			return true;
		return true; /* the op failed with EMFILE */
	}
	return false;
}

void tcp_listen_close(struct tcb *lp)
{
	struct list_node *qs[2] = { &lp->synq, &lp->acceptq };
	for (int i = 0; i < 2; i++) {
		while (!list_empty(qs[i])) {
			struct tcb *tp = container_of(qs[i]->next, struct tcb, lnode);
			tcp_listen_unlink(tp);
			tp->flags |= TF_ORPHAN;
			tcb_drop(tp, ECONNABORTED);
		}
	}
	lp->nsynq = lp->nacceptq = 0;
	tcp_fail_ops(lp, ECANCELED);
	if (lp->flags & TF_BOUND)
		tcp_port_remove(lp->in, lp);
	tcb_set_state(lp, TCPS_CLOSED);
	if (lp->flags & TF_ORPHAN)
		tcb_free(lp);
}
