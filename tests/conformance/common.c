/* PDPIX conformance suite: the libOS table, parameters from $DEMI_TEST_LIBOSES, and shared helpers. */
#include "conformance.h"

#include <demi/pipe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *volatile null_ptr = NULL;

/*
 * What each libOS supports and the address its sockets use. A new libOS plugs
 * in here with one line; a name missing from the table is assumed to support
 * everything on loopback, so that gaps show up as failures, not silent skips.
 */
static const struct libos_param known[] = {
	{ .name = "catnap", .addr = "127.0.0.1", .caps = CAP_ALL },
	/* IP_A of scripts/netns.sh run2; tests/catpowder/run.sh runs it inside NS_A. */
	{ .name = "catpowder", .addr = "10.0.0.1", .caps = CAP_ALL },
	/* tests/catnip/run.sh, in its namespace; DPDK's EAL starts once per process, so no demi_init after demi_fini. */
	{ .name = "catnip", .addr = "10.0.0.1", .caps = CAP_TCP | CAP_UDP | CAP_SOCKOPT },
	/* Pipes and memory queues only: every socket row must answer ENOTSUP, the rest as anywhere. */
	{ .name = "catmem", .addr = "127.0.0.1", .caps = CAP_REINIT },
};

static void params_cleanup(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

struct criterion_test_params libos_params(void)
{
	const char *env = getenv("DEMI_TEST_LIBOSES");
	char list[256];
	snprintf(list, sizeof(list), "%s", env && *env ? env : "catnap catmem");
	size_t max = 1;
	for (const char *c = list; *c; c++)
		max += *c == ',' || *c == ' ';
	/* cr_malloc: the parameters must reach the test processes Criterion forks. */
	struct libos_param *ps = cr_malloc(max * sizeof(*ps));
	size_t n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		struct libos_param lp = { .caps = CAP_ALL };
		snprintf(lp.name, sizeof(lp.name), "%s", tok);
		snprintf(lp.addr, sizeof(lp.addr), "%s", "127.0.0.1");
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(known[i].name, tok) == 0)
				lp = known[i];
		const char *addr = getenv("DEMI_TEST_ADDR");
		if (addr && *addr)
			snprintf(lp.addr, sizeof(lp.addr), "%s", addr);
		ps[n++] = lp;
	}
	return cr_make_param_array(struct libos_param, ps, n, params_cleanup);
}

const char *ename(int err)
{
	if (err == 0)
		return "0";
	const char *s = strerrorname_np(err);
	return s ? s : "?";
}

static void on_watchdog(int sig)
{
	static const char msg[] = "conformance: watchdog: the test ran too long (a call that must not block did)\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void watchdog_arm(void)
{
	signal(SIGALRM, on_watchdog);
	alarm(WATCHDOG_S);
}

void lp_init(const struct libos_param *p)
{
	watchdog_arm();
	setenv("LIBOS", p->name, 1);
	char *argv[] = { "conformance", NULL };
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	int err = demi_init(&args);
	cr_assert_eq(err, 0, "demi_init(LIBOS=%s): %s", p->name, ename(err));
}

struct sockaddr_in lp_addr(const struct libos_param *p, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, p->addr, &a.sin_addr), 1, "bad address %s", p->addr);
	return a;
}

struct timespec ms_ts(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	return ts;
}

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct sockaddr_in sock_name(int qd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	memset(&a, 0, sizeof(a));
	EXPECT_OK(demi_getsockname(qd, (struct sockaddr *)&a, &len));
	cr_assert_eq(len, sizeof(a));
	cr_assert_eq(a.sin_family, AF_INET);
	return a;
}

int bound_socket(const struct libos_param *p, int type, struct sockaddr_in *out)
{
	int qd;
	EXPECT_OK(demi_socket(&qd, AF_INET, type, 0));
	struct sockaddr_in a = lp_addr(p, 0);
	EXPECT_OK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
	if (out) {
		*out = sock_name(qd);
		cr_assert_neq(out->sin_port, 0, "getsockname after binding port 0 must give the chosen port");
	}
	return qd;
}

int tcp_listener(const struct libos_param *p, int backlog, struct sockaddr_in *out)
{
	int qd = bound_socket(p, SOCK_STREAM, out);
	EXPECT_OK(demi_listen(qd, backlog));
	return qd;
}

demi_qresult_t wait_ms(demi_qtoken_t qt, long ms)
{
	demi_qresult_t qr;
	struct timespec ts = ms_ts(ms);
	int err = demi_wait(&qr, qt, &ts);
	cr_assert_eq(err, 0, "demi_wait: %s", ename(err));
	cr_assert_eq(qr.qr_qt, qt, "the result names its own token");
	return qr;
}

demi_qresult_t wait_op(demi_qtoken_t qt, demi_opcode_t opc, long ms)
{
	demi_qresult_t qr = wait_ms(qt, ms);
	cr_assert_eq(qr.qr_opcode, opc, "opcode %d, want %d (qr_ret %s)", qr.qr_opcode, opc,
		     ename((int)qr.qr_ret));
	if (opc != DEMI_OPC_FAILED)
		cr_assert_eq(qr.qr_ret, 0);
	return qr;
}

void tcp_pair(const struct libos_param *p, int *lqd, int *cqd, int *sqd)
{
	struct sockaddr_in la;
	*lqd = tcp_listener(p, 16, &la);
	demi_qtoken_t aqt, cqt;
	EXPECT_OK(demi_accept(&aqt, *lqd));
	EXPECT_OK(demi_socket(cqd, AF_INET, SOCK_STREAM, 0));
	EXPECT_OK(demi_connect(&cqt, *cqd, (const struct sockaddr *)&la, sizeof(la)));
	cr_assert_neq(aqt, 0, "a qtoken is never 0");
	cr_assert_neq(cqt, 0, "a qtoken is never 0");
	demi_qresult_t qr = wait_op(cqt, DEMI_OPC_CONNECT, 5000);
	cr_assert_eq(qr.qr_qd, *cqd);
	qr = wait_op(aqt, DEMI_OPC_ACCEPT, 5000);
	cr_assert_eq(qr.qr_qd, *lqd);
	*sqd = qr.qr_value.ares.qd;
	cr_assert_geq(*sqd, 0);
	/* ares.addr is the client's address. */
	struct sockaddr_in ca = sock_name(*cqd);
	cr_assert_eq(qr.qr_value.ares.addr.sin_family, AF_INET);
	cr_assert_eq(qr.qr_value.ares.addr.sin_port, ca.sin_port);
	cr_assert_eq(qr.qr_value.ares.addr.sin_addr.s_addr, ca.sin_addr.s_addr);
}

void pipe_pair(int *creator, int *opener)
{
	static unsigned n;
	char name[64];
	snprintf(name, sizeof(name), "conformance-%d-%u", (int)getpid(), n++);
	EXPECT_OK(demi_create_pipe(creator, name));
	EXPECT_OK(demi_open_pipe(opener, name));
}

demi_sgarray_t sga_pattern(size_t size, unsigned seed)
{
	demi_sgarray_t sga = demi_sgaalloc(size);
	cr_assert_not_null(sga.sga_buf, "demi_sgaalloc(%zu)", size);
	cr_assert_eq(sga.sga_numsegs, 1);
	cr_assert_eq(sga.sga_segs[0].sgaseg_len, size);
	uint8_t *d = sga.sga_segs[0].sgaseg_buf;
	for (size_t i = 0; i < size; i++)
		d[i] = pattern_byte(seed, i);
	return sga;
}

void push_pattern(int qd, size_t len, unsigned seed)
{
	demi_sgarray_t sga = sga_pattern(len, seed);
	demi_qtoken_t qt;
	EXPECT_OK(demi_push(&qt, qd, &sga));
	EXPECT_OK(demi_sgafree(&sga));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_PUSH, 10000);
	cr_assert_eq(qr.qr_qd, qd);
}

void pop_expect(int qd, size_t len, unsigned seed)
{
	size_t got = 0;
	while (got < len) {
		demi_qtoken_t qt;
		EXPECT_OK(demi_pop(&qt, qd));
		demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP, 10000);
		cr_assert_eq(qr.qr_qd, qd);
		demi_sgarray_t *sga = &qr.qr_value.sga;
		cr_assert_eq(sga->sga_numsegs, 1);
		uint32_t n = sga->sga_segs[0].sgaseg_len;
		cr_assert_gt(n, 0, "stream ended after %zu of %zu bytes", got, len);
		cr_assert_leq(got + n, len, "more bytes than were sent");
		const uint8_t *d = sga->sga_segs[0].sgaseg_buf;
		for (uint32_t i = 0; i < n; i++)
			if (d[i] != pattern_byte(seed, got + i))
				cr_assert_fail("byte %zu is %#x, want %#x", got + i, d[i], pattern_byte(seed, got + i));
		got += n;
		EXPECT_OK(demi_sgafree(sga));
	}
}
