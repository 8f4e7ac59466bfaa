/*
 * A key-value server over PDPIX, the example of doc/guide.md; runs on any libOS (LIBOS=...).
 *   kv_server server ADDR:PORT [-i IDLE_MS] [-l LOG_PATH] [-p PIPE_NAME] [-b BYTES]
 *   kv_server client ADDR:PORT [CONNS] [REQUESTS]   pipelined load, every reply checked byte by byte
 * One request per line ('\n'; a '\r' before it is dropped), replies in request order:
 *   SET key value -> OK     GET key -> VALUE value | NONE     QUIT -> BYE, then the server closes
 *   anything else -> ERR ...; a line over 512 bytes -> ERR line too long, then the server closes
 * Keys up to 64 bytes, values up to 256, no spaces. -l appends every SET line to a storage queue
 * (a log), -p serves the same protocol on a catmem pipe, -i closes connections idle that long
 * (no pop or push completed), -b sets SO_RCVBUF and SO_SNDBUF of the connections.
 * SIGTERM or SIGINT: stop accepting, let pushes in flight complete, close, exit 0.
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/storage.h>
#include <demi/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define MAX_CONNS 4096    /* open connections; more are closed as they arrive */
#define MAX_INFLIGHT 4    /* pushes in flight per connection: no pop while they are all out */
#define LOG_INFLIGHT 8    /* log appends in flight */
#define REQ_MAX 512       /* longest request line, '\n' excluded */
#define KEY_MAX 64
#define VAL_MAX 256
#define BATCH 64          /* results per demi_wait_next_n */
#define TICK_NS 50000000l /* the wait's timeout: how often idle connections and signals are looked at */

/* ---- qd -> index: open addressing, because qds are 2^30 and up and reused after close ---- */

#define MAP_BITS 13 /* 8192 slots: at most half full */
#define MAP_MASK ((1u << MAP_BITS) - 1)

static struct {
	int qd;
	int idx; /* -1: empty */
} map[1u << MAP_BITS];

static void map_init(void)
{
	for (unsigned s = 0; s <= MAP_MASK; s++)
		map[s].idx = -1;
}

static unsigned map_home(int qd)
{
	return ((uint32_t)qd * 2654435761u) >> (32 - MAP_BITS);
}

static int map_find(int qd)
{
	for (unsigned s = map_home(qd);; s = (s + 1) & MAP_MASK) {
		if (map[s].idx < 0)
			return -1;
		if (map[s].qd == qd)
			return map[s].idx;
	}
}

static void map_put(int qd, int idx)
{
	unsigned s = map_home(qd);
	while (map[s].idx >= 0)
		s = (s + 1) & MAP_MASK;
	map[s].qd = qd;
	map[s].idx = idx;
}

/* Linear probing without tombstones: the entries after the hole move back where their probe allows. */
static void map_del(int qd)
{
	unsigned i = map_home(qd);
	while (map[i].idx >= 0 && map[i].qd != qd)
		i = (i + 1) & MAP_MASK;
	if (map[i].idx < 0)
		return;
	for (unsigned j = (i + 1) & MAP_MASK; map[j].idx >= 0; j = (j + 1) & MAP_MASK) {
		unsigned h = map_home(map[j].qd);
		if (((j - h) & MAP_MASK) >= ((j - i) & MAP_MASK)) {
			map[i] = map[j];
			i = j;
		}
	}
	map[i].idx = -1;
}

/* ---- the store: fixed-size open addressing, no deletion ---- */

#define STORE_SLOTS 16384
static struct entry {
	uint8_t klen;
	uint16_t vlen;
	char key[KEY_MAX];
	char val[VAL_MAX];
} store[STORE_SLOTS];

static struct entry *store_slot(const char *k, size_t klen)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < klen; i++)
		h = (h ^ (uint8_t)k[i]) * 16777619u;
	for (unsigned n = 0; n < STORE_SLOTS; n++, h++) {
		struct entry *e = &store[h % STORE_SLOTS];
		if (e->klen == 0 || (e->klen == klen && memcmp(e->key, k, klen) == 0))
			return e;
	}
	return NULL; /* full */
}

/* ---- growable byte buffers: the replies of one pop, the log records of one round ---- */

struct bytes {
	char *p;
	size_t len, cap;
};

static void put(struct bytes *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			fprintf(stderr, "kv_server: out of memory\n");
			exit(1);
		}
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct bytes *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Copies b into a fresh sga and pushes it: the sga may be freed at once, the libOS holds its own reference. */
static int push_bytes(demi_qtoken_t *qt, int qd, const struct bytes *b)
{
	demi_sgarray_t sga = demi_sgaalloc(b->len);
	if (!sga.sga_buf)
		return ENOMEM;
	memcpy(sga.sga_segs[0].sgaseg_buf, b->p, b->len);
	int err = demi_push(qt, qd, &sga);
	demi_sgafree(&sga);
	return err;
}

/* ---- the server ---- */

struct conn {
	int qd;
	bool used, pipe;
	bool eof;                           /* no more pops (EOF, QUIT, bad line): close once the pushes are out */
	demi_qtoken_t pop_qt;               /* the pending pop; 0: none */
	demi_qtoken_t push_qt[MAX_INFLIGHT]; /* pushes in flight */
	int npush;
	uint64_t last_ns;                   /* last pop or push completed: idle since */
	size_t inlen;                       /* a partial request carried over to the next pop */
	char in[REQ_MAX];
};

static struct conn conns[MAX_CONNS];
static int free_idx[MAX_CONNS], nfree, nconns;
static struct bytes reply, logrec;
static int logqd = -1, log_inflight;
static volatile sig_atomic_t stop_signal;
static struct {
	unsigned long accepted, requests, stale, idle_closed, log_bytes;
} stats;

static void on_stop(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static struct conn *conn_new(int qd, bool pipe, uint64_t now)
{
	if (nfree == 0)
		return NULL;
	int idx = free_idx[--nfree];
	struct conn *c = &conns[idx];
	memset(c, 0, offsetof(struct conn, in));
	c->qd = qd;
	c->used = true;
	c->pipe = pipe;
	c->last_ns = now;
	map_put(qd, idx);
	nconns++;
	return c;
}

/*
 * Closes now: a pending pop and any pushes still in flight complete FAILED
 * with ECANCELED, and come back through the wait loop as stale results.
 */
static void conn_close(struct conn *c)
{
	demi_close(c->qd);
	map_del(c->qd);
	c->used = false;
	free_idx[nfree++] = (int)(c - conns);
	nconns--;
}

static void conn_pop(struct conn *c)
{
	if (demi_pop(&c->pop_qt, c->qd) != 0)
		conn_close(c);
}

/* Runs one request line; false: the connection ends after the replies so far (QUIT). */
static bool execute(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	const char *end = line + len, *arg[3];
	size_t alen[3];
	int n = 0;
	for (const char *p = line; p < end && n < 3;) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		arg[n] = p;
		while (p < end && *p != ' ')
			p++;
		alen[n] = (size_t)(p - arg[n]);
		n++;
	}
	stats.requests++;
#define IS(i, s) (alen[i] == sizeof(s) - 1 && memcmp(arg[i], s, sizeof(s) - 1) == 0)
	if (n == 2 && IS(0, "GET") && alen[1] <= KEY_MAX) {
		struct entry *e = store_slot(arg[1], alen[1]);
		if (!e || e->klen == 0) {
			puts_(&reply, "NONE\n");
		} else {
			puts_(&reply, "VALUE ");
			put(&reply, e->val, e->vlen);
			puts_(&reply, "\n");
		}
	} else if (n == 3 && IS(0, "SET") && alen[1] <= KEY_MAX && alen[2] <= VAL_MAX &&
		   arg[2] + alen[2] == end) {
		struct entry *e = store_slot(arg[1], alen[1]);
		if (!e) {
			puts_(&reply, "ERR store full\n");
			return true;
		}
		e->klen = (uint8_t)alen[1];
		memcpy(e->key, arg[1], alen[1]);
		e->vlen = (uint16_t)alen[2];
		memcpy(e->val, arg[2], alen[2]);
		puts_(&reply, "OK\n");
		if (logqd >= 0) {
			put(&logrec, line, len);
			puts_(&logrec, "\n");
		}
	} else if (n == 1 && IS(0, "QUIT")) {
		puts_(&reply, "BYE\n");
		return false;
	} else {
		puts_(&reply, "ERR bad request\n");
	}
#undef IS
	return true;
}

/*
 * Parses the bytes of one pop: whole lines in place, a partial line at the end
 * kept in c->in for the next pop. Replies go to `reply`. False: close after them.
 */
static bool feed(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (c->inlen + take > REQ_MAX) {
			puts_(&reply, "ERR line too long\n");
			return false;
		}
		if (!nl) { /* a request split across pops */
			memcpy(c->in + c->inlen, p, take);
			c->inlen += take;
			return true;
		}
		bool more;
		if (c->inlen > 0) {
			memcpy(c->in + c->inlen, p, take);
			more = execute(c->in, c->inlen + take);
			c->inlen = 0;
		} else {
			more = execute(p, take); /* the whole line lies in this pop: no copy */
		}
		if (!more)
			return false;
		p += take + 1;
		n -= take + 1;
	}
	return true;
}

/* Closes a connection that has nothing more to do: no more pops wanted, every push completed. */
static void maybe_close(struct conn *c)
{
	if (c->eof && c->npush == 0)
		conn_close(c);
}

static void on_pop(struct conn *c, demi_qresult_t *qr, uint64_t now)
{
	demi_sgaseg_t *seg = &qr->qr_value.sga.sga_segs[0];
	c->pop_qt = 0;
	c->last_ns = now;
	if (seg->sgaseg_len == 0) { /* the peer closed its side */
		c->eof = true;
	} else {
		reply.len = 0;
		if (!feed(c, seg->sgaseg_buf, seg->sgaseg_len))
			c->eof = true;
		if (reply.len > 0 && push_bytes(&c->push_qt[c->npush++], c->qd, &reply) != 0) {
			c->npush--;
			c->eof = true;
		}
	}
	demi_sgafree(&qr->qr_value.sga); /* every popped sga, zero-length ones too */
	/* Back-pressure: the next pop only while fewer than MAX_INFLIGHT pushes are out. */
	if (!c->eof && c->npush < MAX_INFLIGHT)
		conn_pop(c);
	else
		maybe_close(c);
}

static void on_push_done(struct conn *c, int i, uint64_t now)
{
	c->last_ns = now;
	c->push_qt[i] = c->push_qt[--c->npush];
	if (!c->eof && c->pop_qt == 0)
		conn_pop(c); /* the pops stopped by back-pressure resume */
	else
		maybe_close(c);
}

/* The connection whose token this result is, and which of its tokens; NULL: a stale result. */
static struct conn *owner(const demi_qresult_t *qr, int *push_i)
{
	int idx = map_find(qr->qr_qd);
	if (idx < 0)
		return NULL;
	struct conn *c = &conns[idx];
	*push_i = -1;
	if (c->pop_qt == qr->qr_qt)
		return c;
	for (int i = 0; i < c->npush; i++)
		if (c->push_qt[i] == qr->qr_qt) {
			*push_i = i;
			return c;
		}
	return NULL; /* the qd was closed and given to a new connection since this token was issued */
}

static void log_flush(void)
{
	if (logrec.len == 0 || log_inflight == LOG_INFLIGHT)
		return; /* at the cap, records gather until an append completes */
	demi_qtoken_t qt; /* found again by its qd: the log stays open to the end */
	int err = push_bytes(&qt, logqd, &logrec);
	if (err) {
		fprintf(stderr, "kv_server: log append: %s\n", strerror(err));
		exit(1);
	}
	stats.log_bytes += logrec.len;
	logrec.len = 0;
	log_inflight++;
}

static void on_result(demi_qresult_t *qr, int lqd, demi_qtoken_t *accept_qt, uint64_t now)
{
	if (qr->qr_qd == logqd && logqd >= 0) {
		if (qr->qr_opcode != DEMI_OPC_PUSH) {
			fprintf(stderr, "kv_server: log append failed: %s\n", strerror((int)qr->qr_ret));
			exit(1);
		}
		log_inflight--;
		return;
	}
	if (lqd >= 0 && qr->qr_qt == *accept_qt) {
		if (qr->qr_opcode == DEMI_OPC_ACCEPT) {
			int qd = qr->qr_value.ares.qd;
			struct conn *c = conn_new(qd, false, now);
			stats.accepted++;
			if (c)
				conn_pop(c);
			else
				demi_close(qd); /* over capacity */
		}
		if (demi_accept(accept_qt, lqd) != 0)
			*accept_qt = 0;
		return;
	}
	int push_i;
	struct conn *c = owner(qr, &push_i);
	if (!c) {
		/* A token of a closed connection, cancelled by demi_close or completed just before it. */
		stats.stale++;
		if (qr->qr_opcode == DEMI_OPC_POP)
			demi_sgafree(&qr->qr_value.sga);
		return;
	}
	switch (qr->qr_opcode) {
	case DEMI_OPC_POP:
		on_pop(c, qr, now);
		break;
	case DEMI_OPC_PUSH:
		on_push_done(c, push_i, now);
		break;
	default: /* DEMI_OPC_FAILED: reset, timeout, broken pipe: the connection is over */
		if (push_i >= 0)
			c->push_qt[push_i] = c->push_qt[--c->npush];
		else
			c->pop_qt = 0;
		conn_close(c); /* its other tokens come back cancelled */
		break;
	}
}

static int server(const struct sockaddr_in *addr, uint64_t idle_ns, const char *log_path, const char *pipe_name,
		  int bufsize)
{
	map_init();
	for (int i = 0; i < MAX_CONNS; i++)
		free_idx[nfree++] = MAX_CONNS - 1 - i;
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);

	int lqd;
	demi_qtoken_t accept_qt;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	int one = 1;
	CHECK(demi_setsockopt(lqd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	if (bufsize > 0) { /* accepted connections inherit them */
		CHECK(demi_setsockopt(lqd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)));
		CHECK(demi_setsockopt(lqd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)));
	}
	CHECK(demi_bind(lqd, (const struct sockaddr *)addr, sizeof(*addr)));
	CHECK(demi_listen(lqd, 1024));
	CHECK(demi_accept(&accept_qt, lqd));
	if (log_path)
		CHECK(demi_open_file(&logqd, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644));
	if (pipe_name) {
		int pqd;
		CHECK(demi_create_pipe(&pqd, pipe_name));
		conn_pop(conn_new(pqd, true, now_ns())); /* a pipe is served as one more connection */
	}
	printf("kv_server: listening on %s:%d\n", inet_ntoa(addr->sin_addr), ntohs(addr->sin_port));
	fflush(stdout);

	/* One wait for everything: the accept, every connection, the pipe and the log. */
	static demi_qresult_t qrs[BATCH];
	uint64_t stop_deadline = 0;
	for (;;) {
		struct timespec tick = { .tv_sec = 0, .tv_nsec = TICK_NS };
		int n = 0;
		int err = demi_wait_next_n(qrs, BATCH, &n, &tick);
		if (err != 0 && err != ETIMEDOUT) {
			fprintf(stderr, "kv_server: demi_wait_next_n: %s\n", strerror(err));
			return 1;
		}
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++)
			on_result(&qrs[i], lqd, &accept_qt, now);
		if (logqd >= 0)
			log_flush();

		/* Timeouts: the wait returns at least every tick, so idle connections are found on time. */
		if (idle_ns > 0 && stop_deadline == 0)
			for (int i = 0; i < MAX_CONNS; i++)
				if (conns[i].used && !conns[i].pipe && now - conns[i].last_ns > idle_ns) {
					stats.idle_closed++;
					conn_close(&conns[i]);
				}

		if (stop_signal && stop_deadline == 0) {
			/* Stop: no new connections; each one closes once its pushes have completed. */
			stop_deadline = now + 2000000000ull;
			demi_close(lqd); /* the pending accept comes back cancelled */
			lqd = -1;
			for (int i = 0; i < MAX_CONNS; i++)
				if (conns[i].used) {
					conns[i].eof = true;
					maybe_close(&conns[i]);
				}
		}
		if (stop_deadline != 0 &&
		    ((nconns == 0 && log_inflight == 0 && logrec.len == 0) || now > stop_deadline))
			break;
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].used)
			conn_close(&conns[i]); /* past the deadline */
	if (logqd >= 0)
		demi_close(logqd);
	/* Collect what the closes cancelled: uncollected results hold their token slots. */
	struct timespec zero = { 0, 0 };
	int n;
	while (demi_wait_next_n(qrs, BATCH, &n, &zero) == 0)
		for (int i = 0; i < n; i++) {
			stats.stale++;
			if (qrs[i].qr_opcode == DEMI_OPC_POP)
				demi_sgafree(&qrs[i].qr_value.sga);
		}
	printf("kv_server: %lu connections, %lu requests, %lu closed idle, %lu stale results collected, "
	       "%lu log bytes\n",
	       stats.accepted, stats.requests, stats.idle_closed, stats.stale, stats.log_bytes);
	return 0;
}

/* ---- the client: CONNS connections, each REQUESTS requests in pipelined windows ---- */

#define WINDOW 64 /* requests per window; each window goes out as two pushes split mid-request */
#define NKEYS 7

struct client {
	int qd;
	long sent;                   /* requests sent */
	struct bytes expect;         /* the replies of the window in flight */
	size_t got;                  /* of expect, bytes received */
	bool quit;                   /* QUIT sent: BYE, then the end of the stream */
	bool done;
	int model[NKEYS];            /* the value of each key, -1 unset */
};

static unsigned run_id;

static void client_window(struct client *k, int ci, long reqs)
{
	struct bytes out = { 0 };
	char line[128];
	k->expect.len = 0;
	k->got = 0;
	if (k->sent == reqs) {
		puts_(&out, "QUIT\n");
		puts_(&k->expect, "BYE\n");
		k->quit = true;
	}
	for (int w = 0; w < WINDOW && k->sent < reqs; w++, k->sent++) {
		int key = (int)((k->sent * 5) % NKEYS);
		if (k->sent % 3 != 2) {
			int v = (int)(k->sent * 7919 % 100000);
			snprintf(line, sizeof(line), "SET k%u.%d.%d v%d\n", run_id, ci, key, v);
			k->model[key] = v;
			puts_(&k->expect, "OK\n");
		} else {
			snprintf(line, sizeof(line), "GET k%u.%d.%d\n", run_id, ci, key);
			if (k->model[key] < 0)
				puts_(&k->expect, "NONE\n");
			else {
				char r[64];
				snprintf(r, sizeof(r), "VALUE v%d\n", k->model[key]);
				puts_(&k->expect, r);
			}
		}
		puts_(&out, line);
	}
	/* Two pushes cut inside a request: the server must join it across pops. */
	size_t cut = out.len / 2 + 1 < out.len ? out.len / 2 + 1 : out.len;
	struct bytes a = { out.p, cut, cut }, b = { out.p + cut, out.len - cut, out.len - cut };
	demi_qtoken_t qt;
	CHECK(push_bytes(&qt, k->qd, &a));
	if (b.len > 0)
		CHECK(push_bytes(&qt, k->qd, &b));
	free(out.p);
}

static int client(const struct sockaddr_in *addr, long nconn, long reqs)
{
	map_init();
	struct client *cl = calloc((size_t)nconn, sizeof(*cl));
	if (!cl || nconn > MAX_CONNS)
		return 2;
	run_id = (unsigned)getpid();
	for (long i = 0; i < nconn; i++) {
		demi_qtoken_t qt;
		CHECK(demi_socket(&cl[i].qd, AF_INET, SOCK_STREAM, 0));
		CHECK(demi_connect(&qt, cl[i].qd, (const struct sockaddr *)addr, sizeof(*addr)));
		map_put(cl[i].qd, (int)i);
		for (int j = 0; j < NKEYS; j++)
			cl[i].model[j] = -1;
	}
	long done = 0;
	uint64_t t0 = now_ns();
	static demi_qresult_t qrs[BATCH];
	while (done < nconn) {
		struct timespec ts = { .tv_sec = 10, .tv_nsec = 0 };
		int n;
		int err = demi_wait_next_n(qrs, BATCH, &n, &ts);
		if (err) {
			fprintf(stderr, "kv_server client: wait: %s (%ld of %ld connections done)\n", strerror(err), done,
				nconn);
			return 1;
		}
		for (int r = 0; r < n; r++) {
			demi_qresult_t *qr = &qrs[r];
			int ci = map_find(qr->qr_qd);
			if (ci < 0) {
				fprintf(stderr, "kv_server client: result for unknown qd %d\n", qr->qr_qd);
				return 1;
			}
			struct client *k = &cl[ci];
			if (qr->qr_opcode == DEMI_OPC_FAILED) {
				fprintf(stderr, "kv_server client: connection %d: %s\n", ci, strerror((int)qr->qr_ret));
				return 1;
			}
			demi_qtoken_t qt;
			if (qr->qr_opcode == DEMI_OPC_CONNECT) {
				client_window(k, ci, reqs);
				CHECK(demi_pop(&qt, k->qd));
			} else if (qr->qr_opcode == DEMI_OPC_POP) {
				demi_sgaseg_t *seg = &qr->qr_value.sga.sga_segs[0];
				if (seg->sgaseg_len == 0) {
					if (!k->quit || k->got != k->expect.len) {
						fprintf(stderr, "kv_server client: connection %d closed early\n", ci);
						return 1;
					}
					k->done = true;
					done++;
					CHECK(demi_sgafree(&qr->qr_value.sga));
					continue;
				}
				if (k->got + seg->sgaseg_len > k->expect.len ||
				    memcmp(seg->sgaseg_buf, k->expect.p + k->got, seg->sgaseg_len) != 0) {
					fprintf(stderr,
						"kv_server client: connection %d: reply differs at byte %zu of the window "
						"(request %ld)\n",
						ci, k->got, k->sent);
					return 1;
				}
				k->got += seg->sgaseg_len;
				CHECK(demi_sgafree(&qr->qr_value.sga));
				if (k->got == k->expect.len && !k->quit)
					client_window(k, ci, reqs);
				CHECK(demi_pop(&qt, k->qd)); /* after BYE: the end of the stream */
			}
			/* DEMI_OPC_PUSH: nothing to do; its result only frees the token. */
		}
	}
	double s = (now_ns() - t0) / 1e9;
	for (long i = 0; i < nconn; i++) {
		CHECK(demi_close(cl[i].qd));
		free(cl[i].expect.p);
	}
	printf("kv_server client: %ld connections x %ld requests: replies ok, %.0f requests/s\n", nconn, reqs,
	       (double)(nconn * reqs) / s);
	free(cl);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s server ADDR:PORT [-i IDLE_MS] [-l LOG_PATH] [-p PIPE_NAME] [-b BYTES]\n"
				"       %s client ADDR:PORT [CONNS] [REQUESTS]\n",
			argv[0], argv[0]);
		return 2;
	}
	struct sockaddr_in addr;
	if (parse_addr(argv[2], &addr) < 0) {
		fprintf(stderr, "kv_server: bad address %s\n", argv[2]);
		return 2;
	}
	struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	if (strcmp(argv[1], "client") == 0) {
		long nconn = argc > 3 ? atol(argv[3]) : 8, reqs = argc > 4 ? atol(argv[4]) : 10000;
		if (nconn <= 0 || nconn > MAX_CONNS || reqs < 0) {
			fprintf(stderr, "kv_server: CONNS 1..%d, REQUESTS >= 0\n", MAX_CONNS);
			return 2;
		}
		return client(&addr, nconn, reqs);
	}
	uint64_t idle_ns = 0;
	const char *log_path = NULL, *pipe_name = NULL;
	int bufsize = 0;
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-i") == 0)
			idle_ns = (uint64_t)atol(argv[i + 1]) * 1000000ull;
		else if (strcmp(argv[i], "-l") == 0)
			log_path = argv[i + 1];
		else if (strcmp(argv[i], "-p") == 0)
			pipe_name = argv[i + 1];
		else if (strcmp(argv[i], "-b") == 0)
			bufsize = atoi(argv[i + 1]);
	}
	return server(&addr, idle_ns, log_path, pipe_name, bufsize);
}
