/*
 * End-to-end runs on loopback: the tcp_echo example as server and client, a
 * thousand concurrent connections to a Demi echo server, 1 MiB both ways, and
 * a UDP echo. Each subcommand is one meson test; servers run in child
 * processes that die with the test (PR_SET_PDEATHSIG), and a watchdog bounds
 * every run. Exit 0: pass; 1: fail (with a line on stderr saying what).
 *
 *   integ tcp-echo TCP_ECHO          the example as server and client (64 B and 1 MiB messages)
 *   integ many-linux TCP_ECHO [N]    N concurrent Linux-socket clients against the example server
 *   integ many-demi TCP_ECHO [N]     N concurrent connections from one Demi client process
 *   integ kv KV_SERVER               the kv_server example (doc/guide.md): pipelined clients, split
 *                                    requests, QUIT, disconnects, idle timeout, pipe, SIGTERM, its log
 *   integ large                      1 MiB (and 8 MiB) each way at once between two Demi processes
 *   integ udp                        a Demi UDP echo server, Demi and Linux clients
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/storage.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 55 /* meson kills at 60 s; fail with a message first */

static pid_t server_pid = -1;

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
}

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "integ: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	stop_server();
	exit(1);
}

#define CHECK(call)                                                            \
	do {                                                                   \
		int err_ = (call);                                             \
		if (err_ != 0)                                                 \
			fail("%s:%d: %s: %s", __FILE__, __LINE__, #call,       \
			     strerror(err_));                                  \
	} while (0)

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "integ: FAIL: watchdog: the run took too long\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
	_exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Byte i of the stream that `seed` names. */
static inline uint8_t pat(unsigned seed, size_t i)
{
	return (uint8_t)((i * 167u + seed * 13u + (i >> 9) + (i >> 17)) & 0xff);
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A loopback TCP port that was free a moment ago (the example server cannot take port 0). */
static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		fail("free_port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fail("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		fail("RLIMIT_NOFILE: need %lu descriptors, the hard limit allows %lu", (unsigned long)want,
		     (unsigned long)rl.rlim_max);
}

static void demi_start(void)
{
	char *argv[] = { "integ", NULL };
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
}

/* ---- the tcp_echo example ---- */

/*
 * Starts `tcp_echo server 127.0.0.1:PORT` and waits for its "listening" line.
 * Returns false when it exited first (the port was taken meanwhile).
 */
static bool start_server_argv(char *const argv[], int *keep_out);

static bool start_example_server(const char *tcp_echo, uint16_t port)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	char *const argv[] = { (char *)tcp_echo, "server", addr, NULL };
	return start_server_argv(argv, NULL);
}

/*
 * Starts argv[0] with argv and waits for its "listening" line; false when it
 * exited first. keep_out: where to keep the read end of its stdout, else closed.
 */
static bool start_server_argv(char *const argv[], int *keep_out)
{
	const char *tcp_echo = argv[0];
	int out[2];
	if (pipe(out) < 0)
		fail("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execv(tcp_echo, argv);
		fprintf(stderr, "exec %s: %s\n", tcp_echo, strerror(errno));
		_exit(127);
	}
	server_pid = pid;
	close(out[1]);
	char buf[256];
	size_t got = 0;
	uint64_t deadline = now_ns() + 10000000000ull;
	while (!memchr(buf, '\n', got)) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		int left = (int)((deadline - now_ns()) / 1000000);
		if (now_ns() >= deadline || poll(&pfd, 1, left) <= 0)
			fail("%s server did not say it was listening within 10 s", tcp_echo);
		ssize_t n = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0) {
			close(out[0]);
			waitpid(pid, NULL, 0);
			server_pid = -1;
			return false;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (!strstr(buf, "listening"))
		fail("%s server said: %s", tcp_echo, buf);
	if (keep_out) {
		*keep_out = out[0];
		return true;
	}
	/* Its later output is not read: a closed pipe only costs it SIGPIPE on a printf it does not make. */
	close(out[0]);
	return true;
}

static uint16_t example_server(const char *tcp_echo)
{
	for (int tries = 0; tries < 5; tries++) {
		uint16_t port = free_port();
		if (start_example_server(tcp_echo, port))
			return port;
	}
	fail("tcp_echo server would not start");
	return 0;
}

/* Runs `tcp_echo client 127.0.0.1:PORT n size`; fails unless it exits 0. */
static void run_example_client(const char *tcp_echo, uint16_t port, long n, long size)
{
	char addr[32], ns[32], ss[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(ns, sizeof(ns), "%ld", n);
	snprintf(ss, sizeof(ss), "%ld", size);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(tcp_echo, tcp_echo, "client", addr, ns, ss, (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("%s client %ld x %ld: %s %d", tcp_echo, n, size, WIFEXITED(st) ? "exit status" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	const char *name = strrchr(tcp_echo, '/');
	printf("integ: %s client %ld x %ld: ok\n", name ? name + 1 : tcp_echo, n, size);
}

static void server_still_alive(void)
{
	int st;
	if (waitpid(server_pid, &st, WNOHANG) != 0)
		fail("the echo server died (%s %d)", WIFSIGNALED(st) ? "signal" : "exit",
		     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static int cmd_tcp_echo(const char *tcp_echo)
{
	uint16_t port = example_server(tcp_echo);
	run_example_client(tcp_echo, port, 2000, 64);
	run_example_client(tcp_echo, port, 200, 1);
	run_example_client(tcp_echo, port, 20, 65536 + 17);
	run_example_client(tcp_echo, port, 4, 1 << 20);
	/* Two clients at once. */
	pid_t other = fork();
	if (other == 0) {
		server_pid = -1; /* the parent owns the server */
		run_example_client(tcp_echo, port, 3000, 100);
		_exit(0);
	}
	run_example_client(tcp_echo, port, 4, 1 << 20);
	int st;
	waitpid(other, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("concurrent client failed");
	server_still_alive();
	stop_server();
	return 0;
}

/* ---- many connections, Linux-socket clients ---- */

#define MSG 700 /* bytes each connection sends per round: always fits the socket buffer at once */

struct conn {
	int fd;
	size_t sent, got;
	unsigned seed;
};

/* Sends the next round of x's stream; a round is small enough to never block. */
static void send_round(struct conn *x)
{
	uint8_t out[MSG];
	for (size_t j = 0; j < MSG; j++)
		out[j] = pat(x->seed, x->sent + j);
	ssize_t w = send(x->fd, out, MSG, MSG_NOSIGNAL);
	if (w != MSG)
		fail("conn %u: send: %s", x->seed, w < 0 ? strerror(errno) : "short");
	x->sent += MSG;
}

static int cmd_many_linux(const char *tcp_echo, int n)
{
	raise_nofile((rlim_t)n * 2 + 256);
	uint16_t port = example_server(tcp_echo);
	struct sockaddr_in a = loopback(port);
	struct conn *c = calloc((size_t)n, sizeof(*c));
	int ep = epoll_create1(0);
	if (!c || ep < 0)
		fail("setup: %s", strerror(errno));
	/* Every connection is open before any data flows: n concurrent connections. */
	for (int i = 0; i < n; i++) {
		c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c[i].fd < 0)
			fail("socket %d: %s", i, strerror(errno));
		if (connect(c[i].fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			fail("connect %d: %s", i, strerror(errno));
		fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
		c[i].seed = (unsigned)i;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
	}
	const int rounds = 3;
	const size_t total = (size_t)MSG * rounds;
	for (int i = 0; i < n; i++)
		send_round(&c[i]);
	int done = 0;
	uint8_t buf[4096];
	struct epoll_event evs[256];
	uint64_t deadline = now_ns() + 40000000000ull;
	while (done < n) {
		if (now_ns() > deadline)
			fail("%d of %d connections echoed everything within 40 s", done, n);
		int k = epoll_wait(ep, evs, 256, 1000);
		for (int e = 0; e < k; e++) {
			struct conn *x = &c[evs[e].data.u32];
			for (;;) {
				ssize_t r = recv(x->fd, buf, sizeof(buf), 0);
				if (r < 0 && errno == EAGAIN)
					break;
				if (r <= 0)
					fail("conn %u: the server closed or failed after %zu of %zu bytes (%s)", x->seed,
					     x->got, total, r < 0 ? strerror(errno) : "EOF");
				for (ssize_t j = 0; j < r; j++)
					if (buf[j] != pat(x->seed, x->got + (size_t)j))
						fail("conn %u: echoed byte %zu is %#x, want %#x", x->seed, x->got + (size_t)j,
						     buf[j], pat(x->seed, x->got + (size_t)j));
				x->got += (size_t)r;
				if (x->got > x->sent)
					fail("conn %u: more bytes came back than were sent", x->seed);
				if (x->got == total) {
					done++;
					epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
					break;
				}
				/* A round came back whole: its successor goes out. */
				if (x->got == x->sent)
					send_round(x);
			}
		}
	}
	/* All done while all were open; now close them and check the server serves on. */
	for (int i = 0; i < n; i++)
		close(c[i].fd);
	server_still_alive();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || send(fd, "ping", 4, 0) != 4)
		fail("the server stopped accepting after %d connections", n);
	char pong[4];
	size_t g = 0;
	while (g < 4) {
		ssize_t r = recv(fd, pong + g, 4 - g, 0);
		if (r <= 0)
			fail("no echo after %d connections", n);
		g += (size_t)r;
	}
	if (memcmp(pong, "ping", 4) != 0)
		fail("wrong echo after %d connections", n);
	close(fd);
	server_still_alive();
	stop_server();
	printf("integ: %d concurrent Linux-socket connections, %zu bytes each echoed: ok\n", n, total);
	free(c);
	return 0;
}

/* ---- many connections from one Demi process ---- */

struct dconn {
	int qd;
	size_t got;
	bool pushed;
};

static int cmd_many_demi(const char *tcp_echo, int n)
{
	raise_nofile((rlim_t)n * 2 + 256);
	uint16_t port = example_server(tcp_echo);
	demi_start();
	struct sockaddr_in a = loopback(port);
	struct dconn *c = calloc((size_t)n, sizeof(*c));
	demi_qtoken_t *qts = calloc((size_t)n, sizeof(*qts));
	int *owner = calloc((size_t)n, sizeof(*owner));
	if (!c || !qts || !owner)
		fail("out of memory");
	/* Connect all at once; the tokens are collected with demi_wait_any in any order. */
	for (int i = 0; i < n; i++) {
		CHECK(demi_socket(&c[i].qd, AF_INET, SOCK_STREAM, 0));
		CHECK(demi_connect(&qts[i], c[i].qd, (const struct sockaddr *)&a, sizeof(a)));
		owner[i] = i;
	}
	int live = n;
	struct timespec ts = { .tv_sec = 20, .tv_nsec = 0 };
	int connected = 0, finished = 0;
	/* Every connection: connect, then one push of MSG bytes and pops until they all came back. */
	while (live > 0) {
		demi_qresult_t qr;
		int off;
		int err = demi_wait_any(&qr, &off, qts, live, &ts);
		if (err)
			fail("demi_wait_any with %d tokens (%d connected, %d finished): %s", live, connected, finished,
			     strerror(err));
		int i = owner[off];
		struct dconn *x = &c[i];
		if (qr.qr_qd != x->qd)
			fail("result for qd %d came on the token of qd %d", qr.qr_qd, x->qd);
		bool again = true;
		switch (qr.qr_opcode) {
		case DEMI_OPC_CONNECT: {
			connected++;
			demi_sgarray_t sga = demi_sgaalloc(MSG);
			if (!sga.sga_buf)
				fail("sgaalloc");
			uint8_t *d = sga.sga_segs[0].sgaseg_buf;
			for (size_t j = 0; j < MSG; j++)
				d[j] = pat((unsigned)i, j);
			CHECK(demi_push(&qts[off], x->qd, &sga));
			CHECK(demi_sgafree(&sga));
			break;
		}
		case DEMI_OPC_PUSH:
			x->pushed = true;
			CHECK(demi_pop(&qts[off], x->qd));
			break;
		case DEMI_OPC_POP: {
			demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
			if (seg->sgaseg_len == 0)
				fail("conn %d: the server closed after %zu bytes", i, x->got);
			const uint8_t *d = seg->sgaseg_buf;
			for (uint32_t j = 0; j < seg->sgaseg_len; j++)
				if (x->got + j >= MSG || d[j] != pat((unsigned)i, x->got + j))
					fail("conn %d: echoed byte %zu wrong", i, x->got + j);
			x->got += seg->sgaseg_len;
			CHECK(demi_sgafree(&qr.qr_value.sga));
			if (x->got == MSG) {
				finished++;
				again = false;
			} else {
				CHECK(demi_pop(&qts[off], x->qd));
			}
			break;
		}
		case DEMI_OPC_FAILED:
			fail("conn %d: operation failed: %s", i, strerror((int)qr.qr_ret));
			break;
		default:
			fail("conn %d: unexpected opcode %d", i, qr.qr_opcode);
		}
		if (!again) {
			/* This connection is done: its slot takes the last token. */
			live--;
			qts[off] = qts[live];
			owner[off] = owner[live];
		}
	}
	if (connected != n || finished != n)
		fail("%d connected, %d finished of %d", connected, finished, n);
	for (int i = 0; i < n; i++)
		CHECK(demi_close(c[i].qd));
	server_still_alive();
	stop_server();
	printf("integ: %d concurrent Demi connections echoed: ok\n", n);
	free(c);
	free(qts);
	free(owner);
	return 0;
}

/* ---- large messages both ways between two Demi processes ---- */

/* Reports a value to the parent through a pipe; returns it there. */
static void send_u16(int fd, uint16_t v)
{
	if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		_exit(3);
}

static uint16_t recv_u16(int fd)
{
	uint16_t v = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) <= 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		fail("the server did not report its port");
	return v;
}

/*
 * One side of a full-duplex exchange on a connected qd: sends `size` bytes
 * of pattern tx in `chunks` pushes, all queued at once, while it pops and
 * checks `size` bytes of pattern rx, then checks the stream ends (len 0)
 * after the peer closed if `expect_eof`.
 */
static void duplex(int qd, size_t size, int chunks, unsigned tx, unsigned rx, const char *who)
{
	demi_qtoken_t *qts = calloc((size_t)chunks + 1, sizeof(*qts));
	if (!qts)
		fail("out of memory");
	int n = 0;
	size_t per = size / (size_t)chunks;
	for (int k = 0; k < chunks; k++) {
		size_t len = k == chunks - 1 ? size - per * (size_t)k : per;
		demi_sgarray_t sga = demi_sgaalloc(len);
		if (!sga.sga_buf)
			fail("%s: sgaalloc(%zu)", who, len);
		uint8_t *d = sga.sga_segs[0].sgaseg_buf;
		for (size_t j = 0; j < len; j++)
			d[j] = pat(tx, per * (size_t)k + j);
		CHECK(demi_push(&qts[n++], qd, &sga));
		CHECK(demi_sgafree(&sga)); /* the stack holds the data until each push completes */
	}
	CHECK(demi_pop(&qts[n++], qd));
	int pushes_left = chunks;
	size_t got = 0;
	struct timespec ts = { .tv_sec = 20, .tv_nsec = 0 };
	while (pushes_left > 0 || got < size) {
		demi_qresult_t qr;
		int off;
		int err = demi_wait_any(&qr, &off, qts, n, &ts);
		if (err)
			fail("%s: wait (%d pushes left, %zu of %zu bytes in): %s", who, pushes_left, got, size,
			     strerror(err));
		qts[off] = qts[--n];
		if (qr.qr_opcode == DEMI_OPC_PUSH) {
			pushes_left--;
			continue;
		}
		if (qr.qr_opcode != DEMI_OPC_POP)
			fail("%s: opcode %d (%s)", who, qr.qr_opcode, strerror((int)qr.qr_ret));
		demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
		if (seg->sgaseg_len == 0)
			fail("%s: stream ended after %zu of %zu bytes", who, got, size);
		const uint8_t *d = seg->sgaseg_buf;
		for (uint32_t j = 0; j < seg->sgaseg_len; j++)
			if (got + j >= size || d[j] != pat(rx, got + j))
				fail("%s: byte %zu is %#x, want %#x", who, got + j, d[j], pat(rx, got + j));
		got += seg->sgaseg_len;
		CHECK(demi_sgafree(&qr.qr_value.sga));
		if (got < size)
			CHECK(demi_pop(&qts[n++], qd));
	}
	free(qts);
}

struct exchange {
	size_t size;
	int client_chunks, server_chunks;
};

static const struct exchange exchanges[] = {
	{ 1u << 20, 1, 1 },   /* 1 MiB each way, one sga */
	{ 1u << 20, 16, 3 },  /* queued pushes keep their order */
	{ 8u << 20, 1, 2 },   /* larger than the socket buffers */
};
#define NEXCHANGES (sizeof(exchanges) / sizeof(exchanges[0]))

static void large_server(int report)
{
	demi_start();
	int lqd;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loopback(0);
	CHECK(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)));
	CHECK(demi_listen(lqd, 16));
	socklen_t len = sizeof(a);
	CHECK(demi_getsockname(lqd, (struct sockaddr *)&a, &len));
	send_u16(report, ntohs(a.sin_port));
	for (size_t e = 0; e < NEXCHANGES; e++) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		CHECK(demi_accept(&qt, lqd));
		CHECK(demi_wait(&qr, qt, NULL));
		if (qr.qr_opcode != DEMI_OPC_ACCEPT)
			fail("server: accept failed");
		duplex(qr.qr_value.ares.qd, exchanges[e].size, exchanges[e].server_chunks, 200 + (unsigned)e,
		       100 + (unsigned)e, "server");
		CHECK(demi_close(qr.qr_value.ares.qd));
	}
	_exit(0);
}

static int cmd_large(void)
{
	int rep[2];
	if (pipe(rep) < 0)
		fail("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rep[0]);
		large_server(rep[1]);
	}
	server_pid = pid;
	close(rep[1]);
	struct sockaddr_in a = loopback(recv_u16(rep[0]));
	demi_start();
	for (size_t e = 0; e < NEXCHANGES; e++) {
		int qd;
		demi_qtoken_t qt;
		demi_qresult_t qr;
		CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
		CHECK(demi_connect(&qt, qd, (const struct sockaddr *)&a, sizeof(a)));
		CHECK(demi_wait(&qr, qt, NULL));
		if (qr.qr_opcode != DEMI_OPC_CONNECT)
			fail("client: connect: %s", strerror((int)qr.qr_ret));
		uint64_t t0 = now_ns();
		duplex(qd, exchanges[e].size, exchanges[e].client_chunks, 100 + (unsigned)e, 200 + (unsigned)e,
		       "client");
		/* The server closes after its side: the stream then ends with a zero-length pop. */
		CHECK(demi_pop(&qt, qd));
		struct timespec ts = { .tv_sec = 10, .tv_nsec = 0 };
		CHECK(demi_wait(&qr, qt, &ts));
		if (qr.qr_opcode != DEMI_OPC_POP || qr.qr_value.sga.sga_segs[0].sgaseg_len != 0)
			fail("client: expected the end of the stream after the exchange (opcode %d, len %u)",
			     qr.qr_opcode, qr.qr_value.sga.sga_segs[0].sgaseg_len);
		CHECK(demi_close(qd));
		printf("integ: %zu B each way (%d/%d pushes): ok in %.1f ms\n", exchanges[e].size,
		       exchanges[e].client_chunks, exchanges[e].server_chunks, (now_ns() - t0) / 1e6);
	}
	int st;
	waitpid(pid, &st, 0);
	server_pid = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("the server side failed (%s %d)", WIFEXITED(st) ? "exit" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

/* ---- the kv_server example (doc/guide.md) ---- */

/* A Linux-socket connection to the kv server; bufsize > 0: its SO_SNDBUF and SO_RCVBUF. */
static int kv_connect_buf(uint16_t port, int bufsize)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && bufsize > 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail("kv: connect: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int kv_connect(uint16_t port)
{
	return kv_connect_buf(port, 0);
}

/*
 * Back-pressure: a client that sends GETs and reads nothing is held back by
 * TCP once the server has MAX_INFLIGHT pushes out and stopped popping. Fails
 * if the server took 8 MiB of requests without their replies being read; then
 * reads every reply byte by byte.
 */
static void kv_backpressure(uint16_t port)
{
	int fd = kv_connect_buf(port, 16384);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	static const char req[] = "GET x\n";
	static char out[6 * 10000];
	for (size_t i = 0; i < sizeof(out); i += 6)
		memcpy(out + i, req, 6);
	const size_t limit = 8u << 20;
	size_t sent = 0;
	uint64_t last = now_ns();
	while (sent < limit && now_ns() - last < 150000000ull) {
		size_t off = sent % sizeof(out);
		ssize_t w = send(fd, out + off, sizeof(out) - off, MSG_NOSIGNAL);
		if (w > 0) {
			sent += (size_t)w;
			last = now_ns();
		} else if (w < 0 && errno != EAGAIN) {
			fail("kv: back-pressure: send: %s", strerror(errno));
		} else {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, 20);
		}
	}
	if (sent >= limit)
		fail("kv: back-pressure: the server took %zu bytes of requests while no reply was read", sent);
	printf("integ: kv back-pressure: the client was held after %zu bytes of requests\n", sent);
	/* Now read every reply, finishing the last request, which may have been cut. */
	size_t want = (sent + 5) / 6 * 8, got = 0;
	char buf[65536];
	uint64_t deadline = now_ns() + 10000000000ull;
	while (got < want) {
		if (now_ns() > deadline)
			fail("kv: back-pressure: %zu of %zu reply bytes within 10 s", got, want);
		struct pollfd pfd = { .fd = fd, .events = POLLIN | (sent % 6 ? POLLOUT : 0) };
		poll(&pfd, 1, 100);
		if (sent % 6) {
			ssize_t w = send(fd, req + sent % 6, 6 - sent % 6, MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
		}
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			fail("kv: back-pressure: the connection ended after %zu of %zu reply bytes", got, want);
		for (ssize_t i = 0; i < r; i++, got++)
			if (buf[i] != "VALUE 1\n"[got % 8])
				fail("kv: back-pressure: reply byte %zu is %#x", got, buf[i]);
	}
	close(fd);
}

static void kv_send(int fd, const char *s)
{
	size_t n = strlen(s);
	if (send(fd, s, n, MSG_NOSIGNAL) != (ssize_t)n)
		fail("kv: send: %s", strerror(errno));
}

/* Reads exactly strlen(want) bytes within 3 s and compares them byte for byte. */
static void kv_expect(int fd, const char *want, const char *what)
{
	size_t n = strlen(want), got = 0;
	char buf[1024];
	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 3000) <= 0)
			fail("kv: %s: no reply within 3 s (%zu of %zu bytes)", what, got, n);
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			fail("kv: %s: connection ended after %zu of %zu reply bytes", what, got, n);
		got += (size_t)r;
	}
	if (memcmp(buf, want, n) != 0)
		fail("kv: %s: reply \"%.*s\", want \"%s\"", what, (int)n, buf, want);
}

/* True when the server closed fd (EOF) within ms; fails on data. */
static bool kv_eof_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, ms) <= 0)
		return false;
	char c;
	ssize_t r = recv(fd, &c, 1, 0);
	if (r > 0)
		fail("kv: unexpected byte %#x where the end of the stream was due", c);
	return true;
}

/* Whether this host has io_uring for storage queues (probed in a child: a thread starts Demi once). */
static bool kv_storage_works(const char *dir)
{
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		char path[96];
		snprintf(path, sizeof(path), "%s/probe", dir);
		demi_start();
		int qd, err = demi_open_file(&qd, path, O_WRONLY | O_CREAT, 0644);
		unlink(path);
		_exit(err == 0 ? 0 : err == ENOSYS || err == EPERM ? 77 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return false;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("kv: a storage queue cannot be opened in %s", dir);
	return true;
}

static int cmd_kv(const char *kv)
{
	char dir[] = "/tmp/integ-kv.XXXXXX", log[64], port_s[32], pipe_name[48];
	if (!mkdtemp(dir))
		fail("mkdtemp: %s", strerror(errno));
	snprintf(log, sizeof(log), "%s/set.log", dir);
	snprintf(pipe_name, sizeof(pipe_name), "integ-kv.%d", (int)getpid());
	bool logging = kv_storage_works(dir);
	if (!logging)
		printf("integ: kv: no io_uring here: the server runs without its log\n");
	uint16_t port = 0;
	int server_out = -1;
	for (int tries = 0; tries < 5 && !port; tries++) {
		uint16_t p = free_port();
		snprintf(port_s, sizeof(port_s), "127.0.0.1:%u", p);
		char *const argv[] = { (char *)kv, "server", port_s, "-i", "600", "-b", "16384", "-p", pipe_name,
				       logging ? "-l" : NULL, log, NULL };
		if (start_server_argv(argv, &server_out))
			port = p;
	}
	if (!port)
		fail("kv_server would not start");

	/* N connections of pipelined requests, every reply checked by the example's own client. */
	const long conns = 16, reqs = 3000;
	run_example_client(kv, port, conns, reqs);

	/* A request split byte by byte across pops, then several requests in one send. */
	int fd = kv_connect(port);
	const char *split = "SET split 12345\nGET split\n";
	for (const char *p = split; *p; p++) {
		char one[2] = { *p, 0 };
		kv_send(fd, one);
		usleep(1000);
	}
	kv_expect(fd, "OK\nVALUE 12345\n", "split requests");
	kv_send(fd, "SET x 1\nSET y 22\nGET x\nGET y\nGET nokey\nBAD\n");
	kv_expect(fd, "OK\nOK\nVALUE 1\nVALUE 22\nNONE\nERR bad request\n", "pipelined requests");
	/* QUIT: its reply, then the server closes; what came after QUIT is not run. */
	kv_send(fd, "SET q 9\nQUIT\nSET after 1\n");
	kv_expect(fd, "OK\nBYE\n", "QUIT");
	if (!kv_eof_within(fd, 3000))
		fail("kv: the server did not close after QUIT");
	close(fd);

	/* A client that goes away mid-request (FIN), one that resets mid-request (RST). */
	fd = kv_connect(port);
	kv_send(fd, "SET half 1\nSET hal");
	kv_expect(fd, "OK\n", "before the disconnect");
	close(fd);
	fd = kv_connect(port);
	kv_send(fd, "GET x\nGE");
	kv_expect(fd, "VALUE 1\n", "before the reset");
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);

	kv_backpressure(port);

	/* Idle timeout (600 ms): the silent connection is closed, the busy one is not. */
	int idle = kv_connect(port), busy = kv_connect(port);
	uint64_t t0 = now_ns();
	for (int i = 0; i < 8; i++) {
		kv_send(busy, "GET half\n");
		kv_expect(busy, "VALUE 1\n", "a busy connection during the idle test");
		if (now_ns() - t0 < 400000000ull && kv_eof_within(idle, 0))
			fail("kv: an idle connection was closed after %.0f ms, before its 600 ms",
			     (now_ns() - t0) / 1e6);
		usleep(200000);
	}
	if (!kv_eof_within(idle, 2000))
		fail("kv: the idle connection is still open after %.0f ms", (now_ns() - t0) / 1e6);
	printf("integ: kv idle connection closed after %.0f ms (timeout 600 ms)\n", (now_ns() - t0) / 1e6);
	kv_send(busy, "GET y\n");
	kv_expect(busy, "VALUE 22\n", "the busy connection after the idle one closed");
	close(idle);
	close(busy);

	/* The pipe: the same protocol from another Demi process, in the server's one wait loop. */
	demi_start();
	int pqd;
	CHECK(demi_open_pipe(&pqd, pipe_name));
	demi_sgarray_t sga = demi_sgaalloc(16);
	memcpy(sga.sga_segs[0].sgaseg_buf, "SET p 7\nGET p\n", 14);
	sga.sga_segs[0].sgaseg_len = 14;
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_push(&qt, pqd, &sga));
	CHECK(demi_sgafree(&sga));
	struct timespec ts = { .tv_sec = 3, .tv_nsec = 0 };
	CHECK(demi_wait(&qr, qt, &ts));
	char pbuf[32];
	size_t pgot = 0;
	while (pgot < 11) {
		CHECK(demi_pop(&qt, pqd));
		CHECK(demi_wait(&qr, qt, &ts));
		demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
		if (qr.qr_opcode != DEMI_OPC_POP || seg->sgaseg_len == 0 || pgot + seg->sgaseg_len > 11)
			fail("kv: pipe reply: opcode %d, %u bytes", qr.qr_opcode, seg->sgaseg_len);
		memcpy(pbuf + pgot, seg->sgaseg_buf, seg->sgaseg_len);
		pgot += seg->sgaseg_len;
		CHECK(demi_sgafree(&qr.qr_value.sga));
	}
	if (memcmp(pbuf, "OK\nVALUE 7\n", 11) != 0)
		fail("kv: pipe reply \"%.11s\"", pbuf);
	CHECK(demi_close(pqd));

	/* SIGTERM: a clean stop, exit 0 within 3 s. */
	server_still_alive();
	kill(server_pid, SIGTERM);
	int st = 0;
	uint64_t deadline = now_ns() + 3000000000ull;
	while (waitpid(server_pid, &st, WNOHANG) == 0) {
		if (now_ns() > deadline)
			fail("kv: the server did not stop within 3 s of SIGTERM");
		usleep(10000);
	}
	server_pid = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("kv: the server ended with %s %d after SIGTERM", WIFEXITED(st) ? "exit" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	/* Its last line: every connection counted, the idle one closed, the cancelled tokens collected. */
	char outbuf[1024];
	size_t outlen = 0;
	ssize_t r;
	while (outlen < sizeof(outbuf) - 1 && (r = read(server_out, outbuf + outlen, sizeof(outbuf) - 1 - outlen)) > 0)
		outlen += (size_t)r;
	outbuf[outlen] = '\0';
	close(server_out);
	unsigned long accepted = 0, requests = 0, idle_closed = 0, stale = 0;
	const char *last = strstr(outbuf, "kv_server: ");
	if (!last || sscanf(last, "kv_server: %lu connections, %lu requests, %lu closed idle, %lu stale", &accepted,
			    &requests, &idle_closed, &stale) != 4)
		fail("kv: the server's last line is missing: \"%s\"", outbuf);
	/* 16 from the client, then split/QUIT, FIN, RST, back-pressure, idle and busy. */
	if (accepted != 22 || idle_closed != 1 || stale < 2)
		fail("kv: the server counted %lu connections (want 22), %lu closed idle (want 1), %lu stale results "
		     "(want the idle connection's pop and the accept, at least 2)",
		     accepted, idle_closed, stale);

	if (!logging) {
		rmdir(dir);
		printf("integ: kv_server: all but the log: ok\n");
		return 0;
	}
	/* The log holds every SET that was answered, whole lines, and nothing else. */
	FILE *f = fopen(log, "r");
	if (!f)
		fail("kv: no log %s: %s", log, strerror(errno));
	long sets = 0, client_sets = 0;
	int seen = 0;
	const char *want[] = { "SET split 12345\n", "SET x 1\n", "SET y 22\n", "SET q 9\n", "SET half 1\n",
			       "SET p 7\n" };
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		if (n < 5 || line[n - 1] != '\n' || strncmp(line, "SET ", 4) != 0)
			fail("kv: log line %ld is \"%s\"", sets + 1, line);
		sets++;
		if (line[4] == 'k')
			client_sets++;
		for (int i = 0; i < 6; i++)
			if (strcmp(line, want[i]) == 0)
				seen |= 1 << i;
		if (strcmp(line, "SET after 1\n") == 0 || strncmp(line, "SET hal\n", 8) == 0)
			fail("kv: the log holds a request that was never answered: %s", line);
	}
	fclose(f);
	/* The client sets on requests 0, 1 of every 3. */
	long want_client = conns * (reqs - reqs / 3);
	if (client_sets != want_client || seen != 0x3f || sets != want_client + 6)
		fail("kv: log has %ld lines (%ld from the client, want %ld; named lines seen %#x of 0x3f)", sets,
		     client_sets, want_client, seen);
	unlink(log);
	rmdir(dir);
	printf("integ: kv_server: %ld x %ld pipelined, split, QUIT, disconnects, back-pressure, idle timeout, pipe, "
	       "SIGTERM; "
	       "log of %ld SETs: ok\n",
	       conns, reqs, sets);
	return 0;
}

/* ---- UDP echo ---- */

/* Echoes every datagram to its sender, pushing the popped sga straight back. */
static void udp_server(int report)
{
	demi_start();
	int qd;
	CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	struct sockaddr_in a = loopback(0);
	CHECK(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)));
	socklen_t len = sizeof(a);
	CHECK(demi_getsockname(qd, (struct sockaddr *)&a, &len));
	send_u16(report, ntohs(a.sin_port));
	for (;;) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		CHECK(demi_pop(&qt, qd));
		CHECK(demi_wait(&qr, qt, NULL));
		if (qr.qr_opcode != DEMI_OPC_POP)
			fail("udp server: pop: %s", strerror((int)qr.qr_ret));
		struct sockaddr_in from = qr.qr_value.sga.sga_addr;
		if (from.sin_family != AF_INET || from.sin_port == 0)
			fail("udp server: popped datagram without its sender");
		CHECK(demi_pushto(&qt, qd, &qr.qr_value.sga, (const struct sockaddr *)&from, sizeof(from)));
		CHECK(demi_sgafree(&qr.qr_value.sga));
		CHECK(demi_wait(&qr, qt, NULL));
		if (qr.qr_opcode != DEMI_OPC_PUSH)
			fail("udp server: pushto: %s", strerror((int)qr.qr_ret));
	}
}

static const size_t udp_sizes[] = { 1, 2, 64, 512, 1472, 1473, 4096, 9000, 32768, 65000, 65507 };
#define NUDP (sizeof(udp_sizes) / sizeof(udp_sizes[0]))

/* Demi client: each datagram echoed whole, from the server's address. Retries a lost one. */
static void udp_demi_client(const struct sockaddr_in *srv)
{
	int qd;
	CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	for (unsigned round = 0; round < 20; round++) {
		for (size_t s = 0; s < NUDP; s++) {
			size_t len = udp_sizes[s];
			unsigned seed = round * 100 + (unsigned)s;
			bool ok = false;
			for (int attempt = 0; attempt < 3 && !ok; attempt++) {
				demi_sgarray_t sga = demi_sgaalloc(len);
				if (!sga.sga_buf)
					fail("sgaalloc(%zu)", len);
				uint8_t *d = sga.sga_segs[0].sgaseg_buf;
				for (size_t j = 0; j < len; j++)
					d[j] = pat(seed, j);
				demi_qtoken_t qts[2];
				CHECK(demi_pushto(&qts[0], qd, &sga, (const struct sockaddr *)srv, sizeof(*srv)));
				CHECK(demi_sgafree(&sga));
				CHECK(demi_pop(&qts[1], qd));
				demi_qresult_t qr;
				struct timespec ts = { .tv_sec = 2, .tv_nsec = 0 };
				CHECK(demi_wait(&qr, qts[0], &ts));
				if (qr.qr_opcode != DEMI_OPC_PUSH)
					fail("udp: pushto %zu B: %s", len, strerror((int)qr.qr_ret));
				int err = demi_wait(&qr, qts[1], &ts);
				if (err == ETIMEDOUT) {
					CHECK(demi_close(qd)); /* cancels the pop; a fresh socket retries */
					CHECK(demi_wait(&qr, qts[1], NULL));
					CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
					continue;
				}
				CHECK(err);
				if (qr.qr_opcode != DEMI_OPC_POP)
					fail("udp: pop: %s", strerror((int)qr.qr_ret));
				demi_sgarray_t *got = &qr.qr_value.sga;
				if (got->sga_segs[0].sgaseg_len != len)
					fail("udp: sent %zu B, echo has %u B", len, got->sga_segs[0].sgaseg_len);
				if (got->sga_addr.sin_port != srv->sin_port ||
				    got->sga_addr.sin_addr.s_addr != srv->sin_addr.s_addr)
					fail("udp: echo of %zu B not from the server (port %u)", len,
					     ntohs(got->sga_addr.sin_port));
				const uint8_t *e = got->sga_segs[0].sgaseg_buf;
				for (size_t j = 0; j < len; j++)
					if (e[j] != pat(seed, j))
						fail("udp: echo of %zu B differs at byte %zu", len, j);
				CHECK(demi_sgafree(got));
				ok = true;
			}
			if (!ok)
				fail("udp: no echo of %zu B in 3 tries", len);
		}
	}
	CHECK(demi_close(qd));
}

/* Linux client: the Demi server must interoperate with an ordinary socket. */
static void udp_linux_client(const struct sockaddr_in *srv)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	static uint8_t out[65507], in[65536];
	for (size_t s = 0; s < NUDP; s++) {
		size_t len = udp_sizes[s];
		for (size_t j = 0; j < len; j++)
			out[j] = pat(7000 + (unsigned)s, j);
		bool ok = false;
		for (int attempt = 0; attempt < 3 && !ok; attempt++) {
			if (sendto(fd, out, len, 0, (const struct sockaddr *)srv, sizeof(*srv)) != (ssize_t)len)
				fail("udp linux: sendto: %s", strerror(errno));
			struct sockaddr_in from;
			socklen_t flen = sizeof(from);
			ssize_t r = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			if (r != (ssize_t)len || memcmp(in, out, len) != 0)
				fail("udp linux: echo of %zu B wrong (%zd B)", len, r);
			if (from.sin_port != srv->sin_port)
				fail("udp linux: echo not from the server");
			ok = true;
		}
		if (!ok)
			fail("udp linux: no echo of %zu B in 3 tries", len);
	}
	close(fd);
}

static int cmd_udp(void)
{
	int rep[2];
	if (pipe(rep) < 0)
		fail("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rep[0]);
		udp_server(rep[1]);
	}
	server_pid = pid;
	close(rep[1]);
	struct sockaddr_in srv = loopback(recv_u16(rep[0]));
	udp_linux_client(&srv);
	demi_start();
	udp_demi_client(&srv);
	udp_linux_client(&srv);
	server_still_alive();
	stop_server();
	printf("integ: UDP echo of %zu sizes up to %zu B: ok\n", NUDP, udp_sizes[NUDP - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s tcp-echo|many-linux|many-demi TCP_ECHO [N] | kv KV_SERVER | large | udp\n", argv[0]);
		return 2;
	}
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(WATCHDOG_S);
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *cmd = argv[1];
	int n = argc > 3 ? atoi(argv[3]) : 1000;
	if (strcmp(cmd, "tcp-echo") == 0 && argc > 2)
		return cmd_tcp_echo(argv[2]);
	if (strcmp(cmd, "many-linux") == 0 && argc > 2)
		return cmd_many_linux(argv[2], n);
	if (strcmp(cmd, "many-demi") == 0 && argc > 2)
		return cmd_many_demi(argv[2], n);
	if (strcmp(cmd, "kv") == 0 && argc > 2)
		return cmd_kv(argv[2]);
	if (strcmp(cmd, "large") == 0)
		return cmd_large();
	if (strcmp(cmd, "udp") == 0)
		return cmd_udp();
	fprintf(stderr, "integ: unknown command %s\n", cmd);
	return 2;
}
