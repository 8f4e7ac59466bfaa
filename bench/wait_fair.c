/*
 * Wait fairness under load (issue 18): a PDPIX echo server on catnap over loopback, serving --conns closed-loop
 * clients (Linux sockets, one epoll thread, 64 B messages), with one of three waits:
 *   any   demi_wait_any over its array of tokens (the accept, a pop per connection, the pushes in flight)
 *   old   the same array with the former demi_wait_any (bench/old_wait_any.h: the lowest index that is done)
 *   pass  the same array with issue 18's first demi_wait_any (bench/pass_wait_any.h: a pass over every token)
 *   next  demi_wait_next_n, 64 results at a time, no array
 * For every result it takes, the server counts the waits it made since that token completed (calls begun with the
 * token already done: the op's completion number against the runtime's count at the start of each call) and prints
 * the largest and the 99th percentile of that age, with the echoes per second of the measured window and the
 * server thread's CPU time per echo (its cost, which a loaded machine disturbs less than the rate).
 * It also counts the results returned while a token that completed earlier still waited ("overtaken"): 0 when
 * results come in completion order. --max-age N makes it exit 1 when some token waited more than N calls or
 * any result was overtaken (the test's assertion).
 * Links the static internal library, only to read those completion numbers. bench/wait_fair_run runs it.
 *   wait_fair [--mode any|old|pass|next] [--conns N] [--secs S] [--max-age N] [--listen IP:PORT]
 *   wait_fair --client IP:PORT [--conns N] [--secs S]
 * --listen: the server alone on $LIBOS (catpowder: Demi's TCP), listening there for --conns clients that another
 * process runs (the window opens once it accepted them all); it exits when the window ends.
 * --client: the clients alone (no Demi), against such a server, until it closes the connections (exit 0) or
 * --secs + 25 s pass (exit 1, SIGALRM). tests/catpowder (tcp-wait-fair) runs the two in a pair of namespaces.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "bench.h"
#include "old_wait_any.h"
#include "pass_wait_any.h"

#define MSG 64
#define AGE_RING (1u << 20) /* call start marks kept: an age beyond this reads as AGE_RING */

enum kind { K_ACCEPT, K_POP, K_PUSH };
struct slot {
	enum kind kind;
	int qd;
};

static int conns = 1000;
static volatile int stop;
static struct sockaddr_in srv_addr;
static volatile long connected;
static int client_fail; /* --client: every connection must be made and answered */

/* ---- the clients: Linux sockets, closed loop, one message in flight each ---- */

static void *clients(void *arg)
{
	(void)arg;
	int ep = epoll_create1(0);
	CHECK_SYS(ep);
	int *got = calloc((size_t)conns, sizeof(int));
	int *fds = calloc((size_t)conns, sizeof(int));
	char msg[MSG], buf[4096];
	memset(msg, 'x', sizeof(msg));
	for (int i = 0; i < conns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		CHECK_SYS(fd);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		CHECK_SYS(connect(fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)));
		fds[i] = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
		connected++;
	}
	for (int i = 0; i < conns; i++)
		CHECK_SYS(send(fds[i], msg, MSG, 0));
	struct epoll_event evs[256];
	int closed = 0;
	long answered = 0;
	while (!stop && closed < conns) {
		int n = epoll_wait(ep, evs, 256, 100);
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			ssize_t r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { /* the server ended */
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				closed++;
				continue;
			}
			if (r < 0)
				continue;
			answered++;
			got[i] += (int)r;
			while (got[i] >= MSG) {
				got[i] -= MSG;
				if (send(fds[i], msg, MSG, MSG_NOSIGNAL) < 0)
					break;
			}
		}
	}
	if (arg) { /* --client: the process's own verdict */
		printf("wait_fair: client: %d connections, %ld replies, %d closed by the server\n", conns, answered,
		       closed);
		client_fail = closed < conns || answered < conns;
	}
	for (int i = 0; i < conns; i++)
		close(fds[i]);
	close(ep);
	free(got);
	free(fds);
	return NULL;
}

/* ---- the server ---- */

static uint64_t marks[AGE_RING]; /* op-table completion count at the start of each wait call */
static uint64_t ncalls;
static uint64_t last_cseq, overtaken; /* results returned after a later completion: 0 in completion order */
static uint32_t *ages;
static size_t nages, cap_ages;

/* Marks the start of a wait call. */
static void mark_call(void) { marks[ncalls++ & (AGE_RING - 1)] = rt_self()->ops.completions; }

/* After a call returned qt's result: how many calls (this one included) began with qt already done. */
static void record_age(demi_qtoken_t qt)
{
	const struct op_table *t = &rt_self()->ops;
	uint64_t cseq = t->ops[(uint32_t)qt - 1].cseq; /* kept after the collect, until the slot is reused */
	if (cseq < last_cseq)
		overtaken++;
	else
		last_cseq = cseq;
	/* marks[] is non-decreasing: the first call whose mark reached cseq, by binary search over the kept ones. */
	uint64_t lo = ncalls > AGE_RING ? ncalls - AGE_RING : 0, hi = ncalls;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (marks[mid & (AGE_RING - 1)] >= cseq)
			hi = mid;
		else
			lo = mid + 1;
	}
	uint64_t age = ncalls - lo;
	if (nages == cap_ages) {
		cap_ages = cap_ages ? cap_ages * 2 : 1 << 20;
		ages = realloc(ages, cap_ages * sizeof(*ages));
		if (!ages)
			exit(1);
	}
	ages[nages++] = (uint32_t)(age > AGE_RING ? AGE_RING : age);
}

/* CPU time of the calling thread (the server's), in ns: its cost per echo is robust to a loaded machine. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *mode = "any";
	double secs = 3;
	long max_age = -1;
	const char *listen_at = NULL, *client_of = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
			conns = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--secs") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--max-age") && i + 1 < argc)
			max_age = atol(argv[++i]);
		else if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			listen_at = argv[++i];
		else if (!strcmp(argv[i], "--client") && i + 1 < argc)
			client_of = argv[++i];
		else {
			fprintf(stderr, "usage: wait_fair [--mode any|old|pass|next] [--conns N] [--secs S] [--max-age N] "
					"[--listen IP:PORT] | --client IP:PORT [--conns N] [--secs S]\n");
			return 2;
		}
	}
	int any = !strcmp(mode, "any"), old = !strcmp(mode, "old"), pass = !strcmp(mode, "pass"),
	    next = !strcmp(mode, "next");
	if ((!any && !old && !pass && !next) || conns < 1) {
		fprintf(stderr, "wait_fair: bad --mode or --conns\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(3 * conns + 64)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&srv_addr, 0, sizeof(srv_addr));
	srv_addr.sin_family = AF_INET;
	srv_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	const char *at = listen_at ? listen_at : client_of;
	if (at) {
		char ip[64];
		snprintf(ip, sizeof(ip), "%s", at);
		char *colon = strrchr(ip, ':');
		if (!colon || (*colon = 0, inet_pton(AF_INET, ip, &srv_addr.sin_addr) != 1)) {
			fprintf(stderr, "wait_fair: bad address %s (IP:PORT)\n", at);
			return 2;
		}
		srv_addr.sin_port = htons((uint16_t)atoi(colon + 1));
	}
	if (client_of) {
		alarm((unsigned)secs + 25);
		clients(&srv_addr);
		return client_fail;
	}
	setenv("LIBOS", "catnap", 0);
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	int lqd;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_bind(lqd, (struct sockaddr *)&srv_addr, sizeof(srv_addr)));
	CHECK(demi_listen(lqd, 4096));
	struct sockaddr_in bound;
	socklen_t blen = sizeof(bound);
	CHECK(demi_getsockname(lqd, (struct sockaddr *)&bound, &blen));
	srv_addr.sin_port = bound.sin_port;
	if (listen_at) {
		printf("wait_fair: listening on %s (%s)\n", listen_at, mode);
		fflush(stdout);
	}

	size_t cap = (size_t)conns * 16 + 16; /* 2 a connection and the accept, unless results starve */
	demi_qtoken_t *qts = calloc(cap, sizeof(*qts));
	struct slot *slots = calloc(cap, sizeof(*slots));
	int n = 0, max_n = 0;
	CHECK(demi_accept(&qts[0], lqd));
	slots[n++] = (struct slot){ K_ACCEPT, lqd };

	pthread_t th;
	if (!listen_at)
		pthread_create(&th, NULL, clients, NULL);
	long echoes = 0, window_echoes = 0;
	uint64_t start = 0, end = 0, cpu0 = 0;
	size_t window_ages = 0;
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	uint64_t deadline = now_ns() + (uint64_t)((secs + 30) * 1e9); /* connecting is bounded too */
	demi_qresult_t qrs[64];
	for (;;) {
		uint64_t now = now_ns();
		if (!start && connected == conns) {
			start = now + 300000000ull; /* the window opens once every client is connected and warm */
		} else if (start && now >= start && !window_echoes && !window_ages) {
			window_echoes = echoes ? echoes : 1;
			window_ages = nages ? nages : 1;
			end = now + (uint64_t)(secs * 1e9);
			cpu0 = thread_cpu_ns();
		} else if (end && now >= end) {
			break;
		}
		if (now > deadline) {
			fprintf(stderr, "wait_fair: no end (connected %ld of %d)\n", connected, conns);
			return 1;
		}
		if ((size_t)n + 2 >= cap) {
			fprintf(stderr, "wait_fair: the token array outgrew %zu tokens: completed pushes starve\n", cap);
			return 1;
		}
		int got = 0, off = -1;
		mark_call();
		if (next) {
			int err = demi_wait_next_n(qrs, 64, &got, &tick);
			if (err == ETIMEDOUT)
				continue;
			CHECK(err);
		} else {
			int err = (any ? demi_wait_any : pass ? pass_wait_any : old_wait_any)(&qrs[0], &off, qts, n, &tick);
			if (err == ETIMEDOUT)
				continue;
			CHECK(err);
			got = 1;
		}
		/* Before any new op reuses the collected slots, whose completion numbers are read here. */
		for (int k = 0; k < got; k++)
			record_age(qrs[k].qr_qt);
		for (int k = 0; k < got; k++) {
			demi_qresult_t *qr = &qrs[k];
			/* What the result was: the array says so for wait_any; next_n reads the opcode and the qd. */
			enum kind kind = next ? (qr->qr_qd == lqd ? K_ACCEPT : qr->qr_opcode == DEMI_OPC_PUSH ? K_PUSH : K_POP)
					      : slots[off].kind;
			int qd = next ? qr->qr_qd : slots[off].qd;
			demi_qtoken_t fresh = 0;
			bool keep = false;
			if (kind == K_ACCEPT) {
				CHECK(qr->qr_opcode == DEMI_OPC_ACCEPT ? 0 : qr->qr_ret);
				if (listen_at)
					connected++;
				int cqd = qr->qr_value.ares.qd;
				demi_qtoken_t pop;
				CHECK(demi_pop(&pop, cqd));
				if (!next) {
					qts[n] = pop;
					slots[n++] = (struct slot){ K_POP, cqd };
				}
				CHECK(demi_accept(&fresh, lqd));
				keep = true;
			} else if (kind == K_POP) {
				if (qr->qr_opcode != DEMI_OPC_POP || qr->qr_value.sga.sga_segs[0].sgaseg_len == 0) {
					demi_close(qd);
				} else {
					demi_qtoken_t push;
					CHECK(demi_push(&push, qd, &qr->qr_value.sga));
					CHECK(demi_sgafree(&qr->qr_value.sga));
					echoes++;
					if (!next) {
						qts[n] = push;
						slots[n++] = (struct slot){ K_PUSH, qd };
					}
					CHECK(demi_pop(&fresh, qd));
					keep = true;
				}
			}
			if (next)
				continue;
			if (keep) {
				qts[off] = fresh; /* the new op of the same kind takes the finished one's place */
			} else {
				qts[off] = qts[--n];
				slots[off] = slots[n];
			}
			if (n > max_n)
				max_n = n;
		}
	}
	double cpu_us = (double)(thread_cpu_ns() - cpu0) / 1e3;
	stop = 1;
	if (!listen_at)
		pthread_join(th, NULL);
	double span = (double)(end - (start ? start : end)) / 1e9;
	long measured = echoes - window_echoes;
	size_t from = window_ages, count = nages - from;
	qsort(ages + from, count, sizeof(*ages), cmp_u32);
	uint32_t max = count ? ages[nages - 1] : 0, p99 = count ? ages[from + (size_t)(count * 0.99)] : 0;
	double per_echo = measured ? cpu_us / (double)measured : 0;
	printf("%-5s conns=%d  %.0f echoes/s  server CPU %.2f us/echo  age in calls: max %u, p99 %u  overtaken %llu  "
	       "(array up to %d tokens, %zu results)\n",
	       mode, conns, measured / span, per_echo, max, p99, (unsigned long long)overtaken, max_n, count);
	printf("RESULT kind=wait_fair mode=%s conns=%d echoes_per_s=%.0f cpu_us_per_echo=%.3f max_age=%u p99_age=%u "
	       "overtaken=%llu max_tokens=%d\n",
	       mode, conns, measured / span, per_echo, max, p99, (unsigned long long)overtaken, max_n);
	free(ages);
	free(qts);
	free(slots);
	if (max_age >= 0 && overtaken) {
		fprintf(stderr, "wait_fair: %llu results were returned before a token that completed earlier\n",
			(unsigned long long)overtaken);
		return 1;
	}
	if (max_age >= 0 && max > (uint32_t)max_age) {
		fprintf(stderr, "wait_fair: a token waited %u calls after it completed (at most %ld allowed)\n", max,
			max_age);
		return 1;
	}
	return 0;
}
