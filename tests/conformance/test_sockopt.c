/* PDPIX conformance: demi_setsockopt/getsockopt, demi_getpeername, demi_getsockname. */
#include "conformance.h"

#include <netinet/tcp.h>

#define BAD_QD ((1 << 30) + 4242) /* inside the qd range (from 2^30), never installed */
#define NO_SUCH_LEVEL 0x7ead
#define NO_SUCH_OPTION 0x7eaf

static int tcp_socket(void)
{
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	return qd;
}

static int get_int(int qd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);
	EXPECT_OK(demi_getsockopt(qd, level, name, &v, &len));
	cr_assert_eq(len, sizeof(int), "option length %u", len);
	return v;
}

static void set_int(int qd, int level, int name, int v)
{
	EXPECT_OK(demi_setsockopt(qd, level, name, &v, sizeof(v)));
}

LIBOS_TEST(sockopt, linger_round_trip, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int qd = tcp_socket();
	struct linger l = { .l_onoff = 1, .l_linger = 7 }, got;
	EXPECT_OK(demi_setsockopt(qd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	memset(&got, 0xff, sizeof(got));
	socklen_t len = sizeof(got);
	EXPECT_OK(demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, &got, &len));
	cr_assert_eq(len, sizeof(got));
	cr_assert_neq(got.l_onoff, 0);
	cr_assert_eq(got.l_linger, 7);
	l.l_onoff = 0;
	l.l_linger = 0;
	EXPECT_OK(demi_setsockopt(qd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	len = sizeof(got);
	EXPECT_OK(demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, &got, &len));
	cr_assert_eq(got.l_onoff, 0);
}

LIBOS_TEST(sockopt, nodelay_round_trip, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP | CAP_SOCKOPT);
	int qd = tcp_socket();
	set_int(qd, IPPROTO_TCP, TCP_NODELAY, 1);
	cr_assert_neq(get_int(qd, IPPROTO_TCP, TCP_NODELAY), 0);
	set_int(qd, IPPROTO_TCP, TCP_NODELAY, 0);
	cr_assert_eq(get_int(qd, IPPROTO_TCP, TCP_NODELAY), 0);
	/* Also on a connected socket. */
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	set_int(cqd, IPPROTO_TCP, TCP_NODELAY, 1);
	cr_assert_neq(get_int(cqd, IPPROTO_TCP, TCP_NODELAY), 0);
}

LIBOS_TEST(sockopt, keepalive_round_trip, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP | CAP_SOCKOPT);
	int qd = tcp_socket();
	set_int(qd, SOL_SOCKET, SO_KEEPALIVE, 1);
	cr_assert_neq(get_int(qd, SOL_SOCKET, SO_KEEPALIVE), 0);
	set_int(qd, SOL_SOCKET, SO_KEEPALIVE, 0);
	cr_assert_eq(get_int(qd, SOL_SOCKET, SO_KEEPALIVE), 0);
}

LIBOS_TEST(sockopt, reuseaddr_round_trip, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_SOCKOPT);
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	set_int(qd, SOL_SOCKET, SO_REUSEADDR, 1);
	cr_assert_neq(get_int(qd, SOL_SOCKET, SO_REUSEADDR), 0);
	set_int(qd, SOL_SOCKET, SO_REUSEADDR, 0);
	cr_assert_eq(get_int(qd, SOL_SOCKET, SO_REUSEADDR), 0);
}

/* Buffer sizes may be rounded (Linux doubles them), but a larger request gives a larger buffer. */
LIBOS_TEST(sockopt, buffer_sizes_round_trip, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_SOCKOPT);
	const int names[2] = { SO_RCVBUF, SO_SNDBUF };
	int types[2], nt = 0;
	if (p->caps & CAP_TCP)
		types[nt++] = SOCK_STREAM;
	if (p->caps & CAP_UDP)
		types[nt++] = SOCK_DGRAM;
	for (int t = 0; t < nt; t++) {
		for (int i = 0; i < 2; i++) {
			int qd;
			EXPECT_OK(demi_socket(&qd, AF_INET, types[t], 0));
			set_int(qd, SOL_SOCKET, names[i], 8192);
			int small = get_int(qd, SOL_SOCKET, names[i]);
			cr_assert_geq(small, 8192, "option %d: %d after asking for 8192", names[i], small);
			set_int(qd, SOL_SOCKET, names[i], 100000);
			int big = get_int(qd, SOL_SOCKET, names[i]);
			cr_assert_geq(big, 100000, "option %d: %d after asking for 100000", names[i], big);
			cr_assert_gt(big, small);
			EXPECT_OK(demi_close(qd));
		}
	}
}

LIBOS_TEST(sockopt, unknown_level_enotsup, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	int v = 1;
	socklen_t len = sizeof(v);
	EXPECT_ERR(ENOTSUP, demi_setsockopt(qd, NO_SUCH_LEVEL, SO_KEEPALIVE, &v, sizeof(v)));
	EXPECT_ERR(ENOTSUP, demi_getsockopt(qd, NO_SUCH_LEVEL, SO_KEEPALIVE, &v, &len));
	EXPECT_ERR(ENOTSUP, demi_setsockopt(qd, -1, SO_KEEPALIVE, &v, sizeof(v)));
}

LIBOS_TEST(sockopt, unknown_option_enoprotoopt, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	int v = 1;
	socklen_t len = sizeof(v);
	EXPECT_ERR(ENOPROTOOPT, demi_setsockopt(qd, SOL_SOCKET, NO_SUCH_OPTION, &v, sizeof(v)));
	EXPECT_ERR(ENOPROTOOPT, demi_getsockopt(qd, SOL_SOCKET, NO_SUCH_OPTION, &v, &len));
	if (p->caps & CAP_TCP) {
		EXPECT_ERR(ENOPROTOOPT, demi_setsockopt(qd, IPPROTO_TCP, NO_SUCH_OPTION, &v, sizeof(v)));
		EXPECT_ERR(ENOPROTOOPT, demi_getsockopt(qd, IPPROTO_TCP, NO_SUCH_OPTION, &v, &len));
	}
}

LIBOS_TEST(sockopt, bad_length_einval, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int qd = tcp_socket();
	struct linger l = { .l_onoff = 1, .l_linger = 1 };
	EXPECT_ERR(EINVAL, demi_setsockopt(qd, SOL_SOCKET, SO_LINGER, &l, 0));
	EXPECT_ERR(EINVAL, demi_setsockopt(qd, SOL_SOCKET, SO_LINGER, &l, sizeof(l) - 1));
	socklen_t len = sizeof(l) - 1;
	EXPECT_ERR(EINVAL, demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, &l, &len));
	len = 0;
	EXPECT_ERR(EINVAL, demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, &l, &len));
	if (p->caps & CAP_SOCKOPT) {
		int v = 1;
		EXPECT_ERR(EINVAL, demi_setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &v, 1));
		EXPECT_ERR(EINVAL, demi_setsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, 0));
		len = 2;
		EXPECT_ERR(EINVAL, demi_getsockopt(qd, SOL_SOCKET, SO_RCVBUF, &v, &len));
	}
	EXPECT_ERR(EINVAL, demi_setsockopt(qd, SOL_SOCKET, SO_LINGER, VNULL(const void *), sizeof(l)));
	len = sizeof(l);
	EXPECT_ERR(EINVAL, demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, VNULL(void *), &len));
	EXPECT_ERR(EINVAL, demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, &l, VNULL(socklen_t *)));
}

LIBOS_TEST(sockopt, bad_qd_ebadf, .timeout = 10)
{
	lp_init(p);
	int v = 1;
	socklen_t len = sizeof(v);
	struct linger l = { 0, 0 };
	socklen_t llen = sizeof(l);
	EXPECT_ERR(EBADF, demi_setsockopt(-1, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	EXPECT_ERR(EBADF, demi_setsockopt(BAD_QD, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	EXPECT_ERR(EBADF, demi_getsockopt(BAD_QD, SOL_SOCKET, SO_LINGER, &l, &llen));
	EXPECT_ERR(EBADF, demi_getsockopt(-1, SOL_SOCKET, SO_KEEPALIVE, &v, &len));
}

/* ---- demi_getpeername, demi_getsockname ---- */

LIBOS_TEST(names, getpeername_not_connected_enotconn, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	EXPECT_ERR(ENOTCONN, demi_getpeername(qd, (struct sockaddr *)&a, &len));
	struct sockaddr_in b = lp_addr(p, 0);
	EXPECT_OK(demi_bind(qd, (const struct sockaddr *)&b, sizeof(b)));
	EXPECT_ERR(ENOTCONN, demi_getpeername(qd, (struct sockaddr *)&a, &len));
	if (p->caps & CAP_TCP) {
		EXPECT_OK(demi_listen(qd, 4));
		EXPECT_ERR(ENOTCONN, demi_getpeername(qd, (struct sockaddr *)&a, &len));
	}
}

LIBOS_TEST(names, bad_qd_ebadf, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	EXPECT_ERR(EBADF, demi_getpeername(-1, (struct sockaddr *)&a, &len));
	EXPECT_ERR(EBADF, demi_getpeername(BAD_QD, (struct sockaddr *)&a, &len));
	EXPECT_ERR(EBADF, demi_getsockname(-1, (struct sockaddr *)&a, &len));
	EXPECT_ERR(EBADF, demi_getsockname(BAD_QD, (struct sockaddr *)&a, &len));
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	EXPECT_OK(demi_close(qd));
	EXPECT_ERR(EBADF, demi_getsockname(qd, (struct sockaddr *)&a, &len));
	EXPECT_ERR(EBADF, demi_getpeername(qd, (struct sockaddr *)&a, &len));
}

LIBOS_TEST(names, both_ends_agree, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	struct sockaddr_in la = sock_name(lqd), cname = sock_name(cqd), sname = sock_name(sqd);
	struct sockaddr_in cpeer, speer;
	socklen_t len = sizeof(cpeer);
	EXPECT_OK(demi_getpeername(cqd, (struct sockaddr *)&cpeer, &len));
	cr_assert_eq(len, sizeof(cpeer));
	len = sizeof(speer);
	EXPECT_OK(demi_getpeername(sqd, (struct sockaddr *)&speer, &len));
	cr_assert_eq(cpeer.sin_family, AF_INET);
	cr_assert_eq(cpeer.sin_port, la.sin_port);
	cr_assert_eq(cpeer.sin_addr.s_addr, la.sin_addr.s_addr);
	cr_assert_eq(sname.sin_port, la.sin_port);
	cr_assert_eq(speer.sin_port, cname.sin_port);
	cr_assert_eq(speer.sin_addr.s_addr, cname.sin_addr.s_addr);
}

LIBOS_TEST(names, getsockname_bound, .timeout = 10)
{
	NEED_SOCKETS();
	lp_init(p);
	struct sockaddr_in want;
	int qd = bound_socket(p, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, &want);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	socklen_t len = sizeof(a);
	EXPECT_OK(demi_getsockname(qd, (struct sockaddr *)&a, &len));
	cr_assert_eq(len, sizeof(a));
	struct sockaddr_in addr = lp_addr(p, 0);
	cr_assert_eq(a.sin_addr.s_addr, addr.sin_addr.s_addr);
	cr_assert_eq(a.sin_port, want.sin_port);
	/* A short buffer is filled as far as it goes, and the full length reported. */
	uint8_t small[4];
	memset(small, 0xcc, sizeof(small));
	len = sizeof(small);
	EXPECT_OK(demi_getsockname(qd, (struct sockaddr *)small, &len));
	cr_assert_eq(len, sizeof(struct sockaddr_in));
	cr_assert_eq(memcmp(small, &a, sizeof(small)), 0);
	EXPECT_ERR(EINVAL, demi_getsockname(qd, VNULL(struct sockaddr *), &len));
}

LIBOS_TEST(names, udp_connected_peer, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	bound_socket(p, SOCK_DGRAM, &ra);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_qtoken_t qt;
	EXPECT_OK(demi_connect(&qt, qd, (const struct sockaddr *)&ra, sizeof(ra)));
	wait_op(qt, DEMI_OPC_CONNECT, 1000);
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	EXPECT_OK(demi_getpeername(qd, (struct sockaddr *)&peer, &len));
	cr_assert_eq(peer.sin_port, ra.sin_port);
}
