/* PDPIX conformance: the control path (demi_socket, bind, listen, accept, connect). */
#include "conformance.h"

#include <fcntl.h>

#define BAD_QD ((1 << 30) + 4242) /* inside the qd range (from 2^30), never installed */

/* ---- demi_socket ---- */

LIBOS_TEST(socket, creates_qds_apart_from_fds, .timeout = 10)
{
	lp_init(p);
	int types[2], nt = 0;
	if (p->caps & CAP_TCP)
		types[nt++] = SOCK_STREAM;
	if (p->caps & CAP_UDP)
		types[nt++] = SOCK_DGRAM;
	for (int i = 0; i < nt; i++) {
		int a = -1, b = -1;
		EXPECT_OK(demi_socket(&a, AF_INET, types[i], 0));
		EXPECT_OK(demi_socket(&b, AF_INET, types[i], 0));
		cr_assert_geq(a, 0);
		cr_assert_geq(b, 0);
		cr_assert_neq(a, b);
		/*
		 * qds are Demi's own integers, not file descriptors, and drawn from
		 * a range apart from them (from 2^30; a kernel descriptor stays below
		 * fs.nr_open, 2^20 by default), so a preload layer tells them apart.
		 */
		cr_assert_geq(a, 1 << 20);
		cr_assert_geq(b, 1 << 20);
		errno = 0;
		cr_assert_eq(fcntl(a, F_GETFD), -1, "qd %d is also an open file descriptor", a);
		cr_assert_eq(errno, EBADF);
		EXPECT_OK(demi_close(a));
		EXPECT_OK(demi_close(b));
	}
}

LIBOS_TEST(socket, null_out_einval, .timeout = 10)
{
	lp_init(p);
	EXPECT_ERR(EINVAL, demi_socket(VNULL(int *), AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(EINVAL, demi_socket(VNULL(int *), AF_INET, SOCK_DGRAM, 0));
}

LIBOS_TEST(socket, bad_domain_or_type_enotsup, .timeout = 10)
{
	lp_init(p);
	int qd = -1;
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_INET6, SOCK_STREAM, 0));
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_UNIX, SOCK_STREAM, 0));
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_PACKET, SOCK_DGRAM, 0));
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, 12345, SOCK_DGRAM, 0));
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_INET, SOCK_RAW, 0));
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_INET, SOCK_SEQPACKET, 0));
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_INET, 12345, 0));
	cr_assert_eq(qd, -1, "a failed demi_socket must not write its out parameter");
}

/* ---- demi_bind ---- */

static int any_socket(const struct libos_param *p)
{
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	return qd;
}

/* A libOS without sockets (catmem): demi_socket and every socket call on its queues answer ENOTSUP. */
LIBOS_TEST(socket, none_enotsup, .timeout = 10)
{
	if (HAS_SOCKETS(p))
		cr_skip_test("%s has sockets", p->name);
	lp_init(p);
	int qd, a, b;
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(ENOTSUP, demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	pipe_pair(&a, &b);
	struct sockaddr_in sin = lp_addr(p, 4000);
	struct sockaddr_in name;
	socklen_t len = sizeof(name);
	int v = 1;
	socklen_t vlen = sizeof(v);
	demi_qtoken_t qt;
	EXPECT_ERR(ENOTSUP, demi_bind(a, (const struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_ERR(ENOTSUP, demi_listen(a, 1));
	EXPECT_ERR(ENOTSUP, demi_accept(&qt, a));
	EXPECT_ERR(ENOTSUP, demi_connect(&qt, a, (const struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_ERR(ENOTSUP, demi_setsockopt(a, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)));
	EXPECT_ERR(ENOTSUP, demi_getsockopt(a, SOL_SOCKET, SO_KEEPALIVE, &v, &vlen));
	EXPECT_ERR(ENOTSUP, demi_getsockname(a, (struct sockaddr *)&name, &len));
	EXPECT_ERR(ENOTSUP, demi_getpeername(a, (struct sockaddr *)&name, &len));
	demi_sgarray_t sga = sga_pattern(8, 0);
	EXPECT_ERR(ENOTSUP, demi_pushto(&qt, a, &sga, (const struct sockaddr *)&sin, sizeof(sin)));
	/* None of that took a reference or disturbed the pipe: the push goes through. */
	EXPECT_OK(demi_push(&qt, a, &sga));
	wait_op(qt, DEMI_OPC_PUSH, 1000);
	EXPECT_OK(demi_sgafree(&sga));
	EXPECT_OK(demi_pop(&qt, b));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP, 1000);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 8);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	EXPECT_OK(demi_close(b));
	EXPECT_OK(demi_close(a));
}

LIBOS_TEST(bind, null_or_short_einval, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	int qd = any_socket(p);
	struct sockaddr_in a = lp_addr(p, 0);
	EXPECT_ERR(EINVAL, demi_bind(qd, VNULL(const struct sockaddr *), sizeof(a)));
	EXPECT_ERR(EINVAL, demi_bind(qd, (const struct sockaddr *)&a, 0));
	EXPECT_ERR(EINVAL, demi_bind(qd, (const struct sockaddr *)&a, sizeof(a) - 1));
	EXPECT_ERR(EINVAL, demi_bind(qd, (const struct sockaddr *)&a, sizeof(struct sockaddr_in) / 2));
	/* The failures left the socket unbound. */
	EXPECT_OK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
}

LIBOS_TEST(bind, bad_qd_ebadf, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	struct sockaddr_in a = lp_addr(p, 0);
	EXPECT_ERR(EBADF, demi_bind(-1, (const struct sockaddr *)&a, sizeof(a)));
	EXPECT_ERR(EBADF, demi_bind(BAD_QD, (const struct sockaddr *)&a, sizeof(a)));
	EXPECT_ERR(EBADF, demi_bind(INT32_MAX, (const struct sockaddr *)&a, sizeof(a)));
	int qd = any_socket(p);
	EXPECT_OK(demi_close(qd));
	EXPECT_ERR(EBADF, demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
}

LIBOS_TEST(bind, already_bound_einval, .timeout = 10)
{
	lp_init(p);
	int types[2], nt = 0;
	if (p->caps & CAP_TCP)
		types[nt++] = SOCK_STREAM;
	if (p->caps & CAP_UDP)
		types[nt++] = SOCK_DGRAM;
	for (int i = 0; i < nt; i++) {
		struct sockaddr_in got;
		int qd = bound_socket(p, types[i], &got);
		struct sockaddr_in a = lp_addr(p, 0);
		EXPECT_ERR(EINVAL, demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
		EXPECT_ERR(EINVAL, demi_bind(qd, (const struct sockaddr *)&got, sizeof(got)));
		/* Still bound where it was. */
		struct sockaddr_in now = sock_name(qd);
		cr_assert_eq(now.sin_port, got.sin_port);
		EXPECT_OK(demi_close(qd));
	}
}

LIBOS_TEST(bind, in_use_eaddrinuse, .timeout = 10)
{
	lp_init(p);
	int types[2], nt = 0;
	if (p->caps & CAP_TCP)
		types[nt++] = SOCK_STREAM;
	if (p->caps & CAP_UDP)
		types[nt++] = SOCK_DGRAM;
	for (int i = 0; i < nt; i++) {
		struct sockaddr_in a;
		int first = bound_socket(p, types[i], &a);
		if (types[i] == SOCK_STREAM)
			EXPECT_OK(demi_listen(first, 4));
		int second;
		EXPECT_OK(demi_socket(&second, AF_INET, types[i], 0));
		EXPECT_ERR(EADDRINUSE, demi_bind(second, (const struct sockaddr *)&a, sizeof(a)));
		EXPECT_OK(demi_close(second));
		EXPECT_OK(demi_close(first));
	}
}

/* 192.0.2.1 is TEST-NET-1: never local. Only bound, nothing is sent there. */
LIBOS_TEST(bind, not_local_eaddrnotavail, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	int qd = any_socket(p);
	struct sockaddr_in a = lp_addr(p, 0);
	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	EXPECT_ERR(EADDRNOTAVAIL, demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
	/* The socket is still unbound and usable. */
	a = lp_addr(p, 0);
	EXPECT_OK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
}

LIBOS_TEST(bind, port_zero_picks_port, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	struct sockaddr_in a, b;
	int qa = bound_socket(p, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, &a);
	int qb = bound_socket(p, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, &b);
	struct sockaddr_in want = lp_addr(p, 0);
	cr_assert_eq(a.sin_addr.s_addr, want.sin_addr.s_addr);
	cr_assert_neq(a.sin_port, b.sin_port);
	EXPECT_OK(demi_close(qa));
	EXPECT_OK(demi_close(qb));
}

/* ---- demi_listen ---- */

LIBOS_TEST(listen, backlog_below_one_einval, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int qd = bound_socket(p, SOCK_STREAM, NULL);
	EXPECT_ERR(EINVAL, demi_listen(qd, 0));
	EXPECT_ERR(EINVAL, demi_listen(qd, -1));
	EXPECT_ERR(EINVAL, demi_listen(qd, INT32_MIN));
	/* Nothing changed: a valid listen still works once. */
	EXPECT_OK(demi_listen(qd, 1));
}

LIBOS_TEST(listen, bad_qd_ebadf, .timeout = 10)
{
	lp_init(p);
	EXPECT_ERR(EBADF, demi_listen(-1, 16));
	EXPECT_ERR(EBADF, demi_listen(BAD_QD, 16));
	if (p->caps & CAP_TCP) {
		int qd = bound_socket(p, SOCK_STREAM, NULL);
		EXPECT_OK(demi_close(qd));
		EXPECT_ERR(EBADF, demi_listen(qd, 16));
	}
}

LIBOS_TEST(listen, unbound_edestaddrreq, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(EDESTADDRREQ, demi_listen(qd, 16));
}

LIBOS_TEST(listen, twice_eaddrinuse, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int qd = tcp_listener(p, 16, NULL);
	EXPECT_ERR(EADDRINUSE, demi_listen(qd, 16));
	EXPECT_ERR(EADDRINUSE, demi_listen(qd, 1));
}

LIBOS_TEST(listen, connected_eisconn, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	EXPECT_ERR(EISCONN, demi_listen(cqd, 16));
	EXPECT_ERR(EISCONN, demi_listen(sqd, 16));
}

/* ---- demi_accept ---- */

LIBOS_TEST(accept, null_out_einval, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int qd = tcp_listener(p, 16, NULL);
	EXPECT_ERR(EINVAL, demi_accept(VNULL(demi_qtoken_t *), qd));
}

LIBOS_TEST(accept, not_listening_einval, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	demi_qtoken_t qt = 0;
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(EINVAL, demi_accept(&qt, qd));
	struct sockaddr_in a = lp_addr(p, 0);
	EXPECT_OK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
	EXPECT_ERR(EINVAL, demi_accept(&qt, qd));
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	EXPECT_ERR(EINVAL, demi_accept(&qt, cqd));
	EXPECT_ERR(EINVAL, demi_accept(&qt, sqd));
	cr_assert_eq(qt, 0, "a failed call must not hand out a token");
}

LIBOS_TEST(accept, bad_qd_ebadf, .timeout = 10)
{
	lp_init(p);
	demi_qtoken_t qt;
	EXPECT_ERR(EBADF, demi_accept(&qt, -1));
	EXPECT_ERR(EBADF, demi_accept(&qt, BAD_QD));
	if (p->caps & CAP_TCP) {
		int qd = tcp_listener(p, 16, NULL);
		EXPECT_OK(demi_close(qd));
		EXPECT_ERR(EBADF, demi_accept(&qt, qd));
	}
}

LIBOS_TEST(accept, completes_with_qd_and_addr, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd); /* checks ares.qd and ares.addr */
	cr_assert_neq(sqd, lqd);
	cr_assert_neq(sqd, cqd);
	/* The accepted qd is a connected socket of its own. */
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	EXPECT_OK(demi_getpeername(sqd, (struct sockaddr *)&peer, &len));
	struct sockaddr_in ca = sock_name(cqd);
	cr_assert_eq(peer.sin_port, ca.sin_port);
}

/* ---- demi_connect ---- */

LIBOS_TEST(connect, listening_eopnotsupp, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	struct sockaddr_in la, other;
	int lqd = tcp_listener(p, 16, &la);
	int l2 = tcp_listener(p, 16, &other);
	demi_qtoken_t qt;
	EXPECT_ERR(EOPNOTSUPP, demi_connect(&qt, lqd, (const struct sockaddr *)&other, sizeof(other)));
	EXPECT_ERR(EOPNOTSUPP, demi_connect(&qt, lqd, (const struct sockaddr *)&la, sizeof(la)));
	EXPECT_OK(demi_close(l2));
}

LIBOS_TEST(connect, bad_args, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	struct sockaddr_in la;
	int lqd = tcp_listener(p, 16, &la);
	(void)lqd;
	int qd;
	demi_qtoken_t qt;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(EBADF, demi_connect(&qt, BAD_QD, (const struct sockaddr *)&la, sizeof(la)));
	EXPECT_ERR(EINVAL, demi_connect(VNULL(demi_qtoken_t *), qd, (const struct sockaddr *)&la, sizeof(la)));
	EXPECT_ERR(EINVAL, demi_connect(&qt, qd, VNULL(const struct sockaddr *), sizeof(la)));
	EXPECT_ERR(EINVAL, demi_connect(&qt, qd, (const struct sockaddr *)&la, sizeof(la) - 1));
	/* None of that disturbed the socket. */
	EXPECT_OK(demi_connect(&qt, qd, (const struct sockaddr *)&la, sizeof(la)));
	wait_op(qt, DEMI_OPC_CONNECT, 5000);
}

LIBOS_TEST(connect, connected_eisconn, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	struct sockaddr_in la = sock_name(lqd);
	demi_qtoken_t qt;
	EXPECT_ERR(EISCONN, demi_connect(&qt, cqd, (const struct sockaddr *)&la, sizeof(la)));
	EXPECT_ERR(EISCONN, demi_connect(&qt, sqd, (const struct sockaddr *)&la, sizeof(la)));
}

/* A port with a TCP socket bound but not listening on it: a SYN there is refused. */
static struct sockaddr_in refusing_port(const struct libos_param *p)
{
	struct sockaddr_in a;
	bound_socket(p, SOCK_STREAM, &a); /* kept open so no one else takes the port */
	return a;
}

LIBOS_TEST(connect, refused_failed_econnrefused, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	struct sockaddr_in dead = refusing_port(p);
	int qd;
	demi_qtoken_t qt;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	/* The refusal is the operation's result, not the call's. */
	EXPECT_OK(demi_connect(&qt, qd, (const struct sockaddr *)&dead, sizeof(dead)));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_FAILED, 5000);
	cr_assert_eq(qr.qr_ret, ECONNREFUSED, "qr_ret %s", ename((int)qr.qr_ret));
	cr_assert_eq(qr.qr_qd, qd);
}

/*
 * EINPROGRESS needs a connect that stays in progress. A listener whose accept
 * queue is full drops new SYNs, so the next connect waits for a retransmission
 * (a second or more): fill a backlog-1 listener until a connect does not
 * complete within 300 ms, then try again on that socket.
 */
static int stuck_connect(const struct libos_param *p, struct sockaddr_in *la, demi_qtoken_t *qt)
{
	tcp_listener(p, 1, la);
	for (int tries = 0; tries < 8; tries++) {
		int qd;
		EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
		EXPECT_OK(demi_connect(qt, qd, (const struct sockaddr *)la, sizeof(*la)));
		demi_qresult_t qr;
		struct timespec ts = ms_ts(300);
		int err = demi_wait(&qr, *qt, &ts);
		if (err == ETIMEDOUT)
			return qd;
		cr_assert_eq(err, 0, "demi_wait: %s", ename(err));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_CONNECT, "connect to a busy listener: opcode %d (%s)",
			     qr.qr_opcode, ename((int)qr.qr_ret));
	}
	cr_skip_test("could not fill the listener's backlog: no connect stayed in progress");
	return -1;
}

LIBOS_TEST(connect, connecting_einprogress, .timeout = 20)
{
	lp_init(p);
	NEED(CAP_TCP);
	struct sockaddr_in la;
	demi_qtoken_t qt, qt2 = 0;
	int qd = stuck_connect(p, &la, &qt);
	EXPECT_ERR(EINPROGRESS, demi_connect(&qt2, qd, (const struct sockaddr *)&la, sizeof(la)));
	cr_assert_eq(qt2, 0);
	/* The first connect is still pending and its token still valid. */
	demi_qresult_t qr;
	struct timespec zero = ms_ts(0);
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, qt, &zero));
}

/* Closing a socket whose connect is in progress cancels the connect. */
LIBOS_TEST(connect, close_cancels_connect, .timeout = 20)
{
	lp_init(p);
	NEED(CAP_TCP);
	struct sockaddr_in la;
	demi_qtoken_t qt;
	int qd = stuck_connect(p, &la, &qt);
	EXPECT_OK(demi_close(qd));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_FAILED, 1000);
	cr_assert_eq(qr.qr_ret, ECANCELED, "qr_ret %s", ename((int)qr.qr_ret));
	cr_assert_eq(qr.qr_qd, qd);
}

LIBOS_TEST(connect, tokens_nonzero_and_distinct, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	struct sockaddr_in la;
	int lqd = tcp_listener(p, 16, &la);
	demi_qtoken_t a1, a2, c1, c2;
	EXPECT_OK(demi_accept(&a1, lqd));
	EXPECT_OK(demi_accept(&a2, lqd));
	int q1, q2;
	EXPECT_OK(demi_socket(&q1, AF_INET, SOCK_STREAM, 0));
	EXPECT_OK(demi_socket(&q2, AF_INET, SOCK_STREAM, 0));
	EXPECT_OK(demi_connect(&c1, q1, (const struct sockaddr *)&la, sizeof(la)));
	EXPECT_OK(demi_connect(&c2, q2, (const struct sockaddr *)&la, sizeof(la)));
	demi_qtoken_t all[4] = { a1, a2, c1, c2 };
	for (int i = 0; i < 4; i++) {
		cr_assert_neq(all[i], 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(all[i], all[j]);
	}
	wait_op(c1, DEMI_OPC_CONNECT, 5000);
	wait_op(c2, DEMI_OPC_CONNECT, 5000);
	demi_qresult_t r1 = wait_op(a1, DEMI_OPC_ACCEPT, 5000);
	demi_qresult_t r2 = wait_op(a2, DEMI_OPC_ACCEPT, 5000);
	cr_assert_neq(r1.qr_value.ares.qd, r2.qr_value.ares.qd);
}
