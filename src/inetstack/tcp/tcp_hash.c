/* The connection table: synchronized and SYN-RECEIVED connections by 4-tuple (one local address per stack). */
#include "../inet_tx.h"
#include "tcp_priv.h"

uint32_t tcp_conn_bucket(uint32_t faddr, uint16_t lport, uint16_t fport)
{
	uint32_t h = faddr ^ ((uint32_t)fport << 16 | lport);
	h ^= h >> 16;
	h *= 0x45d9f3bu;
	h ^= h >> 16;
	return h & (TCP_CONN_HASH - 1);
}

struct tcb *tcp_conn_lookup(struct inet *in, uint32_t laddr, uint16_t lport, uint32_t faddr, uint16_t fport)
{
	(void)laddr; /* one local address per stack */
	struct tcb *tp = in->tcp.conn_hash[tcp_conn_bucket(faddr, lport, fport)];
	while (tp && !(tp->lport == lport && tp->fport == fport && tp->faddr == faddr))
		tp = tp->hnext;
	return tp;
}

void tcp_conn_insert(struct inet *in, struct tcb *tp)
{
	struct tcb **b = &in->tcp.conn_hash[tcp_conn_bucket(tp->faddr, tp->lport, tp->fport)];
	tp->hnext = *b;
	*b = tp;
	tp->flags |= TF_HASHED;
}

void tcp_conn_remove(struct inet *in, struct tcb *tp)
{
	for (struct tcb **l = &in->tcp.conn_hash[tcp_conn_bucket(tp->faddr, tp->lport, tp->fport)]; *l;
	     l = &(*l)->hnext) {
		if (*l == tp) {
			*l = tp->hnext;
			break;
		}
	}
	tp->flags &= ~(uint32_t)TF_HASHED;
}
