/*
 * Memory per connection (issue 12 finding 6): what a tcb and its rings take
 * (tcp_mem, the stack's own count of its tcbs and rings) on memwire. A
 * listener and a socket never connected carry no rings; an idle connection
 * takes under 8 KB; a bulk transfer grows the rings on demand within their
 * maximum; closing gives everything back (the stack's count, and the
 * allocator's count of bytes in use, mallinfo2, back to where they started).
 */
#include <malloc.h>

#include "tcp_knobs.h"

TestSuite(tcp_mem, .init = setup, .fini = fini, .timeout = 60);

#define IDLE_MAX 8192 /* the goal for an idle established connection, one end */
#define NCONN 1000

static uint64_t heap_in_use(void) { return mallinfo2().uordblks; }

static void cfg_tw(struct demi_config *c, int idx)
{
	cfg(c, idx);
	c->tcp_time_wait_ms = 100; /* the active closer's tcb goes soon after the close */
}

static struct tcb *tcb_on(int idx, bool listener)
{
	struct list_node *l;
	for (l = T.in[idx]->tcp.conns.next; l != &T.in[idx]->tcp.conns; l = l->next) {
		struct tcb *tp = container_of(l, struct tcb, link);
		if ((tp->state == TCPS_LISTEN) == listener)
			return tp;
	}
	return NULL;
}

/* A listener and an unconnected socket have no rings; an established connection has small ones, under 8 KB in all. */
Test(tcp_mem, idle_connection_is_small_and_listener_carries_no_rings)
{
	tnet_init(NULL, cfg_tw);
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 7000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 16), 0);
	struct tcb *lp = tcb_on(NB, true);
	cr_assert_not_null(lp);
	cr_assert_null(lp->sq.ring, "a listener has a send ring");
	cr_assert_null(lp->rq.ring, "a listener has a receive ring");
	cr_assert_eq(tcb_mem(lp), sizeof(struct tcb));
	int cqd = tnet_tcp(NA);
	cr_assert_eq(tcp_mem(T.in[NA]), sizeof(struct tcb), "an unconnected socket has rings");
	demi_qtoken_t aqt, cqt;
	cr_assert_eq(demi_accept(&aqt, lqd), 0);
	cr_assert_eq(demi_connect(&cqt, cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(tnet_wait(cqt, SEC).qr_opcode, DEMI_OPC_CONNECT);
	demi_qresult_t r = tnet_wait(aqt, SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	int sqd = r.qr_value.ares.qd;
	/* A few bytes each way, as an echo does, then idle. */
	demi_sgarray_t s = tnet_sga(64, 1);
	demi_qtoken_t pqt;
	cr_assert_eq(demi_push(&pqt, cqd, &s), 0);
	expect_push_ok(pqt, SEC);
	demi_sgafree(&s);
	r = tnet_wait(pop_qt(sqd), SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
	demi_sgafree(&r.qr_value.sga);
	tnet_run(SEC);
	struct tcb *ct = tcb_qd(cqd), *st = tcb_qd(sqd);
	cr_assert_not_null(ct->sq.ring);
	cr_assert_not_null(st->rq.ring);
	cr_assert_lt(tcb_mem(ct), IDLE_MAX, "an idle client connection takes %u bytes", tcb_mem(ct));
	cr_assert_lt(tcb_mem(st), IDLE_MAX, "an idle server connection takes %u bytes", tcb_mem(st));
	cr_log_info("idle connection: tcb %zu bytes, client %u bytes, server %u bytes", sizeof(struct tcb), tcb_mem(ct),
		    tcb_mem(st));
	demi_close(cqd);
	demi_close(sqd);
	demi_close(lqd);
	tnet_run(SEC);
	cr_assert_eq(tcp_mem(T.in[NA]) + tcp_mem(T.in[NB]), 0, "tcbs left after close");
}

/* A bulk transfer grows the rings (send at the sender, receive at the receiver) within their maximum; close frees them. */
Test(tcp_mem, rings_grow_under_bulk_transfer_and_are_freed_at_close)
{
	tnet_init(NULL, cfg_tw);
	uint64_t heap0 = heap_in_use();
	struct tconn c = pair_bufs(7001, 0, 256 << 10);
	struct tcb *ct = tcb_qd(c.cqd), *st = tcb_qd(c.sqd);
	uint32_t idle_c = tcb_mem(ct), idle_s = tcb_mem(st);
	struct xdir d;
	xdir_init(&d, c.cqd, c.sqd, 8 << 20, 5);
	xfer_run(&d, 1, 64 << 10, 8, 60 * SEC);
	cr_assert_gt(st->rq.cap, TCP_RCVQ_MIN, "the receive ring never grew");
	cr_assert_leq(st->rq.cap, TCP_RCVQ_LEN);
	/* 256 KiB of window holds at most 256 KiB / 513 B (segments up to TCP_COALESCE_MAX are coalesced) slots. */
	cr_assert_leq(st->rq.cap, 1024);
	cr_assert_gt(tcb_mem(ct) + tcb_mem(st), idle_c + idle_s);
	/* Many small pushes at once: the send ring grows to hold them all (they fit SO_SNDBUF). */
	enum { NSMALL = 100, SMALL = 100 };
	demi_qtoken_t qts[NSMALL];
	for (int i = 0; i < NSMALL; i++) {
		demi_sgarray_t s = tnet_sga(SMALL, (uint8_t)i);
		cr_assert_eq(demi_push(&qts[i], c.sqd, &s), 0);
		demi_sgafree(&s);
	}
	tnet_run(0);
	cr_assert_geq(st->sq.cap, 128, "the send ring holds %u pushes, %d were made", st->sq.cap, NSMALL);
	cr_assert_leq(st->sq.cap, TCP_SNDQ_LEN);
	for (int i = 0; i < NSMALL; i++)
		expect_push_ok(qts[i], SEC);
	uint32_t got = 0;
	while (got < NSMALL * SMALL) {
		demi_qresult_t r = tnet_wait(pop_qt(c.cqd), SEC);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
		got += r.qr_value.sga.sga_segs[0].sgaseg_len;
		demi_sgafree(&r.qr_value.sga);
	}
	cr_log_info("after 8 MiB: client %u bytes (idle %u), server %u bytes (idle %u), rcv ring %u, send ring %u",
		    tcb_mem(ct), idle_c, tcb_mem(st), idle_s, st->rq.cap, st->sq.cap);
	close_pair(&c);
	tnet_run(SEC);
	cr_assert_eq(tcp_mem(T.in[NA]) + tcp_mem(T.in[NB]), 0, "tcbs left after close");
	uint64_t heap1 = heap_in_use();
	cr_assert_leq(heap1, heap0 + 4096, "heap in use %llu bytes after close, %llu before the connection",
		      (unsigned long long)heap1, (unsigned long long)heap0);
}

/* NCONN idle connections: under 8 KB each end by the stack's count and by the allocator's; all back after close. */
Test(tcp_mem, thousand_connections_cost_under_8k_each_and_come_back)
{
	tnet_init(NULL, cfg_tw);
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 7002);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 64), 0);
	tnet_run(MS);
	uint64_t heap0 = heap_in_use(), mem0 = tcp_mem(T.in[NA]) + tcp_mem(T.in[NB]);
	static int cq[NCONN], sq[NCONN];
	for (int i = 0; i < NCONN; i++) {
		demi_qtoken_t aqt, cqt;
		cr_assert_eq(demi_accept(&aqt, lqd), 0);
		cq[i] = tnet_tcp(NA);
		cr_assert_eq(demi_connect(&cqt, cq[i], (const struct sockaddr *)&a, sizeof(a)), 0);
		cr_assert_eq(tnet_wait(cqt, SEC).qr_opcode, DEMI_OPC_CONNECT, "connect %d", i);
		demi_qresult_t r = tnet_wait(aqt, SEC);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT, "accept %d", i);
		sq[i] = r.qr_value.ares.qd;
	}
	tnet_run(SEC);
	uint64_t mem = tcp_mem(T.in[NA]) + tcp_mem(T.in[NB]) - mem0;
	uint64_t heap = heap_in_use() - heap0;
	cr_log_info("%d connections: stack count %llu bytes per end, heap in use %llu bytes per end", NCONN,
		    (unsigned long long)(mem / (2 * NCONN)), (unsigned long long)(heap / (2 * NCONN)));
	cr_assert_lt(mem / (2 * NCONN), IDLE_MAX, "%llu bytes per connection end (tcp_mem)",
		     (unsigned long long)(mem / (2 * NCONN)));
	cr_assert_lt(heap / (2 * NCONN), IDLE_MAX, "%llu bytes per connection end (heap in use)",
		     (unsigned long long)(heap / (2 * NCONN)));
	for (int i = 0; i < NCONN; i++) {
		demi_close(cq[i]);
		demi_close(sq[i]);
	}
	tnet_run(2 * SEC); /* FINs, then TIME-WAIT (100 ms here) */
	cr_assert_eq(tcp_mem(T.in[NA]) + tcp_mem(T.in[NB]), mem0, "tcbs left after close: %u + %u",
		     T.in[NA]->tcp.nconns, T.in[NB]->tcp.nconns);
	uint64_t heap1 = heap_in_use();
	cr_assert_leq(heap1, heap0 + heap / 10, "heap in use %llu bytes after close, %llu before, %llu with them",
		      (unsigned long long)heap1, (unsigned long long)heap0, (unsigned long long)(heap0 + heap));
	demi_close(lqd);
	tnet_run(MS);
}

/* A child in SYN-RECEIVED is a bare tcb; the ACK that completes the handshake (carrying data here) gives it rings. */
Test(tcp_mem, syn_received_carries_no_rings_until_the_handshake_ack)
{
	tnet_init(NULL, cfg_tw);
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 7003);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 16), 0);
	demi_qtoken_t aqt;
	cr_assert_eq(demi_accept(&aqt, lqd), 0);
	struct ropts o = RO_NONE;
	raw_tcp(NB, 40000, 7003, 1000, 0, TH_SYN, 65535, &o, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS), "no SYN-ACK");
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_gt(s.win, 0, "the SYN-ACK offers no window");
	struct tcb *tp = tcb_in_state(NB, TCPS_SYN_RECEIVED);
	cr_assert_not_null(tp);
	cr_assert_null(tp->sq.ring, "SYN-RECEIVED has a send ring");
	cr_assert_null(tp->rq.ring, "SYN-RECEIVED has a receive ring");
	cr_assert_eq(tcb_mem(tp), sizeof(struct tcb));
	raw_tcp(NB, 40000, 7003, 1001, s.seq + 1, TH_ACK | TH_PSH, 65535, &o, "hello", 5);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	struct tcb *ct = tcb_qd(r.qr_value.ares.qd);
	cr_assert_not_null(ct->rq.ring);
	cr_assert_not_null(ct->sq.ring);
	expect_pop(pop_qt(r.qr_value.ares.qd), "hello", 5, 10 * MS);
	demi_close(r.qr_value.ares.qd);
	demi_close(lqd);
	tnet_run(10 * MS);
}
