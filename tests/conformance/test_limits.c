/*
 * PDPIX conformance: the limits and errors the API reference (doc/api/) lists
 * that no other conformance test reached: a full op table (ENOMEM), a full qd
 * table (EMFILE), a non-IPv4 address (EAFNOSUPPORT), a malformed timeout,
 * demi_netstats, and the extension calls before demi_init (ENOSYS).
 */
#include "conformance.h"

#include <demi/netstats.h>
#include <demi/pipe.h>
#include <demi/storage.h>
#include <fcntl.h>
#include <stdlib.h>

/* demi_pop, demi_push (and the others through the same op table) answer ENOMEM when MAX_QTOKENS ops are live. */
LIBOS_TEST(limits, op_table_full_enomem, .timeout = 10)
{
	setenv("MAX_QTOKENS", "16", 1);
	lp_init(p);
	int qd;
	EXPECT_OK(demi_queue(&qd));
	demi_qtoken_t qts[16];
	for (int i = 0; i < 16; i++)
		EXPECT_OK(demi_pop(&qts[i], qd));
	demi_qtoken_t qt;
	EXPECT_ERR(ENOMEM, demi_pop(&qt, qd));
	demi_sgarray_t sga = sga_pattern(10, 1);
	EXPECT_ERR(ENOMEM, demi_push(&qt, qd, &sga));
	if (p->caps & CAP_TCP) {
		struct sockaddr_in la;
		int lqd = tcp_listener(p, 4, &la), cqd;
		EXPECT_OK(demi_socket(&cqd, AF_INET, SOCK_STREAM, 0));
		EXPECT_ERR(ENOMEM, demi_accept(&qt, lqd));
		EXPECT_ERR(ENOMEM, demi_connect(&qt, cqd, (const struct sockaddr *)&la, sizeof(la)));
	}
	if (p->caps & CAP_UDP) {
		struct sockaddr_in ua;
		int uqd = bound_socket(p, SOCK_DGRAM, &ua);
		EXPECT_ERR(ENOMEM, demi_pushto(&qt, uqd, &sga, (const struct sockaddr *)&ua, sizeof(ua)));
	}
	/* The push that failed took nothing: the sga is still the application's. */
	EXPECT_OK(demi_sgafree(&sga));
	/* Spending a token frees its slot: a pop is admitted again. */
	EXPECT_OK(demi_close(qd));
	for (int i = 0; i < 16; i++) {
		demi_qresult_t qr;
		EXPECT_OK(demi_wait(&qr, qts[i], NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
		cr_assert_eq(qr.qr_ret, ECANCELED);
	}
	EXPECT_OK(demi_queue(&qd));
	EXPECT_OK(demi_pop(&qt, qd));
}

/* demi_queue, demi_socket, demi_create_pipe and demi_open_pipe answer EMFILE when MAX_QUEUES qds are open. */
LIBOS_TEST(limits, qd_table_full_emfile, .timeout = 10)
{
	setenv("MAX_QUEUES", "16", 1);
	lp_init(p);
	int creator, qd, n = 0, err;
	EXPECT_OK(demi_create_pipe(&creator, "demi-conf-emfile-a"));
	while ((err = demi_queue(&qd)) == 0 && n < 100)
		n++;
	cr_assert_eq(err, EMFILE, "demi_queue after %d queues: %s", n, ename(err));
	cr_assert_eq(n, 15, "%d queues and a pipe before EMFILE, want 16 qds", n);
	if (p->caps & CAP_TCP)
		EXPECT_ERR(EMFILE, demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(EMFILE, demi_create_pipe(&qd, "demi-conf-emfile-b"));
	EXPECT_ERR(EMFILE, demi_open_pipe(&qd, "demi-conf-emfile-a"));
	/* A closed qd's slot is taken again, lowest first. */
	EXPECT_OK(demi_close(creator));
	EXPECT_OK(demi_queue(&qd));
	cr_assert_eq(qd, creator);
}

/* A connection that arrives when the qd table is full fails the accept with EMFILE in qr_ret. */
LIBOS_TEST(limits, accept_without_qd_fails_emfile, .timeout = 10)
{
	NEED(CAP_TCP);
	setenv("MAX_QUEUES", "16", 1);
	lp_init(p);
	struct sockaddr_in la;
	int lqd = tcp_listener(p, 4, &la), cqd, qd, n = 2;
	EXPECT_OK(demi_socket(&cqd, AF_INET, SOCK_STREAM, 0));
	while (demi_queue(&qd) == 0)
		n++;
	cr_assert_eq(n, 16);
	demi_qtoken_t at, ct;
	EXPECT_OK(demi_accept(&at, lqd));
	EXPECT_OK(demi_connect(&ct, cqd, (const struct sockaddr *)&la, sizeof(la)));
	demi_qresult_t qr = wait_ms(at, 5000);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED, "accept with a full qd table: opcode %d", qr.qr_opcode);
	cr_assert_eq(qr.qr_ret, EMFILE, "qr_ret %s", ename((int)qr.qr_ret));
}

/* An address that is not AF_INET (but long enough) is EAFNOSUPPORT for bind, connect and pushto. */
LIBOS_TEST(limits, not_inet_eafnosupport, .timeout = 10)
{
	lp_init(p);
	NEED_SOCKETS();
	int type = (p->caps & CAP_UDP) ? SOCK_DGRAM : SOCK_STREAM, qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, type, 0));
	struct sockaddr_in sin = lp_addr(p, 7);
	sin.sin_family = AF_INET6;
	EXPECT_ERR(EAFNOSUPPORT, demi_bind(qd, (const struct sockaddr *)&sin, sizeof(sin)));
	demi_qtoken_t qt;
	EXPECT_ERR(EAFNOSUPPORT, demi_connect(&qt, qd, (const struct sockaddr *)&sin, sizeof(sin)));
	demi_sgarray_t sga = sga_pattern(10, 1);
	EXPECT_ERR(EAFNOSUPPORT, demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_OK(demi_sgafree(&sga));
}

/* A timespec with tv_nsec out of [0, 1e9) or a negative tv_sec is EINVAL for every wait that has to wait. */
LIBOS_TEST(limits, malformed_timeout_einval, .timeout = 10)
{
	lp_init(p);
	int qd;
	EXPECT_OK(demi_queue(&qd));
	demi_qtoken_t qt;
	EXPECT_OK(demi_pop(&qt, qd));
	demi_qresult_t qr;
	int idx, n;
	struct timespec bad[] = { { .tv_sec = 0, .tv_nsec = 1000000000L }, { .tv_sec = 0, .tv_nsec = -1 },
				  { .tv_sec = -1, .tv_nsec = 0 } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_ERR(EINVAL, demi_wait(&qr, qt, &bad[i]));
		EXPECT_ERR(EINVAL, demi_wait_any(&qr, &idx, &qt, 1, &bad[i]));
		EXPECT_ERR(EINVAL, demi_wait_next_n(&qr, 1, &n, &bad[i]));
	}
	/* The token survived every refusal. */
	struct timespec zero = { 0, 0 };
	EXPECT_ERR(ETIMEDOUT, demi_wait(&qr, qt, &zero));
}

/* demi_netstats: EINVAL for NULL; ENOTSUP under libOSes without Demi's own stack; 0 under the others. */
LIBOS_TEST(netstats, null_einval_and_libos_support, .timeout = 10)
{
	lp_init(p);
	EXPECT_ERR(EINVAL, demi_netstats(VNULL(struct demi_netstats *)));
	struct demi_netstats st;
	bool own_stack = strcmp(p->name, "catpowder") == 0 || strcmp(p->name, "catnip") == 0;
	EXPECT_ERR(own_stack ? 0 : ENOTSUP, demi_netstats(&st));
}

/* The extension calls that every_call_enosys does not make answer ENOSYS (or the NULL sga) before demi_init. */
Test(before_init, extension_calls_enosys, .timeout = 10)
{
	watchdog_arm();
	struct demi_netstats st;
	struct demi_storage_stat ss;
	demi_sgarray_t sga;
	int qd;
	EXPECT_ERR(ENOSYS, demi_netstats(&st));
	EXPECT_ERR(ENOSYS, demi_pipe_sgaalloc(&sga, 1 << 30, 10));
	EXPECT_ERR(ENOSYS, demi_open_file(&qd, "/tmp/demi-conformance-never", O_RDWR | O_CREAT, 0600));
	EXPECT_ERR(ENOSYS, demi_storage_seek(1 << 30, 0, 0));
	EXPECT_ERR(ENOSYS, demi_storage_set_durability(1 << 30, DEMI_STORAGE_FLUSH));
	EXPECT_ERR(ENOSYS, demi_storage_stat(1 << 30, &ss));
	sga = demi_sgaalloc(10);
	cr_assert_null(sga.sga_buf);
	cr_assert_eq(sga.sga_numsegs, 0);
	sga = demi_storage_sgaalloc(4096);
	cr_assert_null(sga.sga_buf);
}

/* Storage calls on a queue that is not a storage queue answer ENOTSUP; on no queue, EBADF. */
LIBOS_TEST(limits, storage_calls_on_other_queues, .timeout = 10)
{
	lp_init(p);
	int qd;
	EXPECT_OK(demi_queue(&qd));
	struct demi_storage_stat ss;
	EXPECT_ERR(ENOTSUP, demi_storage_seek(qd, 0, 0));
	EXPECT_ERR(ENOTSUP, demi_storage_set_durability(qd, DEMI_STORAGE_FLUSH));
	EXPECT_ERR(ENOTSUP, demi_storage_stat(qd, &ss));
	EXPECT_ERR(EBADF, demi_storage_seek(qd + 100, 0, 0));
	EXPECT_ERR(EBADF, demi_storage_set_durability(qd + 100, DEMI_STORAGE_FLUSH));
	EXPECT_ERR(EBADF, demi_storage_stat(qd + 100, &ss));
	EXPECT_ERR(EINVAL, demi_storage_stat(qd, VNULL(struct demi_storage_stat *)));
	demi_sgarray_t sga;
	EXPECT_ERR(ENOTSUP, demi_pipe_sgaalloc(&sga, qd, 10));
	cr_assert_null(sga.sga_buf);
	EXPECT_ERR(EBADF, demi_pipe_sgaalloc(&sga, qd + 100, 10));
	/* Socket options and names on a memory queue: ENOTSUP. */
	int v = 1;
	socklen_t len = sizeof(v);
	struct sockaddr_in sin = lp_addr(p, 0);
	socklen_t slen = sizeof(sin);
	EXPECT_ERR(ENOTSUP, demi_setsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)));
	EXPECT_ERR(ENOTSUP, demi_getsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, &len));
	EXPECT_ERR(ENOTSUP, demi_getsockname(qd, (struct sockaddr *)&sin, &slen));
	EXPECT_ERR(ENOTSUP, demi_bind(qd, (const struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_ERR(ENOTSUP, demi_listen(qd, 1));
	demi_qtoken_t qt;
	EXPECT_ERR(ENOTSUP, demi_accept(&qt, qd));
}

/* demi_wait_any of no tokens is EINVAL (it would wait for nothing), at once. */
LIBOS_TEST(limits, wait_any_no_tokens_einval, .timeout = 10)
{
	lp_init(p);
	demi_qresult_t qr;
	demi_qtoken_t qt = 0;
	int idx = -7;
	EXPECT_ERR(EINVAL, demi_wait_any(&qr, &idx, &qt, 0, NULL));
	cr_assert_eq(idx, -7, "ready_offset written on EINVAL");
}

/*
 * A push result's sga is a copy of the pushed sga, not a reference of its own:
 * freeing it frees the application's reference if that is still held (and the
 * pushed sga is then stale), and answers EINVAL once that reference is gone.
 */
LIBOS_TEST(limits, push_result_sga_is_not_a_reference, .timeout = 10)
{
	lp_init(p);
	int c, o;
	pipe_pair(&c, &o);
	demi_sgarray_t sga = sga_pattern(100, 1);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, c, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_PUSH, 1000);
	cr_assert_eq(qr.qr_value.sga.sga_buf, sga.sga_buf, "the result names the pushed buffer");
	EXPECT_ERR(EINVAL, demi_sgafree(&qr.qr_value.sga));

	demi_sgarray_t kept = sga_pattern(100, 2);
	EXPECT_OK(demi_push(&qt, c, &kept));
	qr = wait_op(qt, DEMI_OPC_PUSH, 1000);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga)); /* the application's one reference */
	EXPECT_ERR(EINVAL, demi_sgafree(&kept));
}

/* demi_init(NULL) is EINVAL and starts nothing: a later demi_init succeeds. */
LIBOS_TEST(init, null_args_einval, .timeout = 10)
{
	watchdog_arm();
	setenv("LIBOS", p->name, 1);
	EXPECT_ERR(EINVAL, demi_init(VNULL(const struct demi_args *)));
	int qd;
	EXPECT_ERR(ENOSYS, demi_queue(&qd));
	lp_init(p);
}

/* demi_pushto on UDP: a destination 0.0.0.0 or port 0 is EINVAL at the call. */
LIBOS_TEST(limits, pushto_wildcard_or_port0_einval, .timeout = 10)
{
	lp_init(p);
	NEED(CAP_UDP);
	struct sockaddr_in ra;
	bound_socket(p, SOCK_DGRAM, &ra);
	int qd = bound_socket(p, SOCK_DGRAM, NULL);
	demi_sgarray_t sga = sga_pattern(10, 1);
	demi_qtoken_t qt;
	struct sockaddr_in to = ra;
	to.sin_port = 0;
	EXPECT_ERR(EINVAL, demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&to, sizeof(to)));
	to = ra;
	to.sin_addr.s_addr = htonl(INADDR_ANY);
	EXPECT_ERR(EINVAL, demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&to, sizeof(to)));
	EXPECT_OK(demi_sgafree(&sga));
}

/* demi_getpeername and demi_getsockname: a NULL address or length is EINVAL, before the state is looked at. */
LIBOS_TEST(limits, names_null_einval, .timeout = 10)
{
	lp_init(p);
	NEED_SOCKETS();
	int qd = bound_socket(p, (p->caps & CAP_UDP) ? SOCK_DGRAM : SOCK_STREAM, NULL);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	EXPECT_ERR(EINVAL, demi_getpeername(qd, VNULL(struct sockaddr *), &len));
	EXPECT_ERR(EINVAL, demi_getpeername(qd, (struct sockaddr *)&sin, VNULL(socklen_t *)));
	EXPECT_ERR(EINVAL, demi_getsockname(qd, (struct sockaddr *)&sin, VNULL(socklen_t *)));
}

/* demi_sgaalloc gives the empty sga once MAX_BUFFERS buffers are live, and a buffer again once one is freed. */
LIBOS_TEST(limits, sgaalloc_pool_exhausted_gives_null, .timeout = 10)
{
	setenv("MAX_BUFFERS", "16", 1);
	lp_init(p);
	demi_sgarray_t sgas[17];
	int n = 0;
	while (n < 17) {
		sgas[n] = demi_sgaalloc(100);
		if (!sgas[n].sga_buf)
			break;
		n++;
	}
	cr_assert(n >= 1 && n <= 16, "%d buffers allocated with MAX_BUFFERS=16", n);
	cr_assert_eq(sgas[n].sga_numsegs, 0);
	EXPECT_OK(demi_sgafree(&sgas[0]));
	sgas[0] = demi_sgaalloc(100);
	cr_assert_not_null(sgas[0].sga_buf);
	for (int i = 0; i < n; i++)
		EXPECT_OK(demi_sgafree(&sgas[i]));
}

/* demi_storage_sgaalloc refuses size 0 and sizes above 16 MiB with the empty sga, with or without io_uring. */
LIBOS_TEST(limits, storage_sgaalloc_sizes_give_null, .timeout = 10)
{
	lp_init(p);
	demi_sgarray_t sga = demi_storage_sgaalloc(0);
	cr_assert_null(sga.sga_buf);
	cr_assert_eq(sga.sga_numsegs, 0);
	sga = demi_storage_sgaalloc((16u << 20) + 1);
	cr_assert_null(sga.sga_buf);
	cr_assert_eq(sga.sga_numsegs, 0);
}
