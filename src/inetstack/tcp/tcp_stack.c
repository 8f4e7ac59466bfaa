/* TCP's stack-wide state: setting it up from the config, and tearing it down (draining, then resetting what is left). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../../runtime/log.h"
#include "../inet_tx.h"
#include "tcp_priv.h"

int tcp_init(struct inet *in, const struct demi_config *cfg)
{
	struct tcp *t = &in->tcp;
	memset(t, 0, sizeof(*t));
	t->cc = tcp_cc_find(cfg->tcp_cc);
	if (!t->cc) {
		log_error("tcp: unknown congestion control '%s'", cfg->tcp_cc);
		return -EINVAL;
	}
	t->rec = tcp_rec_find(cfg->tcp_recovery);
	if (!t->rec) {
		log_error("tcp: unknown loss recovery '%s' (rack, sack)", cfg->tcp_recovery);
		return -EINVAL;
	}
	int err = tcp_isn_init(&t->secret);
	if (err)
		return err;
	t->conn_hash = calloc(TCP_CONN_HASH, sizeof(*t->conn_hash));
	t->port_hash = calloc(TCP_PORT_HASH, sizeof(*t->port_hash));
	if (!t->conn_hash || !t->port_hash) {
		free(t->conn_hash);
		free(t->port_hash);
		return -ENOMEM;
	}
	list_init(&t->conns);
	t->next_ephemeral = TCP_EPHEMERAL_FIRST + (t->secret.key[0] | t->secret.key[1] << 8) % 1024;
	t->rto_min = cfg->tcp_rto_min_ms * NSEC_PER_MSEC;
	t->rto_max = cfg->tcp_rto_max_ms * NSEC_PER_MSEC;
	t->rto_initial = cfg->tcp_rto_initial_ms * NSEC_PER_MSEC;
	if (t->rto_max < t->rto_min)
		t->rto_max = t->rto_min;
	t->delack = cfg->tcp_delayed_ack_ms * NSEC_PER_MSEC;
	t->time_wait = cfg->tcp_time_wait_ms * NSEC_PER_MSEC;
	t->fin_timeout = cfg->tcp_fin_timeout_ms * NSEC_PER_MSEC;
	t->keep_idle = cfg->tcp_keepalive_idle_s * NSEC_PER_SEC;
	t->keep_intvl = cfg->tcp_keepalive_intvl_s * NSEC_PER_SEC;
	t->keep_probes = cfg->tcp_keepalive_probes;
	t->retries = cfg->tcp_retries;
	t->syn_retries = cfg->tcp_syn_retries;
	t->syn_backlog = cfg->tcp_syn_backlog;
	t->rcvbuf = cfg->tcp_rcvbuf;
	t->sndbuf = cfg->tcp_sndbuf;
	t->wscale_ok = cfg->tcp_window_scale;
	t->ts_ok = cfg->tcp_timestamps;
	t->sack_ok = cfg->tcp_sack;
	t->syncookies = cfg->tcp_syncookies;
	t->nodelay = cfg->tcp_nodelay;
	t->keepalive = cfg->tcp_keepalive;
	t->linger_s = cfg->tcp_linger_s;
	return 0;
}

/* A connection that still has data or a FIN the peer has not acknowledged. */
static bool tcb_unfinished(const struct tcb *tp)
{
	switch (tp->state) {
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
	case TCPS_FIN_WAIT_1:
	case TCPS_CLOSING:
	case TCPS_LAST_ACK:
		return tp->snd_una != tp->snd_max || tcp_sndq_bytes(&tp->sq);
	default:
		return false;
	}
}

bool tcp_unfinished(struct inet *in)
{
	if (!in->tcp.conn_hash)
		return false;
	for (struct list_node *n = in->tcp.conns.next; n != &in->tcp.conns; n = n->next)
		if (tcb_unfinished(container_of(n, struct tcb, link)))
			return true;
	return false;
}

void tcp_close_all(struct inet *in)
{
	struct tcp *t = &in->tcp;
	if (!t->conn_hash)
		return;
	/*
	 * Queues still open are closed through the runtime, so their pending
	 * ops are cancelled. A close may free other connections (a listener's
	 * children), so the walk starts over after each one.
	 */
	for (bool again = true; again;) {
		again = false;
		for (struct list_node *n = t->conns.next; n != &t->conns; n = n->next) {
			struct tcb *tp = container_of(n, struct tcb, link);
			if (!(tp->flags & TF_ORPHAN) && tp->q.qd >= 0 && qd_get(&in->rt->qds, tp->q.qd) == &tp->q) {
				rt_close_queue(in->rt, &tp->q);
				again = true;
				break;
			}
		}
	}
}

void tcp_fini(struct inet *in)
{
	struct tcp *t = &in->tcp;
	if (!t->conn_hash)
		return;
	/* What is left is orphaned: reset the peers, free it all. */
	while (!list_empty(&t->conns)) {
		struct tcb *tp = container_of(t->conns.next, struct tcb, link);
		tp->flags |= TF_ORPHAN;
		if (tp->state == TCPS_LISTEN)
			tcp_listen_close(tp);
		else
			tcb_drop(tp, ECONNABORTED);
	}
	free(t->conn_hash);
	free(t->port_hash);
	t->conn_hash = NULL;
	t->port_hash = NULL;
}
