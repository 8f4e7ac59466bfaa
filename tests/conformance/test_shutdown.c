/* Conformance of the <demi/shutdown.h> extension: demi_shutdown and demi_close_flush. */
#include "conformance.h"

#include <demi/shutdown.h>

#define BAD_QD ((1 << 30) + 4242) /* inside the qd range, never installed */
#define CHUNK (256u << 10)        /* bytes per push */
#define NCHUNKS 8                 /* 2 MiB in all: more than the peer takes before it reads */

/*
 * Pushes NCHUNKS chunks of one pattern stream without waiting; their tokens
 * in qts. A small send buffer keeps most of them waiting in Demi (catnap: the
 * kernel would take 2 MiB at once on loopback).
 */
static void push_stream(int qd, unsigned seed, demi_qtoken_t qts[NCHUNKS])
{
	int sb = 8192;
	EXPECT_OK(demi_setsockopt(qd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb)));
	demi_sgarray_t all = sga_pattern(CHUNK * NCHUNKS, seed);
	for (int i = 0; i < NCHUNKS; i++) {
		demi_sgarray_t s = all;
		s.sga_segs[0].sgaseg_buf = (uint8_t *)all.sga_segs[0].sgaseg_buf + (size_t)i * CHUNK;
		s.sga_segs[0].sgaseg_len = CHUNK;
		EXPECT_OK(demi_push(&qts[i], qd, &s));
	}
	EXPECT_OK(demi_sgafree(&all)); /* each push holds its own reference */
}

/* A pop on qd must end the stream: length 0. */
static void expect_eof(int qd)
{
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, qd));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP, 5000);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0, "want EOF, got %u bytes",
		     qr.qr_value.sga.sga_segs[0].sgaseg_len);
	demi_sgafree(&qr.qr_value.sga);
}

LIBOS_TEST(shutdown, bad_qd_ebadf, .timeout = 30)
{
	lp_init(p);
	demi_qtoken_t qt;
	EXPECT_ERR(EBADF, demi_shutdown(BAD_QD, SHUT_WR));
	EXPECT_ERR(EBADF, demi_shutdown(-1, SHUT_WR));
	EXPECT_ERR(EBADF, demi_close_flush(&qt, BAD_QD));
}

LIBOS_TEST(shutdown, bad_how_einval, .timeout = 30)
{
	lp_init(p);
	int qd;
	EXPECT_OK(demi_queue(&qd));
	EXPECT_ERR(EINVAL, demi_shutdown(qd, 3));
	EXPECT_ERR(EINVAL, demi_shutdown(qd, -1));
}

LIBOS_TEST(shutdown, null_qt_einval, .timeout = 30)
{
	lp_init(p);
	int qd;
	EXPECT_OK(demi_queue(&qd));
	EXPECT_ERR(EINVAL, demi_close_flush(VNULL(demi_qtoken_t *), qd));
}

/* Memory queues and pipes have no half-close: ENOTSUP, and the queue is untouched. */
LIBOS_TEST(shutdown, memq_pipe_enotsup, .timeout = 30)
{
	lp_init(p);
	int qd, a, b;
	demi_qtoken_t qt;
	EXPECT_OK(demi_queue(&qd));
	EXPECT_ERR(ENOTSUP, demi_shutdown(qd, SHUT_WR));
	EXPECT_ERR(ENOTSUP, demi_close_flush(&qt, qd));
	EXPECT_OK(demi_close(qd));
	pipe_pair(&a, &b);
	EXPECT_ERR(ENOTSUP, demi_shutdown(a, SHUT_RDWR));
	EXPECT_ERR(ENOTSUP, demi_close_flush(&qt, b));
}

LIBOS_TEST(shutdown, unconnected_enotconn, .timeout = 30)
{
	lp_init(p);
	NEED_SOCKETS();
	if (p->caps & CAP_TCP) {
		int qd;
		EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
		EXPECT_ERR(ENOTCONN, demi_shutdown(qd, SHUT_WR));
		int lqd = tcp_listener(p, 4, NULL);
		EXPECT_ERR(ENOTCONN, demi_shutdown(lqd, SHUT_RD));
	}
	if (p->caps & CAP_UDP) {
		int qd = bound_socket(p, SOCK_DGRAM, NULL);
		EXPECT_ERR(ENOTCONN, demi_shutdown(qd, SHUT_WR)); /* as Linux */
	}
}

/*
 * SHUT_WR with pushes still pending: they complete, the peer reads every
 * byte and then EOF; a later push fails EPIPE; pops still drain the peer's
 * data (half-close).
 */
LIBOS_TEST(shutdown, wr_data_then_eof, .timeout = 60)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	demi_qtoken_t qts[NCHUNKS];
	push_stream(cqd, 5, qts);
	EXPECT_OK(demi_shutdown(cqd, SHUT_WR));
	demi_sgarray_t late = sga_pattern(10, 1);
	demi_qtoken_t qt;
	EXPECT_ERR(EPIPE, demi_push(&qt, cqd, &late));
	pop_expect(sqd, (size_t)CHUNK * NCHUNKS, 5);
	expect_eof(sqd);
	for (int i = 0; i < NCHUNKS; i++)
		wait_op(qts[i], DEMI_OPC_PUSH, 5000);
	/* The other direction still flows. */
	push_pattern(sqd, 5000, 9);
	pop_expect(cqd, 5000, 9);
	EXPECT_OK(demi_close(sqd));
	expect_eof(cqd);
	EXPECT_OK(demi_sgafree(&late));
}

/* SHUT_RD: a waiting pop ends with EOF, and so does the next one. */
LIBOS_TEST(shutdown, rd_pop_eof, .timeout = 30)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, sqd));
	EXPECT_OK(demi_shutdown(sqd, SHUT_RD));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP, 2000);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
	demi_sgafree(&qr.qr_value.sga);
	expect_eof(sqd);
	/* Sending is untouched. */
	push_pattern(sqd, 100, 3);
	pop_expect(cqd, 100, 3);
}

/*
 * demi_close_flush with 2 MiB pending: the peer reads all of it, then EOF;
 * the token completes with DEMI_OPC_CLOSE for the qd; the qd is gone after.
 */
LIBOS_TEST(shutdown, close_flush_delivers_all, .timeout = 60)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	demi_qtoken_t qts[NCHUNKS], cqt;
	push_stream(cqd, 7, qts);
	EXPECT_OK(demi_close_flush(&cqt, cqd));
	pop_expect(sqd, (size_t)CHUNK * NCHUNKS, 7);
	expect_eof(sqd);
	demi_qresult_t qr = wait_op(cqt, DEMI_OPC_CLOSE, 5000);
	cr_assert_eq(qr.qr_qd, cqd);
	cr_assert_eq(qr.qr_ret, 0);
	for (int i = 0; i < NCHUNKS; i++)
		wait_op(qts[i], DEMI_OPC_PUSH, 1000); /* every push completed, none cancelled */
	EXPECT_ERR(EBADF, demi_close(cqd));
}

/* A pending pop is cancelled when close_flush starts, as demi_close does; pushes and pops after it: EBADF or EPIPE. */
LIBOS_TEST(shutdown, close_flush_cancels_pops, .timeout = 30)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	demi_qtoken_t pqt, cqt, qt;
	EXPECT_OK(demi_pop(&pqt, cqd));
	EXPECT_OK(demi_close_flush(&cqt, cqd));
	demi_qresult_t qr = wait_ms(pqt, 1000);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECANCELED);
	EXPECT_ERR(EBADF, demi_pop(&qt, cqd));
	expect_eof(sqd);
	wait_op(cqt, DEMI_OPC_CLOSE, 5000);
	EXPECT_ERR(EBADF, demi_pop(&qt, cqd));
}

/* A connected UDP socket, as Linux: SHUT_WR makes pushes fail EPIPE; SHUT_RD ends a waiting pop with 0 bytes. */
LIBOS_TEST(shutdown, udp_connected, .timeout = 30)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	bound_socket(p, SOCK_DGRAM, &ra);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_qtoken_t qt, pqt;
	EXPECT_OK(demi_connect(&qt, qd, (const struct sockaddr *)&ra, sizeof(ra)));
	wait_op(qt, DEMI_OPC_CONNECT, 1000);
	EXPECT_OK(demi_pop(&pqt, qd));
	EXPECT_OK(demi_shutdown(qd, SHUT_RDWR));
	demi_qresult_t qr = wait_op(pqt, DEMI_OPC_POP, 2000);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
	demi_sgafree(&qr.qr_value.sga);
	demi_sgarray_t s = sga_pattern(10, 1);
	EXPECT_ERR(EPIPE, demi_push(&qt, qd, &s));
	EXPECT_ERR(EPIPE, demi_pushto(&qt, qd, &s, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_OK(demi_sgafree(&s));
	/* Nothing to flush on a datagram socket: the close completes, the qd is gone. */
	EXPECT_OK(demi_close_flush(&qt, qd));
	qr = wait_op(qt, DEMI_OPC_CLOSE, 2000);
	cr_assert_eq(qr.qr_qd, qd);
	EXPECT_ERR(EBADF, demi_pop(&pqt, qd));
}
