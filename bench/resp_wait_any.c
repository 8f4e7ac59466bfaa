/*
 * The user's server of issue 18: a small Redis-protocol (RESP) GET/SET server written as a new user writes one
 * from the headers, with one growing array of tokens and demi_wait_any. Every operation it starts (the accept, a
 * pop per connection, each reply's push) is appended to the array; the token demi_wait_any returns leaves it (the
 * last one swapped in, as doc/api/demi_wait_any.md says). bench/resp_wait_any_run drives it with redis-benchmark.
 *   resp_wait_any [--wait any|old|pass|next] [--addr IP:PORT]
 *   any   demi_wait_any (this library)
 *   old   the former demi_wait_any (bench/old_wait_any.h: the lowest index that is done): the user's figure
 *   pass  issue 18's first demi_wait_any (bench/pass_wait_any.h: a pass over every token per call)
 *   next  no array: demi_wait_next_n, 64 results a call (what doc/guide.md advises)
 * Commands: GET, SET, PING, anything else -ERR; requests may be split or pipelined. On SIGTERM or SIGINT it prints
 * "RESULT kind=resp wait=... max_tokens=N requests=N" (max_tokens: the array's largest size) and exits 0.
 * Links the static internal library only for the old and pass variants.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include "bench.h"
#include "old_wait_any.h"
#include "pass_wait_any.h"

#define MAXQD 65536
#define BUCKETS (1u << 16)

/* ---- the store: a chained hash table ---- */

struct entry {
	struct entry *next;
	size_t klen, vlen;
	char *val;
	char key[];
};
static struct entry *table[BUCKETS];

static uint32_t hash(const char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)k[i]) * 16777619u;
	return h & (BUCKETS - 1);
}

static struct entry **find(const char *k, size_t n)
{
	struct entry **e = &table[hash(k, n)];
	while (*e && ((*e)->klen != n || memcmp((*e)->key, k, n)))
		e = &(*e)->next;
	return e;
}

/* ---- connections: bytes not yet parsed, and the reply being built ---- */

struct conn {
	char *in;
	size_t len, cap;
	char *out;
	size_t olen, ocap;
	bool open;
};
static struct conn conns[MAXQD];
/* A connection's state by qd (qds are 2^30 + a slot: the low bits are distinct among open queues). */
#define CONN(qd) (&conns[(uint32_t)(qd) % MAXQD])

static void append(char **b, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2 + 256;
		*b = realloc(*b, *cap);
		if (!*b)
			exit(1);
	}
	memcpy(*b + *len, p, n);
	*len += n;
}

static void reply(struct conn *c, const char *s, size_t n) { append(&c->out, &c->olen, &c->ocap, s, n); }

/* A line ending in \r\n at p (at most end): its length without \r\n, or -1 when incomplete. */
static long line(const char *p, const char *end)
{
	for (const char *q = p; q + 1 < end; q++)
		if (q[0] == '\r' && q[1] == '\n')
			return q - p;
	return -1;
}

/* Runs one complete request from c->in: the bytes it took, 0 when incomplete, -1 on a protocol error. */
static long one_request(struct conn *c)
{
	const char *p = c->in, *end = c->in + c->len;
	const char *argv[3];
	size_t argl[3];
	long l = line(p, end);
	if (l < 0)
		return 0;
	if (p[0] != '*')
		return -1;
	long argc = strtol(p + 1, NULL, 10);
	if (argc < 1 || argc > 64)
		return -1;
	p += l + 2;
	for (long i = 0; i < argc; i++) {
		l = line(p, end);
		if (l < 0)
			return 0;
		if (p[0] != '$')
			return -1;
		long n = strtol(p + 1, NULL, 10);
		if (n < 0 || n > (1 << 20))
			return -1;
		p += l + 2;
		if (end - p < n + 2)
			return 0;
		if (i < 3) {
			argv[i] = p;
			argl[i] = (size_t)n;
		}
		p += n + 2;
	}
	if (argl[0] == 3 && !strncasecmp(argv[0], "GET", 3) && argc == 2) {
		struct entry *e = *find(argv[1], argl[1]);
		if (!e) {
			reply(c, "$-1\r\n", 5);
		} else {
			char hdr[32];
			int h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", e->vlen);
			reply(c, hdr, (size_t)h);
			reply(c, e->val, e->vlen);
			reply(c, "\r\n", 2);
		}
	} else if (argl[0] == 3 && !strncasecmp(argv[0], "SET", 3) && argc == 3) {
		struct entry **pe = find(argv[1], argl[1]);
		if (!*pe) {
			*pe = calloc(1, sizeof(**pe) + argl[1]);
			if (!*pe)
				exit(1);
			memcpy((*pe)->key, argv[1], argl[1]);
			(*pe)->klen = argl[1];
		}
		free((*pe)->val);
		(*pe)->val = malloc(argl[2] + 1);
		memcpy((*pe)->val, argv[2], argl[2]);
		(*pe)->vlen = argl[2];
		reply(c, "+OK\r\n", 5);
	} else if (argl[0] == 4 && !strncasecmp(argv[0], "PING", 4)) {
		reply(c, "+PONG\r\n", 7);
	} else {
		reply(c, "-ERR unknown command\r\n", 22);
	}
	return p - c->in;
}

/* ---- the token array, as the user keeps it ---- */

enum kind { K_ACCEPT, K_POP, K_PUSH };
static demi_qtoken_t *qts;
static int *qd_of;
static enum kind *kind_of;
static int n, cap_n, max_n;

static void add(demi_qtoken_t qt, int qd, enum kind k)
{
	if (n == cap_n) {
		cap_n = cap_n ? cap_n * 2 : 1024;
		qts = realloc(qts, (size_t)cap_n * sizeof(*qts));
		qd_of = realloc(qd_of, (size_t)cap_n * sizeof(*qd_of));
		kind_of = realloc(kind_of, (size_t)cap_n * sizeof(*kind_of));
		if (!qts || !qd_of || !kind_of)
			exit(1);
	}
	qts[n] = qt;
	qd_of[n] = qd;
	kind_of[n++] = k;
	if (n > max_n)
		max_n = n;
}

static void drop(int i)
{
	n--;
	qts[i] = qts[n];
	qd_of[i] = qd_of[n];
	kind_of[i] = kind_of[n];
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static bool use_array = true;
static long requests;

/* Starts an op: into the array, or (next) nowhere: the result names its qd and opcode. */
static void started(demi_qtoken_t qt, int qd, enum kind k)
{
	if (use_array)
		add(qt, qd, k);
}

static void close_conn(int qd)
{
	struct conn *c = CONN(qd);
	if (!c->open)
		return;
	c->open = false;
	c->len = c->olen = 0;
	demi_close(qd);
}

/* One result: what the user's loop does with it. */
static void handle(demi_qresult_t *qr, int qd, enum kind k, int lqd)
{
	demi_qtoken_t qt;
	if (k == K_ACCEPT) {
		CHECK(qr->qr_opcode == DEMI_OPC_ACCEPT ? 0 : qr->qr_ret);
		int cqd = qr->qr_value.ares.qd;
		CONN(cqd)->open = true;
		CHECK(demi_pop(&qt, cqd));
		started(qt, cqd, K_POP);
		CHECK(demi_accept(&qt, lqd));
		started(qt, lqd, K_ACCEPT);
		return;
	}
	if (k == K_PUSH) {
		if (qr->qr_opcode == DEMI_OPC_FAILED)
			fprintf(stderr, "resp_wait_any: a push failed: %s\n", strerror(qr->qr_ret));
		return;
	}
	if (qr->qr_opcode == DEMI_OPC_FAILED && qr->qr_ret == ECANCELED)
		return; /* cancelled by our own close */
	if (qr->qr_opcode != DEMI_OPC_POP || qr->qr_value.sga.sga_segs[0].sgaseg_len == 0) {
		if (qr->qr_opcode == DEMI_OPC_POP)
			demi_sgafree(&qr->qr_value.sga);
		close_conn(qd);
		return;
	}
	struct conn *c = CONN(qd);
	for (uint32_t s = 0; s < qr->qr_value.sga.sga_numsegs; s++)
		append(&c->in, &c->len, &c->cap, qr->qr_value.sga.sga_segs[s].sgaseg_buf,
		       qr->qr_value.sga.sga_segs[s].sgaseg_len);
	demi_sgafree(&qr->qr_value.sga);
	long used, off = 0;
	while (off < (long)c->len) {
		struct conn view = *c;
		view.in = c->in + off;
		view.len = c->len - (size_t)off;
		used = one_request(&view);
		c->out = view.out;
		c->olen = view.olen;
		c->ocap = view.ocap;
		if (used < 0) {
			close_conn(qd);
			return;
		}
		if (used == 0)
			break;
		off += used;
		requests++;
	}
	memmove(c->in, c->in + off, c->len - (size_t)off);
	c->len -= (size_t)off;
	if (c->olen) {
		demi_sgarray_t sga = demi_sgaalloc(c->olen);
		if (sga.sga_numsegs != 1) {
			fprintf(stderr, "resp_wait_any: no buffer for a %zu-byte reply\n", c->olen);
			exit(1);
		}
		memcpy(sga.sga_segs[0].sgaseg_buf, c->out, c->olen);
		c->olen = 0;
		CHECK(demi_push(&qt, qd, &sga));
		CHECK(demi_sgafree(&sga));
		started(qt, qd, K_PUSH);
	}
	CHECK(demi_pop(&qt, qd));
	started(qt, qd, K_POP);
}

int main(int argc, char **argv)
{
	const char *wait = "any", *addr_s = "127.0.0.1:6379";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--wait") && i + 1 < argc)
			wait = argv[++i];
		else if (!strcmp(argv[i], "--addr") && i + 1 < argc)
			addr_s = argv[++i];
		else {
			fprintf(stderr, "usage: resp_wait_any [--wait any|old|pass|next] [--addr IP:PORT]\n");
			return 2;
		}
	}
	typedef int (*wait_any_fn)(demi_qresult_t *, int *, const demi_qtoken_t[], int, const struct timespec *);
	wait_any_fn fn = !strcmp(wait, "any") ? demi_wait_any : !strcmp(wait, "old") ? old_wait_any
							   : !strcmp(wait, "pass") ? pass_wait_any : NULL;
	use_array = fn != NULL;
	if (!fn && strcmp(wait, "next")) {
		fprintf(stderr, "resp_wait_any: --wait any, old, pass or next\n");
		return 2;
	}
	char ip[64];
	snprintf(ip, sizeof(ip), "%s", addr_s);
	char *colon = strrchr(ip, ':');
	if (!colon)
		return 2;
	*colon = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return 2;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	int lqd;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_bind(lqd, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK(demi_listen(lqd, 4096));
	demi_qtoken_t qt;
	CHECK(demi_accept(&qt, lqd));
	started(qt, lqd, K_ACCEPT);
	printf("resp_wait_any: listening on %s (wait %s)\n", addr_s, wait);
	fflush(stdout);
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	demi_qresult_t qrs[64];
	while (!stop) {
		if (use_array) {
			int off = -1;
			int err = fn(&qrs[0], &off, qts, n, &tick);
			if (err == ETIMEDOUT)
				continue;
			CHECK(err);
			int qd = qd_of[off];
			enum kind k = kind_of[off];
			drop(off);
			handle(&qrs[0], qd, k, lqd);
		} else {
			int got = 0;
			int err = demi_wait_next_n(qrs, 64, &got, &tick);
			if (err == ETIMEDOUT)
				continue;
			CHECK(err);
			for (int k = 0; k < got; k++) {
				demi_qresult_t *qr = &qrs[k];
				enum kind kind = qr->qr_qd == lqd ? K_ACCEPT : qr->qr_opcode == DEMI_OPC_PUSH ? K_PUSH : K_POP;
				if (qr->qr_opcode == DEMI_OPC_FAILED && qr->qr_qd != lqd)
					kind = K_POP; /* a failed pop or push: either way the connection is done */
				handle(qr, qr->qr_qd, kind, lqd);
			}
		}
	}
	printf("RESULT kind=resp wait=%s max_tokens=%d requests=%ld\n", wait, max_n, requests);
	fflush(stdout);
	return 0;
}
