/*
 * Queue-aware devices and the ephemeral-port allocator: the allocator's
 * range, predicate and exhaustion on one stack (inet_set_ports), and two
 * stacks on two memwire queues of one port, sharing its MAC and address,
 * with a peer stack on another port: active opens and UDP sends from each
 * get their replies steered back to the opener, and connections to a
 * listener on both are each served by exactly one.
 */
#include "inet_test.h"

#include "runtime/sched.h"

/* The local address of qd. */
static struct sockaddr_in local_name(int qd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	cr_assert_eq(demi_getsockname(qd, (struct sockaddr *)&a, &len), 0);
	return a;
}

/* ---- the allocator, on the two-stack harness ---- */

static void fini(void) { tnet_fini(); }

TestSuite(inet_port, .fini = fini, .timeout = 60);

/* bind(0) on a new socket of stack A; the port chosen (host order), or 0 with *err set. */
static uint16_t bind_any(int type, int *err, int *qd_out)
{
	int qd = type == SOCK_STREAM ? tnet_tcp(NA) : -1;
	if (type == SOCK_DGRAM) {
		struct queue *q;
		const struct queue_ops *ops;
		cr_assert_eq(inet_socket(T.in[NA], SOCK_DGRAM, &q, &ops), 0);
		cr_assert_eq(qd_install(&T.rt->qds, q, ops), 0);
		qd = q->qd;
	}
	struct sockaddr_in a = tnet_addr(IP_A, 0);
	*err = demi_bind(qd, (const struct sockaddr *)&a, sizeof(a));
	if (qd_out)
		*qd_out = qd;
	if (*err)
		return 0;
	return ntohs(local_name(qd).sin_port);
}

Test(inet_port, default_range_and_sequence_unchanged)
{
	tnet_init(NULL, NULL);
	/* UDP starts at the bottom of RFC 6335's range and goes up one by one, as before. */
	int err;
	cr_assert_eq(bind_any(SOCK_DGRAM, &err, NULL), INET_EPHEMERAL_FIRST);
	cr_assert_eq(bind_any(SOCK_DGRAM, &err, NULL), INET_EPHEMERAL_FIRST + 1);
	/* TCP from its own (keyed) starting point, in the range, one by one. */
	uint16_t t0 = bind_any(SOCK_STREAM, &err, NULL);
	cr_assert_geq(t0, INET_EPHEMERAL_FIRST);
	cr_assert_eq(bind_any(SOCK_STREAM, &err, NULL), t0 + 1);
}

Test(inet_port, range_exhaustion_and_reuse)
{
	tnet_init(NULL, NULL);
	cr_assert_eq(inet_set_ports(T.in[NA], &(struct inet_ports){ .first = 50000, .last = 50003 }), 0);
	for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
		int err, qds[4];
		for (int i = 0; i < 4; i++)
			cr_assert_eq(bind_any(type, &err, &qds[i]), 50000 + i, "type %d, socket %d", type, i);
		/* The range is spent: the error bind(0) gave before when all 16,384 ports were taken. */
		cr_assert_eq(bind_any(type, &err, NULL), 0);
		cr_assert_eq(err, EADDRINUSE);
		/* A port given back is picked again. */
		cr_assert_eq(demi_close(qds[2]), 0);
		tnet_run(NSEC_PER_MSEC);
		cr_assert_eq(bind_any(type, &err, NULL), 50002);
	}
	/* TCP and UDP ports are apart: each protocol filled the range on its own. */
}

static bool even_only(void *arg, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	(void)laddr;
	(void)raddr;
	(void)rport;
	(*(int *)arg)++;
	return (ntohs(lport) & 1) == 0;
}

Test(inet_port, predicate_skips_ports_not_owned)
{
	tnet_init(NULL, NULL);
	int asked = 0;
	struct inet_ports p = { .first = 50001, .last = 50006, .owns = even_only, .arg = &asked };
	cr_assert_eq(inet_set_ports(T.in[NA], &p), 0);
	int err;
	cr_assert_eq(bind_any(SOCK_DGRAM, &err, NULL), 50002);
	cr_assert_eq(bind_any(SOCK_DGRAM, &err, NULL), 50004);
	cr_assert_eq(bind_any(SOCK_DGRAM, &err, NULL), 50006);
	cr_assert_eq(bind_any(SOCK_DGRAM, &err, NULL), 0);
	cr_assert_eq(err, EADDRINUSE, "odd ports are another stack's");
	cr_assert_gt(asked, 3);
}

Test(inet_port, bad_range)
{
	tnet_init(NULL, NULL);
	cr_assert_eq(inet_set_ports(T.in[NA], &(struct inet_ports){ .first = 60000, .last = 50000 }), -EINVAL);
	cr_assert_eq(inet_set_ports(T.in[NA], &(struct inet_ports){ .first = 0, .last = 50000 }), -EINVAL);
}

/* ---- two stacks on two queues of one port ---- */

#define NQ 2
#define NCONN 16
#define LPORT 8000 /* a listener on both queue stacks */
#define PPORT 7000 /* the peer's listener */
#define UPORT 9000 /* the peer's UDP echo */

static const uint8_t MAC_S[6] = { 0x02, 0, 0, 0, 0, 0x21 }; /* the shared port */
static const uint8_t MAC_P[6] = { 0x02, 0, 0, 0, 0, 0x22 }; /* the peer */

static struct {
	struct rt *rt;
	struct memwire *w;
	struct netdev *dev[NQ + 1]; /* the queues of the shared port, then the peer's port */
	struct inet *in[NQ + 1];
	struct task *poller;
	uint32_t base_in_use;
	uint32_t ip_s, ip_p;
	uint64_t opens[NQ]; /* owns() answers per queue: the predicate is asked */
} M;

#define PEER NQ

static void mq_poller(void *arg)
{
	(void)arg;
	do {
		for (int i = 0; i <= NQ; i++)
			inet_poll(M.in[i]);
	} while (sched_defer(&M.rt->sched) == 0);
}

/* Stack q owns the flows the port's steering sends to queue q. */
static bool owns_queue(void *arg, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	uintptr_t q = (uintptr_t)arg;
	M.opens[q]++;
	return memwire_flow_queue(laddr, lport, raddr, rport, NQ) == q;
}

static void mq_init(void)
{
	memset(&M, 0, sizeof(M));
	M.ip_s = inet_addr("10.0.1.1");
	M.ip_p = inet_addr("10.0.1.2");
	clock_use_virtual(NSEC_PER_SEC);
	struct demi_config cfg;
	config_defaults(&cfg);
	cr_assert_eq(rt_create(&cfg, &M.rt), 0);
	M.base_in_use = M.rt->pool.in_use;
	M.w = memwire_create(&M.rt->pool, &(struct memwire_opts){ 0 });
	cr_assert_not_null(M.w);
	M.dev[0] = memwire_attach_mq(M.w, MAC_S, 1500, 0, NQ, NULL, NULL);
	cr_assert_not_null(M.dev[0]);
	for (uint16_t q = 1; q < NQ; q++)
		cr_assert_not_null(M.dev[q] = memwire_queue(M.dev[0], q));
	cr_assert_null(memwire_queue(M.dev[0], NQ));
	M.dev[PEER] = memwire_attach(M.w, MAC_P, 1500, 0);
	for (int i = 0; i <= NQ; i++) {
		cr_assert_eq(M.dev[i]->queue_id, i < NQ ? i : 0);
		cr_assert_eq(M.dev[i]->nqueues, i < NQ ? NQ : 1);
		struct demi_config c = cfg;
		c.has_local_ipv4_addr = true;
		c.local_ipv4_addr.s_addr = i < NQ ? M.ip_s : M.ip_p;
		c.has_local_link_addr = true;
		memcpy(c.local_link_addr, i < NQ ? MAC_S : MAC_P, 6);
		cr_assert_eq(inet_create(M.rt, M.dev[i], &c, &M.in[i]), 0);
		if (i < NQ)
			cr_assert_eq(inet_set_ports(M.in[i], &(struct inet_ports){ .owns = owns_queue, .arg = (void *)(uintptr_t)i }), 0);
	}
	/* The peer's connections come from 60000 up: a known spread over the two queues. */
	cr_assert_eq(inet_set_ports(M.in[PEER], &(struct inet_ports){ .first = 60000, .last = 60000 + NCONN - 1 }), 0);
	M.poller = sched_spawn(&M.rt->sched, TASK_FAST, mq_poller, NULL);
	cr_assert_not_null(M.poller);
}

static void mq_fini(void)
{
	for (int i = 0; i <= NQ; i++)
		inet_destroy(M.in[i]);
	memwire_destroy(M.w);
	cr_assert_eq(M.rt->pool.in_use, M.base_in_use, "%u buffers not returned to the pool",
		     M.rt->pool.in_use - M.base_in_use);
	sched_cancel(&M.rt->sched, M.poller);
	rt_destroy(M.rt);
	clock_use_real();
}

TestSuite(queues, .init = mq_init, .fini = mq_fini, .timeout = 60);

static void one_round(void)
{
	sched_round(&M.rt->sched);
	if (timer_next(&M.rt->timers) <= clock_now())
		sched_wake(&M.rt->sched, M.rt->timer_task);
	sched_round(&M.rt->sched);
}

/* Runs until qt completes, jumping the clock to the next timer or frame (at most max_ns). */
static demi_qresult_t mq_wait(demi_qtoken_t qt, uint64_t max_ns)
{
	uint64_t end = clock_now() + max_ns;
	for (one_round();; one_round()) {
		struct op *op = op_lookup(&M.rt->ops, qt);
		if (op && op->state == OP_DONE)
			break;
		uint64_t now = clock_now(), next = timer_next(&M.rt->timers), arr = memwire_next_arrival(M.w);
		cr_assert_lt(now, end, "operation not complete after %llu ns", (unsigned long long)max_ns);
		if (arr < next)
			next = arr;
		if (end < next)
			next = end;
		clock_advance(next > now ? next - now : NSEC_PER_USEC);
	}
	demi_qresult_t qr;
	struct timespec zero = { 0, 0 };
	cr_assert_eq(demi_wait(&qr, qt, &zero), 0);
	return qr;
}

static int sock(int idx, int type)
{
	struct queue *q;
	const struct queue_ops *ops;
	cr_assert_eq(inet_socket(M.in[idx], type, &q, &ops), 0);
	cr_assert_eq(qd_install(&M.rt->qds, q, ops), 0);
	return q->qd;
}

static int listener(int idx, uint32_t ip, uint16_t port)
{
	int qd = sock(idx, SOCK_STREAM);
	struct sockaddr_in a = tnet_addr(ip, port);
	cr_assert_eq(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(qd, NCONN), 0);
	return qd;
}

/* Pushes one byte `tag` on qd. */
static void push_tag(int qd, uint8_t tag)
{
	demi_sgarray_t sga = tnet_sga(1, tag);
	demi_qtoken_t qt;
	cr_assert_eq(demi_push(&qt, qd, &sga), 0);
	cr_assert_eq(mq_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(demi_sgafree(&sga), 0);
}

/* Pops one byte on qd and returns it. */
static uint8_t pop_tag(int qd)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	demi_qresult_t r = mq_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
	cr_assert_eq(r.qr_value.sga.sga_segs[0].sgaseg_len, 1);
	uint8_t tag = *(uint8_t *)r.qr_value.sga.sga_segs[0].sgaseg_buf;
	cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	return tag;
}

static struct demi_netstats_tcp *tcp_st(int idx) { return &M.in[idx]->st.tcp; }

Test(queues, active_opens_come_back_to_the_opener)
{
	int lqd = listener(PEER, M.ip_p, PPORT);
	struct sockaddr_in to = tnet_addr(M.ip_p, PPORT);
	int cqd[NQ][NCONN / NQ], sqd[NQ][NCONN / NQ];
	for (int i = 0; i < NQ; i++)
		for (int k = 0; k < NCONN / NQ; k++) {
			demi_qtoken_t cqt, aqt;
			cqd[i][k] = sock(i, SOCK_STREAM);
			cr_assert_eq(demi_connect(&cqt, cqd[i][k], (const struct sockaddr *)&to, sizeof(to)), 0);
			demi_qresult_t r = mq_wait(cqt, NSEC_PER_SEC);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT, "stack %d, connection %d: %d", i, k, (int)r.qr_ret);
			cr_assert_eq(demi_accept(&aqt, lqd), 0);
			r = mq_wait(aqt, NSEC_PER_SEC);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
			sqd[i][k] = r.qr_value.ares.qd;
			/* The port the opener picked is one its queue receives. */
			struct sockaddr_in me = local_name(cqd[i][k]);
			cr_assert_eq(memwire_flow_queue(M.ip_s, me.sin_port, M.ip_p, htons(PPORT), NQ), i);
			cr_assert_eq(r.qr_value.ares.addr.sin_port, me.sin_port);
		}
	/* Data both ways on every connection: each byte reaches the socket it was meant for. */
	for (int i = 0; i < NQ; i++)
		for (int k = 0; k < NCONN / NQ; k++) {
			uint8_t tag = (uint8_t)(i * 16 + k);
			push_tag(cqd[i][k], tag);
			cr_assert_eq(pop_tag(sqd[i][k]), tag);
			push_tag(sqd[i][k], (uint8_t)~tag);
			cr_assert_eq(pop_tag(cqd[i][k]), (uint8_t)~tag);
		}
	for (int i = 0; i < NQ; i++) {
		cr_assert_eq(tcp_st(i)->active_opens, NCONN / NQ, "stack %d", i);
		cr_assert_gt(M.opens[i], 0, "the predicate of stack %d was asked", i);
		/* No segment of the other stack's flows reached this one: it would have answered with a RST. */
		cr_assert_eq(tcp_st(i)->rst_tx, 0, "stack %d", i);
		cr_assert_eq(tcp_st(i)->conn_failed, 0, "stack %d", i);
	}
	cr_assert_eq(tcp_st(PEER)->passive_opens, NCONN);
	cr_assert_eq(tcp_st(PEER)->rst_rx, 0);
}

Test(queues, udp_sends_come_back_to_the_sender)
{
	int eqd = sock(PEER, SOCK_DGRAM);
	struct sockaddr_in ea = tnet_addr(M.ip_p, UPORT);
	cr_assert_eq(demi_bind(eqd, (const struct sockaddr *)&ea, sizeof(ea)), 0);
	for (int i = 0; i < NQ; i++)
		for (int k = 0; k < 4; k++) {
			/* An unbound socket: the push binds it to a port whose replies come back to stack i. */
			int qd = sock(i, SOCK_DGRAM);
			uint8_t tag = (uint8_t)(i * 16 + k);
			demi_sgarray_t sga = tnet_sga(1, tag);
			demi_qtoken_t qt;
			cr_assert_eq(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&ea, sizeof(ea)), 0);
			cr_assert_eq(mq_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
			cr_assert_eq(demi_sgafree(&sga), 0);
			/* The peer echoes to the sender's address. */
			cr_assert_eq(demi_pop(&qt, eqd), 0);
			demi_qresult_t r = mq_wait(qt, NSEC_PER_SEC);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
			struct sockaddr_in from = r.qr_value.sga.sga_addr;
			cr_assert_eq(memwire_flow_queue(M.ip_s, from.sin_port, M.ip_p, htons(UPORT), NQ), i);
			cr_assert_eq(demi_pushto(&qt, eqd, &r.qr_value.sga, (const struct sockaddr *)&from, sizeof(from)), 0);
			cr_assert_eq(mq_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
			cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
			cr_assert_eq(pop_tag(qd), tag);
			cr_assert_eq(demi_close(qd), 0);
		}
	for (int i = 0; i < NQ; i++) {
		cr_assert_eq(M.in[i]->st.udp.rx_datagrams, 4, "stack %d", i);
		cr_assert_eq(M.in[i]->st.udp.drop_no_port, 0, "stack %d", i);
	}
}

Test(queues, each_connection_to_a_shared_listener_is_served_once)
{
	int lqd[NQ];
	for (int i = 0; i < NQ; i++)
		lqd[i] = listener(i, M.ip_s, LPORT);
	struct sockaddr_in to = tnet_addr(M.ip_s, LPORT);
	int cqd[NCONN];
	demi_qtoken_t cqt[NCONN];
	for (int k = 0; k < NCONN; k++) {
		cqd[k] = sock(PEER, SOCK_STREAM);
		cr_assert_eq(demi_connect(&cqt[k], cqd[k], (const struct sockaddr *)&to, sizeof(to)), 0);
	}
	for (int k = 0; k < NCONN; k++)
		cr_assert_eq(mq_wait(cqt[k], NSEC_PER_SEC).qr_opcode, DEMI_OPC_CONNECT, "connection %d", k);
	/* Accept on both stacks until every connection is in hand: each shows up on exactly one. */
	int served[NQ] = { 0 }, by[NCONN];
	int sqd[NCONN];
	memset(by, -1, sizeof(by));
	for (int i = 0; i < NQ; i++)
		for (uint64_t n = tcp_st(i)->passive_opens; n > 0; n--) {
			demi_qtoken_t aqt;
			cr_assert_eq(demi_accept(&aqt, lqd[i]), 0);
			demi_qresult_t r = mq_wait(aqt, NSEC_PER_SEC);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
			uint16_t port = ntohs(r.qr_value.ares.addr.sin_port);
			cr_assert(port >= 60000 && port < 60000 + NCONN);
			int k = port - 60000;
			cr_assert_eq(by[k], -1, "connection %d accepted twice", k);
			by[k] = i;
			sqd[k] = r.qr_value.ares.qd;
			served[i]++;
			/* The stack that got it is the one the port steers this flow to. */
			cr_assert_eq(memwire_flow_queue(M.ip_s, htons(LPORT), M.ip_p, htons(port), NQ), i);
		}
	cr_assert_eq(served[0] + served[1], NCONN);
	cr_assert_gt(served[0], 0);
	cr_assert_gt(served[1], 0);
	/* Every connection carries data to the stack that accepted it and back. */
	for (int k = 0; k < NCONN; k++) {
		struct sockaddr_in me = local_name(cqd[k]);
		int port = ntohs(me.sin_port) - 60000;
		cr_assert_neq(by[port], -1);
		push_tag(cqd[k], (uint8_t)k);
		cr_assert_eq(pop_tag(sqd[port]), (uint8_t)k);
		push_tag(sqd[port], (uint8_t)(k + 100));
		cr_assert_eq(pop_tag(cqd[k]), (uint8_t)(k + 100));
	}
	for (int i = 0; i < NQ; i++) {
		cr_assert_eq(tcp_st(i)->passive_opens, (uint64_t)served[i]);
		cr_assert_eq(tcp_st(i)->rst_tx, 0, "stack %d", i);
	}
	cr_assert_eq(tcp_st(PEER)->active_opens, NCONN);
	cr_assert_eq(tcp_st(PEER)->conn_failed, 0);
}
