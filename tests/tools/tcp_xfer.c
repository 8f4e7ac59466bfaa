/*
 * tcp_xfer: bulk TCP transfers over PDPIX, checked end to end with SHA-256, for the interoperability,
 * lossy-path and many-connection tests (tests/catpowder/tcp_cases.sh, doc/tcp_interop.md).
 * Only the public API (include/demi/); runs on any libOS (LIBOS=...).
 *
 *   tcp_xfer server IP PORT [--conns N] [--window W] [--timeout S]
 *       serves N connections (default 1; 0: forever), one line per connection:
 *       "conn <i> bytes <n> sha256 <hex> pattern ok|MISMATCH ..." ; exits 0 when every one was intact
 *   tcp_xfer client IP PORT --send BYTES [--recv [BYTES]] [--conns N] [--window W] [--seed S]
 *                   [--timeout S] [--verbose]
 *       N connections at once, all driven from this thread with demi_wait_any; each sends BYTES and asks
 *       for BYTES back with --recv alone, for the given number with --recv BYTES, for none without it.
 *       Prints the expected and the received SHA-256 of each direction and the goodput of each;
 *       exits 0 only when every digest and every byte matched.
 *   tcp_xfer pattern SEED BYTES    SHA-256 of pattern(SEED) (xfer_peer.py pattern must print the same)
 *   tcp_xfer selftest              SHA-256 test vectors
 * BYTES may end in K, M or G (KiB, MiB, GiB). W: pushes in flight per connection (default 4), each
 * one 64 KiB sga from demi_sgaalloc filled in place. --timeout bounds the whole run (default 300 s).
 *
 * Framing, per connection (tests/tools/xfer_peer.py speaks it too). PDPIX has no shutdown(), so the
 * server learns from a header how much to read, and the client closes first once it has everything:
 *   client -> server  header, 24 bytes: "DXF1", seed (u32, big-endian), send (u64 BE), recv (u64 BE)
 *   client -> server  `send` bytes of pattern(seed)
 *   server -> client  the SHA-256 (32 bytes) of the `send` bytes it received
 *   server -> client  `recv` bytes of pattern(seed + 2^32)
 *   client closes; the server pops end of stream (length 0) and closes.
 * A bad magic, bytes after the body or an early end of stream fail the connection.
 * Client connection i uses seed --seed + i (default 1 + i).
 *
 * pattern(s): 256 xorshift64 generators ("lanes": x ^= x << 13; x ^= x >> 7; x ^= x << 17), lane i
 * seeded with splitmix64(s * 256 + i) (0 becomes 1). Each round steps every lane once and emits the
 * 256 new states as little-endian 64-bit words, lane 0 first: 2 KiB per round. The lanes let Python
 * produce the same stream with big-integer shifts at C's speed; it is still a seeded xorshift stream,
 * and both sides implement it independently.
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define HDR_LEN 24
#define DIGEST_LEN 32
#define CHUNK (64u * 1024)
#define REPLY_SEED_BIT (1ull << 32)

/* ---- SHA-256 (FIPS 180-4) ---- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, int r)
{
	return (x >> r) | (x << (32 - r));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->n = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	s->len += len;
	if (s->n) {
		size_t take = 64 - s->n < len ? 64 - s->n : len;
		memcpy(s->buf + s->n, p, take);
		s->n += take, p += take, len -= take;
		if (s->n < 64)
			return;
		sha256_block(s->h, s->buf);
		s->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		sha256_block(s->h, p);
	memcpy(s->buf, p, len);
	s->n = len;
}

static void sha256_final(struct sha256 *s, uint8_t out[DIGEST_LEN])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (s->n < 56 ? 56 : 120) - s->n;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}

static void hex(const uint8_t d[DIGEST_LEN], char out[2 * DIGEST_LEN + 1])
{
	for (int i = 0; i < DIGEST_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- the pattern (see the top of the file) ---- */

#define PAT_LANES 256
#define PAT_ROUND (PAT_LANES * 8)

struct pat {
	uint64_t lane[PAT_LANES];
	uint8_t round[PAT_ROUND];
	size_t pos; /* next unread byte of round[] */
};

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void pat_init(struct pat *p, uint64_t seed)
{
	for (int i = 0; i < PAT_LANES; i++) {
		p->lane[i] = splitmix64(seed * PAT_LANES + (uint64_t)i);
		if (p->lane[i] == 0)
			p->lane[i] = 1;
	}
	p->pos = PAT_ROUND;
}

static void pat_fill(struct pat *p, uint8_t *dst, size_t n)
{
	while (n) {
		if (p->pos == PAT_ROUND) {
			for (int i = 0; i < PAT_LANES; i++) {
				uint64_t x = p->lane[i];
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				p->lane[i] = x;
				for (int b = 0; b < 8; b++)
					p->round[8 * i + b] = (uint8_t)(x >> (8 * b));
			}
			p->pos = 0;
		}
		size_t take = PAT_ROUND - p->pos < n ? PAT_ROUND - p->pos : n;
		memcpy(dst, p->round + p->pos, take);
		p->pos += take, dst += take, n -= take;
	}
}

/* ---- helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double mbps(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes * 1e3 / (double)ns : 0.0;
}

/* "100M" -> 104857600; -1 when malformed. */
static int64_t parse_bytes(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	int shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10, end++; break;
	case 'M': case 'm': shift = 20, end++; break;
	case 'G': case 'g': shift = 30, end++; break;
	default: break;
	}
	if (*end || v > (1ull << 40) >> shift)
		return -1;
	return (int64_t)(v << shift);
}

static void put_be(uint8_t *p, uint64_t v, int len)
{
	for (int i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int len)
{
	uint64_t v = 0;
	for (int i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

/* Many connections need many descriptors under catnap (kernel sockets): take what the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- connections and their tokens ---- */

enum tok_kind { T_ACCEPT, T_CONNECT, T_POP, T_PUSH };

enum conn_state {
	C_CONNECTING, /* client: connect pending */
	C_HEADER,     /* server: reading the header */
	C_BODY,       /* server: reading the client's bytes; client: reading the digest and the reply */
	C_REPLY,      /* server: body read, replying, waiting for end of stream */
	C_DONE,
};

struct conn {
	int qd, id;
	enum conn_state state;
	bool closed, failed, eof;
	char why[96];             /* the first failure */
	uint32_t seed;
	uint64_t tx_total, tx_queued; /* bytes of pattern to send, handed to pushes so far */
	uint64_t rx_total, rx_got;    /* bytes of pattern to receive, received so far */
	int inflight;                 /* pushes not completed */
	bool hdr_pending;             /* client: header not pushed yet; server: digest not pushed yet */
	uint8_t hdr[HDR_LEN];
	size_t hdr_got;
	uint8_t digest[DIGEST_LEN]; /* client: the server's digest; server: ours */
	size_t digest_got;
	uint64_t mismatch_at;       /* first received byte that differs from the pattern, or UINT64_MAX */
	struct pat *tx_pat, *rx_pat;
	struct sha256 tx_sha, rx_sha, rx_exp_sha;
	uint64_t t_conn, t_digest, t_end; /* client: connected, digest received, reply received */
};

static struct {
	bool server;
	int window;
	int verbose;
	uint64_t deadline;
	demi_qtoken_t *qts;
	struct { int conn; enum tok_kind kind; } *toks;
	int nqts, capqts;
	struct conn *conns;
	int nconns; /* client: all; server: accepted so far */
	int done;
	uint8_t scratch[CHUNK];
} g;

static void tok_add(demi_qtoken_t qt, int conn, enum tok_kind kind)
{
	if (g.nqts == g.capqts) {
		g.capqts = g.capqts ? 2 * g.capqts : 1024;
		g.qts = realloc(g.qts, (size_t)g.capqts * sizeof(*g.qts));
		g.toks = realloc(g.toks, (size_t)g.capqts * sizeof(*g.toks));
		if (!g.qts || !g.toks) {
			fprintf(stderr, "tcp_xfer: out of memory\n");
			exit(1);
		}
	}
	g.qts[g.nqts] = qt;
	g.toks[g.nqts].conn = conn;
	g.toks[g.nqts].kind = kind;
	g.nqts++;
}

/* Records the first failure, closes the queue (its pending operations complete with ECANCELED). */
__attribute__((format(printf, 2, 3))) static void conn_fail(struct conn *c, const char *fmt, ...)
{
	if (!c->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->why, sizeof(c->why), fmt, ap);
		va_end(ap);
		c->failed = true;
	}
	if (!c->closed) {
		demi_close(c->qd);
		c->closed = true;
	}
	if (c->state != C_DONE) {
		c->state = C_DONE;
		g.done++;
	}
}

static void post_pop(struct conn *c)
{
	demi_qtoken_t qt;
	int err = demi_pop(&qt, c->qd);
	if (err)
		conn_fail(c, "demi_pop: %s", strerror(err));
	else
		tok_add(qt, c->id, T_POP);
}

/* Pushes a fresh sga holding data, or with data NULL the next len bytes of the connection's pattern. */
static bool push_bytes(struct conn *c, const void *data, size_t len)
{
	demi_sgarray_t sga = demi_sgaalloc(len);
	if (!sga.sga_buf) {
		conn_fail(c, "demi_sgaalloc(%zu) failed", len);
		return false;
	}
	uint8_t *buf = sga.sga_segs[0].sgaseg_buf;
	if (data) {
		memcpy(buf, data, len);
	} else {
		/* The pattern, generated straight into libOS memory. */
		pat_fill(c->tx_pat, buf, len);
		if (!g.server)
			sha256_update(&c->tx_sha, buf, len);
		c->tx_queued += len;
	}
	demi_qtoken_t qt;
	int err = demi_push(&qt, c->qd, &sga);
	demi_sgafree(&sga); /* the libOS holds its own reference until the push completes */
	if (err) {
		conn_fail(c, "demi_push: %s", strerror(err));
		return false;
	}
	tok_add(qt, c->id, T_PUSH);
	c->inflight++;
	return true;
}

/* Keeps up to --window pushes in flight: the header or digest first, then the pattern. */
static void pump(struct conn *c)
{
	while (!c->closed && c->inflight < g.window) {
		if (c->hdr_pending) {
			c->hdr_pending = false;
			if (!push_bytes(c, g.server ? (const void *)c->digest : (const void *)c->hdr,
					g.server ? DIGEST_LEN : HDR_LEN))
				return;
		} else if (c->tx_queued < c->tx_total) {
			uint64_t left = c->tx_total - c->tx_queued;
			if (!push_bytes(c, NULL, left < CHUNK ? (size_t)left : CHUNK))
				return;
		} else {
			return;
		}
	}
}

/* Received pattern bytes: hash them, hash what they should be, and find the first difference. */
static void take_pattern(struct conn *c, const uint8_t *p, size_t len)
{
	sha256_update(&c->rx_sha, p, len);
	while (len) {
		size_t n = len < sizeof(g.scratch) ? len : sizeof(g.scratch);
		pat_fill(c->rx_pat, g.scratch, n);
		if (!g.server) /* the client prints both digests; the server's byte comparison is enough */
			sha256_update(&c->rx_exp_sha, g.scratch, n);
		if (c->mismatch_at == UINT64_MAX && memcmp(p, g.scratch, n) != 0) {
			size_t i = 0;
			while (p[i] == g.scratch[i])
				i++;
			c->mismatch_at = c->rx_got + i;
		}
		c->rx_got += n, p += n, len -= n;
	}
}

static struct pat *pat_new(uint64_t seed)
{
	struct pat *p = malloc(sizeof(*p));
	if (!p) {
		fprintf(stderr, "tcp_xfer: out of memory\n");
		exit(1);
	}
	pat_init(p, seed);
	return p;
}

/* ---- server ---- */

static void server_line(struct conn *c)
{
	char h[2 * DIGEST_LEN + 1];
	hex(c->digest, h);
	if (c->mismatch_at == UINT64_MAX)
		printf("conn %d bytes %" PRIu64 " sha256 %s pattern ok, replying %" PRIu64 " B\n", c->id, c->rx_got, h,
		       c->tx_total);
	else
		printf("conn %d bytes %" PRIu64 " sha256 %s pattern MISMATCH at byte %" PRIu64 "\n", c->id, c->rx_got,
		       h, c->mismatch_at);
	fflush(stdout);
}

/* Bytes popped on a server connection: header, then body; nothing may follow the body. */
static void server_data(struct conn *c, const uint8_t *p, size_t len)
{
	while (len && !c->closed) {
		if (c->state == C_HEADER) {
			size_t take = HDR_LEN - c->hdr_got < len ? HDR_LEN - c->hdr_got : len;
			memcpy(c->hdr + c->hdr_got, p, take);
			c->hdr_got += take, p += take, len -= take;
			if (c->hdr_got < HDR_LEN)
				continue;
			if (memcmp(c->hdr, "DXF1", 4) != 0) {
				conn_fail(c, "bad header magic");
				return;
			}
			c->seed = (uint32_t)get_be(c->hdr + 4, 4);
			c->rx_total = get_be(c->hdr + 8, 8);
			c->tx_total = get_be(c->hdr + 16, 8);
			c->rx_pat = pat_new(c->seed);
			c->tx_pat = pat_new(c->seed + REPLY_SEED_BIT);
			c->state = C_BODY;
		} else if (c->state == C_BODY) {
			uint64_t left = c->rx_total - c->rx_got;
			size_t take = left < len ? (size_t)left : len;
			take_pattern(c, p, take);
			p += take, len -= take;
		} else {
			conn_fail(c, "%zu bytes after the body", len);
			return;
		}
		if (c->state == C_BODY && c->rx_got == c->rx_total) {
			sha256_final(&c->rx_sha, c->digest);
			server_line(c);
			if (c->mismatch_at != UINT64_MAX)
				c->failed = true; /* reply all the same: the client reports the digest mismatch too */
			c->state = C_REPLY;
			c->hdr_pending = true; /* the digest goes first */
			pump(c);
		}
	}
}

static void server_maybe_done(struct conn *c)
{
	if (c->state == C_REPLY && c->eof && !c->hdr_pending && c->tx_queued == c->tx_total && c->inflight == 0) {
		demi_close(c->qd);
		c->closed = true;
		c->state = C_DONE;
		g.done++;
	}
}

static int run_server(const struct sockaddr_in *addr, int want)
{
	int lqd;
	int err = demi_socket(&lqd, AF_INET, SOCK_STREAM, 0);
	if (!err) {
		int one = 1;
		demi_setsockopt(lqd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		err = demi_bind(lqd, (const struct sockaddr *)addr, sizeof(*addr));
	}
	if (!err)
		err = demi_listen(lqd, 1024);
	if (err) {
		fprintf(stderr, "tcp_xfer: cannot listen on %s:%d: %s\n", inet_ntoa(addr->sin_addr),
			ntohs(addr->sin_port), strerror(err));
		return 1;
	}
	int cap = want > 0 ? want : 1024;
	g.conns = calloc((size_t)cap, sizeof(*g.conns));
	printf("tcp_xfer: listening on %s:%d for %d connections\n", inet_ntoa(addr->sin_addr), ntohs(addr->sin_port),
	       want);
	fflush(stdout);

	demi_qtoken_t qt;
	if ((err = demi_accept(&qt, lqd))) {
		fprintf(stderr, "tcp_xfer: demi_accept: %s\n", strerror(err));
		return 1;
	}
	tok_add(qt, -1, T_ACCEPT);
	uint64_t t0 = 0, bytes_in = 0, bytes_out = 0;
	while (want == 0 || g.done < want) {
		demi_qresult_t qr;
		int i;
		uint64_t now = now_ns();
		if (now >= g.deadline) {
			fprintf(stderr, "tcp_xfer: server: timed out with %d of %d connections done\n", g.done, want);
			return 1;
		}
		struct timespec ts = { .tv_sec = (time_t)((g.deadline - now) / 1000000000ull),
				       .tv_nsec = (long)((g.deadline - now) % 1000000000ull) };
		err = demi_wait_any(&qr, &i, g.qts, g.nqts, &ts);
		if (err == ETIMEDOUT)
			continue;
		if (err) {
			fprintf(stderr, "tcp_xfer: demi_wait_any: %s\n", strerror(err));
			return 1;
		}
		int ci = g.toks[i].conn;
		enum tok_kind kind = g.toks[i].kind;
		g.nqts--; /* the completed token is spent */
		g.qts[i] = g.qts[g.nqts];
		g.toks[i] = g.toks[g.nqts];
		if (kind == T_ACCEPT) {
			if (qr.qr_opcode != DEMI_OPC_ACCEPT) {
				fprintf(stderr, "tcp_xfer: accept failed: %s\n", strerror((int)qr.qr_ret));
				return 1;
			}
			if (g.nconns == cap) {
				cap *= 2;
				g.conns = realloc(g.conns, (size_t)cap * sizeof(*g.conns));
				if (!g.conns)
					return 1;
			}
			if (!t0)
				t0 = now_ns();
			struct conn *c = &g.conns[g.nconns];
			*c = (struct conn){ .qd = qr.qr_value.ares.qd, .id = g.nconns, .state = C_HEADER,
					    .mismatch_at = UINT64_MAX };
			sha256_init(&c->rx_sha);
			sha256_init(&c->rx_exp_sha);
			g.nconns++;
			post_pop(c);
			if (want == 0 || g.nconns < want) {
				if ((err = demi_accept(&qt, lqd))) {
					fprintf(stderr, "tcp_xfer: demi_accept: %s\n", strerror(err));
					return 1;
				}
				tok_add(qt, -1, T_ACCEPT);
			}
			continue;
		}
		struct conn *c = &g.conns[ci];
		if (kind == T_PUSH)
			c->inflight--;
		if (c->closed)
			continue; /* ECANCELED after a failure */
		if (qr.qr_opcode == DEMI_OPC_FAILED) {
			conn_fail(c, "%s failed: %s", kind == T_POP ? "pop" : "push", strerror((int)qr.qr_ret));
			printf("conn %d FAILED: %s\n", c->id, c->why);
			fflush(stdout);
			continue;
		}
		if (kind == T_POP) {
			demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
			if (seg->sgaseg_len == 0) {
				c->eof = true;
				if (c->state != C_REPLY) {
					conn_fail(c, "end of stream after %" PRIu64 " of %" PRIu64 " bytes", c->rx_got,
						  c->rx_total);
					printf("conn %d FAILED: %s\n", c->id, c->why);
					fflush(stdout);
				}
			} else {
				server_data(c, seg->sgaseg_buf, seg->sgaseg_len);
				if (!c->closed)
					post_pop(c);
			}
			demi_sgafree(&qr.qr_value.sga);
		} else {
			pump(c);
		}
		if (!c->closed)
			server_maybe_done(c);
		if (c->state == C_DONE && !c->failed) {
			bytes_in += c->rx_got;
			bytes_out += c->tx_total;
		}
	}
	uint64_t ns = now_ns() - t0;
	int ok = 0;
	for (int k = 0; k < g.nconns; k++)
		ok += !g.conns[k].failed;
	printf("tcp_xfer: server: %d connections, %d intact; %" PRIu64 " B in, %" PRIu64
	       " B out in %.3f s (%.1f MB/s in + out)\n",
	       g.nconns, ok, bytes_in, bytes_out, (double)ns / 1e9, mbps(bytes_in + bytes_out, ns));
	for (int k = 0; k < g.nconns; k++)
		if (g.conns[k].failed && g.conns[k].why[0])
			printf("conn %d FAILED: %s\n", k, g.conns[k].why);
	demi_close(lqd);
	return ok == g.nconns ? 0 : 1;
}

/* ---- client ---- */

/* Bytes popped on a client connection: the digest of what we sent, then the reply. */
static void client_data(struct conn *c, const uint8_t *p, size_t len)
{
	if (c->digest_got < DIGEST_LEN) {
		size_t take = DIGEST_LEN - c->digest_got < len ? DIGEST_LEN - c->digest_got : len;
		memcpy(c->digest + c->digest_got, p, take);
		c->digest_got += take, p += take, len -= take;
		if (c->digest_got == DIGEST_LEN)
			c->t_digest = c->t_end = now_ns();
	}
	if (len > c->rx_total - c->rx_got) {
		conn_fail(c, "%" PRIu64 " bytes more than asked for", (uint64_t)len - (c->rx_total - c->rx_got));
		return;
	}
	if (len) {
		take_pattern(c, p, len);
		c->t_end = now_ns();
	}
}

static bool client_has_all(const struct conn *c)
{
	return c->digest_got == DIGEST_LEN && c->rx_got == c->rx_total;
}

static void client_maybe_done(struct conn *c)
{
	if (client_has_all(c) && !c->hdr_pending && c->tx_queued == c->tx_total && c->inflight == 0) {
		demi_close(c->qd);
		c->closed = true;
		c->state = C_DONE;
		g.done++;
	}
}

/* After the run: compares digests; returns whether the connection is intact. */
static bool client_report(struct conn *c, bool print)
{
	uint8_t want_up[DIGEST_LEN], got_down[DIGEST_LEN], want_down[DIGEST_LEN];
	char h1[2 * DIGEST_LEN + 1], h2[2 * DIGEST_LEN + 1];
	if (c->failed) {
		printf("conn %d FAILED: %s\n", c->id, c->why);
		return false;
	}
	sha256_final(&c->tx_sha, want_up);
	sha256_final(&c->rx_sha, got_down);
	sha256_final(&c->rx_exp_sha, want_down);
	bool up_ok = memcmp(want_up, c->digest, DIGEST_LEN) == 0;
	bool down_ok = memcmp(want_down, got_down, DIGEST_LEN) == 0 && c->mismatch_at == UINT64_MAX;
	if (print || !up_ok || !down_ok) {
		hex(want_up, h1);
		hex(c->digest, h2);
		printf("conn %d up bytes %" PRIu64 " sha256 expected %s server %s %s\n", c->id, c->tx_total, h1, h2,
		       up_ok ? "ok" : "MISMATCH");
		hex(want_down, h1);
		hex(got_down, h2);
		if (c->mismatch_at == UINT64_MAX)
			printf("conn %d down bytes %" PRIu64 " sha256 expected %s received %s %s\n", c->id, c->rx_got,
			       h1, h2, down_ok ? "ok" : "MISMATCH");
		else
			printf("conn %d down bytes %" PRIu64 " sha256 expected %s received %s MISMATCH at byte %" PRIu64
			       "\n",
			       c->id, c->rx_got, h1, h2, c->mismatch_at);
	}
	return up_ok && down_ok;
}

static int run_client(const struct sockaddr_in *addr, int nconns, uint64_t send, uint64_t recv, uint32_t seed)
{
	g.conns = calloc((size_t)nconns, sizeof(*g.conns));
	if (!g.conns)
		return 1;
	g.nconns = nconns;
	printf("tcp_xfer: client: %d connections to %s:%d, %" PRIu64 " B up and %" PRIu64 " B down each, window %d\n",
	       nconns, inet_ntoa(addr->sin_addr), ntohs(addr->sin_port), send, recv, g.window);
	fflush(stdout);
	uint64_t t0 = now_ns();
	for (int k = 0; k < nconns; k++) {
		struct conn *c = &g.conns[k];
		*c = (struct conn){ .id = k, .state = C_CONNECTING, .seed = seed + (uint32_t)k, .tx_total = send,
				    .rx_total = recv, .mismatch_at = UINT64_MAX, .hdr_pending = true };
		memcpy(c->hdr, "DXF1", 4);
		put_be(c->hdr + 4, c->seed, 4);
		put_be(c->hdr + 8, send, 8);
		put_be(c->hdr + 16, recv, 8);
		sha256_init(&c->tx_sha);
		sha256_init(&c->rx_sha);
		sha256_init(&c->rx_exp_sha);
		int err = demi_socket(&c->qd, AF_INET, SOCK_STREAM, 0);
		if (err) {
			fprintf(stderr, "tcp_xfer: demi_socket (connection %d): %s\n", k, strerror(err));
			return 1;
		}
		demi_qtoken_t qt;
		err = demi_connect(&qt, c->qd, (const struct sockaddr *)addr, sizeof(*addr));
		if (err) {
			conn_fail(c, "demi_connect: %s", strerror(err));
			continue;
		}
		tok_add(qt, k, T_CONNECT);
	}
	while (g.done < nconns) {
		demi_qresult_t qr;
		int i;
		uint64_t now = now_ns();
		if (now >= g.deadline) {
			fprintf(stderr, "tcp_xfer: client: timed out with %d of %d connections done\n", g.done, nconns);
			for (int k = 0, shown = 0; k < nconns && shown < 5; k++) {
				struct conn *c = &g.conns[k];
				if (c->state == C_DONE)
					continue;
				fprintf(stderr, "  conn %d: state %d, sent %" PRIu64 "/%" PRIu64 " (in flight %d), digest %zu/32"
						", received %" PRIu64 "/%" PRIu64 "\n",
					k, c->state, c->tx_queued, c->tx_total, c->inflight, c->digest_got, c->rx_got,
					c->rx_total);
				shown++;
			}
			return 1;
		}
		struct timespec ts = { .tv_sec = (time_t)((g.deadline - now) / 1000000000ull),
				       .tv_nsec = (long)((g.deadline - now) % 1000000000ull) };
		int err = demi_wait_any(&qr, &i, g.qts, g.nqts, &ts);
		if (err == ETIMEDOUT)
			continue;
		if (err) {
			fprintf(stderr, "tcp_xfer: demi_wait_any: %s\n", strerror(err));
			return 1;
		}
		struct conn *c = &g.conns[g.toks[i].conn];
		enum tok_kind kind = g.toks[i].kind;
		g.nqts--;
		g.qts[i] = g.qts[g.nqts];
		g.toks[i] = g.toks[g.nqts];
		if (kind == T_PUSH)
			c->inflight--;
		if (c->closed)
			continue;
		if (qr.qr_opcode == DEMI_OPC_FAILED) {
			static const char *names[] = { "accept", "connect", "pop", "push" };
			conn_fail(c, "%s failed: %s", names[kind], strerror((int)qr.qr_ret));
			continue;
		}
		switch (kind) {
		case T_CONNECT:
			c->t_conn = now_ns();
			c->state = C_BODY;
			c->tx_pat = pat_new(c->seed);
			c->rx_pat = pat_new(c->seed + REPLY_SEED_BIT);
			pump(c);
			if (!c->closed)
				post_pop(c);
			break;
		case T_POP: {
			demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
			if (seg->sgaseg_len == 0)
				conn_fail(c, "end of stream after the digest's %zu/32 and %" PRIu64 " of %" PRIu64
					     " reply bytes", c->digest_got, c->rx_got, c->rx_total);
			else
				client_data(c, seg->sgaseg_buf, seg->sgaseg_len);
			demi_sgafree(&qr.qr_value.sga);
			if (!c->closed && !client_has_all(c))
				post_pop(c);
			break;
		}
		case T_PUSH:
			pump(c);
			break;
		default:
			break;
		}
		if (!c->closed)
			client_maybe_done(c);
	}
	/* Goodput per direction over all connections: first connected .. last digest, first digest .. last byte. */
	uint64_t up_a = UINT64_MAX, up_b = 0, dn_a = UINT64_MAX, dn_b = 0, up_bytes = 0, dn_bytes = 0;
	int ok = 0;
	bool print = g.verbose || nconns <= 8;
	for (int k = 0; k < nconns; k++) {
		struct conn *c = &g.conns[k];
		if (client_report(c, print)) {
			ok++;
			up_bytes += c->tx_total, dn_bytes += c->rx_total;
			up_a = c->t_conn < up_a ? c->t_conn : up_a;
			up_b = c->t_digest > up_b ? c->t_digest : up_b;
			dn_a = c->t_digest < dn_a ? c->t_digest : dn_a;
			dn_b = c->t_end > dn_b ? c->t_end : dn_b;
		}
	}
	if (ok) {
		printf("goodput up %.1f MB/s down %.1f MB/s (%" PRIu64 " B in %.3f s, %" PRIu64 " B in %.3f s)\n",
		       mbps(up_bytes, up_b - up_a), mbps(dn_bytes, dn_b - dn_a), up_bytes, (double)(up_b - up_a) / 1e9,
		       dn_bytes, (double)(dn_b - dn_a) / 1e9);
	}
	printf("tcp_xfer: %s: %d of %d connections intact in %.3f s\n", ok == nconns ? "PASS" : "FAIL", ok, nconns,
	       (double)(now_ns() - t0) / 1e9);
	return ok == nconns ? 0 : 1;
}

/* ---- checks of the building blocks, no network ---- */

static int selftest(void)
{
	static const struct {
		const char *msg;
		size_t repeat;
		const char *want;
	} v[] = {
		{ "", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sha256 s;
		uint8_t d[DIGEST_LEN];
		char h[2 * DIGEST_LEN + 1];
		sha256_init(&s);
		for (size_t r = 0; r < v[i].repeat; r++)
			sha256_update(&s, v[i].msg, strlen(v[i].msg));
		sha256_final(&s, d);
		hex(d, h);
		bool ok = strcmp(h, v[i].want) == 0;
		printf("sha256 vector %zu: %s %s\n", i, h, ok ? "ok" : "WRONG");
		bad += !ok;
	}
	/* The pattern does not depend on how it is cut into pieces. */
	struct pat a, b;
	static uint8_t x[100000], y[100000];
	pat_init(&a, 7);
	pat_init(&b, 7);
	pat_fill(&a, x, sizeof(x));
	for (size_t off = 0, n = 1; off < sizeof(y); off += n, n = n * 3 % 4099 + 1)
		pat_fill(&b, y + off, off + n <= sizeof(y) ? n : sizeof(y) - off);
	bool ok = memcmp(x, y, sizeof(x)) == 0;
	printf("pattern in pieces: %s\n", ok ? "ok" : "WRONG");
	bad += !ok;
	return bad ? 1 : 0;
}

static int pattern_digest(uint64_t seed, uint64_t bytes)
{
	struct pat p;
	struct sha256 s;
	uint8_t d[DIGEST_LEN];
	char h[2 * DIGEST_LEN + 1];
	pat_init(&p, seed);
	sha256_init(&s);
	for (uint64_t left = bytes; left;) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;
		pat_fill(&p, g.scratch, n);
		sha256_update(&s, g.scratch, n);
		left -= n;
	}
	sha256_final(&s, d);
	hex(d, h);
	printf("%s\n", h);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tcp_xfer server IP PORT [--conns N] [--window W] [--timeout S]\n"
		"       tcp_xfer client IP PORT --send BYTES [--recv [BYTES]] [--conns N] [--window W] [--seed S]\n"
		"                [--timeout S] [--verbose]\n"
		"       tcp_xfer pattern SEED BYTES | tcp_xfer selftest\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "selftest"))
		return selftest();
	if (argc == 4 && !strcmp(argv[1], "pattern")) {
		int64_t n = parse_bytes(argv[3]);
		if (n < 0)
			usage();
		return pattern_digest(strtoull(argv[2], NULL, 0), (uint64_t)n);
	}
	if (argc < 4 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
		usage();
	g.server = !strcmp(argv[1], "server");
	struct sockaddr_in addr = { .sin_family = AF_INET };
	long port = strtol(argv[3], NULL, 10);
	if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1 || port <= 0 || port > 65535)
		usage();
	addr.sin_port = htons((uint16_t)port);
	int nconns = 1;
	int64_t send = -1, recv = 0;
	uint32_t seed = 1;
	double timeout = 300;
	g.window = 4;
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--verbose")) {
			g.verbose = 1;
		} else if (!strcmp(a, "--recv")) {
			/* --recv alone: as much as --send */
			recv = -2;
			if (v && v[0] >= '0' && v[0] <= '9') {
				if ((recv = parse_bytes(v)) < 0)
					usage();
				i++;
			}
		} else if (!v) {
			usage();
		} else if (!strcmp(a, "--conns")) {
			nconns = atoi(v), i++;
		} else if (!strcmp(a, "--window")) {
			g.window = atoi(v), i++;
		} else if (!strcmp(a, "--seed")) {
			seed = (uint32_t)strtoul(v, NULL, 0), i++;
		} else if (!strcmp(a, "--timeout")) {
			timeout = atof(v), i++;
		} else if (!strcmp(a, "--send")) {
			if ((send = parse_bytes(v)) < 0)
				usage();
			i++;
		} else {
			usage();
		}
	}
	if (recv == -2)
		recv = send;
	if (g.window < 1 || timeout <= 0 || nconns < 0 || (!g.server && (send < 0 || nconns < 1)))
		usage();
	raise_nofile();
	struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	int err = demi_init(&args);
	if (err) {
		fprintf(stderr, "tcp_xfer: demi_init: %s\n", strerror(err));
		return 1;
	}
	g.deadline = now_ns() + (uint64_t)(timeout * 1e9);
	if (g.server)
		return run_server(&addr, nconns);
	return run_client(&addr, nconns, (uint64_t)send, (uint64_t)recv, seed);
}
