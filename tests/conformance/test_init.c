/* PDPIX conformance: demi_init, configuration errors, and ENOSYS before demi_init (in every call). */
#include "conformance.h"

#include <demi/shutdown.h>
#include <demi/userdata.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct demi_args no_args(void)
{
	static char *argv[] = { "conformance", NULL };
	struct demi_args a = { .argc = 1, .argv = argv, .callback = NULL };
	return a;
}

/* Redirects stderr into a file for the duration of one call. */
struct capture {
	int saved;
	FILE *f;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	cr_assert_not_null(c->f);
	c->saved = dup(2);
	cr_assert_geq(c->saved, 0);
	cr_assert_geq(dup2(fileno(c->f), 2), 0);
}

/* Restores stderr; returns how many lines were written, the first one in line. */
static int capture_end(struct capture *c, char *line, size_t len)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	rewind(c->f);
	int lines = 0;
	char buf[1024];
	line[0] = '\0';
	while (fgets(buf, sizeof(buf), c->f)) {
		if (lines++ == 0)
			snprintf(line, len, "%s", buf);
	}
	fclose(c->f);
	return lines;
}

/*
 * demi_init must fail with EINVAL, print exactly one non-empty line on stderr,
 * leave the thread without a libOS (calls answer ENOSYS), and not prevent a
 * later, correct demi_init.
 */
static void expect_init_einval(const struct libos_param *p, const char *what)
{
	watchdog_arm();
	struct demi_args a = no_args();
	struct capture c;
	capture_start(&c);
	int err = demi_init(&a);
	char line[1024];
	int lines = capture_end(&c, line, sizeof(line));
	cr_assert_eq(err, EINVAL, "%s: demi_init gave %s, want EINVAL", what, ename(err));
	cr_assert_eq(lines, 1, "%s: want one line on stderr, got %d (first: %s)", what, lines, line);
	cr_assert_gt(strlen(line), 1, "%s: the stderr line is empty", what);
	int qd;
	EXPECT_ERR(ENOSYS, demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	unsetenv("CONFIG_PATH");
	lp_init(p);
}

LIBOS_TEST(init, twice_eexist, .timeout = 10)
{
	lp_init(p);
	struct demi_args a = no_args();
	EXPECT_ERR(EEXIST, demi_init(&a));
	/* The first instance is untouched. */
	int qd;
	if (HAS_SOCKETS(p))
		EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	else
		EXPECT_OK(demi_queue(&qd));
	EXPECT_OK(demi_close(qd));
}

LIBOS_TEST(init, unknown_libos_einval, .timeout = 10)
{
	unsetenv("CONFIG_PATH");
	setenv("LIBOS", "no-such-libos", 1);
	expect_init_einval(p, "LIBOS=no-such-libos");
}

LIBOS_TEST(init, missing_config_einval, .timeout = 10)
{
	setenv("LIBOS", p->name, 1);
	setenv("CONFIG_PATH", "/nonexistent/demi-conformance/config.yaml", 1);
	expect_init_einval(p, "missing CONFIG_PATH file");
}

LIBOS_TEST(init, directory_config_einval, .timeout = 10)
{
	setenv("LIBOS", p->name, 1);
	setenv("CONFIG_PATH", "/", 1);
	expect_init_einval(p, "CONFIG_PATH is a directory");
}

/* Writes text to a fresh temporary file and points $CONFIG_PATH at it. */
static void config_file(char *path, const char *text)
{
	strcpy(path, "/tmp/demi-conformance-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	setenv("CONFIG_PATH", path, 1);
}

LIBOS_TEST(init, broken_yaml_einval, .timeout = 10)
{
	char path[64];
	setenv("LIBOS", p->name, 1);
	config_file(path, "dpdk:\n  eal_init: [\"-c\", \"0xff\"\ninetstack_config:\n  mtu: 1500\n");
	expect_init_einval(p, "unbalanced YAML");
	unlink(path);
}

LIBOS_TEST(init, yaml_not_a_mapping_einval, .timeout = 10)
{
	char path[64];
	setenv("LIBOS", p->name, 1);
	config_file(path, "demikernel: [1, 2\n\t: :\n");
	expect_init_einval(p, "malformed YAML with a tab");
	unlink(path);
}

LIBOS_TEST(init, unknown_config_key_einval, .timeout = 10)
{
	char path[64];
	setenv("LIBOS", p->name, 1);
	config_file(path, "inetstack_config:\n  mtu: 1500\n  mtux: 9000\n");
	expect_init_einval(p, "unknown key");
	unlink(path);
}

/* The result of one call made without a libOS, checked later in the test's main thread. */
struct call_result {
	const char *what;
	int got;
};

#define RECORD(call) (r[n++] = (struct call_result){ #call, (call) })

/*
 * Makes every call of the API; in a thread with no libOS each must answer
 * ENOSYS. Records instead of asserting: Criterion's assertions belong to the
 * test's own thread.
 */
static int call_everything(struct call_result *r)
{
	int n = 0;
	int qd = 0, off = 0, count = 0;
	demi_qtoken_t qt = 0;
	demi_qresult_t qr;
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	int one = 1;
	socklen_t olen = sizeof(one);
	demi_sgarray_t sga;
	memset(&sga, 0, sizeof(sga));
	sga.sga_buf = (void *)0x100000001ull;
	sga.sga_numsegs = 1;
	sga.sga_segs[0].sgaseg_buf = &one;
	sga.sga_segs[0].sgaseg_len = sizeof(one);
	demi_qtoken_t qts[1] = { 0x100000001ull };
	struct timespec zero = ms_ts(0);

	RECORD(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	RECORD(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	RECORD(demi_bind(0, (const struct sockaddr *)&a, sizeof(a)));
	RECORD(demi_listen(0, 16));
	RECORD(demi_accept(&qt, 0));
	RECORD(demi_connect(&qt, 0, (const struct sockaddr *)&a, sizeof(a)));
	RECORD(demi_close(0));
	RECORD(demi_push(&qt, 0, &sga));
	RECORD(demi_pushto(&qt, 0, &sga, (const struct sockaddr *)&a, sizeof(a)));
	RECORD(demi_pop(&qt, 0));
	RECORD(demi_setsockopt(0, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	RECORD(demi_getsockopt(0, SOL_SOCKET, SO_REUSEADDR, &one, &olen));
	RECORD(demi_getpeername(0, (struct sockaddr *)&a, &alen));
	RECORD(demi_getsockname(0, (struct sockaddr *)&a, &alen));
	RECORD(demi_sgafree(&sga));
	RECORD(demi_wait(&qr, qts[0], &zero));
	RECORD(demi_wait(&qr, qts[0], NULL));
	RECORD(demi_wait_any(&qr, &off, qts, 1, &zero));
	RECORD(demi_wait_next_n(&qr, 1, &count, &zero));
	RECORD(demi_create_pipe(&qd, "demi-conformance"));
	RECORD(demi_open_pipe(&qd, "demi-conformance"));
	RECORD(demi_queue(&qd));
	/* Extensions: <demi/shutdown.h>, <demi/userdata.h>. */
	uint64_t ud = 0;
	RECORD(demi_shutdown(0, SHUT_WR));
	RECORD(demi_close_flush(&qt, 0));
	RECORD(demi_qtoken_set_ud(qts[0], 1));
	RECORD(demi_wait_next_n_ud(&qr, &ud, 1, &count, &zero));
	RECORD(demi_wait_next_n_ud(&qr, VNULL(uint64_t *), 1, &count, &zero));
	/* The missing libOS is found before the arguments are looked at. */
	RECORD(demi_socket(VNULL(int *), AF_INET, SOCK_STREAM, 0));
	RECORD(demi_wait(VNULL(demi_qresult_t *), 0, NULL));
	RECORD(demi_sgafree(VNULL(demi_sgarray_t *)));
	/* Without a libOS, sgaalloc gives the NULL sga: recorded as ENOSYS when it does. */
	demi_sgarray_t none = demi_sgaalloc(64);
	r[n++] = (struct call_result){ "demi_sgaalloc(64) gives sga_buf NULL, sga_numsegs 0",
				       !none.sga_buf && none.sga_numsegs == 0 ? ENOSYS : 0 };
	return n;
}

#define MAX_CALLS 64

static void assert_all_enosys(const struct call_result *r, int n)
{
	cr_assert_gt(n, 20);
	for (int i = 0; i < n; i++)
		cr_expect_eq(r[i].got, ENOSYS, "%s: got %s, want ENOSYS", r[i].what, ename(r[i].got));
}

Test(before_init, every_call_enosys, .timeout = 10)
{
	watchdog_arm();
	struct call_result r[MAX_CALLS];
	int n = call_everything(r);
	assert_all_enosys(r, n);
}

struct thread_calls {
	struct call_result r[MAX_CALLS];
	int n;
};

static void *thread_calls(void *arg)
{
	struct thread_calls *tc = arg;
	tc->n = call_everything(tc->r);
	return NULL;
}

struct own_init {
	int type; /* of the socket to create there; 0: a memory queue (no sockets) */
	int err;  /* of demi_init, demi_socket or demi_queue, or 0 */
};

/* demi_init in a thread of its own, then a queue there. */
static void *thread_own_init(void *arg)
{
	struct own_init *oi = arg;
	struct demi_args a = no_args();
	int qd;
	oi->err = demi_init(&a);
	if (oi->err == 0)
		oi->err = oi->type ? demi_socket(&qd, AF_INET, oi->type, 0) : demi_queue(&qd);
	return NULL;
}

/* State is thread-local: another thread has no libOS until it calls demi_init itself. */
LIBOS_TEST(init, other_thread_enosys, .timeout = 10)
{
	lp_init(p);
	pthread_t t;
	static struct thread_calls tc;
	cr_assert_eq(pthread_create(&t, NULL, thread_calls, &tc), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	assert_all_enosys(tc.r, tc.n);
	/* One libOS instance per thread: a second thread's demi_init is not EEXIST. */
	struct own_init oi = { .type = !HAS_SOCKETS(p) ? 0 : (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, .err = -1 };
	cr_assert_eq(pthread_create(&t, NULL, thread_own_init, &oi), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(oi.err, 0, "demi_init and a queue in a second thread: %s", ename(oi.err));
}

/* demi_fini (extension, <demi/fini.h>): tears the thread's runtime down; demi_init works again after. */
#include <demi/fini.h>

/* A queue of the libOS: a socket where it has sockets, else a memory queue. */
static int some_queue(const struct libos_param *p)
{
	int qd;
	if (HAS_SOCKETS(p))
		EXPECT_OK(demi_socket(&qd, AF_INET, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, 0));
	else
		EXPECT_OK(demi_queue(&qd));
	return qd;
}

LIBOS_TEST(fini, before_init_enosys, .timeout = 10)
{
	(void)p;
	EXPECT_ERR(ENOSYS, demi_fini());
}

LIBOS_TEST(fini, init_use_fini_init_again, .timeout = 20)
{
	/* Without CAP_REINIT (catnip) one round: fini, then every call as before init. */
	int rounds = (p->caps & CAP_REINIT) ? 3 : 1;
	for (int round = 0; round < rounds; round++) {
		lp_init(p);
		(void)some_queue(p); /* left open: demi_fini closes it */
		int qd;
		demi_qtoken_t qt;
		EXPECT_OK(demi_queue(&qd));
		demi_sgarray_t sga = demi_sgaalloc(64);
		cr_assert_not_null(sga.sga_buf);
		EXPECT_OK(demi_push(&qt, qd, &sga));
		demi_qresult_t qr;
		EXPECT_OK(demi_wait(&qr, qt, NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
		EXPECT_OK(demi_pop(&qt, qd));
		EXPECT_OK(demi_wait(&qr, qt, NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
		EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
		EXPECT_OK(demi_sgafree(&sga));
		EXPECT_OK(demi_fini());
		/* As before demi_init: every call answers ENOSYS. */
		EXPECT_ERR(ENOSYS, demi_queue(&qd));
		EXPECT_ERR(ENOSYS, demi_close(qd));
		EXPECT_ERR(ENOSYS, demi_pop(&qt, qd));
		EXPECT_ERR(ENOSYS, demi_wait(&qr, qt, NULL));
		sga = demi_sgaalloc(64);
		cr_assert_null(sga.sga_buf, "demi_sgaalloc after demi_fini must fail");
	}
}

LIBOS_TEST(fini, twice_enosys, .timeout = 10)
{
	lp_init(p);
	EXPECT_OK(demi_fini());
	EXPECT_ERR(ENOSYS, demi_fini());
	if (!(p->caps & CAP_REINIT))
		return;
	lp_init(p);
	EXPECT_OK(demi_fini());
}

/* Open queues and pending tokens are closed and cancelled by demi_fini; nothing is left for the next runtime. */
LIBOS_TEST(fini, open_queues_pending_tokens, .timeout = 20)
{
	lp_init(p);
	int mq;
	demi_qtoken_t pending[3];
	int n = 0;
	EXPECT_OK(demi_queue(&mq));
	EXPECT_OK(demi_pop(&pending[n++], mq));
	if (HAS_SOCKETS(p)) {
		int qd = bound_socket(p, (p->caps & CAP_TCP) ? SOCK_STREAM : SOCK_DGRAM, NULL);
		if (p->caps & CAP_TCP) {
			EXPECT_OK(demi_listen(qd, 8));
			EXPECT_OK(demi_accept(&pending[n++], qd));
		} else {
			EXPECT_OK(demi_pop(&pending[n++], qd));
		}
		(void)some_queue(p); /* one more, never bound */
	}
	EXPECT_OK(demi_fini());
	demi_qresult_t qr;
	for (int i = 0; i < n; i++)
		EXPECT_ERR(ENOSYS, demi_wait(&qr, pending[i], NULL));
	if (!(p->caps & CAP_REINIT))
		return;
	/* A new runtime starts empty: its token and queue tables are whole again. */
	lp_init(p);
	for (int i = 0; i < 64; i++) {
		int qd;
		demi_qtoken_t qt;
		EXPECT_OK(demi_queue(&qd));
		EXPECT_OK(demi_pop(&qt, qd));
		EXPECT_OK(demi_close(qd));
		EXPECT_OK(demi_wait(&qr, qt, NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	}
	EXPECT_OK(demi_fini());
}

/* Everything stderr received since capture_start, NUL-terminated in buf. */
static void capture_all(struct capture *c, char *buf, size_t len)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	rewind(c->f);
	size_t n = fread(buf, 1, len - 1, c->f);
	buf[n] = '\0';
	fclose(c->f);
}

/* A TCP connection over the libOS: listen, connect, accept, one push and pop, close both ends. */
static void one_connection(const struct libos_param *p)
{
	struct sockaddr_in addr;
	int lqd = bound_socket(p, SOCK_STREAM, &addr), cqd;
	EXPECT_OK(demi_listen(lqd, 4));
	EXPECT_OK(demi_socket(&cqd, AF_INET, SOCK_STREAM, 0));
	demi_qtoken_t at, ct, qt;
	demi_qresult_t qr;
	EXPECT_OK(demi_accept(&at, lqd));
	EXPECT_OK(demi_connect(&ct, cqd, (const struct sockaddr *)&addr, sizeof(addr)));
	EXPECT_OK(demi_wait(&qr, ct, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_CONNECT);
	EXPECT_OK(demi_wait(&qr, at, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_ACCEPT);
	int sqd = qr.qr_value.ares.qd;
	demi_sgarray_t sga = demi_sgaalloc(8);
	EXPECT_OK(demi_push(&qt, cqd, &sga));
	EXPECT_OK(demi_wait(&qr, qt, NULL));
	EXPECT_OK(demi_sgafree(&sga));
	EXPECT_OK(demi_pop(&qt, sqd));
	EXPECT_OK(demi_wait(&qr, qt, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	EXPECT_OK(demi_sgafree(&qr.qr_value.sga));
	EXPECT_OK(demi_close(cqd));
	EXPECT_OK(demi_close(sqd));
	EXPECT_OK(demi_close(lqd));
}

/* DEMI_LOG=trace: connection events (debug) and a line per operation started and done (trace). */
LIBOS_TEST(log, trace_connection_events_and_ops, .timeout = 20)
{
	NEED(CAP_TCP);
	setenv("DEMI_LOG", "trace", 1);
	struct capture c;
	capture_start(&c);
	lp_init(p);
	one_connection(p);
	EXPECT_OK(demi_fini());
	static char out[1 << 16];
	capture_all(&c, out, sizeof(out));
	const char *conn = strcmp(p->name, "catnap") == 0 ? ": accepted" : "SYN_RECEIVED -> ESTABLISHED";
	cr_assert_not_null(strstr(out, conn), "no '%s' line in:\n%s", conn, out);
	conn = strcmp(p->name, "catnap") == 0 ? ": connected" : "SYN_SENT -> ESTABLISHED";
	cr_assert_not_null(strstr(out, conn), "no '%s' line in:\n%s", conn, out);
	cr_assert_not_null(strstr(out, "op start: qd"), "no op start line in:\n%s", out);
	cr_assert_not_null(strstr(out, " accept qt "), "no accept op line in:\n%s", out);
	cr_assert_not_null(strstr(out, "op done: qd"), "no op done line in:\n%s", out);
}

/* The default level (warn) says nothing about a clean connection. */
LIBOS_TEST(log, quiet_by_default, .timeout = 20)
{
	NEED(CAP_TCP);
	unsetenv("DEMI_LOG");
	struct capture c;
	capture_start(&c);
	lp_init(p);
	one_connection(p);
	EXPECT_OK(demi_fini());
	static char out[1 << 16];
	capture_all(&c, out, sizeof(out));
	cr_assert_null(strstr(out, "debug:"), "debug lines at the default level:\n%s", out);
	cr_assert_null(strstr(out, "trace:"), "trace lines at the default level:\n%s", out);
}
