/*
 * demi_shutdown and demi_close_flush (<demi/shutdown.h>) on Demi's TCP,
 * over memwire under the virtual clock: the FIN goes after every byte pushed
 * before it (also pushes still waiting for room), nothing pushed is lost,
 * the peer sees EOF; close_flush completes only once the peer acknowledged
 * the data and the FIN, and fails with ETIMEDOUT against a silent peer and
 * ECONNRESET on a reset.
 */
#include <demi/shutdown.h>

#include "tcp_raw.h"

#define MS NSEC_PER_MSEC

static void cfg(struct demi_config *c, int idx)
{
	(void)idx;
	c->tcp_time_wait_ms = 500;
	c->tcp_fin_timeout_ms = 2000;
	c->tcp_retries = 3;
	c->tcp_rto_max_ms = 1000;
	cfg_static_arp(c);
}

static void init(void)
{
	tnet_init(NULL, cfg);
	fix_isn_secrets();
}
static void fini(void) { tnet_fini(); }

TestSuite(tcp_shutdown, .init = init, .fini = fini, .timeout = 60);

#define NPUSH 600   /* more pushes than the send queue's ring has slots (TCP_SNDQ_LEN): the last wait for one */
#define PUSH_LEN 400 /* 240 kB in all, against a 16 kB send buffer: most pushes wait */

static uint8_t stream[NPUSH * PUSH_LEN];

static void fill_stream(void)
{
	for (uint32_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 13 + (i >> 9));
}

/* Pushes the whole stream on qd in NPUSH pushes without waiting. */
static void push_stream(int qd, demi_qtoken_t qts[NPUSH])
{
	fill_stream();
	int sb = 16384;
	cr_assert_eq(demi_setsockopt(qd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb)), 0);
	for (int i = 0; i < NPUSH; i++)
		qts[i] = push_bytes(qd, stream + i * PUSH_LEN, PUSH_LEN);
}

/* Pops qd until EOF; asserts the bytes are the stream, whole and in order. */
static void pop_stream_then_eof(int qd)
{
	uint32_t got = 0;
	for (;;) {
		demi_qresult_t r = tnet_wait(pop_qt(qd), 5 * NSEC_PER_SEC);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP, "pop failed: %d", (int)r.qr_ret);
		uint32_t n = r.qr_value.sga.sga_segs[0].sgaseg_len;
		if (n == 0) {
			cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
			break;
		}
		cr_assert_leq(got + n, sizeof(stream), "more bytes than were pushed");
		cr_assert_eq(memcmp(r.qr_value.sga.sga_segs[0].sgaseg_buf, stream + got, n), 0, "bytes differ at %u", got);
		got += n;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	cr_assert_eq(got, sizeof(stream), "EOF after %u of %zu bytes", got, sizeof(stream));
}

Test(tcp_shutdown, shut_wr_fin_after_pending_pushes)
{
	struct tconn c = tnet_tcp_pair(8000);
	demi_qtoken_t qts[NPUSH];
	push_stream(c.cqd, qts);
	cr_assert_eq(demi_shutdown(c.cqd, SHUT_WR), 0);
	struct tcb *a = tcb_qd(c.cqd);
	_Static_assert(NPUSH > TCP_SNDQ_LEN, "some pushes must wait for a slot");
	cr_assert_eq(a->state, TCPS_ESTABLISHED, "no FIN before the pushes waiting for a slot are queued");
	cr_assert(!(a->flags & (TF_FIN_QUEUED | TF_FIN_SENT)));
	demi_qtoken_t qt;
	demi_sgarray_t late = tnet_sga(10, 1);
	cr_assert_eq(demi_push(&qt, c.cqd, &late), EPIPE);
	cr_assert_eq(demi_sgafree(&late), 0);
	pop_stream_then_eof(c.sqd);
	for (int i = 0; i < NPUSH; i++)
		expect_push_ok(qts[i], 10 * MS);
	tnet_run(10 * MS);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_2);
	/* Half-closed: the peer's data still arrives. */
	demi_qtoken_t pq = pop_qt(c.cqd);
	expect_push_ok(push_bytes(c.sqd, "back", 4), 10 * MS);
	expect_pop(pq, "back", 4, 10 * MS);
	cr_assert_eq(demi_close(c.sqd), 0);
	expect_pop(pop_qt(c.cqd), NULL, 0, 10 * MS);
	cr_assert_eq(a->state, TCPS_TIME_WAIT);
	demi_close(c.cqd);
	demi_close(c.lqd);
	tnet_run(NSEC_PER_SEC);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx + tnet_stats(NB)->tcp.rst_tx, 0);
}

Test(tcp_shutdown, shut_rd_pops_queued_then_eof)
{
	struct tconn c = tnet_tcp_pair(8000);
	expect_push_ok(push_bytes(c.cqd, "hello", 5), 10 * MS);
	tnet_run(10 * MS);
	demi_qtoken_t p2;
	cr_assert_eq(demi_shutdown(c.sqd, SHUT_RD), 0);
	expect_pop(pop_qt(c.sqd), "hello", 5, MS);
	p2 = pop_qt(c.sqd);
	expect_pop(p2, NULL, 0, MS);
	/* The connection is untouched: no FIN, no reset; B still sends. */
	cr_assert_eq(tcb_qd(c.sqd)->state, TCPS_ESTABLISHED);
	demi_qtoken_t pa = pop_qt(c.cqd);
	expect_push_ok(push_bytes(c.sqd, "x", 1), 10 * MS);
	expect_pop(pa, "x", 1, 10 * MS);
	demi_close(c.cqd);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(NSEC_PER_SEC);
}

/* A one-way delay of d: the FIN reaches B d before its ACK reaches A. */
static void set_delay(uint64_t d)
{
	struct memwire_opts o = { .delay_ns = d };
	memwire_set_opts(T.w, &o);
}

Test(tcp_shutdown, close_flush_completes_after_ack)
{
	struct tconn c = tnet_tcp_pair(8000);
	set_delay(5 * MS);
	demi_qtoken_t qts[NPUSH], cqt;
	push_stream(c.cqd, qts);
	int cqd = c.cqd;
	cr_assert_eq(demi_close_flush(&cqt, cqd), 0);
	pop_stream_then_eof(c.sqd);
	/* B has the FIN; its ACK is still on the wire for 5 ms. */
	cr_assert(!tnet_done(cqt), "close_flush completed before the FIN was acknowledged");
	demi_qresult_t r = tnet_wait(cqt, 20 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_CLOSE, "close_flush: opcode %d ret %d", (int)r.qr_opcode, (int)r.qr_ret);
	cr_assert_eq(r.qr_qd, cqd);
	for (int i = 0; i < NPUSH; i++)
		expect_push_ok(qts[i], MS);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, cqd), EBADF, "the qd is released");
	cr_assert_eq(tcb_find(NA, ntohs(tcb_qd(c.sqd)->fport), IP_B, 8000)->state, TCPS_FIN_WAIT_2);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(3 * NSEC_PER_SEC);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx + tnet_stats(NB)->tcp.rst_tx, 0);
}

/* Drops every frame B sends, except resets: a silent peer. */
static bool b_silent(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	(void)to;
	struct rseg s;
	return from == memwire_port_index(T.dev[NB]) && parse_tcp_frame(f, len, &s) && !(s.flags & TH_RST);
}

/* B goes silent (its resets still pass), A pushes `data` (4 bytes) and starts a flush: its token. */
static demi_qtoken_t flush_to_silent_peer(struct tconn *c, const char *data)
{
	memwire_set_filter(T.w, b_silent, NULL);
	demi_qtoken_t cqt;
	expect_push_ok(push_bytes(c->cqd, data, 4), MS);
	cr_assert_eq(demi_close_flush(&cqt, c->cqd), 0);
	return cqt;
}

Test(tcp_shutdown, close_flush_etimedout_silent_peer)
{
	struct tconn c = tnet_tcp_pair(8000);
	demi_qtoken_t cqt = flush_to_silent_peer(&c, "lost");
	tnet_run(NSEC_PER_SEC);
	cr_assert(!tnet_done(cqt));
	expect_fail(cqt, ETIMEDOUT, 60 * NSEC_PER_SEC);
	memwire_set_filter(T.w, NULL, NULL);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(NSEC_PER_SEC);
}

Test(tcp_shutdown, close_flush_econnreset)
{
	struct tconn c = tnet_tcp_pair(8000);
	demi_qtoken_t cqt = flush_to_silent_peer(&c, "data");
	tnet_run(10 * MS);
	/* B resets (SO_LINGER {1, 0}); the filter lets resets through. */
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	cr_assert_eq(demi_setsockopt(c.sqd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	cr_assert_eq(demi_close(c.sqd), 0);
	expect_fail(cqt, ECONNRESET, 100 * MS);
	memwire_set_filter(T.w, NULL, NULL);
	demi_close(c.lqd);
	tnet_run(NSEC_PER_SEC);
}

/* demi_close during a flush: the flush fails ECANCELED, what was unsent is dropped as demi_close does. */
Test(tcp_shutdown, close_cancels_flush)
{
	struct tconn c = tnet_tcp_pair(8000);
	demi_qtoken_t cqt = flush_to_silent_peer(&c, "data");
	tnet_run(10 * MS);
	cr_assert_eq(demi_close(c.cqd), 0);
	expect_fail(cqt, ECANCELED, MS);
	memwire_set_filter(T.w, NULL, NULL);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(3 * NSEC_PER_SEC);
}

/* Received data never read: close_flush resets as demi_close does, and says so (ECONNABORTED). */
Test(tcp_shutdown, close_flush_unread_data_econnaborted)
{
	struct tconn c = tnet_tcp_pair(8000);
	expect_push_ok(push_bytes(c.sqd, "unread", 6), MS);
	tnet_run(10 * MS);
	demi_qtoken_t cqt, pb = pop_qt(c.sqd);
	cr_assert_eq(demi_close_flush(&cqt, c.cqd), 0);
	expect_fail(cqt, ECONNABORTED, MS);
	expect_fail(pb, ECONNRESET, 10 * MS);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(NSEC_PER_SEC);
}

/* The passive side: CLOSE-WAIT, pushes, close_flush; LAST-ACK's ACK completes it and nothing is reset. */
Test(tcp_shutdown, close_flush_from_close_wait)
{
	struct tconn c = tnet_tcp_pair(8000);
	demi_qtoken_t pa = pop_qt(c.cqd);
	cr_assert_eq(demi_shutdown(c.sqd, SHUT_WR), 0); /* B still reads (a closed B would reset the data) */
	expect_pop(pa, NULL, 0, 10 * MS);
	cr_assert_eq(tcb_qd(c.cqd)->state, TCPS_CLOSE_WAIT);
	demi_qtoken_t qts[NPUSH], cqt;
	push_stream(c.cqd, qts);
	cr_assert_eq(demi_close_flush(&cqt, c.cqd), 0);
	pop_stream_then_eof(c.sqd);
	demi_qresult_t r = tnet_wait(cqt, 5 * NSEC_PER_SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_CLOSE, "opcode %d ret %d", (int)r.qr_opcode, (int)r.qr_ret);
	for (int i = 0; i < NPUSH; i++)
		expect_push_ok(qts[i], MS);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(NSEC_PER_SEC);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx + tnet_stats(NB)->tcp.rst_tx, 0);
}
