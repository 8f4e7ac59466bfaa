/*
 * UDP socket queues: PDPIX bind, connect, push, pushto and pop on the
 * inetstack, with the error semantics of doc/api/. Pops that find the
 * receive queue empty wait in a coroutine (as catnap's) that input wakes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/sockopt.h"
#include "../inet_tx.h"
#include "../../net/prot/udp.h"
#include "udp_sock.h"

static inline struct udp_sock *sock_of(struct queue *q) { return container_of(q, struct udp_sock, q); }

void udp_init(struct inet *in)
{
	list_init(&in->udp.socks);
	in->udp.next_ephemeral = UDP_EPHEMERAL_FIRST;
}

void udp_fini(struct inet *in)
{
	while (!list_empty(&in->udp.socks)) {
		struct udp_sock *s = container_of(in->udp.socks.next, struct udp_sock, link);
		if (s->q.qd >= 0 && qd_get(&in->rt->qds, s->q.qd) == &s->q)
			rt_close_queue(in->rt, &s->q); /* cancels its pending ops, then closes */
		else
			udp_queue_ops.close(&s->q);
	}
}

int udp_socket(struct inet *in, struct queue **out, const struct queue_ops **ops)
{
	struct udp_sock *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->in = in;
	s->q.qd = -1;
	list_init(&s->q.pending);
	list_init(&s->readers);
	s->rcvbuf = UDP_RCVBUF_DEFAULT;
	s->sndbuf = UDP_RCVBUF_DEFAULT;
	list_push_back(&in->udp.socks, &s->link);
	*out = &s->q;
	*ops = &udp_queue_ops;
	return 0;
}

/* ---- binding ---- */

static void hash_insert(struct udp *u, struct udp_sock *s)
{
	uint32_t b = udp_bucket(s->lport);
	s->hnext = u->hash[b];
	u->hash[b] = s;
}

static void hash_remove(struct udp *u, struct udp_sock *s)
{
	for (struct udp_sock **link = &u->hash[udp_bucket(s->lport)]; *link; link = &(*link)->hnext) {
		if (*link == s) {
			*link = s->hnext;
			return;
		}
	}
}

static bool port_in_use(struct inet *in, uint16_t port)
{
	return udp_lookup(&in->udp, port) != NULL;
}

/* Binds s to addr:port; port 0: an ephemeral port for datagrams to faddr:fport (0, 0: not known yet). */
static int do_bind(struct udp_sock *s, uint32_t addr, uint16_t port, uint32_t faddr, uint16_t fport)
{
	struct inet *in = s->in;
	if (s->bound)
		return -EINVAL;
	if (addr != htonl(INADDR_ANY) && addr != in->addr)
		return -EADDRNOTAVAIL;
	if (port == 0) {
		int err = inet_port_pick(in, &in->udp.next_ephemeral, faddr, fport, port_in_use, &port);
		if (err)
			return err;
	} else if (udp_lookup(&in->udp, port)) {
		/* One socket per port: SO_REUSEADDR is stored but does not share ports. */
		return -EADDRINUSE;
	}
	s->laddr = addr;
	s->lport = port;
	s->bound = true;
	hash_insert(&in->udp, s);
	if (__builtin_expect(LOG_DEBUG <= log_threshold, 0)) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &addr, a, sizeof(a));
		log_debug("udp: qd %d bound to %s:%u", s->q.qd, a, ntohs(port));
	}
	return 0;
}

static int us_bind(struct queue *q, const struct sockaddr_in *addr)
{
	return do_bind(sock_of(q), addr->sin_addr.s_addr, addr->sin_port, 0, 0);
}

/* Sending or connecting an unbound socket binds it to the wildcard address and an ephemeral port. */
static int autobind(struct udp_sock *s, uint32_t faddr, uint16_t fport)
{
	return s->bound ? 0 : do_bind(s, htonl(INADDR_ANY), 0, faddr, fport);
}

static int us_connect(struct queue *q, struct op *op)
{
	struct udp_sock *s = sock_of(q);
	if (op->addr.sin_port == 0)
		return -EINVAL;
	/* RFC 1122 3.2.1.3: 0.0.0.0 names this host. */
	uint32_t faddr = op->addr.sin_addr.s_addr ? op->addr.sin_addr.s_addr : s->in->addr;
	uint32_t hop;
	if (ipv4_next_hop(s->in, faddr, &hop) < 0)
		return -ENETUNREACH; /* as Linux's connect(2): off the local subnet and no gateway */
	int err = autobind(s, faddr, op->addr.sin_port);
	if (err)
		return err;
	s->faddr = faddr;
	s->fport = op->addr.sin_port;
	s->connected = true;
	op_complete(&s->in->rt->ops, op);
	return 0;
}

/* ---- push ---- */

/*
 * Sends one datagram and completes the push: UDP has nothing to wait for.
 * The copy rule (doc/inetstack.md): the headers go in place, in the
 * buffer's headroom, when the segment starts at buf_data(b) of pool memory
 * and nobody but the application and this push holds the buffer; else the
 * payload is copied into a buffer of the stack's own.
 */
static int send_dgram(struct udp_sock *s, struct op *op, uint32_t daddr, uint16_t dport)
{
	struct inet *in = s->in;
	uint32_t len = op->sga.sga_segs[0].sgaseg_len;
	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	int err = autobind(s, daddr, dport);
	if (err)
		return err;
	struct buf *b = op->buf;
	uint8_t *seg = op->sga.sga_segs[0].sgaseg_buf;
	struct pkt p;
	if (!b->owner && seg == buf_data(b) && b->refcnt == b->app_refs + 1) {
		buf_ref(b); /* the frame's reference; the push's goes at completion */
		p = (struct pkt){ .buf = b, .data = seg, .len = len };
		in->st.udp.tx_in_place++;
	} else {
		if (inet_pkt_alloc(in, len, &p) < 0)
			return -ENOMEM;
		memcpy(p.data, seg, len);
		in->st.udp.tx_copies++;
	}
	/* A datagram the stack drops later (queue full, no resolution) is counted, not reported: UDP. */
	udp_output(in, &p, s->lport, daddr, dport);
	sga_copy(&op->result.qr_value.sga, &op->sga);
	op_complete(&in->rt->ops, op);
	if (!in->in_poll)
		inet_tx_flush(in);
	return 0;
}

static int us_push(struct queue *q, struct op *op)
{
	struct udp_sock *s = sock_of(q);
	if (s->shut_wr)
		return -EPIPE;
	if (!s->connected)
		return -EDESTADDRREQ;
	return send_dgram(s, op, s->faddr, s->fport);
}

static int us_pushto(struct queue *q, struct op *op)
{
	struct udp_sock *s = sock_of(q);
	if (s->shut_wr)
		return -EPIPE;
	if (op->addr.sin_addr.s_addr == htonl(INADDR_ANY) || op->addr.sin_port == 0)
		return -EINVAL;
	return send_dgram(s, op, op->addr.sin_addr.s_addr, op->addr.sin_port);
}

/* ---- pop ---- */

/* Completes op with the oldest queued datagram, or -EAGAIN when there is none. */
static int try_pop(struct udp_sock *s, struct op *op)
{
	if (s->rq_head == s->rq_tail) {
		if (!s->shut_rd)
			return -EAGAIN;
		/* Shut for reading and drained: recv(2) answers 0 bytes; so does the pop. */
		struct rt *rt = s->in->rt;
		struct buf *b = buf_alloc(&rt->pool, 1);
		if (!b) {
			op_fail(&rt->ops, op, ENOMEM);
			return 0;
		}
		buf_give_app(&rt->pool, b, buf_data(b), 0, &op->result.qr_value.sga);
		op_complete(&rt->ops, op);
		return 0;
	}
	struct udp_dgram d = s->rq[s->rq_head++ & (UDP_RCVQ_LEN - 1)];
	s->rq_bytes -= d.len;
	struct rt *rt = s->in->rt;
	/* The datagram's buffer reference passes to the application; the payload stays where it arrived. */
	buf_give_app(&rt->pool, d.buf, d.data, d.len, &op->result.qr_value.sga);
	op->result.qr_value.sga.sga_addr = inet_sockaddr(d.addr, d.port);
	op_complete(&rt->ops, op);
	return 0;
}

static void wake_first(struct rt *rt, struct udp_sock *s)
{
	if (list_empty(&s->readers) || (s->rq_head == s->rq_tail && !s->shut_rd))
		return;
	struct op *op = container_of(s->readers.next, struct op, wnode);
	if (op->task)
		sched_wake(&rt->sched, op->task);
}

/* A pop that must wait: parks until input wakes it and it is the oldest waiter. */
static void pop_co(void *arg)
{
	struct op *op = arg;
	struct udp_sock *s = sock_of(op->q);
	struct rt *rt = s->in->rt;
	list_push_back(&s->readers, &op->wnode);
	for (;;) {
		if (s->readers.next == &op->wnode && try_pop(s, op) == 0)
			break;
		if (sched_park(&rt->sched) < 0)
			return; /* cancelled: the close failed the op and unlinked it */
	}
	list_del(&op->wnode);
	wake_first(rt, s);
}

static int us_pop(struct queue *q, struct op *op)
{
	struct udp_sock *s = sock_of(q);
	if (list_empty(&s->readers) && try_pop(s, op) == 0)
		return 0;
	return rt_op_start(s->in->rt, op, pop_co);
}

/* demi_shutdown as Linux has it for datagrams: only a connected socket, no FIN to send. */
static int us_shutdown(struct queue *q, int how)
{
	struct udp_sock *s = sock_of(q);
	if (!s->connected)
		return -ENOTCONN;
	if (how != SHUT_WR) {
		s->shut_rd = true;
		wake_first(s->in->rt, s);
	}
	if (how != SHUT_RD)
		s->shut_wr = true;
	return 0;
}

/* A datagram push completes as it is sent: nothing is left to flush, so the close is at once. */
static int us_close_flush(struct queue *q, struct op *op)
{
	struct rt *rt = sock_of(q)->in->rt;
	rt_cancel_but_pushes(rt, q, op);
	op_complete(&rt->ops, op);
	rt_close_queue(rt, q);
	return 0;
}

/* ---- options and names ---- */

static int *int_option(struct udp_sock *s, int name)
{
	switch (name) {
	case SO_KEEPALIVE:
		return &s->keepalive;
	case SO_RCVBUF:
		return &s->rcvbuf;
	case SO_SNDBUF:
		return &s->sndbuf;
	case SO_REUSEADDR:
		return &s->reuseaddr;
	}
	return NULL;
}

static int us_setsockopt(struct queue *q, int level, int name, const void *val, socklen_t len)
{
	struct udp_sock *s = sock_of(q);
	int size = sockopt_size(level, name, false);
	if (size < 0)
		return size;
	if (sockopt_read_only(level, name))
		return -ENOPROTOOPT;
	if (len != (socklen_t)size)
		return -EINVAL;
	if (name == SO_LINGER) {
		memcpy(&s->linger, val, sizeof(s->linger));
		return 0;
	}
	int v;
	memcpy(&v, val, sizeof(v));
	if ((name == SO_RCVBUF || name == SO_SNDBUF) && v < 0)
		return -EINVAL;
	*int_option(s, name) = v;
	return 0;
}

static int us_getsockopt(struct queue *q, int level, int name, void *val, socklen_t *len)
{
	struct udp_sock *s = sock_of(q);
	int size = sockopt_size(level, name, false);
	if (size < 0)
		return size;
	if (*len < (socklen_t)size)
		return -EINVAL;
	*len = (socklen_t)size;
	if (name == SO_LINGER) {
		memcpy(val, &s->linger, sizeof(s->linger));
		return 0;
	}
	int v = name == SO_TYPE ? SOCK_DGRAM : name == SO_ERROR ? 0 : *int_option(s, name);
	memcpy(val, &v, sizeof(v));
	return 0;
}

static int us_getpeername(struct queue *q, struct sockaddr_in *out)
{
	struct udp_sock *s = sock_of(q);
	if (!s->connected)
		return -ENOTCONN;
	*out = inet_sockaddr(s->faddr, s->fport);
	return 0;
}

static int us_getsockname(struct queue *q, struct sockaddr_in *out)
{
	struct udp_sock *s = sock_of(q);
	*out = inet_sockaddr(s->laddr, s->lport);
	return 0;
}

static int us_close(struct queue *q)
{
	struct udp_sock *s = sock_of(q);
	struct inet *in = s->in;
	if (s->bound)
		hash_remove(&in->udp, s);
	list_del(&s->link);
	while (s->rq_head != s->rq_tail)
		buf_unref(in->pool, s->rq[s->rq_head++ & (UDP_RCVQ_LEN - 1)].buf);
	free(s);
	return 0;
}

/* UDP has no listen or accept: the public layer answers ENOTSUP for them. */
const struct queue_ops udp_queue_ops = {
	.kind = "inet-udp",
	.bind = us_bind,
	.connect = us_connect,
	.push = us_push,
	.pushto = us_pushto,
	.pop = us_pop,
	.shutdown = us_shutdown,
	.close_flush = us_close_flush,
	.setsockopt = us_setsockopt,
	.getsockopt = us_getsockopt,
	.getpeername = us_getpeername,
	.getsockname = us_getsockname,
	.close = us_close,
};
