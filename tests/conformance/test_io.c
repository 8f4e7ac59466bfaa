/* PDPIX conformance: the data path (demi_push, pushto, pop) and demi_close. */
#include "conformance.h"

#include <unistd.h>

#define BAD_QD ((1 << 30) + 4242) /* inside the qd range (from 2^30), never installed */

/* A connected TCP client qd (the pair's other ends stay open). */
static int connected(const struct libos_param *p, int *peer)
{
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	if (peer)
		*peer = sqd;
	return cqd;
}

/* A queue to push on: a connected TCP client, a connected UDP socket, or (no sockets) a pipe end. */
static int push_target(const struct libos_param *p)
{
	if (p->caps & CAP_TCP)
		return connected(p, NULL);
	if (!HAS_SOCKETS(p)) {
		int qd, other;
		pipe_pair(&qd, &other); /* the other end stays open */
		return qd;
	}
	struct sockaddr_in ra;
	bound_socket(p, SOCK_DGRAM, &ra);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_qtoken_t qt;
	EXPECT_OK(demi_connect(&qt, qd, (const struct sockaddr *)&ra, sizeof(ra)));
	wait_op(qt, DEMI_OPC_CONNECT, 1000);
	return qd;
}

/* Every way an sga can be malformed; each push (or pushto) must answer EINVAL. */
static void malformed_sgas(int (*try)(int qd, const demi_sgarray_t *sga, void *arg), int qd, void *arg)
{
	demi_sgarray_t good = sga_pattern(100, 1);
	demi_sgarray_t s;
	uint8_t *data = good.sga_segs[0].sgaseg_buf;

	EXPECT_ERR(EINVAL, try(qd, VNULL(const demi_sgarray_t *), arg));
	s = good;
	s.sga_numsegs = 0;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_numsegs = 2;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_buf = NULL;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_buf = (void *)0xdead0000beefull; /* forged token */
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_segs[0].sgaseg_len = 0;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_segs[0].sgaseg_buf = data + (16u << 20); /* past the buffer */
	s.sga_segs[0].sgaseg_len = 10;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_segs[0].sgaseg_buf = data - (1u << 20); /* before it */
	s.sga_segs[0].sgaseg_len = 10;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_segs[0].sgaseg_len = 32u << 20; /* starts inside, runs off the end */
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_segs[0].sgaseg_buf = NULL;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	s = good;
	s.sga_segs[0].sgaseg_buf = data + 50;
	s.sga_segs[0].sgaseg_len = UINT32_MAX; /* wraps the address space check */
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	/* Freed: the token is stale. */
	demi_sgarray_t freed = sga_pattern(100, 2);
	EXPECT_OK(demi_sgafree(&freed));
	EXPECT_ERR(EINVAL, try(qd, &freed, arg));
	/* Another sga's buffer with this one's segment. */
	demi_sgarray_t other = sga_pattern(100, 3);
	s = good;
	s.sga_buf = other.sga_buf;
	EXPECT_ERR(EINVAL, try(qd, &s, arg));
	EXPECT_OK(demi_sgafree(&other));
	EXPECT_OK(demi_sgafree(&good));
}

static int try_push(int qd, const demi_sgarray_t *sga, void *arg)
{
	(void)arg;
	demi_qtoken_t qt = 0;
	int err = demi_push(&qt, qd, sga);
	cr_assert(err != 0 || qt != 0);
	return err;
}

LIBOS_TEST(push, malformed_sga_einval, .timeout = 10)
{
	lp_init(p);
	int qd = push_target(p);
	malformed_sgas(try_push, qd, NULL);
	/* The connection still works after all that. */
	demi_sgarray_t sga = sga_pattern(100, 4);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, qd, &sga));
	wait_op(qt, DEMI_OPC_PUSH, 5000);
	EXPECT_OK(demi_sgafree(&sga));
}

LIBOS_TEST(push, null_out_einval, .timeout = 10)
{
	lp_init(p);
	int qd = push_target(p);
	demi_sgarray_t sga = sga_pattern(10, 0);
	EXPECT_ERR(EINVAL, demi_push(VNULL(demi_qtoken_t *), qd, &sga));
}

LIBOS_TEST(push, bad_qd_ebadf, .timeout = 10)
{
	lp_init(p);
	demi_sgarray_t sga = sga_pattern(10, 0);
	demi_qtoken_t qt;
	EXPECT_ERR(EBADF, demi_push(&qt, -1, &sga));
	EXPECT_ERR(EBADF, demi_push(&qt, BAD_QD, &sga));
	int qd = push_target(p);
	EXPECT_OK(demi_close(qd));
	EXPECT_ERR(EBADF, demi_push(&qt, qd, &sga));
	/* The failed calls took no reference: one free releases the buffer, a second is refused. */
	EXPECT_OK(demi_sgafree(&sga));
	EXPECT_ERR(EINVAL, demi_sgafree(&sga));
}

LIBOS_TEST(push, not_connected_enotconn, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	demi_sgarray_t sga = sga_pattern(10, 0);
	demi_qtoken_t qt;
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(ENOTCONN, demi_push(&qt, qd, &sga));
	struct sockaddr_in a = lp_addr(p, 0);
	EXPECT_OK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
	EXPECT_ERR(ENOTCONN, demi_push(&qt, qd, &sga));
	EXPECT_OK(demi_listen(qd, 4));
	EXPECT_ERR(ENOTCONN, demi_push(&qt, qd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
}

/* Push then free at once: the stack keeps the buffer until it is done with it. */
LIBOS_TEST(push, free_right_after_push_delivers, .timeout = 20)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	const size_t size = 1u << 20;
	demi_sgarray_t sga = sga_pattern(size, 9);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, qd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	/* Were the buffer back in its pool, these would take its memory and overwrite it. */
	demi_sgarray_t scribble[4];
	for (int i = 0; i < 4; i++) {
		scribble[i] = demi_sgaalloc(size);
		cr_assert_not_null(scribble[i].sga_buf);
		memset(scribble[i].sga_segs[0].sgaseg_buf, 0xEE, size);
	}
	pop_expect(peer, size, 9);
	wait_op(qt, DEMI_OPC_PUSH, 5000);
	for (int i = 0; i < 4; i++)
		EXPECT_OK(demi_sgafree(&scribble[i]));
}

/* The echo server's zero-copy path: a popped sga goes straight back out. */
LIBOS_TEST(push, popped_sga_pushed_back, .timeout = 20)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	const size_t size = 200000;
	demi_sgarray_t sga = sga_pattern(size, 5);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, qd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	size_t echoed = 0;
	while (echoed < size) {
		demi_qtoken_t pq, eq;
		EXPECT_OK(demi_pop(&pq, peer));
		demi_qresult_t qr = wait_op(pq, DEMI_OPC_POP, 5000);
		uint32_t n = qr.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert_gt(n, 0);
		EXPECT_OK(demi_push(&eq, peer, &qr.qr_value.sga));
		EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
		wait_op(eq, DEMI_OPC_PUSH, 5000);
		echoed += n;
	}
	cr_assert_eq(echoed, size);
	wait_op(qt, DEMI_OPC_PUSH, 5000);
	pop_expect(qd, size, 5);
}

/* ---- demi_pushto ---- */

static int try_pushto(int qd, const demi_sgarray_t *sga, void *arg)
{
	demi_qtoken_t qt = 0;
	const struct sockaddr_in *to = arg;
	return demi_pushto(&qt, qd, sga, (const struct sockaddr *)to, sizeof(*to));
}

LIBOS_TEST(pushto, malformed_sga_einval, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	bound_socket(p, SOCK_DGRAM, &ra);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	malformed_sgas(try_pushto, qd, &ra);
}

LIBOS_TEST(pushto, bad_args, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	bound_socket(p, SOCK_DGRAM, &ra);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_sgarray_t sga = sga_pattern(10, 0);
	demi_qtoken_t qt;
	EXPECT_ERR(EINVAL, demi_pushto(VNULL(demi_qtoken_t *), qd, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_ERR(EINVAL, demi_pushto(&qt, qd, &sga, VNULL(const struct sockaddr *), sizeof(ra)));
	EXPECT_ERR(EINVAL, demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&ra, 0));
	EXPECT_ERR(EINVAL, demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&ra, sizeof(ra) - 1));
	EXPECT_ERR(EBADF, demi_pushto(&qt, -1, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_ERR(EBADF, demi_pushto(&qt, BAD_QD, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_OK(demi_close(qd));
	EXPECT_ERR(EBADF, demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_OK(demi_sgafree(&sga));
}

LIBOS_TEST(pushto, tcp_not_connected_enotconn, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	struct sockaddr_in la;
	tcp_listener(p, 4, &la);
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	demi_sgarray_t sga = sga_pattern(10, 0);
	demi_qtoken_t qt;
	EXPECT_ERR(ENOTCONN, demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&la, sizeof(la)));
	EXPECT_OK(demi_sgafree(&sga));
}

/* UDP: a datagram arrives whole, with its sender in sga_addr. */
LIBOS_TEST(pushto, udp_delivers_with_sender, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra, sa;
	int rqd = bound_socket(p, SOCK_DGRAM, &ra);
	int sqd = bound_socket(p, SOCK_DGRAM, &sa);
	demi_qtoken_t pq, qt;
	EXPECT_OK(demi_pop(&pq, rqd));
	demi_sgarray_t sga = sga_pattern(1234, 7);
	EXPECT_OK(demi_pushto(&qt, sqd, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_OK(demi_sgafree(&sga));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_PUSH, 2000);
	cr_assert_eq(qr.qr_qd, sqd);
	qr = wait_op(pq, DEMI_OPC_POP, 2000);
	cr_assert_eq(qr.qr_qd, rqd);
	demi_sgarray_t *got = &qr.qr_value.sga;
	cr_assert_eq(got->sga_numsegs, 1);
	cr_assert_eq(got->sga_segs[0].sgaseg_len, 1234);
	const uint8_t *d = got->sga_segs[0].sgaseg_buf;
	for (size_t i = 0; i < 1234; i++)
		cr_assert_eq(d[i], pattern_byte(7, i), "byte %zu", i);
	cr_assert_eq(got->sga_addr.sin_family, AF_INET);
	cr_assert_eq(got->sga_addr.sin_port, sa.sin_port, "sender port %d, want %d", ntohs(got->sga_addr.sin_port),
		     ntohs(sa.sin_port));
	cr_assert_eq(got->sga_addr.sin_addr.s_addr, sa.sin_addr.s_addr);
	EXPECT_OK(demi_sgafree(got));
}

/* UDP datagrams keep their boundaries: two pushes, two pops of the same sizes. */
LIBOS_TEST(pushto, udp_keeps_boundaries, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	int rqd = bound_socket(p, SOCK_DGRAM, &ra);
	int sqd = bound_socket(p, SOCK_DGRAM, NULL);
	const uint32_t sizes[3] = { 1, 1472, 9000 };
	for (int i = 0; i < 3; i++) {
		demi_sgarray_t sga = sga_pattern(sizes[i], (unsigned)i);
		demi_qtoken_t qt;
		EXPECT_OK(demi_pushto(&qt, sqd, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
		EXPECT_OK(demi_sgafree(&sga));
		wait_op(qt, DEMI_OPC_PUSH, 2000);
	}
	for (int i = 0; i < 3; i++) {
		demi_qtoken_t pq;
		EXPECT_OK(demi_pop(&pq, rqd));
		demi_qresult_t qr = wait_op(pq, DEMI_OPC_POP, 2000);
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, sizes[i]);
		const uint8_t *d = qr.qr_value.sga.sga_segs[0].sgaseg_buf;
		cr_assert_eq(d[sizes[i] - 1], pattern_byte((unsigned)i, sizes[i] - 1));
		EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	}
}

/* ---- demi_pop ---- */

LIBOS_TEST(pop, bad_qd_ebadf, .timeout = 10)
{
	lp_init(p);
	demi_qtoken_t qt;
	EXPECT_ERR(EBADF, demi_pop(&qt, -1));
	EXPECT_ERR(EBADF, demi_pop(&qt, BAD_QD));
	int qd = push_target(p);
	EXPECT_OK(demi_close(qd));
	EXPECT_ERR(EBADF, demi_pop(&qt, qd));
}

LIBOS_TEST(pop, null_out_einval, .timeout = 10)
{
	lp_init(p);
	int qd = push_target(p);
	EXPECT_ERR(EINVAL, demi_pop(VNULL(demi_qtoken_t *), qd));
}

LIBOS_TEST(pop, tcp_not_connected_enotconn, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	demi_qtoken_t qt;
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(ENOTCONN, demi_pop(&qt, qd));
	struct sockaddr_in a = lp_addr(p, 0);
	EXPECT_OK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
	EXPECT_ERR(ENOTCONN, demi_pop(&qt, qd));
	EXPECT_OK(demi_listen(qd, 4));
	EXPECT_ERR(ENOTCONN, demi_pop(&qt, qd));
}

LIBOS_TEST(pop, tcp_peer_close_gives_zero_length, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	push_pattern(qd, 1000, 3);
	EXPECT_OK(demi_close(qd));
	/* The data sent before the close comes first, then the end of the stream. */
	pop_expect(peer, 1000, 3);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, peer));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP, 5000);
	cr_assert_eq(qr.qr_qd, peer);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0, "pop after the peer closed: length %u",
		     qr.qr_value.sga.sga_segs[0].sgaseg_len);
	if (qr.qr_value.sga.sga_buf)
		EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
}

/*
 * The peer's data and its FIN both arrive before the application pops, and
 * the libOS has already seen them (it ran meanwhile). The pop that takes the
 * last data leaves only the end of the stream, which the next pop must still
 * report: no later event announces it.
 */
LIBOS_TEST(pop, peer_close_already_seen_gives_zero_length, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	push_pattern(qd, 1000, 6);
	EXPECT_OK(demi_close(qd));
	/* Let the libOS run (and poll) without anything to complete. */
	demi_qresult_t qrs[1];
	int count = -1;
	struct timespec ts = ms_ts(50);
	EXPECT_ERR(ETIMEDOUT, demi_wait_next_n(qrs, 1, &count, &ts));
	pop_expect(peer, 1000, 6);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, peer));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP, 2000);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
}

/* A pop already waiting when the peer closes completes with length 0 too. */
LIBOS_TEST(pop, pending_pop_sees_peer_close, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, peer));
	demi_qresult_t qr;
	struct timespec ts = ms_ts(50);
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, qt, &ts));
	EXPECT_OK(demi_close(qd));
	qr = wait_op(qt, DEMI_OPC_POP, 5000);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
}

/* Pops on one TCP queue complete in the order they were issued, the stream in order. */
LIBOS_TEST(pop, tcp_stream_in_order, .timeout = 20)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	const size_t size = 300000;
	demi_sgarray_t sga = sga_pattern(size, 11);
	demi_qtoken_t pushq;
	EXPECT_OK(demi_push(&pushq, qd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	size_t got = 0;
	while (got < size) {
		demi_qtoken_t qts[4];
		for (int i = 0; i < 4; i++)
			EXPECT_OK(demi_pop(&qts[i], peer));
		for (int i = 0; i < 4; i++) {
			demi_qresult_t qr = wait_op(qts[i], DEMI_OPC_POP, 5000);
			uint32_t n = qr.qr_value.sga.sga_segs[0].sgaseg_len;
			const uint8_t *d = qr.qr_value.sga.sga_segs[0].sgaseg_buf;
			cr_assert_leq(got + n, size);
			for (uint32_t j = 0; j < n; j++)
				if (d[j] != pattern_byte(11, got + j))
					cr_assert_fail("byte %zu out of order", got + j);
			got += n;
			EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
			if (got == size && i < 3) {
				/* The rest are still waiting: cancel them by closing. */
				EXPECT_OK(demi_close(peer));
				for (int k = i + 1; k < 4; k++) {
					demi_qresult_t c = wait_op(qts[k], DEMI_OPC_FAILED, 1000);
					cr_assert_eq(c.qr_ret, ECANCELED);
				}
				break;
			}
		}
	}
	wait_op(pushq, DEMI_OPC_PUSH, 5000);
}

/* ---- demi_close ---- */

LIBOS_TEST(close, bad_qd_ebadf, .timeout = 10)
{
	lp_init(p);
	EXPECT_ERR(EBADF, demi_close(-1));
	EXPECT_ERR(EBADF, demi_close(BAD_QD));
	EXPECT_ERR(EBADF, demi_close(INT32_MAX));
}

LIBOS_TEST(close, double_close_ebadf, .timeout = 10)
{
	lp_init(p);
	int types[2], nt = 0;
	if (p->caps & CAP_TCP)
		types[nt++] = SOCK_STREAM;
	if (p->caps & CAP_UDP)
		types[nt++] = SOCK_DGRAM;
	for (int i = 0; i < nt; i++) {
		int qd;
		EXPECT_OK(demi_socket(&qd, AF_INET, types[i], 0));
		EXPECT_OK(demi_close(qd));
		EXPECT_ERR(EBADF, demi_close(qd));
	}
	if (p->caps & CAP_TCP) {
		int lqd, cqd, sqd;
		tcp_pair(p, &lqd, &cqd, &sqd);
		EXPECT_OK(demi_close(sqd));
		EXPECT_ERR(EBADF, demi_close(sqd));
		EXPECT_OK(demi_close(lqd));
		EXPECT_ERR(EBADF, demi_close(lqd));
	}
}

static void expect_cancelled(demi_qtoken_t qt, int qd)
{
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_FAILED, 1000);
	cr_assert_eq(qr.qr_ret, ECANCELED, "qr_ret %s", ename((int)qr.qr_ret));
	cr_assert_eq(qr.qr_qd, qd);
}

LIBOS_TEST(close, cancels_pending_pop_and_accept, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	demi_qtoken_t pop1, pop2, acc;
	EXPECT_OK(demi_pop(&pop1, sqd));
	EXPECT_OK(demi_pop(&pop2, sqd));
	EXPECT_OK(demi_accept(&acc, lqd));
	demi_qresult_t qr;
	struct timespec zero = ms_ts(0);
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, pop1, &zero));
	EXPECT_OK(demi_close(sqd));
	EXPECT_OK(demi_close(lqd));
	expect_cancelled(pop2, sqd);
	expect_cancelled(pop1, sqd);
	expect_cancelled(acc, lqd);
}

LIBOS_TEST(close, cancels_pending_udp_pop, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, qd));
	EXPECT_OK(demi_close(qd));
	expect_cancelled(qt, qd);
}

/*
 * A push the peer never reads stays pending once the socket buffers are full;
 * closing cancels it. Small buffers, 16 MiB push.
 */
LIBOS_TEST(close, cancels_pending_push, .timeout = 20)
{
	lp_init(p);
	NEED(CAP_TCP | CAP_SOCKOPT);
	int lqd, cqd, sqd;
	tcp_pair(p, &lqd, &cqd, &sqd);
	int small = 4096;
	EXPECT_OK(demi_setsockopt(cqd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	EXPECT_OK(demi_setsockopt(sqd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	const size_t size = 16u << 20;
	demi_sgarray_t sga = demi_sgaalloc(size);
	cr_assert_not_null(sga.sga_buf);
	memset(sga.sga_segs[0].sgaseg_buf, 0x5a, size);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, cqd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	demi_qresult_t qr;
	struct timespec ts = ms_ts(200);
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, qt, &ts));
	EXPECT_OK(demi_close(cqd));
	expect_cancelled(qt, cqd);
}

/* A closed qd's number may be reused, but the old tokens must not leak into the new queue. */
LIBOS_TEST(close, qd_reuse_is_clean, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_qtoken_t old;
	EXPECT_OK(demi_pop(&old, qd));
	EXPECT_OK(demi_close(qd));
	int qd2 = bound_socket(p, SOCK_DGRAM, NULL);
	expect_cancelled(old, qd);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, qd2));
	demi_qresult_t qr;
	struct timespec zero = ms_ts(0);
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, qt, &zero));
	EXPECT_ERR(EINVAL, demi_wait(&qr, old, &zero));
}

/* ---- errors found later travel in the result ---- */

/* An abortive close (SO_LINGER 0) resets the connection: a pending pop fails with ECONNRESET. */
LIBOS_TEST(reset, pop_fails_econnreset, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, qd));
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	EXPECT_OK(demi_setsockopt(peer, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	EXPECT_OK(demi_close(peer));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_FAILED, 5000);
	cr_assert_eq(qr.qr_ret, ECONNRESET, "qr_ret %s", ename((int)qr.qr_ret));
	cr_assert_eq(qr.qr_qd, qd);
}

/*
 * Pushing to a peer that is gone fails in the push's result (EPIPE or
 * ECONNRESET), never with SIGPIPE killing the application.
 */
LIBOS_TEST(reset, push_to_closed_peer_fails_without_sigpipe, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_TCP);
	int peer;
	int qd = connected(p, &peer);
	EXPECT_OK(demi_close(peer));
	int i;
	demi_qresult_t qr;
	for (i = 0; i < 200; i++) {
		demi_sgarray_t sga = sga_pattern(1000, 1);
		demi_qtoken_t qt;
		int err = demi_push(&qt, qd, &sga);
		EXPECT_OK(demi_sgafree(&sga));
		if (err) {
			/* A libOS may also refuse at the call once it knows the connection is gone. */
			cr_assert(err == EPIPE || err == ECONNRESET || err == ENOTCONN, "push: %s", ename(err));
			break;
		}
		qr = wait_ms(qt, 5000);
		if (qr.qr_opcode == DEMI_OPC_FAILED) {
			cr_assert(qr.qr_ret == EPIPE || qr.qr_ret == ECONNRESET, "qr_ret %s", ename((int)qr.qr_ret));
			break;
		}
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
		usleep(1000);
	}
	cr_assert_lt(i, 200, "pushes to a closed peer kept succeeding");
}

/* ---- UDP specifics documented in the headers ---- */

LIBOS_TEST(udp, push_without_peer_edestaddrreq, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_sgarray_t sga = sga_pattern(10, 0);
	demi_qtoken_t qt;
	EXPECT_ERR(EDESTADDRREQ, demi_push(&qt, qd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
}

LIBOS_TEST(udp, listen_accept_enotsup, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	EXPECT_ERR(ENOTSUP, demi_listen(qd, 4));
}

LIBOS_TEST(udp, bind_not_local_eaddrnotavail, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in a = lp_addr(p, 0);
	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	EXPECT_ERR(EADDRNOTAVAIL, demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
}

/* A connected UDP socket pushes to its peer and pops what it sends. */
LIBOS_TEST(udp, connected_push_and_pop, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in aa, ba;
	int a = bound_socket(p, SOCK_DGRAM, &aa);
	int b = bound_socket(p, SOCK_DGRAM, &ba);
	demi_qtoken_t qt;
	EXPECT_OK(demi_connect(&qt, a, (const struct sockaddr *)&ba, sizeof(ba)));
	wait_op(qt, DEMI_OPC_CONNECT, 1000);
	demi_sgarray_t sga = sga_pattern(300, 4);
	EXPECT_OK(demi_push(&qt, a, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	wait_op(qt, DEMI_OPC_PUSH, 1000);
	EXPECT_OK(demi_pop(&qt, b));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP, 2000);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 300);
	cr_assert_eq(qr.qr_value.sga.sga_addr.sin_port, aa.sin_port);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
}

/* Only pending operations are cancelled: one that completed before the close keeps its result and data. */
LIBOS_TEST(close, keeps_completed_results, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	int rqd = bound_socket(p, SOCK_DGRAM, &ra);
	int sqd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_qtoken_t pop, push;
	EXPECT_OK(demi_pop(&pop, rqd));
	demi_sgarray_t sga = sga_pattern(777, 8);
	EXPECT_OK(demi_pushto(&push, sqd, &sga, (const struct sockaddr *)&ra, sizeof(ra)));
	EXPECT_OK(demi_sgafree(&sga));
	wait_op(push, DEMI_OPC_PUSH, 2000);
	/* Run the libOS until the pop has completed, without collecting it. */
	demi_qtoken_t other;
	int oqd = bound_socket(p, SOCK_DGRAM, NULL);
	EXPECT_OK(demi_pop(&other, oqd));
	demi_qresult_t qr;
	struct timespec ts = ms_ts(100);
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, other, &ts));
	EXPECT_OK(demi_close(rqd));
	qr = wait_op(pop, DEMI_OPC_POP, 1000);
	cr_assert_eq(qr.qr_qd, rqd);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 777);
	const uint8_t *d = qr.qr_value.sga.sga_segs[0].sgaseg_buf;
	for (size_t i = 0; i < 777; i++)
		cr_assert_eq(d[i], pattern_byte(8, i), "byte %zu", i);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
}
