/* Shared by the TCP option, flow-control, timer and recovery tests (test_tcp_{opts,flow,timers,recovery}.c, one
 * Criterion suite tcp_opts over four programs): per-test knobs, the stacks' start and end, a connected pair, and a
 * wire filter that drops and records segments. */
#ifndef DEMI_TESTS_TCP_KNOBS_H
#define DEMI_TESTS_TCP_KNOBS_H

#include <stdio.h>

#include "tcp_raw.h"
#include "tcp_xfer.h"

#define MS NSEC_PER_MSEC
#define SEC NSEC_PER_SEC

/* Per-test configuration: each test sets K, then calls start(). */
static struct knobs {
	bool a_no_wscale, b_no_wscale, no_ts, no_sack;
	uint64_t delack_ms; /* UINT64_MAX: default */
	uint32_t retries, syn_retries;
	uint64_t rto_min_ms, rto_max_ms, rto_initial_ms;
	uint64_t keep_idle_s, keep_intvl_s;
	uint32_t keep_probes;
	const char *recovery; /* tcp.recovery: NULL, the default (rack) */
} K;

static inline void cfg(struct demi_config *c, int idx)
{
	cfg_static_arp(c);
	if ((idx == NA && K.a_no_wscale) || (idx == NB && K.b_no_wscale))
		c->tcp_window_scale = false;
	if (K.no_ts)
		c->tcp_timestamps = false;
	if (K.no_sack)
		c->tcp_sack = false;
	if (K.delack_ms != UINT64_MAX)
		c->tcp_delayed_ack_ms = K.delack_ms;
	if (K.retries)
		c->tcp_retries = K.retries;
	if (K.syn_retries)
		c->tcp_syn_retries = K.syn_retries;
	if (K.rto_min_ms)
		c->tcp_rto_min_ms = K.rto_min_ms;
	if (K.rto_max_ms)
		c->tcp_rto_max_ms = K.rto_max_ms;
	if (K.rto_initial_ms)
		c->tcp_rto_initial_ms = K.rto_initial_ms;
	if (K.keep_idle_s)
		c->tcp_keepalive_idle_s = K.keep_idle_s;
	if (K.keep_intvl_s)
		c->tcp_keepalive_intvl_s = K.keep_intvl_s;
	if (K.keep_probes)
		c->tcp_keepalive_probes = K.keep_probes;
	if (K.recovery)
		snprintf(c->tcp_recovery, sizeof(c->tcp_recovery), "%s", K.recovery);
}

static inline void setup(void)
{
	memset(&K, 0, sizeof(K));
	K.delack_ms = UINT64_MAX;
}

/*
 * Brings the stacks up. With a delay on the wire, the start-up announcements
 * reach the raw port late: drained here, since while a frame waits at the raw
 * port the harness's clock skips over the arrival times of later frames.
 */
static inline void start(const struct memwire_opts *o)
{
	tnet_init(o, cfg);
	fix_isn_secrets();
	if (o)
		run_drain(o->delay_ns + o->jitter_ns + MS);
}

static inline void fini(void)
{
	memwire_set_filter(T.w, NULL, NULL);
	tnet_fini();
}

/*
 * A connection A:cport (0: ephemeral) -> B:port with SO_RCVBUF set on the
 * client before connect and on the listener before listen (0: default).
 */
static inline struct tconn pair_port(uint16_t cport, uint16_t port, int a_rcvbuf, int b_rcvbuf)
{
	struct tconn c;
	c.lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, port);
	cr_assert_eq(demi_bind(c.lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	if (b_rcvbuf)
		cr_assert_eq(demi_setsockopt(c.lqd, SOL_SOCKET, SO_RCVBUF, &b_rcvbuf, sizeof(b_rcvbuf)), 0);
	cr_assert_eq(demi_listen(c.lqd, 16), 0);
	demi_qtoken_t aqt, cqt;
	cr_assert_eq(demi_accept(&aqt, c.lqd), 0);
	c.cqd = tnet_tcp(NA);
	if (cport) {
		struct sockaddr_in ca = tnet_addr(IP_A, cport);
		cr_assert_eq(demi_bind(c.cqd, (const struct sockaddr *)&ca, sizeof(ca)), 0);
	}
	if (a_rcvbuf)
		cr_assert_eq(demi_setsockopt(c.cqd, SOL_SOCKET, SO_RCVBUF, &a_rcvbuf, sizeof(a_rcvbuf)), 0);
	cr_assert_eq(demi_connect(&cqt, c.cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(tnet_wait(cqt, SEC).qr_opcode, DEMI_OPC_CONNECT);
	demi_qresult_t r = tnet_wait(aqt, SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	c.sqd = r.qr_value.ares.qd;
	return c;
}

static inline struct tconn pair_bufs(uint16_t port, int a_rcvbuf, int b_rcvbuf)
{
	return pair_port(0, port, a_rcvbuf, b_rcvbuf);
}

static inline void close_pair(struct tconn *c)
{
	demi_close(c->cqd);
	demi_close(c->sqd);
	demi_close(c->lqd);
	tnet_run(10 * MS);
}

/* A wire filter for the loss cases: drops the nth data segment A -> B or B's segments, records what it saw. */
static struct {
	int pa, pb;              /* A's and B's port indices */
	int drop_nth;            /* drop the nth data segment A -> B (1-based), 0: none */
	int data_seen;
	bool dropped;
	uint32_t dropped_seq, dropped_len;
	int sack_acks;           /* B -> A segments with SACK blocks */
	uint32_t first_sack_start, first_sack_end;
	bool drop_from_b;        /* drop every frame from B */
	bool drop_b_pure_acks;   /* drop B's segments without data */
	int nrec;                /* A -> B data segments recorded */
	uint64_t rec_t[64];
	uint32_t rec_seq[64];
} F;

static inline bool filt(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	(void)to;
	struct rseg s;
	if (!parse_tcp_frame(f, len, &s))
		return false;
	if (from == F.pa && s.dlen) {
		F.data_seen++;
		if (F.nrec < 64) {
			F.rec_t[F.nrec] = clock_now();
			F.rec_seq[F.nrec++] = s.seq;
		}
		if (F.drop_nth && F.data_seen == F.drop_nth && !F.dropped) {
			F.dropped = true;
			F.dropped_seq = s.seq;
			F.dropped_len = s.dlen;
			return true;
		}
	}
	if (from == F.pb) {
		if (F.drop_from_b)
			return true;
		if (F.drop_b_pure_acks && s.dlen == 0 && !(s.flags & (TH_SYN | TH_FIN | TH_RST)))
			return true;
		if (s.opts_ok && (s.o.flags & TCP_OPTF_SACK)) {
			if (!F.sack_acks) {
				F.first_sack_start = s.o.sack[0].start;
				F.first_sack_end = s.o.sack[0].end;
			}
			F.sack_acks++;
		}
	}
	return false;
}

static inline void filter_on(void)
{
	memset(&F, 0, sizeof(F));
	F.pa = memwire_port_index(T.dev[NA]);
	F.pb = memwire_port_index(T.dev[NB]);
	memwire_set_filter(T.w, filt, NULL);
}

#endif
