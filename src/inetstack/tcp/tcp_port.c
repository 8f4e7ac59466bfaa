/* The port table: bound sockets and listeners by local port, bind (ephemeral ports included), listener lookup. */
#include <arpa/inet.h>
#include <errno.h>

#include "../inet_tx.h"
#include "tcp_priv.h"

static inline uint32_t port_bucket(uint16_t port) { return (uint32_t)(port ^ (port >> 8)) & (TCP_PORT_HASH - 1); }

struct tcb *tcp_listener_lookup(struct inet *in, uint32_t laddr, uint16_t lport)
{
	for (struct tcb *tp = in->tcp.port_hash[port_bucket(lport)]; tp; tp = tp->pnext)
		if (tp->lport == lport && tp->state == TCPS_LISTEN && (tp->laddr == 0 || tp->laddr == laddr))
			return tp;
	return NULL;
}

static bool port_in_use(struct inet *in, uint16_t lport)
{
	for (struct tcb *tp = in->tcp.port_hash[port_bucket(lport)]; tp; tp = tp->pnext)
		if (tp->lport == lport)
			return true;
	return false;
}

static void port_insert(struct inet *in, struct tcb *tp)
{
	struct tcb **b = &in->tcp.port_hash[port_bucket(tp->lport)];
	tp->pnext = *b;
	*b = tp;
	tp->flags |= TF_BOUND;
}

void tcp_port_remove(struct inet *in, struct tcb *tp)
{
	for (struct tcb **l = &in->tcp.port_hash[port_bucket(tp->lport)]; *l; l = &(*l)->pnext) {
		if (*l == tp) {
			*l = tp->pnext;
			break;
		}
	}
	tp->flags &= ~(uint32_t)TF_BOUND;
}

int tcp_bind(struct tcb *tp, uint32_t laddr, uint16_t lport)
{
	struct inet *in = tp->in;
	if (laddr != htonl(INADDR_ANY) && laddr != in->addr)
		return -EADDRNOTAVAIL;
	if (lport == 0) {
		/* For the flow to faddr:fport when connecting (ts_connect sets them first), so that it comes back here. */
		int err = inet_port_pick(in, &in->tcp.next_ephemeral, tp->faddr, tp->fport, port_in_use, &lport);
		if (err)
			return err;
	} else if (port_in_use(in, lport)) {
		/* One socket per port; connections in TIME-WAIT hold none, so a restarted server binds at once. */
		return -EADDRINUSE;
	}
	tp->laddr = laddr;
	tp->lport = lport;
	port_insert(in, tp);
	return 0;
}
