/*
 * demi-kvbench: a Redis load generator on PDPIX, the redis-benchmark of Demi (doc/apps/kvbench.md).
 * It runs on every libOS (LIBOS and CONFIG_PATH from the environment, as every Demi program), so that
 * Demi-to-Demi runs over catnip and catpowder show the kernel-bypass path end to end.
 *
 * N connections, each with up to P requests in flight (GET and SET in a chosen mix, keys drawn uniformly
 * from a key space, values of a chosen size), for a request count or a duration. Closed loop by default
 * (each reply sends the next request); with --rate, open loop: request i is due at start + i / rate, whatever
 * the replies do, and its latency is measured from that due time, so a server that stalls is charged for
 * every request it delayed (no coordinated omission). Every reply is parsed (RESP2) and checked: SET gets
 * +OK, a GET of a key this run has SET gets a value of the run's size; anything else is an error, and any
 * error fails the run.
 *
 * One thread, one demi_wait_next_n loop over every connection; the latencies go into fixed histograms
 * (hist.h); nothing is allocated in the loop but the sgas that carry the requests.
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/shutdown.h>
#include <demi/wait.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "reply.h"

#define BATCH 64          /* results per demi_wait_next_n */
#define KEY_LEN 16        /* "key:" and 12 digits, as redis-benchmark's key:__rand_int__ */
#define MAX_CONNS 10000
#define MAX_DEPTH 4096
#define MAX_VALUE (1 << 20)

enum { OP_GET, OP_SET, OP_N };
static const char *const op_name[OP_N] = { "get", "set" };

struct opts {
	struct sockaddr_in addr;
	const char *host;
	int port;
	long conns, depth;
	long set_ratio, get_ratio; /* --ratio SET:GET */
	long keyspace, size;
	long requests;             /* 0: --duration */
	double duration;           /* seconds; 0: --requests */
	double rate;               /* requests/s over all connections; 0: closed loop */
	bool prefill, quiet;
	const char *csv, *plot;
	uint64_t seed;
	double timeout;            /* seconds to connect, and to wait for the last replies */
};

struct req {
	uint64_t due_ns; /* the scheduled send time (open loop) or the send time (closed loop) */
	uint32_t key;
	uint8_t op;
	uint8_t want_value; /* a GET of a key whose SET this run has seen acknowledged */
};

struct conn {
	int qd;
	bool open, dirty;
	demi_qtoken_t close_qt; /* the graceful close in flight at the end, 0 when none */
	struct req *ring; /* the requests in flight, in send order (replies come in that order) */
	uint32_t head, count;
	char *stage;      /* requests made since the last push */
	size_t stage_len;
	struct reply_reader rr;
};

/* ---- state: one run, one thread ---- */

static struct opts o;
static struct conn *conns;
static int *dirty;                  /* conns with staged requests */
static int ndirty;
static uint8_t *key_set;            /* one bit per key: its SET has been acknowledged */
static char *value;                 /* the value every SET sends */
static struct hist hist[OP_N], tick_hist;
static uint64_t done_n[OP_N], issued, completed, errors, pushes_inflight;
static char first_error[160];
static uint64_t t0_ns, end_ns, next_due; /* next_due: open loop, the index of the next request to schedule */
static bool measuring, stopping;
static uint64_t rng;
static volatile sig_atomic_t interrupted;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rand64(void) /* xorshift64* */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("demi-kvbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void error_seen(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error_seen(const char *fmt, ...)
{
	if (errors++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(first_error, sizeof(first_error), fmt, ap);
		va_end(ap);
		fprintf(stderr, "demi-kvbench: error: %s (errors fail the run; later ones are only counted)\n",
			first_error);
	}
}

/* ---- qd -> connection: open addressing (qds are large and reused) ---- */

static struct {
	int qd, idx;
} *qmap;
static unsigned qmap_mask;

static unsigned qmap_home(int qd)
{
	return ((uint32_t)qd * 2654435761u) & qmap_mask;
}

static void qmap_put(int qd, int idx)
{
	unsigned s = qmap_home(qd);
	while (qmap[s].idx >= 0)
		s = (s + 1) & qmap_mask;
	qmap[s].qd = qd;
	qmap[s].idx = idx;
}

static int qmap_find(int qd)
{
	for (unsigned s = qmap_home(qd);; s = (s + 1) & qmap_mask) {
		if (qmap[s].idx < 0)
			return -1;
		if (qmap[s].qd == qd)
			return qmap[s].idx;
	}
}

/* ---- requests ---- */

static size_t put_bulk(char *p, const char *s, size_t n)
{
	size_t k = (size_t)sprintf(p, "$%zu\r\n", n);
	memcpy(p + k, s, n);
	memcpy(p + k + n, "\r\n", 2);
	return k + n + 2;
}

static size_t request_max(void)
{
	return 64 + KEY_LEN + (size_t)o.size;
}

/* Stages one request on connection c (which has room), due at due_ns. */
static void issue(int ci, int op, uint32_t key, uint64_t due_ns)
{
	struct conn *c = &conns[ci];
	struct req *r = &c->ring[(c->head + c->count++) % (uint32_t)o.depth];
	r->due_ns = due_ns;
	r->key = key;
	r->op = (uint8_t)op;
	r->want_value = op == OP_GET && (key_set[key >> 3] >> (key & 7) & 1);
	char k[KEY_LEN + 1], *p = c->stage + c->stage_len;
	snprintf(k, sizeof(k), "key:%012u", key);
	if (op == OP_GET) {
		memcpy(p, "*2\r\n$3\r\nGET\r\n", 13);
		p += 13;
		p += put_bulk(p, k, KEY_LEN);
	} else {
		memcpy(p, "*3\r\n$3\r\nSET\r\n", 13);
		p += 13;
		p += put_bulk(p, k, KEY_LEN);
		p += put_bulk(p, value, (size_t)o.size);
	}
	c->stage_len = (size_t)(p - c->stage);
	if (!c->dirty) {
		c->dirty = true;
		dirty[ndirty++] = ci;
	}
	issued++;
}

/* The next request of the mix: a prefill run SETs every key once, in order. */
static void issue_next(int ci, uint64_t due_ns)
{
	if (!measuring) {
		issue(ci, OP_SET, (uint32_t)issued, due_ns);
		return;
	}
	uint64_t x = rand64();
	int op = (long)(x % (uint64_t)(o.set_ratio + o.get_ratio)) < o.set_ratio ? OP_SET : OP_GET;
	issue(ci, op, (uint32_t)((x >> 20) % (uint64_t)o.keyspace), due_ns);
}

/* Whether another request may be issued now (count or time left, and not stopping). */
static bool may_issue(uint64_t now)
{
	if (stopping)
		return false;
	if (!measuring)
		return issued < (uint64_t)o.keyspace;
	if (o.requests)
		return issued < (uint64_t)o.requests;
	return now < end_ns;
}

static void push_staged(void)
{
	for (int i = 0; i < ndirty; i++) {
		struct conn *c = &conns[dirty[i]];
		c->dirty = false;
		if (!c->open || c->stage_len == 0)
			continue;
		demi_sgarray_t sga = demi_sgaalloc(c->stage_len);
		if (!sga.sga_buf)
			die("demi_sgaalloc(%zu) failed: the libOS is out of buffers", c->stage_len);
		memcpy(sga.sga_segs[0].sgaseg_buf, c->stage, c->stage_len);
		demi_qtoken_t qt;
		int err = demi_push(&qt, c->qd, &sga);
		if (err)
			die("demi_push: %s", strerror(err));
		demi_sgafree(&sga); /* the libOS keeps its own reference until the push completes */
		pushes_inflight++;
		c->stage_len = 0;
	}
	ndirty = 0;
}

/* ---- replies ---- */

static int on_reply(void *arg, const struct reply *rep)
{
	int ci = (int)(intptr_t)arg;
	struct conn *c = &conns[ci];
	uint64_t now = now_ns();
	if (c->count == 0) {
		error_seen("connection %d: a reply for no request (type '%c')", ci, rep->type);
		return 1;
	}
	struct req *r = &c->ring[c->head];
	c->head = (c->head + 1) % (uint32_t)o.depth;
	c->count--;
	completed++;
	if (rep->type == '-')
		error_seen("%s key:%012u: the server answered -%s", op_name[r->op], r->key, rep->line);
	else if (r->op == OP_SET && !(rep->type == '+' && strcmp(rep->line, "OK") == 0))
		error_seen("SET key:%012u: the reply is '%c' %s, not +OK", r->key, rep->type, rep->line);
	else if (r->op == OP_SET)
		key_set[r->key >> 3] |= (uint8_t)(1u << (r->key & 7));
	else if (rep->type != '$')
		error_seen("GET key:%012u: the reply is of type '%c', not a bulk string", r->key, rep->type);
	else if (r->want_value && rep->len != o.size)
		error_seen("GET key:%012u after its SET: %lld bytes, want %ld", r->key, (long long)rep->len, o.size);
	if (measuring) {
		uint64_t lat = now > r->due_ns ? now - r->due_ns : 0;
		hist_add(&hist[r->op], lat);
		hist_add(&tick_hist, lat);
		done_n[r->op]++;
	}
	/* Closed loop: the reply frees a slot, which the next request takes. */
	if (o.rate == 0 && may_issue(now))
		issue_next(ci, now);
	return 0;
}

static void pop(struct conn *c)
{
	demi_qtoken_t qt;
	int err = demi_pop(&qt, c->qd);
	if (err)
		die("demi_pop: %s", strerror(err));
}

static void on_result(const demi_qresult_t *qr)
{
	int ci = qmap_find(qr->qr_qd);
	if (ci < 0)
		return; /* a connection already closed */
	struct conn *c = &conns[ci];
	if (qr->qr_opcode == DEMI_OPC_FAILED) {
		if (qr->qr_ret == ECANCELED)
			return;
		die("connection %d to %s:%d: %s", ci, o.host, o.port, strerror((int)qr->qr_ret));
	}
	if (qr->qr_opcode == DEMI_OPC_PUSH) {
		pushes_inflight--;
		return;
	}
	if (qr->qr_opcode != DEMI_OPC_POP)
		return;
	demi_sgarray_t sga = qr->qr_value.sga;
	uint32_t len = sga.sga_segs[0].sgaseg_len;
	if (len == 0) {
		demi_sgafree(&sga);
		die("connection %d: the server closed it with %u requests in flight", ci, c->count);
	}
	int rc = reply_feed(&c->rr, sga.sga_segs[0].sgaseg_buf, len, on_reply, (void *)(intptr_t)ci);
	demi_sgafree(&sga);
	if (rc < 0)
		die("connection %d: %s", ci, c->rr.top.line);
	if (rc > 0)
		die("connection %d: %s", ci, first_error);
	pop(c);
}

/* ---- the loop ---- */

static void progress(uint64_t now, uint64_t *last_ns, uint64_t *last_n)
{
	if (now - *last_ns < 1000000000ull)
		return;
	if (!o.quiet && measuring) {
		double dt = (double)(now - *last_ns) / 1e9;
		fprintf(stderr, "demi-kvbench: %5.1f s  %10llu requests  %9.0f/s  p50 %8.1f us  p99 %8.1f us  errors %llu\n",
			(double)(now - t0_ns) / 1e9, (unsigned long long)completed,
			(double)(completed - *last_n) / dt, (double)hist_quantile(&tick_hist, 0.5) / 1e3,
			(double)hist_quantile(&tick_hist, 0.99) / 1e3, (unsigned long long)errors);
	}
	hist_reset(&tick_hist);
	*last_ns = now;
	*last_n = completed;
}

/* Runs until every request issued has its reply and no more may be issued. */
static void run(void)
{
	demi_qresult_t qrs[BATCH];
	uint64_t start = now_ns(), last_ns = start, last_n = 0, deadline = 0;
	t0_ns = start;
	end_ns = start + (uint64_t)(o.duration * 1e9);
	next_due = 0;
	if (o.rate == 0) {
		for (long i = 0; i < o.conns; i++)
			for (long d = 0; d < o.depth && may_issue(start); d++)
				issue_next((int)i, start);
	}
	for (;;) {
		uint64_t now = now_ns();
		struct timespec to = { 0, 1000000 }; /* 1 ms: progress and signals are looked at that often */
		if (o.rate > 0 && measuring) {
			/* Open loop: every request due by now goes out, each on its connection in turn. */
			for (;;) {
				uint64_t due = t0_ns + (uint64_t)((double)next_due * 1e9 / o.rate);
				if (due > now || !may_issue(due)) {
					if (due > now) {
						uint64_t wait = due - now;
						to.tv_nsec = wait < 1000000 ? (long)wait : 1000000;
						if (wait < 20000)
							to.tv_nsec = 0;
					}
					break;
				}
				int ci = (int)(next_due % (uint64_t)o.conns);
				if (conns[ci].count >= (uint32_t)o.depth)
					break; /* it stays due: sent (and timed) from its due time once a reply makes room */
				issue_next(ci, due);
				next_due++;
			}
		}
		push_staged();
		if (measuring)
			progress(now, &last_ns, &last_n);
		if (interrupted && !stopping) {
			stopping = true;
			fprintf(stderr, "demi-kvbench: interrupted: waiting for the replies in flight\n");
		}
		bool more = may_issue(now);
		if (!more && completed == issued)
			return;
		if (!more) {
			if (!deadline)
				deadline = now + (uint64_t)(o.timeout * 1e9);
			else if (now > deadline)
				die("%llu replies still missing %.0f s after the last request",
				    (unsigned long long)(issued - completed), o.timeout);
		}
		int n = 0;
		int err = demi_wait_next_n(qrs, BATCH, &n, &to);
		if (err && err != ETIMEDOUT)
			die("demi_wait_next_n: %s", strerror(err));
		for (int i = 0; i < n; i++)
			on_result(&qrs[i]);
	}
}

static void connect_all(void)
{
	demi_qresult_t qrs[BATCH];
	int one = 1;
	long up = 0;
	for (long i = 0; i < o.conns; i++) {
		struct conn *c = &conns[i];
		demi_qtoken_t qt;
		int err = demi_socket(&c->qd, AF_INET, SOCK_STREAM, 0);
		if (err)
			die("demi_socket: %s", strerror(err));
		(void)demi_setsockopt(c->qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		qmap_put(c->qd, (int)i);
		err = demi_connect(&qt, c->qd, (const struct sockaddr *)&o.addr, sizeof(o.addr));
		if (err)
			die("demi_connect to %s:%d: %s", o.host, o.port, strerror(err));
	}
	uint64_t deadline = now_ns() + (uint64_t)(o.timeout * 1e9);
	while (up < o.conns) {
		struct timespec to = { 0, 10000000 };
		int n = 0;
		int err = demi_wait_next_n(qrs, BATCH, &n, &to);
		if (err && err != ETIMEDOUT)
			die("demi_wait_next_n: %s", strerror(err));
		for (int i = 0; i < n; i++) {
			int ci = qmap_find(qrs[i].qr_qd);
			if (ci < 0)
				continue;
			if (qrs[i].qr_opcode == DEMI_OPC_FAILED)
				die("cannot connect to %s:%d: %s (is the server running and reachable on this libOS?)",
				    o.host, o.port, strerror((int)qrs[i].qr_ret));
			if (qrs[i].qr_opcode == DEMI_OPC_CONNECT) {
				conns[ci].open = true;
				up++;
				pop(&conns[ci]);
			}
		}
		if (interrupted)
			die("interrupted while connecting");
		if (now_ns() > deadline)
			die("cannot connect to %s:%d: %ld of %ld connections up after %.0f s", o.host, o.port, up, o.conns,
			    o.timeout);
	}
}

/*
 * Closes every connection gracefully (demi_close_flush: the FIN goes out before the process does, so that
 * the server sees each client leave), waiting one second at most; what is left then is closed at once.
 */
static void close_all(void)
{
	demi_qresult_t qrs[BATCH];
	long pending = 0;
	for (long i = 0; i < o.conns; i++) {
		struct conn *c = &conns[i];
		if (!c->open)
			continue;
		c->close_qt = 0;
		if (demi_close_flush(&c->close_qt, c->qd) == 0)
			pending++;
		else
			(void)demi_close(c->qd);
		c->open = false;
	}
	uint64_t deadline = now_ns() + 1000000000ull;
	while (pending > 0 && now_ns() < deadline) {
		struct timespec to = { 0, 10000000 };
		int n = 0;
		int err = demi_wait_next_n(qrs, BATCH, &n, &to);
		if (err && err != ETIMEDOUT)
			break;
		for (int i = 0; i < n; i++) {
			int ci = qmap_find(qrs[i].qr_qd);
			if (ci >= 0 && conns[ci].close_qt && qrs[i].qr_qt == conns[ci].close_qt) {
				conns[ci].close_qt = 0;
				pending--;
			}
		}
	}
	for (long i = 0; i < o.conns && pending > 0; i++)
		if (conns[i].close_qt)
			(void)demi_close(conns[i].qd); /* aborts the flush */
}

/* ---- output ---- */

static void write_csv(FILE *f, const struct hist *all)
{
	fprintf(f, "op,low_us,high_us,count,cumulative\n");
	for (int k = 0; k <= OP_N; k++) {
		const struct hist *h = k < OP_N ? &hist[k] : all;
		uint64_t seen = 0;
		for (unsigned i = 0; i < HIST_BUCKETS && h->count; i++) {
			if (!h->n[i])
				continue;
			seen += h->n[i];
			fprintf(f, "%s,%.3f,%.3f,%llu,%.6f\n", k < OP_N ? op_name[k] : "all", (double)hist_low(i) / 1e3,
				(double)hist_high(i) / 1e3, (unsigned long long)h->n[i], (double)seen / (double)h->count);
		}
	}
}

static bool have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[4096];
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		snprintf(buf, sizeof(buf), "%.*s/gnuplot", (int)n, p);
		if (access(buf, X_OK) == 0)
			return true;
		p += n + (e ? 1 : 0);
	}
	return false;
}

static void plot(const char *csv)
{
	if (!have_gnuplot()) {
		printf("demi-kvbench: gnuplot is not installed: no plot (%s%s)\n", o.csv ? "the distribution is in " : "",
		       o.csv ? o.csv : "--csv FILE keeps the distribution");
		return;
	}
	FILE *g = popen("gnuplot", "w");
	if (!g)
		die("cannot run gnuplot: %s", strerror(errno));
	fprintf(g, "set terminal pngcairo size 900,560\nset output '%s'\nset datafile separator ','\n"
		   "set logscale x\nset grid\nset key bottom right\nset yrange [0:1]\n"
		   "set xlabel 'latency (us)'\nset ylabel 'fraction of requests at or below'\n"
		   "set title 'demi-kvbench: %ld connections, pipeline %ld, %ld B values%s'\n"
		   "plot '%s' using (strcol(1) eq 'get' ? $3 : 1/0):5 with steps lw 2 title 'GET', "
		   "'%s' using (strcol(1) eq 'set' ? $3 : 1/0):5 with steps lw 2 title 'SET'\n",
		o.plot, o.conns, o.depth, o.size, o.rate > 0 ? ", open loop" : "", csv, csv);
	if (pclose(g) != 0)
		die("gnuplot failed to write %s", o.plot);
	printf("demi-kvbench: plot in %s\n", o.plot);
}

static void report(double secs)
{
	struct hist *all = calloc(1, sizeof(*all));
	if (!all)
		die("out of memory");
	for (int k = 0; k < OP_N; k++)
		hist_merge(all, &hist[k]);
	const char *libos = getenv("LIBOS");
	uint64_t n = completed;
	double rps = secs > 0 ? (double)n / secs : 0;
#define US(h, q) ((double)hist_quantile((h), (q)) / 1e3)
	printf("demi-kvbench: %llu requests (%llu GET, %llu SET) in %.2f s on %ld connections, pipeline %ld, %ld B "
	       "values, %s: %.0f requests/s, %llu errors\n",
	       (unsigned long long)n, (unsigned long long)done_n[OP_GET], (unsigned long long)done_n[OP_SET], secs,
	       o.conns, o.depth, o.size, o.rate > 0 ? "open loop" : "closed loop", rps, (unsigned long long)errors);
	for (int k = 0; k <= OP_N; k++) {
		const struct hist *h = k < OP_N ? &hist[k] : all;
		if (!h->count)
			continue;
		printf("demi-kvbench: %-3s latency: p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
		       k < OP_N ? op_name[k] : "all", US(h, 0.5), US(h, 0.99), US(h, 0.999), (double)h->max / 1e3);
	}
	printf("RESULT tool=demi-kvbench libos=%s conns=%ld pipeline=%ld size=%ld mode=%s target_rps=%.0f "
	       "requests=%llu get=%llu set=%llu errors=%llu seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f "
	       "p999_us=%.1f max_us=%.1f get_p50_us=%.1f get_p99_us=%.1f set_p50_us=%.1f set_p99_us=%.1f\n",
	       libos && *libos ? libos : "catnap", o.conns, o.depth, o.size, o.rate > 0 ? "open" : "closed", o.rate,
	       (unsigned long long)n, (unsigned long long)done_n[OP_GET], (unsigned long long)done_n[OP_SET],
	       (unsigned long long)errors, secs, rps, US(all, 0.5), US(all, 0.99), US(all, 0.999),
	       (double)all->max / 1e3, US(&hist[OP_GET], 0.5), US(&hist[OP_GET], 0.99), US(&hist[OP_SET], 0.5),
	       US(&hist[OP_SET], 0.99));
#undef US
	fflush(stdout);
	char tmpcsv[] = "/tmp/demi-kvbench-XXXXXX";
	const char *csv = o.csv;
	if (!csv && o.plot) {
		int fd = mkstemp(tmpcsv);
		if (fd < 0)
			die("mkstemp: %s", strerror(errno));
		close(fd);
		csv = tmpcsv;
	}
	if (csv) {
		FILE *f = fopen(csv, "w");
		if (!f)
			die("cannot write %s: %s", csv, strerror(errno));
		write_csv(f, all);
		if (fclose(f) != 0)
			die("cannot write %s: %s", csv, strerror(errno));
		if (o.csv)
			printf("demi-kvbench: latency distribution in %s\n", o.csv);
	}
	if (o.plot)
		plot(csv);
	if (csv == tmpcsv)
		unlink(tmpcsv);
	free(all);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: demi-kvbench [options]   (LIBOS and CONFIG_PATH from the environment)\n"
		"  -h, --host ADDR        server IPv4 address (default 127.0.0.1)\n"
		"  -p, --port N           server port (default 6379)\n"
		"  -c, --clients N        connections (default 50)\n"
		"  -P, --pipeline N       requests in flight per connection (default 1; open loop: 128)\n"
		"  -n, --requests N       requests to complete (default 100000 unless --duration)\n"
		"  -t, --duration SEC     run this long instead of a request count\n"
		"      --ratio SET:GET    the mix of commands (default 1:1; 0:1 is GET only)\n"
		"  -r, --keyspace N       keys key:000000000000 .. N-1, drawn uniformly (default 10000)\n"
		"  -d, --data-size N      SET value size in bytes (default 64)\n"
		"      --rate R           open loop: R requests/s over all connections, latency from each\n"
		"                         request's scheduled time (default: closed loop)\n"
		"      --prefill          SET every key once before measuring (not counted)\n"
		"      --csv FILE         write the latency distribution (op,low_us,high_us,count,cumulative)\n"
		"      --plot FILE.png    plot the distribution with gnuplot (a line says so when it is missing)\n"
		"      --seed N           random seed (default 1)\n"
		"      --timeout SEC      to connect, and to wait for the last replies (default 10)\n"
		"  -q, --quiet            no progress lines\n"
		"      --help             this text\n"
		"Prints progress once a second on stderr, then a summary and one line 'RESULT key=value ...' on stdout.\n"
		"Exit status: 0 when every reply was right, 1 on any error (connection, protocol or reply), 2 on usage.\n");
}

static long num(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "demi-kvbench: %s wants an integer from %ld to %ld, not '%s'\n", opt, lo, hi, s);
		exit(2);
	}
	return v;
}

static double fnum(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || end == s || !(v >= lo && v <= hi)) {
		fprintf(stderr, "demi-kvbench: %s wants a number from %g to %g, not '%s'\n", opt, lo, hi, s);
		exit(2);
	}
	return v;
}

static void parse_opts(int argc, char **argv)
{
	enum { O_RATIO = 256, O_RATE, O_PREFILL, O_CSV, O_PLOT, O_SEED, O_TIMEOUT, O_HELP };
	static const struct option lo[] = {
		{ "host", required_argument, 0, 'h' },	    { "port", required_argument, 0, 'p' },
		{ "clients", required_argument, 0, 'c' },   { "pipeline", required_argument, 0, 'P' },
		{ "requests", required_argument, 0, 'n' },  { "duration", required_argument, 0, 't' },
		{ "keyspace", required_argument, 0, 'r' },  { "data-size", required_argument, 0, 'd' },
		{ "quiet", no_argument, 0, 'q' },	    { "ratio", required_argument, 0, O_RATIO },
		{ "rate", required_argument, 0, O_RATE },   { "prefill", no_argument, 0, O_PREFILL },
		{ "csv", required_argument, 0, O_CSV },	    { "plot", required_argument, 0, O_PLOT },
		{ "seed", required_argument, 0, O_SEED },   { "timeout", required_argument, 0, O_TIMEOUT },
		{ "help", no_argument, 0, O_HELP },	    { 0, 0, 0, 0 },
	};
	o = (struct opts){ .host = "127.0.0.1", .port = 6379, .conns = 50, .depth = 0, .set_ratio = 1,
			   .get_ratio = 1, .keyspace = 10000, .size = 64, .seed = 1, .timeout = 10 };
	int ch;
	while ((ch = getopt_long(argc, argv, "h:p:c:P:n:t:r:d:q", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = (int)num("--port", optarg, 1, 65535); break;
		case 'c': o.conns = num("--clients", optarg, 1, MAX_CONNS); break;
		case 'P': o.depth = num("--pipeline", optarg, 1, MAX_DEPTH); break;
		case 'n': o.requests = num("--requests", optarg, 1, 1000000000000l); break;
		case 't': o.duration = fnum("--duration", optarg, 0.001, 1e6); break;
		case 'r': o.keyspace = num("--keyspace", optarg, 1, 1000000000l); break;
		case 'd': o.size = num("--data-size", optarg, 0, MAX_VALUE); break;
		case 'q': o.quiet = true; break;
		case O_RATIO: {
			char *colon = strchr(optarg, ':');
			if (!colon) {
				fprintf(stderr, "demi-kvbench: --ratio wants SET:GET, as 1:10, not '%s'\n", optarg);
				exit(2);
			}
			*colon = '\0';
			o.set_ratio = num("--ratio", optarg, 0, 1000000);
			o.get_ratio = num("--ratio", colon + 1, 0, 1000000);
			if (o.set_ratio + o.get_ratio == 0) {
				fprintf(stderr, "demi-kvbench: --ratio 0:0 sends nothing\n");
				exit(2);
			}
			break;
		}
		case O_RATE: o.rate = fnum("--rate", optarg, 1, 1e9); break;
		case O_PREFILL: o.prefill = true; break;
		case O_CSV: o.csv = optarg; break;
		case O_PLOT: o.plot = optarg; break;
		case O_SEED: o.seed = (uint64_t)num("--seed", optarg, 0, __LONG_MAX__); break;
		case O_TIMEOUT: o.timeout = fnum("--timeout", optarg, 0.1, 3600); break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "demi-kvbench: unexpected argument '%s' (try --help)\n", argv[optind]);
		exit(2);
	}
	if (o.requests && o.duration) {
		fprintf(stderr, "demi-kvbench: --requests and --duration: choose one\n");
		exit(2);
	}
	if (!o.requests && !o.duration)
		o.requests = 100000;
	if (!o.depth)
		o.depth = o.rate > 0 ? 128 : 1;
	if (strcmp(o.host, "localhost") == 0)
		o.host = "127.0.0.1";
	memset(&o.addr, 0, sizeof(o.addr));
	o.addr.sin_family = AF_INET;
	o.addr.sin_port = htons((uint16_t)o.port);
	if (inet_pton(AF_INET, o.host, &o.addr.sin_addr) != 1) {
		fprintf(stderr, "demi-kvbench: --host wants an IPv4 address, not '%s'\n", o.host);
		exit(2);
	}
	rng = o.seed * 0x9E3779B97F4A7C15ull + 1;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	parse_opts(argc, argv);
	conns = calloc((size_t)o.conns, sizeof(*conns));
	dirty = calloc((size_t)o.conns, sizeof(*dirty));
	key_set = calloc((size_t)o.keyspace / 8 + 1, 1);
	value = malloc((size_t)o.size + 1);
	qmap_mask = 1;
	while (qmap_mask < 2 * (unsigned)o.conns)
		qmap_mask <<= 1;
	qmap = malloc(sizeof(*qmap) * qmap_mask);
	qmap_mask--;
	if (!conns || !dirty || !key_set || !value || !qmap)
		die("out of memory");
	for (unsigned s = 0; s <= qmap_mask; s++)
		qmap[s].idx = -1;
	for (long i = 0; i < o.size; i++)
		value[i] = (char)('a' + i % 26);
	for (long i = 0; i < o.conns; i++) {
		conns[i].ring = calloc((size_t)o.depth, sizeof(struct req));
		conns[i].stage = malloc((size_t)o.depth * request_max());
		if (!conns[i].ring || !conns[i].stage)
			die("out of memory for %ld connections x %ld requests", o.conns, o.depth);
		reply_reader_init(&conns[i].rr);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	int err = demi_init(&args);
	if (err)
		die("demi_init: %s (LIBOS=%s)", strerror(err), getenv("LIBOS") ? getenv("LIBOS") : "");
	connect_all();
	if (o.prefill) {
		double rate = o.rate;
		o.rate = 0; /* the prefill is a closed loop, as fast as the server goes */
		run();
		o.rate = rate;
		if (errors)
			die("the prefill failed: %s", first_error);
		if (!o.quiet)
			fprintf(stderr, "demi-kvbench: prefill: %ld keys set\n", o.keyspace);
	}
	measuring = true;
	issued = completed = 0;
	uint64_t start = now_ns();
	run();
	double secs = (double)(now_ns() - start) / 1e9;
	close_all();
	report(secs);
	if (errors) {
		fprintf(stderr, "demi-kvbench: FAILED: %llu errors; the first: %s\n", (unsigned long long)errors,
			first_error);
		return 1;
	}
	if (interrupted) {
		fprintf(stderr, "demi-kvbench: interrupted: the figures cover the part that ran\n");
		return 1;
	}
	return 0;
}
