/*
 * demi-kv's event loop (server.h). One thread waits with demi_wait_next_n on everything at once: the accepts
 * of the listener, one pop and a few pushes per connection, and the log's flush (aof.h). A turn runs the
 * requests of every pop it got, appends what they wrote to the log as one record, starts the log's flush, and
 * pushes the replies that may go: a reply that follows a write waits until the log has that write durable
 * (aof_durable), and every later reply of the same connection waits behind it, to keep order.
 *
 * Replies are written by kv_exec straight into Demi buffers (demi_sgaalloc chunks, struct kv_out) and pushed
 * without a copy; the replies of all the requests of one pop share the chunk and the push.
 */
#include "server.h"

#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aof.h"
#include "kv_cmd.h"
#include "qdmap.h"
#include "resp.h"

#define PUSH_CAP 8                /* pushes in flight per connection; more replies wait in its queue */
#define ACCEPTS 8                 /* accepts kept pending on the listener */
#define BATCH 128                 /* results per demi_wait_next_n */
#define REJECT_SLOTS 64           /* connections over maxclients, told so before they are closed */
#define CHUNK_MIN (16 * 1024)     /* the first reply chunk of a turn */
#define CHUNK_MAX (1024 * 1024)   /* chunks grow to this within a turn for big replies */
#define TICK_MS 100               /* the wait's timeout: active expiry and close deadlines (hz 10, as Redis) */
#define EXPIRE_BUDGET 200         /* keys with a time to live sampled per tick */
#define CLOSE_GRACE_MS 5000       /* a closing connection whose replies do not drain is closed anyway */
#define SEQ_TURN INT64_MAX        /* a chunk that waits for this turn's log record */

enum conn_state { C_FREE, C_OPEN, C_CLOSING };

struct chunk {
	demi_sgarray_t sga;
	uint32_t len;
	int64_t seq; /* the log record that must be durable before it goes (0: none) */
};

struct conn {
	struct kv_out out; /* first: kv_out's owner is the connection */
	int qd;
	enum conn_state state;
	bool dirty;      /* in the turn's list of connections with new replies */
	bool held;       /* in the list of connections waiting for the log */
	bool turn_write; /* ran a write in this turn: its replies wait for the turn's record */
	demi_qtoken_t pop_qt; /* 0: none */
	int npush;
	demi_qtoken_t push_qt[PUSH_CAP]; /* in start order: pushes complete in that order */
	uint32_t push_len[PUSH_CAP];
	struct chunk *q; /* replies not pushed yet, a ring */
	uint32_t qhead, qlen, qcap;
	demi_sgarray_t cur; /* the chunk kv_exec writes into; sga_buf NULL: none */
	size_t chunk_size;
	uint64_t out_bytes; /* queued and in flight: the output buffer limit's measure */
	int64_t write_seq;  /* the record of this connection's last write */
	uint64_t close_by_ms;
	struct resp rp;
	struct kv_client cli;
};

static struct server {
	const struct kv_opts *o;
	struct kv_db *db;
	struct aof *aof;
	demi_qtoken_t aof_qt; /* the log's flush in flight; 0: none */
	int lqd;
	int naccept;
	demi_qtoken_t accept_qt[ACCEPTS];
	struct conn *conns;
	uint32_t nslots, hi; /* slots; one past the highest slot used */
	uint32_t *free_idx, nfree;
	uint32_t nclients; /* open and closing, rejected ones not counted */
	struct qdmap map;
	uint32_t *dirty, ndirty, ndirty_cap;
	uint32_t *held, nheld;
	struct kv_out log; /* the turn's log record, one malloc'd buffer */
	char *log_base;
	size_t log_cap;
	bool log_failed;
	struct kv_server_info info;
	char version[32], libos[32], fsync_name[16];
	uint64_t next_id;
	uint64_t now_ms;
	struct {
		uint64_t stale, protocol_errors, output_limit, nomem, query_limit, push_failed, accept_failed;
	} st;
	bool said_output_limit, said_nomem, said_maxclients, said_query_limit;
} S;

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static void say(int level, const char *fmt, ...)
{
	if (level > S.o->loglevel)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("demi-kv: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* the log keeps absolute expiry times: wall clock, as Redis */
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- replies: chunks of Demi buffers ---- */

static void chunk_free(demi_sgarray_t *sga)
{
	if (sga->sga_buf)
		demi_sgafree(sga);
	memset(sga, 0, sizeof(*sga));
}

static int queue_grow(struct conn *c)
{
	uint32_t cap = c->qcap ? c->qcap * 2 : 4;
	struct chunk *q = malloc(cap * sizeof(*q));
	if (!q)
		return -1;
	for (uint32_t i = 0; i < c->qlen; i++)
		q[i] = c->q[(c->qhead + i) % c->qcap];
	free(c->q);
	c->q = q;
	c->qcap = cap;
	c->qhead = 0;
	return 0;
}

/* Moves the filled part of the current chunk to the queue. */
static int seal(struct conn *c)
{
	if (!c->cur.sga_buf)
		return 0;
	char *base = c->cur.sga_segs[0].sgaseg_buf;
	uint32_t len = (uint32_t)(c->out.p - base);
	if (len == 0) {
		chunk_free(&c->cur);
		c->out.p = c->out.end = NULL;
		return 0;
	}
	if (c->qlen == c->qcap && queue_grow(c) != 0)
		return -1;
	struct chunk *k = &c->q[(c->qhead + c->qlen++) % c->qcap];
	k->sga = c->cur;
	k->sga.sga_segs[0].sgaseg_len = len;
	k->len = len;
	k->seq = c->turn_write ? SEQ_TURN : c->write_seq;
	c->out_bytes += len;
	memset(&c->cur, 0, sizeof(c->cur));
	c->out.p = c->out.end = NULL;
	return 0;
}

static void mark_dirty(struct conn *c)
{
	if (!c->dirty && S.ndirty < S.ndirty_cap) {
		c->dirty = true;
		S.dirty[S.ndirty++] = (uint32_t)(c - S.conns);
	}
}

/* kv_out's more(): a fresh chunk, unless the client's output buffer limit is reached. */
static int out_more(struct kv_out *o)
{
	struct conn *c = o->owner;
	if (seal(c) != 0)
		goto nomem;
	size_t size = c->chunk_size;
	if (S.o->output_limit && c->out_bytes + size > S.o->output_limit) {
		o->overflow = true;
		return -1;
	}
	c->cur = demi_sgaalloc(size);
	if (!c->cur.sga_buf)
		goto nomem;
	if (c->chunk_size < CHUNK_MAX)
		c->chunk_size *= 2;
	o->p = c->cur.sga_segs[0].sgaseg_buf;
	o->end = o->p + size;
	mark_dirty(c);
	return 0;
nomem:
	S.st.nomem++;
	if (!S.said_nomem) {
		S.said_nomem = true;
		say(0, "out of Demi buffers for replies: closing the client (raise demi.max_buffer_bytes or "
		       "demi.max_buffers in the config, or lower --client-output-buffer-limit)");
	}
	o->overflow = true;
	return -1;
}

/* The log's kv_out: one growing malloc'd buffer, so that the turn's record is contiguous. */
static int log_more(struct kv_out *o)
{
	size_t used = (size_t)(o->p - S.log_base);
	size_t cap = S.log_cap ? S.log_cap * 2 : 64 * 1024;
	char *b = realloc(S.log_base, cap);
	if (!b) {
		o->overflow = true;
		return -1;
	}
	S.log_base = b;
	S.log_cap = cap;
	o->p = b + used;
	o->end = b + cap;
	return 0;
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	demi_close(c->qd); /* a pending pop and pushes come back cancelled: stale results */
	qdmap_del(&S.map, c->qd);
	chunk_free(&c->cur);
	while (c->qlen > 0) {
		chunk_free(&c->q[c->qhead].sga);
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
	}
	free(c->q);
	resp_free(&c->rp);
	if (c->cli.id != 0)
		S.nclients--;
	c->state = C_FREE;
	c->dirty = c->held = false;
	S.free_idx[S.nfree++] = (uint32_t)(c - S.conns);
}

static struct conn *conn_new(int qd, bool count)
{
	if (S.nfree == 0)
		return NULL;
	uint32_t idx = S.free_idx[--S.nfree];
	struct conn *c = &S.conns[idx];
	memset(c, 0, sizeof(*c));
	c->qd = qd;
	c->state = C_OPEN;
	c->chunk_size = CHUNK_MIN;
	c->out.more = out_more;
	c->out.owner = c;
	resp_init(&c->rp);
	c->cli.resp = 2;
	c->cli.info = &S.info;
	if (count) {
		c->cli.id = ++S.next_id;
		S.nclients++;
	}
	if (idx + 1 > S.hi)
		S.hi = idx + 1;
	qdmap_put(&S.map, qd, (int)idx);
	return c;
}

/* No more requests: the connection closes once its replies are out (or after CLOSE_GRACE_MS). */
static void conn_closing(struct conn *c)
{
	if (c->state == C_OPEN) {
		c->state = C_CLOSING;
		c->close_by_ms = S.now_ms + CLOSE_GRACE_MS;
	}
}

/* Starts the pushes that may go: in order, at most PUSH_CAP, only what the log has made durable. */
static void pump(struct conn *c)
{
	int64_t durable = S.aof ? aof_durable(S.aof) : INT64_MAX;
	while (c->qlen > 0 && c->npush < PUSH_CAP) {
		struct chunk *k = &c->q[c->qhead];
		if (k->seq > durable)
			break;
		demi_qtoken_t qt;
		int err = demi_push(&qt, c->qd, &k->sga);
		if (err != 0) {
			S.st.push_failed++;
			say(2, "push on client %llu: %s", (unsigned long long)c->cli.id, strerror(err));
			conn_close(c);
			return;
		}
		demi_sgafree(&k->sga); /* the libOS holds its own reference until the bytes are out */
		c->push_qt[c->npush] = qt;
		c->push_len[c->npush++] = k->len;
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
	}
	if (c->qlen > 0 && c->q[c->qhead].seq > durable && !c->held) {
		if (S.nheld == S.nslots) { /* stale entries of closed connections: rebuild from the flags */
			S.nheld = 0;
			for (uint32_t i = 0; i < S.hi; i++)
				if (S.conns[i].held)
					S.held[S.nheld++] = i;
		}
		c->held = true;
		S.held[S.nheld++] = (uint32_t)(c - S.conns);
	}
	if (c->state == C_CLOSING && c->qlen == 0 && c->npush == 0 && !c->cur.sga_buf)
		conn_close(c);
}

static void conn_pop(struct conn *c)
{
	if (demi_pop(&c->pop_qt, c->qd) != 0) {
		c->pop_qt = 0;
		conn_close(c);
	}
}

/* The output buffer limit was reached (or no buffer was left): Redis closes such a client at once. */
static void conn_overflow(struct conn *c)
{
	if (S.o->output_limit && c->out_bytes + c->chunk_size > S.o->output_limit) {
		S.st.output_limit++;
		if (!S.said_output_limit) {
			S.said_output_limit = true;
			say(0, "a client reached the output buffer limit (%llu bytes of replies it did not read): "
			       "closed, as Redis does; raise --client-output-buffer-limit (0: no limit) if the "
			       "client is slow rather than stuck",
				(unsigned long long)S.o->output_limit);
		}
	}
	say(2, "closing client %llu: output buffer limit", (unsigned long long)c->cli.id);
	conn_close(c);
}

/* Runs one request; false when the connection takes no more requests. */
static bool run_request(struct conn *c, int argc, const struct kv_arg *argv)
{
	S.info.total_commands++;
	int flags = kv_exec(S.db, &c->cli, argc, argv, S.now_ms, &c->out, S.aof ? &S.log : NULL);
	if (c->out.overflow)
		return false;
	if ((flags & KV_CMD_WRITE) && S.aof)
		c->turn_write = true;
	if ((flags & KV_CMD_CLOSE) || c->cli.quit) {
		conn_closing(c);
		return false;
	}
	return true;
}

/* An unfinished request above RESP_MAX_QUERY bytes (or no memory to hold it): closed, as Redis does. */
static void query_limit(struct conn *c)
{
	S.st.query_limit++;
	if (!S.said_query_limit) {
		S.said_query_limit = true;
		say(0, "a client sent a request above the query buffer limit (%lld bytes) or memory ran out holding "
		       "it: closed, as Redis does (the limit is Redis's client-query-buffer-limit)",
			(long long)RESP_MAX_QUERY);
	}
	say(2, "closing client %llu: query buffer limit", (unsigned long long)c->cli.id);
}

static void on_pop(struct conn *c, demi_qresult_t *qr)
{
	demi_sgaseg_t *seg = &qr->qr_value.sga.sga_segs[0];
	c->pop_qt = 0;
	if (seg->sgaseg_len == 0) { /* the peer closed its side */
		demi_sgafree(&qr->qr_value.sga);
		conn_closing(c);
		mark_dirty(c);
		return;
	}
	bool more = true;
	if (resp_input(&c->rp, seg->sgaseg_buf, seg->sgaseg_len) != 0) {
		more = false;
		query_limit(c);
		demi_sgafree(&qr->qr_value.sga);
		conn_close(c);
		return;
	}
	int argc;
	const struct kv_arg *argv;
	enum resp_rc rc;
	while (more && (rc = resp_next(&c->rp, &argc, &argv)) == RESP_REQUEST)
		more = run_request(c, argc, argv);
	if (c->out.overflow) {
		demi_sgafree(&qr->qr_value.sga);
		conn_overflow(c);
		return;
	}
	if (more && rc == RESP_ERROR) {
		/* as redis-server: the error, then the connection closes after its replies */
		S.st.protocol_errors++;
		say(2, "client %llu: %s", (unsigned long long)c->cli.id, resp_error(&c->rp));
		kv_out_error(&c->out, resp_error(&c->rp));
		conn_closing(c);
		more = false;
	} else if (more && resp_keep(&c->rp) != 0) {
		query_limit(c);
		demi_sgafree(&qr->qr_value.sga);
		conn_close(c);
		return;
	}
	demi_sgafree(&qr->qr_value.sga);
	if (c->out.overflow) {
		conn_overflow(c);
		return;
	}
	mark_dirty(c);
	if (more)
		conn_pop(c);
}

static void on_push(struct conn *c, int i)
{
	c->out_bytes -= c->push_len[i];
	for (int j = i; j + 1 < c->npush; j++) {
		c->push_qt[j] = c->push_qt[j + 1];
		c->push_len[j] = c->push_len[j + 1];
	}
	c->npush--;
	pump(c);
}

static void on_accept(const demi_qresult_t *qr)
{
	int qd = qr->qr_value.ares.qd;
	if (S.nclients >= S.o->maxclients) {
		S.info.rejected_connections++;
		if (!S.said_maxclients) {
			S.said_maxclients = true;
			say(0, "max number of clients reached (%u): new connections are told so and closed; raise "
			       "--maxclients", S.o->maxclients);
		}
		struct conn *c = conn_new(qd, false);
		if (!c) {
			demi_close(qd);
			return;
		}
		kv_out_error(&c->out, "ERR max number of clients reached");
		conn_closing(c);
		mark_dirty(c);
		return;
	}
	S.info.total_connections++; /* as Redis: rejected connections are not counted here */
	struct conn *c = conn_new(qd, true);
	if (!c) { /* cannot happen: slots are maxclients plus the rejected ones */
		demi_close(qd);
		return;
	}
	conn_pop(c);
}

/* The turn's end: the log record, then every connection's new replies. */
static void end_turn(void)
{
	int64_t seq = 0;
	if (S.aof && S.log.p != S.log_base) {
		seq = aof_append(S.aof, S.log_base, (size_t)(S.log.p - S.log_base));
		if (seq < 0) {
			say(0, "appending to the log: %s: exiting (no write is answered that the log lacks)",
				strerror((int)-seq));
			exit(1);
		}
		S.log.p = S.log_base;
	}
	for (uint32_t i = 0; i < S.ndirty; i++) {
		struct conn *c = &S.conns[S.dirty[i]];
		if (!c->dirty || c->state == C_FREE)
			continue;
		c->dirty = false;
		if (seal(c) != 0) {
			conn_overflow(c);
			continue;
		}
		if (c->turn_write) {
			c->write_seq = seq;
			for (uint32_t j = 0; j < c->qlen; j++) {
				struct chunk *k = &c->q[(c->qhead + j) % c->qcap];
				if (k->seq == SEQ_TURN)
					k->seq = seq;
			}
			c->turn_write = false;
		}
		c->chunk_size = CHUNK_MIN;
		pump(c);
	}
	S.ndirty = 0;
	if (S.aof && !S.aof_qt) {
		demi_qtoken_t qt;
		int r = aof_flush(S.aof, S.now_ms, &qt);
		if (r < 0) {
			say(0, "writing the log: %s: exiting", strerror(-r));
			exit(1);
		}
		if (r == 1)
			S.aof_qt = qt;
	}
}

/* The log made more records durable: the replies that waited for them go. A connection still waiting is put
 * back by pump() at an index at most the one being read, so the list is rewritten in place. */
static void release_held(void)
{
	uint32_t m = S.nheld;
	S.nheld = 0;
	for (uint32_t i = 0; i < m; i++) {
		struct conn *c = &S.conns[S.held[i]];
		if (!c->held || c->state == C_FREE)
			continue;
		c->held = false;
		pump(c);
	}
}

static void on_result(demi_qresult_t *qr)
{
	if (S.aof && S.aof_qt && qr->qr_qt == S.aof_qt) {
		S.aof_qt = 0;
		int err = aof_complete(S.aof, qr);
		if (err < 0) {
			say(0, "the log's write failed: %s: exiting, as redis-server does when it cannot write its "
			       "append-only file", strerror(-err));
			exit(1);
		}
		release_held();
		return;
	}
	for (int i = 0; i < S.naccept; i++)
		if (qr->qr_qt == S.accept_qt[i]) {
			S.accept_qt[i] = S.accept_qt[--S.naccept];
			if (qr->qr_opcode == DEMI_OPC_ACCEPT)
				on_accept(qr);
			else if (qr->qr_ret != ECANCELED && S.st.accept_failed++ == 0)
				say(0, "accept: %s (counted; said once)%s", strerror((int)qr->qr_ret),
					qr->qr_ret == EMFILE || qr->qr_ret == ENFILE ?
						": raise the open file limit (ulimit -n) or lower --maxclients" : "");
			/* Out of descriptors or memory: accept again at the next tick rather than spin on the error. */
			if (qr->qr_opcode == DEMI_OPC_FAILED && qr->qr_ret != ECANCELED)
				return;
			if (S.lqd >= 0) {
				demi_qtoken_t qt;
				if (demi_accept(&qt, S.lqd) == 0)
					S.accept_qt[S.naccept++] = qt;
			}
			return;
		}
	int idx = qdmap_find(&S.map, qr->qr_qd);
	struct conn *c = idx >= 0 ? &S.conns[idx] : NULL;
	int push_i = -1;
	if (c && c->pop_qt != qr->qr_qt) {
		for (int i = 0; i < c->npush; i++)
			if (c->push_qt[i] == qr->qr_qt)
				push_i = i;
		if (push_i < 0)
			c = NULL;
	}
	if (!c) { /* a token of a closed connection (its qd may be another connection's by now) */
		S.st.stale++;
		if (qr->qr_opcode == DEMI_OPC_POP)
			demi_sgafree(&qr->qr_value.sga);
		return;
	}
	switch (qr->qr_opcode) {
	case DEMI_OPC_POP:
		on_pop(c, qr);
		break;
	case DEMI_OPC_PUSH:
		on_push(c, push_i);
		break;
	default: /* DEMI_OPC_FAILED: reset, broken pipe: the connection is over */
		say(2, "client %llu: %s", (unsigned long long)c->cli.id, strerror((int)qr->qr_ret));
		if (push_i < 0)
			c->pop_qt = 0;
		conn_close(c);
		break;
	}
}

static void tick(void)
{
	kv_db_expire_cycle(S.db, S.now_ms, EXPIRE_BUDGET);
	while (S.lqd >= 0 && S.naccept < ACCEPTS) { /* accepts paused after a failure */
		demi_qtoken_t qt;
		if (demi_accept(&qt, S.lqd) != 0)
			break;
		S.accept_qt[S.naccept++] = qt;
	}
	for (uint32_t i = 0; i < S.hi; i++) {
		struct conn *c = &S.conns[i];
		if (c->state == C_CLOSING && S.now_ms > c->close_by_ms)
			conn_close(c); /* its replies did not drain: the peer does not read */
	}
	while (S.hi > 0 && S.conns[S.hi - 1].state == C_FREE)
		S.hi--;
}

static void update_info(void)
{
	S.info.connected_clients = S.nclients;
	if (S.aof) {
		struct aof_stats st;
		aof_stats(S.aof, &st);
		S.info.aof_size = st.size;
		S.info.aof_fsyncs = st.fsyncs;
		S.info.aof_records = st.records;
		S.info.aof_last_fsync_ms = st.last_fsync_ms;
	}
}

static char replay_sink[4096];

/* Replies of replayed commands are dropped: the same scratch again. */
static int sink_more(struct kv_out *o)
{
	o->p = replay_sink;
	o->end = replay_sink + sizeof(replay_sink);
	return 0;
}

/* Replay: each record holds one or more commands in RESP, run as they were, with nothing logged. */
static int replay_one(void *ctx, const char *payload, size_t len)
{
	(void)ctx;
	struct resp rp;
	resp_init(&rp);
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, payload, len);
	resp_input(&rp, copy, len);
	struct kv_client cli = { .id = 0, .resp = 2, .info = &S.info, .loading = true }; /* nothing expires while loading */
	int argc, rc = 0;
	const struct kv_arg *argv;
	enum resp_rc r;
	struct kv_out sink = { .more = sink_more };
	sink_more(&sink);
	while ((r = resp_next(&rp, &argc, &argv)) == RESP_REQUEST)
		kv_exec(S.db, &cli, argc, argv, S.now_ms, &sink, NULL);
	if (r == RESP_ERROR || rp.start != rp.winlen) {
		fprintf(stderr, "demi-kv: a log record does not parse as requests (%s): the log is not demi-kv's\n",
			r == RESP_ERROR ? resp_error(&rp) : "unfinished request");
		rc = -EINVAL;
	}
	resp_free(&rp);
	free(copy);
	return rc;
}

static int setup(const struct kv_opts *o)
{
	S.o = o;
	S.lqd = -1;
	S.nslots = o->maxclients + REJECT_SLOTS;
	S.conns = calloc(S.nslots, sizeof(*S.conns));
	S.free_idx = malloc(S.nslots * sizeof(*S.free_idx));
	S.held = malloc(((size_t)S.nslots + 1) * sizeof(*S.held));
	S.ndirty_cap = S.nslots + 4 * BATCH;
	S.dirty = malloc(S.ndirty_cap * sizeof(*S.dirty));
	if (!S.conns || !S.free_idx || !S.dirty || !S.held || qdmap_init(&S.map, S.nslots) != 0) {
		fprintf(stderr, "demi-kv: out of memory for %u clients\n", S.nslots);
		return -1;
	}
	for (uint32_t i = 0; i < S.nslots; i++)
		S.free_idx[S.nfree++] = S.nslots - 1 - i;
	S.db = kv_db_create();
	if (!S.db) {
		fprintf(stderr, "demi-kv: out of memory\n");
		return -1;
	}
	S.log.more = log_more;
	S.now_ms = clock_ms();
	const char *libos = getenv("LIBOS");
	snprintf(S.version, sizeof(S.version), "7.0.0-demi");
	snprintf(S.libos, sizeof(S.libos), "%s", libos && *libos ? libos : "catnap");
	snprintf(S.fsync_name, sizeof(S.fsync_name), "%s", kv_fsync_name(o->appendfsync));
	S.info.version = S.version;
	S.info.libos = S.libos;
	S.info.tcp_port = o->port;
	S.info.start_ms = S.now_ms;
	S.info.aof_enabled = o->appendonly;
	S.info.appendfsync = S.fsync_name;
	return 0;
}

static int listen_on(const struct kv_opts *o)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
	inet_pton(AF_INET, o->bind, &addr.sin_addr);
	int one = 1, err;
	if ((err = demi_socket(&S.lqd, AF_INET, SOCK_STREAM, 0)) != 0 ||
	    (err = demi_setsockopt(S.lqd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) != 0 ||
	    (err = demi_bind(S.lqd, (const struct sockaddr *)&addr, sizeof(addr))) != 0 ||
	    (err = demi_listen(S.lqd, 4096)) != 0) {
		fprintf(stderr, "demi-kv: cannot listen on %s:%d: %s\n", o->bind, o->port, strerror(err));
		return -1;
	}
	while (S.naccept < ACCEPTS) {
		demi_qtoken_t qt;
		if ((err = demi_accept(&qt, S.lqd)) != 0) {
			fprintf(stderr, "demi-kv: accept: %s\n", strerror(err));
			return -1;
		}
		S.accept_qt[S.naccept++] = qt;
	}
	return 0;
}

static void shutdown_all(void)
{
	if (S.lqd >= 0)
		demi_close(S.lqd); /* pending accepts come back cancelled */
	S.lqd = -1;
	if (S.aof) {
		aof_close(S.aof); /* writes and flushes what is pending */
		S.aof = NULL;
	}
	for (uint32_t i = 0; i < S.hi; i++)
		if (S.conns[i].state != C_FREE)
			conn_close(&S.conns[i]);
	/* Collect what the closes cancelled: uncollected results hold their token slots. */
	static demi_qresult_t qrs[BATCH];
	struct timespec zero = { 0, 0 };
	int n;
	while (demi_wait_next_n(qrs, BATCH, &n, &zero) == 0 && n > 0)
		for (int i = 0; i < n; i++) {
			S.st.stale++;
			if (qrs[i].qr_opcode == DEMI_OPC_POP)
				demi_sgafree(&qrs[i].qr_value.sga);
		}
}

int kv_server_run(const struct kv_opts *o)
{
	if (setup(o) != 0)
		return 1;
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGPIPE, SIG_IGN);
	if (o->appendonly) {
		int err = aof_open(&S.aof, o->appendfilename, o->appendfsync);
		if (err < 0) {
			fprintf(stderr, "demi-kv: cannot open the log %s: %s\n", o->appendfilename, strerror(-err));
			return 1;
		}
		long n = aof_replay(S.aof, replay_one, NULL);
		if (n < 0) {
			fprintf(stderr, "demi-kv: replaying %s: %s\n", o->appendfilename, strerror((int)-n));
			return 1;
		}
		say(1, "log %s: %ld records replayed, %zu keys", o->appendfilename, n, kv_db_size(S.db));
	}
	if (listen_on(o) != 0)
		return 1;
	printf("ready to accept connections on %s:%d\n", o->bind, o->port);
	fflush(stdout);

	static demi_qresult_t qrs[BATCH];
	uint64_t next_tick = clock_ms() + TICK_MS;
	while (!stop_signal) {
		uint64_t now = clock_ms();
		uint64_t left = next_tick > now ? next_tick - now : 0;
		if (left > TICK_MS)
			left = TICK_MS; /* the wall clock went back */
		if (S.aof) {
			/* aof.h: a flush in flight wakes the wait itself (its token); sleep until the log has work */
			int64_t due = aof_next_flush_ms(S.aof, now);
			if (due >= 0 && (uint64_t)due < left)
				left = (uint64_t)due;
		}
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)left * 1000000 };
		int n = 0;
		int err = demi_wait_next_n(qrs, BATCH, &n, &ts);
		if (err != 0 && err != ETIMEDOUT && err != EINTR) {
			fprintf(stderr, "demi-kv: demi_wait_next_n: %s\n", strerror(err));
			return 1;
		}
		S.now_ms = clock_ms();
		for (int i = 0; i < n; i++)
			on_result(&qrs[i]);
		end_turn();
		update_info();
		if (S.now_ms >= next_tick || next_tick - S.now_ms > TICK_MS) {
			tick();
			next_tick = S.now_ms + TICK_MS;
		}
	}
	say(1, "stopping: %llu connections, %llu commands, %llu rejected (maxclients), %llu closed at the output "
	       "limit, %llu protocol errors, %llu failed accepts, %llu stale results",
		(unsigned long long)S.info.total_connections, (unsigned long long)S.info.total_commands,
		(unsigned long long)S.info.rejected_connections, (unsigned long long)S.st.output_limit,
		(unsigned long long)S.st.protocol_errors, (unsigned long long)S.st.accept_failed,
		(unsigned long long)S.st.stale);
	shutdown_all();
	kv_db_destroy(S.db);
	return 0;
}
