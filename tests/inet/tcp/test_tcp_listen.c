/*
 * TCP listeners on memwire: the accept backlog (SYNs and final ACKs beyond
 * it dropped, retried later), half-open limits, SYN floods from the raw port
 * answered with SYN cookies (RFC 4987 section 3.6) in bounded memory while a
 * legitimate client still connects, cookie handshakes completed by hand,
 * forged and expired cookies, connections reset before accept, and
 * SYN-RECEIVED giving up.
 */
#include "tcp_raw.h"
#include "tcp_xfer.h"

#include <stdio.h>

#define MS NSEC_PER_MSEC
#define SEC NSEC_PER_SEC

static struct {
	uint32_t syn_backlog; /* 0: default */
	uint32_t syn_retries;
} K;

static void cfg(struct demi_config *c, int idx)
{
	(void)idx;
	cfg_static_arp(c);
	if (K.syn_backlog)
		c->tcp_syn_backlog = K.syn_backlog;
	if (K.syn_retries)
		c->tcp_syn_retries = K.syn_retries;
}

static void setup(void) { memset(&K, 0, sizeof(K)); }

static void start(void)
{
	tnet_init(NULL, cfg);
	fix_isn_secrets();
}

static void fini(void) { tnet_fini(); }

TestSuite(tcp_listen, .init = setup, .fini = fini, .timeout = 60);

static int listener(int idx, uint16_t port, int backlog)
{
	int lqd = tnet_tcp(idx);
	struct sockaddr_in a = tnet_addr(stack_ip(idx), port);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, backlog), 0);
	return lqd;
}

static int connect_b(uint16_t port, demi_qtoken_t *qt)
{
	int qd = tnet_tcp(NA);
	struct sockaddr_in a = tnet_addr(IP_B, port);
	cr_assert_eq(demi_connect(qt, qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	return qd;
}

static int accept_now(int lqd, uint64_t max_ns)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_accept(&qt, lqd), 0);
	demi_qresult_t r = tnet_wait(qt, max_ns);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT, "accept: %d", (int)r.qr_ret);
	return r.qr_value.ares.qd;
}

/* One message each way on a connection (client cqd on A, server sqd on B). */
static void exchange(int cqd, int sqd, int tag)
{
	char m[16];
	int n = snprintf(m, sizeof(m), "msg %d", tag);
	demi_qtoken_t pb = pop_qt(sqd), pa = pop_qt(cqd);
	expect_push_ok(push_bytes(cqd, m, (uint32_t)n), MS);
	expect_pop(pb, m, (uint32_t)n, SEC);
	expect_push_ok(push_bytes(sqd, m, (uint32_t)n), MS);
	expect_pop(pa, m, (uint32_t)n, SEC);
}

/* Reorders sq so that sq[i] is the server side of cq[i] (accepts complete in the order handshakes do). */
static void match_pairs(const int *cq, int *sq, int n)
{
	int out[8];
	cr_assert_leq(n, 8);
	for (int i = 0; i < n; i++) {
		out[i] = -1;
		for (int j = 0; j < n; j++)
			if (tcb_qd(sq[j])->fport == tcb_qd(cq[i])->lport)
				out[i] = sq[j];
		cr_assert_geq(out[i], 0, "no accepted connection for client %d", i);
	}
	memcpy(sq, out, (size_t)n * sizeof(*sq));
}

/* Every pair then closes, and the listener after them. */
static void close_all(const int *cq, const int *sq, int n, int lqd)
{
	for (int i = 0; i < n; i++) {
		demi_close(cq[i]);
		demi_close(sq[i]);
	}
	demi_close(lqd);
	tnet_run(10 * MS);
}

/* ---- the accept backlog ---- */

/* With the accept queue full, new SYNs are dropped (and counted); they succeed once the queue drains. */
Test(tcp_listen, backlog_full_drops_syns_until_accepted)
{
	start();
	int lqd = listener(NB, 8000, 2);
	struct tcb *lp = tcb_qd(lqd);
	int cq[4];
	demi_qtoken_t ct[4];
	for (int i = 0; i < 4; i++) {
		cq[i] = connect_b(8000, &ct[i]);
		tnet_run(10 * MS);
	}
	cr_assert(tnet_done(ct[0]));
	cr_assert(tnet_done(ct[1]));
	cr_assert_eq(lp->nacceptq, 2);
	cr_assert_eq(lp->nsynq, 0, "a SYN beyond the backlog made a half-open connection");
	cr_assert_not(tnet_done(ct[2]));
	cr_assert_not(tnet_done(ct[3]));
	cr_assert_eq(tnet_stats(NB)->tcp.drop_listen_overflow, 2);
	cr_assert_eq(T.in[NB]->tcp.nconns, 3);
	tnet_run(500 * MS);
	cr_assert_not(tnet_done(ct[2]));
	int sq[4];
	sq[0] = accept_now(lqd, MS);
	sq[1] = accept_now(lqd, MS);
	cr_assert_eq(lp->nacceptq, 0);
	/* The SYNs come again (1 s after the first) and now get in. */
	for (int i = 2; i < 4; i++) {
		demi_qresult_t r = tnet_wait(ct[i], 3 * SEC);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT, "connect %d: %d", i, (int)r.qr_ret);
	}
	sq[2] = accept_now(lqd, MS);
	sq[3] = accept_now(lqd, MS);
	cr_assert_geq(tnet_stats(NA)->tcp.rto_timeouts, 2, "the dropped SYNs were retransmitted");
	match_pairs(cq, sq, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(tcb_qd(sq[i])->state, TCPS_ESTABLISHED);
		exchange(cq[i], sq[i], i);
	}
	close_all(cq, sq, 4, lqd);
}

/*
 * SYNs that arrive together all get SYN-ACKs; the final ACKs beyond the
 * backlog are dropped (as Linux) and the half-open connections complete
 * once there is room, when the SYN-ACK is retransmitted.
 */
Test(tcp_listen, backlog_full_drops_final_ack_until_accepted)
{
	start();
	int lqd = listener(NB, 8000, 2);
	struct tcb *lp = tcb_qd(lqd);
	int cq[4];
	demi_qtoken_t ct[4];
	for (int i = 0; i < 4; i++)
		cq[i] = connect_b(8000, &ct[i]);
	tnet_run(10 * MS);
	for (int i = 0; i < 4; i++)
		cr_assert(tnet_done(ct[i]), "connect %d: the client completes on the SYN-ACK", i);
	cr_assert_eq(lp->nacceptq, 2);
	cr_assert_eq(lp->nsynq, 2);
	cr_assert_eq(tnet_stats(NB)->tcp.drop_listen_overflow, 2);
	int sq[4];
	for (int i = 0; i < 4; i++) {
		sq[i] = accept_now(lqd, 3 * SEC);
		cr_assert_eq(tnet_wait(ct[i], MS).qr_opcode, DEMI_OPC_CONNECT);
	}
	cr_assert_eq(lp->nsynq, 0);
	cr_assert_eq(lp->nacceptq, 0);
	match_pairs(cq, sq, 4);
	for (int i = 0; i < 4; i++)
		exchange(cq[i], sq[i], i);
	close_all(cq, sq, 4, lqd);
}

/* A connection reset while it waits on the accept queue is not handed out (and frees its slot). */
Test(tcp_listen, reset_before_accept_is_skipped)
{
	start();
	int lqd = listener(NA, 7000, 1);
	struct tcb *lp = tcb_qd(lqd);
	struct rseg s;
	raw_tcp(NA, 1000, 7000, 100, 0, TH_SYN, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	uint32_t iss = s.seq;
	raw_tcp(NA, 1000, 7000, 101, iss + 1, TH_ACK, 65535, NULL, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(lp->nacceptq, 1);
	raw_tcp(NA, 1000, 7000, 101, 0, TH_RST, 0, NULL, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_rx, 1);
	/* The backlog (1) has room again: the next client gets in, and it is the one accepted. */
	struct rconn c;
	struct ropts syn = RO_NONE;
	rconn_open(&c, NA, lqd, 7000, 1001, 500, &syn);
	cr_assert_eq(ntohs(tcb_qd(c.qd)->fport), 1001);
	cr_assert_eq(lp->nacceptq, 0);
	cr_assert_eq(T.in[NA]->tcp.nconns, 2);
	demi_close(c.qd);
	demi_close(lqd);
	run_drain(10 * MS);
}

/* ---- SYN floods and cookies ---- */

#define FLOOD_SYN_BACKLOG 8

/* Injects n SYNs from the raw port (source ports first..first+n-1) to B:port and lets B take them. */
static void inject_syns(uint16_t port, uint32_t first, uint32_t n, int *synacks)
{
	uint64_t want = tnet_stats(NB)->tcp.rx_segments + n;
	for (uint32_t i = 0; i < n; i++)
		raw_tcp(NB, (uint16_t)(first + i), port, 0x10000000u + first + i, 0, TH_SYN, 65535, NULL, NULL, 0);
	struct rseg s;
	for (int guard = 0; guard < 1000 && tnet_stats(NB)->tcp.rx_segments < want; guard++) {
		tnet_run(50 * NSEC_PER_USEC);
		while (raw_next_tcp(&s))
			if (s.flags == (TH_SYN | TH_ACK))
				(*synacks)++;
	}
	cr_assert_geq(tnet_stats(NB)->tcp.rx_segments, want);
}

Test(tcp_listen, syn_flood_answered_with_cookies_in_bounded_memory)
{
	K.syn_backlog = FLOOD_SYN_BACKLOG;
	start();
	int lqd = listener(NB, 80, 16);
	struct tcb *lp = tcb_qd(lqd);
	int synacks = 0;
	uint32_t max_conns = 0;
	const uint32_t N = 3000, B = 100;
	demi_qtoken_t ct = 0, at;
	int cqd = -1;
	cr_assert_eq(demi_accept(&at, lqd), 0);
	for (uint32_t i = 0; i < N; i += B) {
		inject_syns(80, 1024 + i, B, &synacks);
		if (i == 500)
			cqd = connect_b(80, &ct); /* a legitimate client in the middle of the flood */
		if (T.in[NB]->tcp.nconns > max_conns)
			max_conns = T.in[NB]->tcp.nconns;
		cr_assert_leq(lp->nsynq, FLOOD_SYN_BACKLOG);
	}
	tnet_run(MS);
	struct rseg s;
	while (raw_next_tcp(&s))
		if (s.flags == (TH_SYN | TH_ACK))
			synacks++;
	/* Every SYN answered; only syn_backlog of them hold state. */
	cr_assert_eq(synacks, (int)N, "%d SYN-ACKs for %u SYNs", synacks, N);
	struct demi_netstats_tcp *st = &tnet_stats(NB)->tcp;
	cr_assert_eq(st->syncookies_sent, N - FLOOD_SYN_BACKLOG + 1, "cookies sent %llu",
		     (unsigned long long)st->syncookies_sent); /* the client's SYN found the queue full too */
	cr_assert_leq(max_conns, 1 + FLOOD_SYN_BACKLOG + 1, "B held %u connections", max_conns);
	cr_assert_eq(lp->nsynq, FLOOD_SYN_BACKLOG);
	/* The legitimate client got through on a cookie. */
	cr_assert_eq(tnet_wait(ct, SEC).qr_opcode, DEMI_OPC_CONNECT);
	demi_qresult_t r = tnet_wait(at, SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	int sqd = r.qr_value.ares.qd;
	cr_assert_eq(r.qr_value.ares.addr.sin_addr.s_addr, IP_A);
	cr_assert_eq(st->syncookies_ok, 1);
	struct tcb *sb = tcb_qd(sqd), *ca = tcb_qd(cqd);
	cr_assert(sb->flags & TF_COOKIE);
	/* The options survived in the cookie's timestamp. */
	cr_assert_eq(sb->flags & (TF_WSCALE | TF_TS | TF_SACK), TF_WSCALE | TF_TS | TF_SACK);
	cr_assert_eq(sb->snd_wscale, ca->rcv_wscale);
	cr_assert_eq(ca->snd_wscale, sb->rcv_wscale);
	cr_assert_eq(sb->mss, ca->mss);
	struct xdir d[2];
	xdir_init(&d[0], cqd, sqd, 512 << 10, 51);
	xdir_init(&d[1], sqd, cqd, 512 << 10, 52);
	xfer_run(d, 2, 65536, 4, 10 * SEC);
	cr_assert_leq(T.in[NB]->tcp.nconns, 1 + FLOOD_SYN_BACKLOG + 1);
	demi_close(cqd);
	demi_close(sqd);
	demi_close(lqd);
	run_drain(10 * MS);
	/* Closing the listener freed every half-open connection; at most the closed connection's TIME-WAIT is left. */
	for (struct list_node *n = T.in[NB]->tcp.conns.next; n != &T.in[NB]->tcp.conns; n = n->next)
		cr_assert_eq(container_of(n, struct tcb, link)->state, TCPS_TIME_WAIT);
	cr_assert_leq(T.in[NB]->tcp.nconns, 1);
}

/* A listener on A whose SYN queue (syn_backlog 1) is held by one half-open connection: every further SYN gets a cookie. */
static int cookie_listener(void)
{
	K.syn_backlog = 1;
	start();
	int lqd = listener(NA, 7000, 8);
	raw_tcp(NA, 1000, 7000, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(tcb_qd(lqd)->nsynq, 1);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_sent, 0);
	return lqd;
}

Test(tcp_listen, cookie_handshake_by_hand)
{
	int lqd = cookie_listener();
	uint32_t conns = T.in[NA]->tcp.nconns;
	demi_qtoken_t at;
	cr_assert_eq(demi_accept(&at, lqd), 0);
	struct ropts syn = RO_NONE;
	syn.mss = 1200;
	const uint32_t isn = 0xfffffff0u; /* wraps during the connection */
	raw_tcp(NA, 2000, 7000, isn, 0, TH_SYN, 65535, &syn, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.ack, isn + 1);
	cr_assert(s.opts_ok);
	cr_assert_eq(s.o.flags, TCP_OPTF_MSS, "a cookie SYN-ACK offers only what the SYN offered: %#x", s.o.flags);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_sent, 1);
	cr_assert_eq(T.in[NA]->tcp.nconns, conns, "a cookie SYN-ACK kept state");
	uint32_t cookie = s.seq;
	/* The third segment carries data, and makes the connection. */
	raw_tcp(NA, 2000, 7000, isn + 1, cookie + 1, TH_ACK | TH_PSH, 65535, NULL, "hello", 5);
	demi_qresult_t r = tnet_wait(at, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	cr_assert_eq(ntohs(r.qr_value.ares.addr.sin_port), 2000);
	int qd = r.qr_value.ares.qd;
	struct tcb *tp = tcb_qd(qd);
	cr_assert(tp->flags & TF_COOKIE);
	cr_assert_eq(tp->state, TCPS_ESTABLISHED);
	cr_assert_eq(tp->peer_mss, 1200);
	cr_assert_eq(tp->mss, 1200);
	cr_assert_eq(tp->flags & (TF_WSCALE | TF_TS | TF_SACK), 0);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_ok, 1);
	demi_qtoken_t pq = pop_qt(qd);
	cr_assert(raw_wait_tcp(&s, 100 * MS), "no answer to the data on the cookie ACK");
	cr_assert_eq(s.ack, isn + 1 + 5, "the data on the cookie ACK (inside the window the SYN-ACK offered) was dropped");
	expect_pop(pq, "hello", 5, MS);
	/* And the other way. */
	expect_push_ok(push_bytes(qd, "world", 5), MS);
	for (;;) {
		cr_assert(raw_wait_tcp(&s, 100 * MS));
		if (s.dlen)
			break;
	}
	cr_assert_eq(s.seq, cookie + 1);
	cr_assert_eq(s.dlen, 5);
	cr_assert_eq(memcmp(s.data, "world", 5), 0);
	raw_tcp(NA, 2000, 7000, isn + 6, cookie + 6, TH_ACK, 65535, NULL, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(tp->snd_una, cookie + 6);
	demi_close(qd);
	demi_close(lqd);
	run_drain(10 * MS);
}

/* The usual client: a pure ACK completes the cookie handshake, the request follows in its own segment. */
Test(tcp_listen, cookie_connection_takes_first_data_segment)
{
	int lqd = cookie_listener();
	demi_qtoken_t at;
	cr_assert_eq(demi_accept(&at, lqd), 0);
	raw_tcp(NA, 2002, 7000, 800, 0, TH_SYN, 65535, &(struct ropts){ .mss = 1460, .wscale = -1 }, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	uint32_t cookie = s.seq;
	uint16_t offered = s.win;
	cr_assert_gt(offered, 1000);
	raw_tcp(NA, 2002, 7000, 801, cookie + 1, TH_ACK, 65535, NULL, NULL, 0);
	demi_qresult_t r = tnet_wait(at, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	int qd = r.qr_value.ares.qd;
	demi_qtoken_t pq = pop_qt(qd);
	/* Within the window the SYN-ACK offered: must be taken. */
	raw_tcp(NA, 2002, 7000, 801, cookie + 1, TH_ACK | TH_PSH, 65535, NULL, "GET / HTTP/1.0", 14);
	cr_assert(raw_wait_tcp(&s, 100 * MS)); /* the ACK may be delayed (tcp.delayed_ack_ms, 40) */
	cr_assert_eq(s.ack, 801 + 14, "the first data segment of a cookie connection was not accepted (ACK %u)", s.ack);
	expect_pop(pq, "GET / HTTP/1.0", 14, MS);
	cr_assert_eq(tnet_stats(NA)->tcp.drop_out_of_window, 0);
	demi_close(qd);
	demi_close(lqd);
	run_drain(10 * MS);
}

Test(tcp_listen, cookie_keeps_options_in_timestamp)
{
	int lqd = cookie_listener();
	demi_qtoken_t at;
	cr_assert_eq(demi_accept(&at, lqd), 0);
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	syn.wscale = 7;
	syn.sack_ok = true;
	syn.ts = true;
	syn.ts_val = 123456;
	raw_tcp(NA, 2001, 7000, 5000, 0, TH_SYN, 65535, &syn, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.o.flags, TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERMITTED | TCP_OPTF_TIMESTAMP,
		     "options %#x", s.o.flags);
	cr_assert_eq(s.o.ts_ecr, 123456);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_sent, 1);
	struct ropts ack = RO_NONE;
	ack.ts = true;
	ack.ts_val = 123457;
	ack.ts_ecr = s.o.ts_val;
	raw_tcp(NA, 2001, 7000, 5001, s.seq + 1, TH_ACK, 100, &ack, NULL, 0);
	demi_qresult_t r = tnet_wait(at, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	struct tcb *tp = tcb_qd(r.qr_value.ares.qd);
	cr_assert_eq(tp->flags & (TF_WSCALE | TF_TS | TF_SACK), TF_WSCALE | TF_TS | TF_SACK);
	cr_assert_eq(tp->snd_wscale, 7);
	cr_assert_eq(tp->rcv_wscale, s.o.wscale);
	cr_assert_eq(tp->snd_wnd, 100u << 7);
	cr_assert_eq(tp->mss, 1460 - 12);
	cr_assert_eq(tp->ts_recent, 123457);
	/* Our timestamps continue from the cookie's: the next TSval is not below the SYN-ACK's. */
	expect_push_ok(push_bytes(r.qr_value.ares.qd, "x", 1), MS);
	for (;;) {
		cr_assert(raw_wait_tcp(&s, 100 * MS));
		if (s.dlen)
			break;
	}
	cr_assert(s.o.flags & TCP_OPTF_TIMESTAMP);
	cr_assert_eq(s.o.ts_ecr, 123457);
	cr_assert(SEQ_GEQ(s.o.ts_val, ack.ts_ecr), "TSval went back from %u to %u", ack.ts_ecr, s.o.ts_val);
	demi_close(r.qr_value.ares.qd);
	demi_close(lqd);
	run_drain(10 * MS);
}

Test(tcp_listen, forged_or_stale_cookie_ack_gets_rst)
{
	int lqd = cookie_listener();
	demi_qtoken_t at;
	cr_assert_eq(demi_accept(&at, lqd), 0);
	uint32_t conns = T.in[NA]->tcp.nconns;
	struct rseg s;
	/* An ACK no SYN-ACK of ours asked for. */
	raw_tcp(NA, 3000, 7000, 5000, 0x12345678u, TH_ACK, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST, "flags %#x", s.flags);
	cr_assert_eq(s.seq, 0x12345678u);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_bad, 1);
	/* A real cookie, but ACKed from another sequence number than the SYN's + 1. */
	raw_tcp(NA, 3001, 7000, 7000, 0, TH_SYN, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	uint32_t cookie = s.seq;
	raw_tcp(NA, 3001, 7000, 7000 + 2, cookie + 1, TH_ACK, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST);
	cr_assert_eq(s.seq, cookie + 1);
	/* Another port than the SYN's. */
	raw_tcp(NA, 3002, 7000, 7000 + 1, cookie + 1, TH_ACK, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_bad, 3);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_ok, 0);
	cr_assert_eq(T.in[NA]->tcp.nconns, conns);
	/* The right ACK, but after the cookie expired (two 64 s ticks). */
	raw_tcp(NA, 3003, 7000, 9000, 0, TH_SYN, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cookie = s.seq;
	run_drain(130 * SEC);
	raw_tcp(NA, 3003, 7000, 9001, cookie + 1, TH_ACK, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST, "an expired cookie was accepted");
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_bad, 4);
	cr_assert_not(tnet_done(at));
	cr_assert_eq(tcb_qd(lqd)->nacceptq, 0);
	demi_close(lqd);
	run_drain(10 * MS);
}

/* ---- half-open connections ---- */

/* A SYN-RECEIVED connection whose peer never ACKs retransmits its SYN-ACK syn_retries times, then goes. */
Test(tcp_listen, syn_received_gives_up)
{
	K.syn_retries = 2;
	start();
	int lqd = listener(NA, 7000, 8);
	uint64_t t0 = clock_now();
	raw_tcp(NA, 1000, 7000, 1, 0, TH_SYN, 65535, NULL, NULL, 0);
	uint64_t times[8];
	int n = 0;
	struct rseg s;
	while (clock_now() - t0 < 20 * SEC) {
		if (raw_wait_tcp(&s, 100 * MS)) {
			if (s.flags & TH_RST) /* giving up may tell the peer (RFC 9293 leaves it open) */
				continue;
			cr_assert_eq(s.flags, TH_SYN | TH_ACK, "flags %#x", s.flags);
			cr_assert_eq(s.ack, 2);
			cr_assert_lt(n, 8);
			times[n++] = clock_now();
		}
	}
	cr_assert_eq(n, 3, "%d SYN-ACKs, want 1 + syn_retries", n);
	cr_assert_eq(tcb_qd(lqd)->nsynq, 0);
	cr_assert_eq(T.in[NA]->tcp.nconns, 1);
	/* Exponential backoff from the initial RTO (1 s). */
	for (int i = 1; i < n; i++) {
		uint64_t gap = times[i] - times[i - 1], want = SEC << (i - 1);
		cr_assert(gap >= want - 2 * MS && gap <= want + 102 * MS, "SYN-ACK %d after %llu ms", i,
			  (unsigned long long)(gap / MS));
	}
	demi_close(lqd);
}

/* A listener's half-open connections count against syn_backlog; a completed handshake frees the slot. */
Test(tcp_listen, syn_backlog_counts_half_open_only)
{
	K.syn_backlog = 2;
	start();
	int lqd = listener(NA, 7000, 8);
	struct tcb *lp = tcb_qd(lqd);
	struct rseg s;
	uint32_t cookie_seq[3];
	for (int i = 0; i < 3; i++) {
		raw_tcp(NA, (uint16_t)(1000 + i), 7000, 100u * (uint32_t)i, 0, TH_SYN, 65535, NULL, NULL, 0);
		cr_assert(raw_wait_tcp(&s, 10 * MS));
		cookie_seq[i] = s.seq;
	}
	cr_assert_eq(lp->nsynq, 2);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_sent, 1);
	/* The first completes: the queue has room again, the next SYN gets real state. */
	raw_tcp(NA, 1000, 7000, 1, cookie_seq[0] + 1, TH_ACK, 65535, NULL, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(lp->nsynq, 1);
	cr_assert_eq(lp->nacceptq, 1);
	raw_tcp(NA, 1003, 7000, 300, 0, TH_SYN, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(lp->nsynq, 2);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_sent, 1);
	/* The cookie one completes too, without ever holding a half-open slot. */
	raw_tcp(NA, 1002, 7000, 201, cookie_seq[2] + 1, TH_ACK, 65535, NULL, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(lp->nacceptq, 2);
	cr_assert_eq(tnet_stats(NA)->tcp.syncookies_ok, 1);
	int q1 = accept_now(lqd, MS), q2 = accept_now(lqd, MS);
	cr_assert_eq(ntohs(tcb_qd(q1)->fport), 1000);
	cr_assert_eq(ntohs(tcb_qd(q2)->fport), 1002);
	demi_close(q1);
	demi_close(q2);
	demi_close(lqd);
	run_drain(10 * MS);
}
