/* The control block's lifetime: creation with the stack's defaults, state changes, closing, dropping, freeing. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../inet_tx.h"
#include "tcp_priv.h"

struct tcb *tcb_new(struct inet *in)
{
	struct tcb *tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	struct tcp *t = &in->tcp;
	tp->in = in;
	tp->q.qd = -1;
	list_init(&tp->q.pending);
	list_init(&tp->readers);
	list_init(&tp->writers);
	list_init(&tp->synq);
	list_init(&tp->acceptq);
	list_init(&tp->acceptors);
	list_node_init(&tp->lnode);
	tp->state = TCPS_CLOSED;
	tp->rcvbuf = t->rcvbuf;
	tp->sndbuf = t->sndbuf;
	if (t->nodelay)
		tp->flags |= TF_NODELAY;
	if (t->keepalive)
		tp->flags |= TF_KEEPALIVE;
	if (t->linger_s >= 0)
		tp->linger = (struct linger){ .l_onoff = 1, .l_linger = t->linger_s };
	tp->rto_ns = t->rto_initial;
	tp->peer_mss = TCP_DEFAULT_MSS;
	tp->mss = TCP_DEFAULT_MSS;
	tp->rec = &tcp_rec_newreno;
	list_push_back(&t->conns, &tp->link);
	if (++t->nconns > t->nconns_peak)
		t->nconns_peak = t->nconns;
	return tp;
}

int tcb_alloc_rings(struct tcb *tp)
{
	if (tcp_sndq_alloc(&tp->sq) < 0)
		return -ENOMEM;
	if (tcp_rcvq_alloc(&tp->rq) < 0) {
		tcp_sndq_free(&tp->sq, tp->in->pool);
		return -ENOMEM;
	}
	return 0;
}

void tcb_free(struct tcb *tp)
{
	struct inet *in = tp->in;
	tcp_timers_stop(tp);
	tcp_sndq_free(&tp->sq, in->pool);
	tcp_rcvq_free(&tp->rq, in->pool);
	list_del(&tp->link);
	struct tcp *t = &in->tcp;
	t->nconns--;
	free(tp);
	/*
	 * glibc keeps freed chunks in its heap; after most connections are gone
	 * give the free pages back (once per fall to a quarter: amortised over
	 * the frees that led there).
	 */
	if (t->nconns_peak >= TCP_TRIM_PEAK && t->nconns <= t->nconns_peak / 4) {
		malloc_trim(0);
		t->nconns_peak = t->nconns;
	}
}

uint64_t tcp_mem(const struct inet *in)
{
	uint64_t n = 0;
	for (const struct list_node *l = in->tcp.conns.next; l != &in->tcp.conns; l = l->next)
		n += tcb_mem(container_of(l, const struct tcb, link));
	return n;
}

static const char *const state_names[] = {
	[TCPS_CLOSED] = "CLOSED", [TCPS_LISTEN] = "LISTEN", [TCPS_SYN_SENT] = "SYN_SENT",
	[TCPS_SYN_RECEIVED] = "SYN_RECEIVED", [TCPS_ESTABLISHED] = "ESTABLISHED", [TCPS_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCPS_FIN_WAIT_1] = "FIN_WAIT_1", [TCPS_CLOSING] = "CLOSING", [TCPS_LAST_ACK] = "LAST_ACK",
	[TCPS_FIN_WAIT_2] = "FIN_WAIT_2", [TCPS_TIME_WAIT] = "TIME_WAIT",
};

/* The debug line of a connection event: "tcp: qd 5 10.0.0.1:80 - 10.0.0.2:41000: what". */
static void __attribute__((noinline, cold)) log_conn(const struct tcb *tp, int line, const char *what, const char *why)
{
	char l[INET_ADDRSTRLEN], f[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &tp->laddr, l, sizeof(l));
	inet_ntop(AF_INET, &tp->faddr, f, sizeof(f));
	int qd = (tp->flags & TF_ORPHAN) ? -1 : tp->q.qd;
	log_emit(LOG_DEBUG, __FILE__, line, "tcp: qd %d %s:%u - %s:%u: %s%s%s", qd, l, ntohs(tp->lport), f,
		 ntohs(tp->fport), what, why ? ": " : "", why ? why : "");
}

void tcb_set_state(struct tcb *tp, enum tcp_state s)
{
	if (__builtin_expect(LOG_DEBUG <= log_threshold, 0) && s != tp->state) {
		char what[48];
		snprintf(what, sizeof(what), "%s -> %s", state_names[tp->state], state_names[s]);
		log_conn(tp, __LINE__, what, NULL);
	}
	tp->state = s;
	/* Our FIN acknowledged (or the connection gone): demi_close_flush's coroutine looks. */
	if (tp->close_op && tp->close_op->task && (s == TCPS_FIN_WAIT_2 || s == TCPS_TIME_WAIT || s == TCPS_CLOSED))
		sched_wake(&tp->in->rt->sched, tp->close_op->task);
}

void tcb_close(struct tcb *tp, int err)
{
	struct inet *in = tp->in;
	if (err && tp->state != TCPS_CLOSED && !tp->so_error)
		tp->so_error = err;
	if (__builtin_expect(LOG_DEBUG <= log_threshold, 0) && tp->state != TCPS_CLOSED && err)
		log_conn(tp, __LINE__, err == ECONNRESET ? "reset" : err == ETIMEDOUT ? "timed out" : "failed",
			 strerror(err));
	tcb_set_state(tp, TCPS_CLOSED);
	tcp_timers_stop(tp);
	if (tp->flags & TF_HASHED)
		tcp_conn_remove(in, tp);
	if (tp->listener)
		tcp_listen_unlink(tp);
	tcp_fail_ops(tp, tp->so_error ? tp->so_error : ECONNRESET);
	if (tp->flags & TF_ORPHAN) {
		if (tp->flags & TF_BOUND)
			tcp_port_remove(in, tp);
		tcb_free(tp);
	}
}

void tcb_drop(struct tcb *tp, int err)
{
	if (tcps_synchronized(tp->state) || tp->state == TCPS_SYN_RECEIVED) {
		tcp_send_raw(tp, TH_RST | TH_ACK, tp->snd_max, tp->rcv_nxt, false);
		tp->in->st.tcp.rst_tx++;
	}
	if (err && err != ECONNABORTED)
		tp->in->st.tcp.conn_failed++;
	tcb_close(tp, err);
}

void tcp_seq_init(struct tcb *tp)
{
	/* Every sequence variable starts at the ISS: comparisons against a zero would fail for half of all ISNs. */
	tp->recover = tp->iss; /* RFC 6582 section 3.2 step 1 */
	tp->rtt_seq = tp->iss;
	tcp_sb_reset(&tp->sb, tp->iss);
}
