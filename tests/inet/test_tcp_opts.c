/*
 * TCP options, flow control and timers on memwire: window scaling (RFC 7323
 * section 2) both ways and against peers that do not offer it, peers without
 * options (MSS 536, RFC 9293 section 3.7.1), timestamps (RTT measurement,
 * PAWS), SACK and NewReno recovery from one lost segment (also at the 2^32
 * wrap and with ISNs "before" 0), the receiver's SACK blocks, window edge and
 * delayed ACKs, zero and tiny windows and their probes (RFC 9293 section
 * 3.8.6), the retransmission limit and backoff (RFC 6298), SYN retries, and
 * keepalive (RFC 1122 4.2.3.6).
 */
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
} K;

static void cfg(struct demi_config *c, int idx)
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
}

static void setup(void)
{
	memset(&K, 0, sizeof(K));
	K.delack_ms = UINT64_MAX;
}

/*
 * Brings the stacks up. With a delay on the wire, the start-up announcements
 * reach the raw port late: drained here, since while a frame waits at the raw
 * port the harness's clock skips over the arrival times of later frames.
 */
static void start(const struct memwire_opts *o)
{
	tnet_init(o, cfg);
	fix_isn_secrets();
	if (o)
		run_drain(o->delay_ns + o->jitter_ns + MS);
}

static void fini(void)
{
	memwire_set_filter(T.w, NULL, NULL);
	tnet_fini();
}

TestSuite(tcp_opts, .init = setup, .fini = fini, .timeout = 60);

/*
 * A connection A:cport (0: ephemeral) -> B:port with SO_RCVBUF set on the
 * client before connect and on the listener before listen (0: default).
 */
static struct tconn pair_port(uint16_t cport, uint16_t port, int a_rcvbuf, int b_rcvbuf)
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

static struct tconn pair_bufs(uint16_t port, int a_rcvbuf, int b_rcvbuf)
{
	return pair_port(0, port, a_rcvbuf, b_rcvbuf);
}

static void close_pair(struct tconn *c)
{
	demi_close(c->cqd);
	demi_close(c->sqd);
	demi_close(c->lqd);
	tnet_run(10 * MS);
}

/* The shift a receive buffer needs (RFC 7323 section 2.3): the least s with buf >> s <= 65535, at most 14. */
static uint8_t shift_for(uint32_t buf)
{
	uint8_t s = 0;
	while (s < 14 && (buf >> s) > 65535)
		s++;
	return s;
}

/* ---- window scaling ---- */

static void wscale_case(int a_buf, int b_buf, uint64_t a_to_b, uint64_t b_to_a)
{
	start(NULL);
	struct tconn c = pair_bufs(8000, a_buf, b_buf);
	struct tcb *a = tcb_qd(c.cqd), *b = tcb_qd(c.sqd);
	cr_assert(a->flags & TF_WSCALE);
	cr_assert(b->flags & TF_WSCALE);
	uint8_t sa = shift_for((uint32_t)a_buf), sb = shift_for((uint32_t)b_buf);
	cr_assert_eq(a->rcv_wscale, sa, "A's shift %u, want %u", a->rcv_wscale, sa);
	cr_assert_eq(b->snd_wscale, sa);
	cr_assert_eq(b->rcv_wscale, sb, "B's shift %u, want %u", b->rcv_wscale, sb);
	cr_assert_eq(a->snd_wscale, sb);
	struct xdir d[2];
	xdir_init(&d[0], c.cqd, c.sqd, a_to_b, 21);
	xdir_init(&d[1], c.sqd, c.cqd, b_to_a, 22);
	xfer_run(d, 2, 65536, 8, 20 * SEC);
	/* A window wider than 64 KiB was offered and used where the buffer allows it. */
	if ((uint32_t)b_buf > 65535)
		cr_assert_gt(a->max_sndwnd, 65535, "B's window never exceeded 64 KiB: %u", a->max_sndwnd);
	else
		cr_assert_leq(a->max_sndwnd, (uint32_t)b_buf);
	if ((uint32_t)a_buf > 65535)
		cr_assert_gt(b->max_sndwnd, 65535);
	else
		cr_assert_leq(b->max_sndwnd, (uint32_t)a_buf);
	cr_assert_eq(tnet_stats(NA)->tcp.retransmits + tnet_stats(NB)->tcp.retransmits, 0);
	close_pair(&c);
}

Test(tcp_opts, wscale_0_and_7) { wscale_case(65535, 4 << 20, 2 << 20, 256 << 10); }
Test(tcp_opts, wscale_7_and_5) { wscale_case(4 << 20, 1 << 20, 256 << 10, 2 << 20); }
Test(tcp_opts, wscale_1_and_14) { wscale_case(131072, 1 << 30, 1 << 20, 1 << 20); }

/* The peer does not scale (config off at B): neither side scales, A's window stays within 16 bits. */
Test(tcp_opts, wscale_refused_by_peer)
{
	K.b_no_wscale = true;
	start(NULL);
	struct tconn c = pair_bufs(8000, 4 << 20, 0);
	struct tcb *a = tcb_qd(c.cqd), *b = tcb_qd(c.sqd);
	cr_assert_not(a->flags & TF_WSCALE);
	cr_assert_not(b->flags & TF_WSCALE);
	cr_assert_eq(a->rcv_wscale, 0, "A still scales its window by %u", a->rcv_wscale);
	cr_assert_eq(a->snd_wscale, 0);
	cr_assert_eq(b->rcv_wscale, 0);
	cr_assert_eq(b->snd_wscale, 0);
	struct xdir d[2];
	xdir_init(&d[0], c.cqd, c.sqd, 1 << 20, 31);
	xdir_init(&d[1], c.sqd, c.cqd, 1 << 20, 32);
	xfer_run(d, 2, 65536, 8, 20 * SEC);
	cr_assert_leq(a->max_sndwnd, 65535);
	cr_assert_leq(b->max_sndwnd, 65535);
	close_pair(&c);
}

/* A connects to the raw port, which answers without any option: no scaling, no timestamps, no SACK, MSS 536. */
Test(tcp_opts, active_open_to_peer_without_options)
{
	start(NULL);
	int qd = tnet_tcp(NA);
	int buf = 1 << 20;
	cr_assert_eq(demi_setsockopt(qd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)), 0);
	struct sockaddr_in ra = tnet_addr(IP_RAW, 80);
	demi_qtoken_t cqt;
	cr_assert_eq(demi_connect(&cqt, qd, (const struct sockaddr *)&ra, sizeof(ra)), 0);
	struct rseg syn;
	cr_assert(raw_wait_tcp(&syn, 10 * MS));
	cr_assert_eq(syn.flags, TH_SYN);
	cr_assert(syn.opts_ok);
	/* The SYN offers everything; its window is never scaled (RFC 7323 section 2.2). */
	cr_assert_eq(syn.o.flags & (TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERMITTED | TCP_OPTF_TIMESTAMP),
		     TCP_OPTF_MSS | TCP_OPTF_WSCALE | TCP_OPTF_SACK_PERMITTED | TCP_OPTF_TIMESTAMP);
	cr_assert_eq(syn.o.wscale, shift_for(1 << 20));
	cr_assert_eq(syn.o.mss, 1460);
	cr_assert_eq(syn.win, 65535);
	raw_tcp(NA, 80, syn.sport, 70000, syn.seq + 1, TH_SYN | TH_ACK, 8192, NULL, NULL, 0);
	cr_assert_eq(tnet_wait(cqt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
	struct tcb *a = tcb_qd(qd);
	cr_assert_eq(a->flags & (TF_WSCALE | TF_TS | TF_SACK), 0);
	cr_assert_eq(a->rcv_wscale, 0);
	cr_assert_eq(a->snd_wscale, 0);
	cr_assert_eq(a->peer_mss, 536);
	cr_assert_eq(a->mss, 536);
	cr_assert_eq(a->snd_wnd, 8192);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.hlen, TCP_HDR_LEN, "options after a SYN-ACK without any");
	cr_assert_eq(s.win, 65535, "an unscaled window of a 1 MiB buffer is 65535, got %u", s.win);
	/* Data goes in 536-byte segments without options. */
	static uint8_t msg[1500];
	for (uint32_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i ^ 0x5a);
	expect_push_ok(push_bytes(qd, msg, sizeof(msg)), MS);
	uint32_t got = 0, segs = 0;
	uint32_t rcv_nxt = syn.seq + 1;
	while (got < sizeof(msg)) {
		cr_assert(raw_wait_tcp(&s, 10 * MS), "%u of %zu bytes", got, sizeof(msg));
		if (!s.dlen)
			continue;
		cr_assert_eq(s.hlen, TCP_HDR_LEN);
		cr_assert_leq(s.dlen, 536);
		cr_assert_eq(s.seq, rcv_nxt);
		cr_assert_eq(memcmp(s.data, msg + got, s.dlen), 0);
		got += s.dlen;
		rcv_nxt += s.dlen;
		segs++;
		raw_tcp(NA, 80, syn.sport, 70001, rcv_nxt, TH_ACK, 8192, NULL, NULL, 0);
	}
	cr_assert_eq(segs, 3);
	demi_close(qd);
	run_drain(10 * MS);
}

/* A SYN from the raw port without options: the SYN-ACK must not carry window scale, timestamps or SACK. */
Test(tcp_opts, passive_open_from_peer_without_options)
{
	start(NULL);
	struct rconn c;
	struct ropts none = RO_NONE;
	rconn_open(&c, NA, -1, 7000, 40000, 1, &none);
	struct rseg *sa = &c.synack;
	cr_assert_eq(sa->o.flags, TCP_OPTF_MSS, "SYN-ACK options %#x", sa->o.flags);
	cr_assert_eq(sa->hlen, TCP_HDR_LEN + 4);
	cr_assert_leq(sa->win, 65535);
	struct tcb *tp = tcb_qd(c.qd);
	cr_assert_eq(tp->flags & (TF_WSCALE | TF_TS | TF_SACK), 0);
	cr_assert_eq(tp->peer_mss, 536);
	cr_assert_eq(tp->mss, 536);
	cr_assert_eq(tp->rcv_wscale, 0);
	raw_drain(MS, NULL);
	static uint8_t msg[2000];
	memset(msg, 'q', sizeof(msg));
	expect_push_ok(push_bytes(c.qd, msg, sizeof(msg)), MS);
	uint32_t got = 0;
	struct rseg s;
	while (got < sizeof(msg)) {
		cr_assert(raw_wait_tcp(&s, 10 * MS));
		if (!s.dlen)
			continue;
		cr_assert_eq(s.hlen, TCP_HDR_LEN);
		cr_assert_leq(s.dlen, 536);
		cr_assert_eq(s.seq, c.rcv_nxt);
		c.rcv_nxt += s.dlen;
		got += s.dlen;
		rconn_send(&c, TH_ACK, NULL, 0);
	}
	/* Its window field is never scaled: a 1 MiB buffer shows as 65535. */
	cr_assert_eq(s.win, 65535);
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/* The SYN-ACK carries exactly the options the SYN offered (those the config allows). */
Test(tcp_opts, synack_mirrors_offered_options)
{
	start(NULL);
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1000;
	syn.sack_ok = true;
	rconn_open(&c, NA, -1, 7000, 40000, 1, &syn);
	cr_assert_eq(c.synack.o.flags, TCP_OPTF_MSS | TCP_OPTF_SACK_PERMITTED, "options %#x", c.synack.o.flags);
	struct tcb *tp = tcb_qd(c.qd);
	cr_assert_eq(tp->flags & (TF_WSCALE | TF_TS | TF_SACK), TF_SACK);
	cr_assert_eq(tp->mss, 1000);
	demi_close(c.qd);
	run_drain(MS);

	struct rconn d;
	syn = RO_NONE;
	syn.ts = true;
	syn.ts_val = 0x12345678;
	rconn_open(&d, NA, c.lqd, 7000, 40001, 1, &syn);
	cr_assert_eq(d.synack.o.flags, TCP_OPTF_MSS | TCP_OPTF_TIMESTAMP, "options %#x", d.synack.o.flags);
	cr_assert_eq(d.synack.o.ts_ecr, 0x12345678u, "the SYN-ACK echoes the SYN's TSval");
	tp = tcb_qd(d.qd);
	cr_assert_eq(tp->flags & (TF_WSCALE | TF_TS | TF_SACK), TF_TS);
	cr_assert_eq(tp->peer_mss, 536);
	cr_assert_eq(tp->mss, 536 - 12);
	demi_close(d.qd);
	run_drain(MS);

	struct rconn e;
	syn = RO_NONE;
	syn.mss = 1400;
	syn.wscale = 0;
	rconn_open(&e, NA, c.lqd, 7000, 40002, 1, &syn);
	cr_assert_eq(e.synack.o.flags, TCP_OPTF_MSS | TCP_OPTF_WSCALE, "options %#x", e.synack.o.flags);
	cr_assert_eq(e.synack.o.wscale, shift_for(1 << 20));
	tp = tcb_qd(e.qd);
	cr_assert_eq(tp->flags & (TF_WSCALE | TF_TS | TF_SACK), TF_WSCALE);
	demi_close(e.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/* The peer's shift applies to every window after the SYN; over 14 is taken as 14 (RFC 7323 section 2.3). */
Test(tcp_opts, peer_window_scale_applied)
{
	start(NULL);
	int ws[] = { 3, 14, 15 };
	int lqd = -1;
	for (int i = 0; i < 3; i++) {
		struct rconn c;
		struct ropts syn = RO_NONE;
		syn.mss = 1460;
		syn.wscale = ws[i];
		rconn_open(&c, NA, lqd, 7000, (uint16_t)(40000 + i), 1, &syn);
		lqd = c.lqd;
		struct tcb *tp = tcb_qd(c.qd);
		uint8_t want = ws[i] > 14 ? 14 : (uint8_t)ws[i];
		cr_assert_eq(tp->snd_wscale, want);
		/* rconn_open's ACK carried window field 65535. */
		cr_assert_eq(tp->snd_wnd, 65535u << want, "snd_wnd %u", tp->snd_wnd);
		c.win = 3;
		rconn_send(&c, TH_ACK | TH_PSH, "x", 1);
		tnet_run(MS);
		cr_assert_eq(tp->snd_wnd, 3u << want, "snd_wnd %u", tp->snd_wnd);
		demi_close(c.qd);
		run_drain(MS);
	}
	demi_close(lqd);
	run_drain(10 * MS);
}

/* ---- timestamps ---- */

/* high: both ISNs in the upper half of sequence space (before 0). */
static void rtt_case(bool ts, bool high)
{
	K.no_ts = !ts;
	K.delack_ms = 0;
	struct memwire_opts o = { .delay_ns = 5 * MS };
	start(&o);
	struct tconn c = pair_port(port_for_isns(8000, high, high), 8000, 0, 0);
	cr_assert_eq(tcb_qd(c.cqd)->iss >> 31, (uint32_t)high);
	cr_assert_eq(tcb_qd(c.sqd)->iss >> 31, (uint32_t)high);
	struct tcb *a = tcb_qd(c.cqd), *b = tcb_qd(c.sqd);
	cr_assert_eq(!!(a->flags & TF_TS), ts);
	for (int i = 0; i < 20; i++) {
		demi_qtoken_t pb = pop_qt(c.sqd);
		expect_push_ok(push_bytes(c.cqd, "ping", 4), 100 * MS);
		expect_pop(pb, "ping", 4, 100 * MS);
		demi_qtoken_t pa = pop_qt(c.cqd);
		expect_push_ok(push_bytes(c.sqd, "pong", 4), 100 * MS);
		expect_pop(pa, "pong", 4, 100 * MS);
	}
	tnet_run(100 * MS);
	/* RTT 10 ms; timestamps measure in whole milliseconds. */
	for (int i = 0; i < 2; i++) {
		struct tcb *tp = i ? b : a;
		cr_assert_geq(tp->srtt_ns, 9500 * NSEC_PER_USEC, "%c: srtt %llu ns (ISN %#x)", 'A' + i, (unsigned long long)tp->srtt_ns, tp->iss);
		cr_assert_leq(tp->srtt_ns, 12 * MS, "%c: srtt %llu ns", 'A' + i, (unsigned long long)tp->srtt_ns);
		cr_assert_leq(tp->rttvar_ns, 3 * MS, "%c: rttvar %llu ns", 'A' + i, (unsigned long long)tp->rttvar_ns);
		cr_assert_geq(tp->rto_ns, tp->srtt_ns);
	}
	close_pair(&c);
}

Test(tcp_opts, rtt_from_timestamps) { rtt_case(true, false); }
Test(tcp_opts, rtt_from_timestamps_isn_high) { rtt_case(true, true); }
Test(tcp_opts, rtt_without_timestamps) { rtt_case(false, false); }
/* The SYN-ACK is timed (Karn) with no sequence number to compare against: seen with ISNs "before" 0. */
Test(tcp_opts, rtt_without_timestamps_isn_high) { rtt_case(false, true); }

/* RFC 7323 section 5.3: a segment whose TSval is older than TS.Recent is dropped and ACKed. */
Test(tcp_opts, paws_drops_old_timestamp)
{
	K.delack_ms = 0;
	start(NULL);
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	syn.ts = true;
	syn.ts_val = 1000;
	rconn_open(&c, NA, -1, 7000, 40000, 1, &syn);
	cr_assert(c.ts);
	cr_assert_eq(c.synack.o.ts_ecr, 1000);
	struct tcb *tp = tcb_qd(c.qd);
	cr_assert(tp->flags & TF_TS);
	raw_drain(MS, NULL);
	/* New data, TSval 2000: accepted, TS.Recent follows, echoed in the ACK. */
	demi_qtoken_t pq = pop_qt(c.qd);
	c.ts_val = 2000;
	rconn_send(&c, TH_ACK | TH_PSH, "good", 4);
	expect_pop(pq, "good", 4, 10 * MS);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert(s.o.flags & TCP_OPTF_TIMESTAMP);
	cr_assert_eq(s.o.ts_ecr, 2000);
	cr_assert_eq(tp->ts_recent, 2000);
	rconn_saw(&c, &s);
	/* Next data with an older TSval: dropped, counted, ACKed with the unchanged RCV.NXT. */
	pq = pop_qt(c.qd);
	c.ts_val = 1500;
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, c.rcv_nxt, TH_ACK | TH_PSH, 65535,
		&(struct ropts){ .wscale = -1, .ts = true, .ts_val = 1500, .ts_ecr = c.ts_recent }, "STALE", 5);
	cr_assert(raw_wait_tcp(&s, 10 * MS), "a PAWS drop must be ACKed");
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(s.o.ts_ecr, 2000, "TS.Recent must not move back");
	cr_assert_eq(tnet_stats(NA)->tcp.drop_paws, 1);
	cr_assert_eq(tp->ts_recent, 2000);
	cr_assert_not(tnet_done(pq));
	/* The same bytes with a fresh TSval (wrapping past 2^31 ahead is "older": use a small step). */
	c.ts_val = 2001;
	rconn_send(&c, TH_ACK | TH_PSH, "fresh", 5);
	expect_pop(pq, "fresh", 5, 10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.drop_paws, 1);
	/* TSval far ahead (more than 2^31): that is older in modular order, dropped too. */
	pq = pop_qt(c.qd);
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, c.rcv_nxt, TH_ACK | TH_PSH, 65535,
		&(struct ropts){ .wscale = -1, .ts = true, .ts_val = 2001 + 0x80000001u, .ts_ecr = c.ts_recent },
		"WRAP", 4);
	tnet_run(MS);
	cr_assert_eq(tnet_stats(NA)->tcp.drop_paws, 2);
	cr_assert_not(tnet_done(pq));
	c.ts_val = 2002;
	rconn_send(&c, TH_ACK | TH_PSH, "ok", 2);
	expect_pop(pq, "ok", 2, 10 * MS);
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/* ---- recovery from one lost segment ---- */

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

static bool filt(void *arg, int from, int to, const uint8_t *f, uint32_t len)
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

static void filter_on(void)
{
	memset(&F, 0, sizeof(F));
	F.pa = memwire_port_index(T.dev[NA]);
	F.pb = memwire_port_index(T.dev[NB]);
	memwire_set_filter(T.w, filt, NULL);
}

/* high: the sender's ISN in the upper half of sequence space (before 0). */
static void one_loss_case(bool sack, bool high)
{
	K.no_sack = !sack;
	struct memwire_opts o = { .delay_ns = 200 * NSEC_PER_USEC };
	start(&o);
	struct tconn c = pair_port(port_for_isns(8000, high, -1), 8000, 0, 0);
	struct tcb *a = tcb_qd(c.cqd);
	cr_assert_eq(a->iss >> 31, (uint32_t)high);
	cr_assert_eq(!!(a->flags & TF_SACK), sack);
	filter_on();
	F.drop_nth = 40;
	struct xdir d;
	xdir_init(&d, c.cqd, c.sqd, 2 << 20, 41);
	xfer_run(&d, 1, 65536, 8, 20 * SEC);
	cr_assert(F.dropped);
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	cr_assert_eq(st->rto_timeouts, 0, "one loss needed a timeout (fast recoveries %llu, %d ACKs with SACK blocks, ISN %#x)",
		     (unsigned long long)st->fast_recoveries, F.sack_acks, a->iss);
	cr_assert_eq(st->fast_recoveries, 1);
	cr_assert_eq(st->retransmits, 1, "%llu retransmissions for one lost segment", (unsigned long long)st->retransmits);
	cr_assert_gt(tnet_stats(NB)->tcp.ooo_segments, 0);
	if (sack) {
		/* RFC 2018 section 4: the receiver reported the data above the hole, starting right after it. */
		cr_assert_geq(F.sack_acks, 3);
		cr_assert_eq(F.first_sack_start, F.dropped_seq + F.dropped_len, "first SACK block [%#x, %#x), hole at %#x+%u",
			     F.first_sack_start, F.first_sack_end, F.dropped_seq, F.dropped_len);
	} else {
		cr_assert_eq(F.sack_acks, 0, "SACK blocks sent although SACK is off");
	}
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

Test(tcp_opts, sack_recovers_one_loss) { one_loss_case(true, false); }
Test(tcp_opts, newreno_recovers_one_loss) { one_loss_case(false, false); }
/* RFC 6582 section 3.2 step 1: "recover" starts at the ISN; as 0 it blocks fast retransmit for ISNs "before" 0. */
Test(tcp_opts, sack_recovers_one_loss_isn_high) { one_loss_case(true, true); }
Test(tcp_opts, newreno_recovers_one_loss_isn_high) { one_loss_case(false, true); }

/* ---- flow control ---- */

/* Pushes n chunks of sz bytes of stream x; returns the tokens. */
static void push_stream(int qd, struct xstream *x, demi_qtoken_t *qts, int n, uint32_t sz)
{
	for (int i = 0; i < n; i++) {
		demi_sgarray_t sga = demi_sgaalloc(sz);
		cr_assert_not_null(sga.sga_buf);
		uint8_t *p = sga.sga_segs[0].sgaseg_buf;
		for (uint32_t j = 0; j < sz; j++)
			p[j] = xs_next(x);
		cr_assert_eq(demi_push(&qts[i], qd, &sga), 0);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
}

/* Pops and checks total bytes of stream x from qd. */
static void pop_stream(int qd, struct xstream *x, uint64_t total, uint64_t max_ns)
{
	uint64_t got = 0;
	while (got < total) {
		demi_qresult_t r = tnet_wait(pop_qt(qd), max_ns);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP, "pop failed after %llu bytes: %d", (unsigned long long)got,
			     (int)r.qr_ret);
		uint32_t n = r.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert_gt(n, 0, "end of stream after %llu bytes", (unsigned long long)got);
		const uint8_t *p = r.qr_value.sga.sga_segs[0].sgaseg_buf;
		for (uint32_t i = 0; i < n; i++)
			cr_assert_eq(p[i], xs_next(x), "byte %llu differs", (unsigned long long)(got + i));
		got += n;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
}

/*
 * The receiver does not pop: its window closes, the sender's pushes block
 * once SO_SNDBUF is full, zero-window probes go out for as long as the
 * receiver answers (RFC 9293 section 3.8.6.1; RFC 1122 4.2.2.17: the
 * connection is not dropped), and when the receiver pops everything arrives.
 */
Test(tcp_opts, zero_window_probes_and_recovers)
{
	K.retries = 3;
	K.rto_max_ms = 2000;
	start(NULL);
	const int rbuf = 45 * 1448; /* a whole number of segments: the window closes to exactly 0 */
	struct tconn c = pair_bufs(8000, 0, rbuf);
	struct tcb *a = tcb_qd(c.cqd), *b = tcb_qd(c.sqd);
	cr_assert_eq(a->mss, 1448);
	int sbuf = 65536;
	cr_assert_eq(demi_setsockopt(c.cqd, SOL_SOCKET, SO_SNDBUF, &sbuf, sizeof(sbuf)), 0);
	struct xstream tx, rx;
	xs_init(&tx, 77);
	xs_init(&rx, 77);
	enum { N = 12, SZ = 16384 };
	demi_qtoken_t qts[N];
	push_stream(c.cqd, &tx, qts, N, SZ);
	tnet_run(2 * SEC);
	cr_assert_eq(b->rq.bytes, (uint32_t)rbuf, "B holds %u bytes", b->rq.bytes);
	cr_assert_eq(a->snd_wnd, 0);
	cr_assert_eq(a->snd_una, a->iss + 1 + (uint32_t)rbuf);
	/* Pushes whose last byte lies within SO_SNDBUF of SND.UNA completed; the others wait. */
	int done = 0;
	for (int i = 0; i < N; i++)
		if (tnet_done(qts[i])) {
			cr_assert_eq(done, i, "pushes complete in order");
			done++;
		}
	int want = (rbuf + sbuf) / SZ;
	cr_assert_eq(done, want, "%d pushes complete, want %d", done, want);
	uint64_t p1 = tnet_stats(NA)->tcp.window_probes;
	cr_assert_geq(p1, 1, "no window probe in 2 s");
	/* Two minutes of a closed window: still probing, still connected. */
	tnet_run(120 * SEC);
	uint64_t p2 = tnet_stats(NA)->tcp.window_probes;
	cr_assert_geq(p2 - p1, 120 / 2 - 5, "%llu probes in 120 s with rto_max 2 s", (unsigned long long)(p2 - p1));
	cr_assert_eq(a->state, TCPS_ESTABLISHED);
	cr_assert_eq(tnet_stats(NA)->tcp.conn_failed, 0);
	cr_assert_not(tnet_done(qts[N - 1]));
	/* The receiver reads: everything arrives, every push completes. */
	pop_stream(c.sqd, &rx, (uint64_t)N * SZ, 5 * SEC);
	for (int i = 0; i < N; i++)
		expect_push_ok(qts[i], SEC);
	cr_assert_eq(tx.hash, rx.hash);
	close_pair(&c);
}

/*
 * A window smaller than a segment (the buffer is not a whole number of
 * segments) with the window update lost: the sender must not wait forever
 * (RFC 9293 section 3.8.6.2.1: the override timeout; section 3.8.6.1:
 * probing), the transfer completes.
 */
Test(tcp_opts, small_window_with_lost_update_recovers)
{
	start(NULL);
	const int rbuf = 65536;
	struct tconn c = pair_bufs(8000, 0, rbuf);
	struct tcb *b = tcb_qd(c.sqd);
	struct xstream tx, rx;
	xs_init(&tx, 78);
	xs_init(&rx, 78);
	enum { N = 8, SZ = 32768 };
	demi_qtoken_t qts[N];
	push_stream(c.cqd, &tx, qts, N, SZ);
	tnet_run(2 * SEC);
	uint32_t held = b->rq.bytes;
	cr_assert_geq(held, (uint32_t)rbuf - 1448);
	/* B reads what it holds while its window updates are lost. */
	filter_on();
	F.drop_b_pure_acks = true;
	pop_stream(c.sqd, &rx, held, SEC);
	tnet_run(10 * MS);
	memwire_set_filter(T.w, NULL, NULL);
	/* From now on nothing is lost: the rest must arrive, soon. */
	struct tcb *a = tcb_qd(c.cqd);
	demi_qtoken_t pq = pop_qt(c.sqd);
	uint64_t t0 = clock_now();
	while (!tnet_done(pq) && clock_now() - t0 < 10 * SEC)
		tnet_run(10 * MS);
	cr_assert(tnet_done(pq),
		  "stalled: A sees a window of %u bytes (MSS %u) with %u bytes unsent, nothing in flight (%u), "
		  "retransmission/persist timer %s; B's window is %u",
		  a->snd_wnd, a->mss, tcp_unsent(a), a->snd_max - a->snd_una, timer_armed(&a->t_rexmt) ? "armed" : "idle",
		  tcp_rcv_window(b));
	demi_qresult_t r = tnet_wait(pq, MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
	uint32_t n = r.qr_value.sga.sga_segs[0].sgaseg_len;
	const uint8_t *p = r.qr_value.sga.sga_segs[0].sgaseg_buf;
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(p[i], xs_next(&rx));
	cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	pop_stream(c.sqd, &rx, (uint64_t)N * SZ - held - n, 10 * SEC);
	for (int i = 0; i < N; i++)
		expect_push_ok(qts[i], SEC);
	cr_assert_eq(tx.hash, rx.hash);
	close_pair(&c);
}

/* ---- retransmission limit and backoff ---- */

/* After the connection is up, B goes silent; A's pending pop fails with ETIMEDOUT. Returns its time. */
static uint64_t silence_b_until_timeout(struct tconn *c, uint64_t max_ns)
{
	filter_on();
	F.drop_from_b = true;
	demi_qtoken_t pq = pop_qt(c->cqd);
	uint64_t t0 = clock_now();
	expect_push_ok(push_bytes(c->cqd, "are you there?", 14), MS);
	demi_qresult_t r = tnet_wait(pq, max_ns);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(r.qr_ret, ETIMEDOUT, "pop failed with %d", (int)r.qr_ret);
	return clock_now() - t0;
}

Test(tcp_opts, retransmission_limit_etimedout)
{
	K.retries = 3;
	K.rto_min_ms = 200;
	K.rto_max_ms = 200;
	start(NULL);
	struct tconn c = pair_bufs(8000, 0, 0);
	uint64_t t = silence_b_until_timeout(&c, 10 * SEC);
	/* retries + 1 expiries of a 200 ms timer (min = max: no backoff to argue about). */
	cr_assert_geq(t, 4 * 200 * MS - MS, "failed after %llu ms", (unsigned long long)(t / MS));
	cr_assert_leq(t, 4 * 200 * MS + 20 * MS, "failed after %llu ms", (unsigned long long)(t / MS));
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	cr_assert_eq(st->rto_timeouts, K.retries + 1);
	cr_assert_eq(st->retransmits, K.retries);
	cr_assert_eq(F.nrec, 1 + (int)K.retries, "the segment went out %d times", F.nrec);
	cr_assert_eq(st->conn_failed, 1);
	cr_assert_eq(tcb_qd(c.cqd)->state, TCPS_CLOSED);
	/* A push after the failure reports it. */
	expect_fail(push_bytes(c.cqd, "x", 1), ETIMEDOUT, MS);
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

/*
 * RFC 6298 section 5.5: each expiry doubles the RTO, and the minimum of
 * section 2.4 applies to the RTO before it is doubled: with rto_min 100 ms
 * and a LAN round trip, the retransmissions are 100, 200, 400, 800 ms apart.
 */
Test(tcp_opts, rto_backoff_doubles_from_rto_min)
{
	K.retries = 4;
	K.rto_min_ms = 100;
	K.rto_max_ms = 10000;
	start(NULL);
	struct tconn c = pair_bufs(8000, 0, 0);
	cr_assert_lt(tcb_qd(c.cqd)->srtt_ns, 10 * MS);
	uint64_t t = silence_b_until_timeout(&c, 20 * SEC);
	cr_assert_eq(F.nrec, 5);
	for (int i = 1; i < F.nrec; i++) {
		uint64_t gap = F.rec_t[i] - F.rec_t[i - 1];
		uint64_t want = (100 * MS) << (i - 1);
		cr_assert(gap >= want - want / 20 && gap <= want + want / 20 + 2 * MS,
			  "retransmission %d came %llu ms after the previous one, want %llu ms", i,
			  (unsigned long long)(gap / MS), (unsigned long long)(want / MS));
		cr_assert_eq(F.rec_seq[i], F.rec_seq[0]);
	}
	cr_assert_geq(t, 3000 * MS, "failed after %llu ms, want 100+200+400+800+1600", (unsigned long long)(t / MS));
	cr_assert_leq(t, 3200 * MS);
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

/* SYNs: sent 1 + syn_retries times with doubling from rto_initial, then ETIMEDOUT. */
Test(tcp_opts, syn_retries_then_etimedout)
{
	K.syn_retries = 3;
	K.rto_initial_ms = 1000;
	start(NULL);
	int qd = tnet_tcp(NA);
	struct sockaddr_in ra = tnet_addr(IP_RAW, 80);
	demi_qtoken_t cqt;
	uint64_t t0 = clock_now();
	cr_assert_eq(demi_connect(&cqt, qd, (const struct sockaddr *)&ra, sizeof(ra)), 0);
	uint64_t times[8];
	int n = 0;
	struct rseg s;
	while (!tnet_done(cqt) && clock_now() - t0 < 30 * SEC) {
		if (raw_wait_tcp(&s, 100 * MS)) {
			cr_assert_eq(s.flags, TH_SYN);
			cr_assert_lt(n, 8);
			times[n++] = clock_now();
		}
	}
	expect_fail(cqt, ETIMEDOUT, MS);
	cr_assert_eq(n, 4, "%d SYNs, want 1 + syn_retries", n);
	for (int i = 1; i < n; i++) {
		uint64_t gap = times[i] - times[i - 1];
		uint64_t want = SEC << (i - 1);
		cr_assert(gap >= want - 2 * MS && gap <= want + 2 * MS, "SYN %d after %llu ms", i,
			  (unsigned long long)(gap / MS));
	}
	uint64_t t = clock_now() - t0;
	cr_assert(t >= 15 * SEC - 10 * MS && t <= 15 * SEC + 110 * MS, "failed after %llu ms", (unsigned long long)(t / MS));
	demi_close(qd);
}

/* ---- keepalive ---- */

static void keepalive_knobs(void)
{
	K.keep_idle_s = 10;
	K.keep_intvl_s = 2;
	K.keep_probes = 3;
}

Test(tcp_opts, keepalive_dead_peer_times_out)
{
	keepalive_knobs();
	start(NULL);
	struct tconn c = pair_bufs(8000, 0, 0);
	int on = 1;
	cr_assert_eq(demi_setsockopt(c.cqd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);
	uint64_t last = tcb_qd(c.cqd)->last_recv;
	filter_on();
	F.drop_from_b = true;
	demi_qtoken_t pq = pop_qt(c.cqd);
	demi_qresult_t r = tnet_wait(pq, 60 * SEC);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(r.qr_ret, ETIMEDOUT);
	/* idle + probes * interval after the last segment received. */
	uint64_t t = clock_now() - last, want = (10 + 3 * 2) * SEC;
	cr_assert(t >= want - 10 * MS && t <= want + 100 * MS, "failed %llu ms after the last segment, want %llu",
		  (unsigned long long)(t / MS), (unsigned long long)(want / MS));
	cr_assert_eq(tnet_stats(NA)->tcp.keepalive_probes, 3);
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

Test(tcp_opts, keepalive_live_peer_stays_up)
{
	keepalive_knobs();
	start(NULL);
	struct tconn c = pair_bufs(8000, 0, 0);
	int on = 1;
	cr_assert_eq(demi_setsockopt(c.cqd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);
	demi_qtoken_t pq = pop_qt(c.cqd);
	tnet_run(65 * SEC);
	uint64_t n = tnet_stats(NA)->tcp.keepalive_probes;
	/* One probe per idle period, each answered. */
	cr_assert(n >= 5 && n <= 7, "%llu keepalive probes in 65 s with idle 10 s", (unsigned long long)n);
	cr_assert_eq(tcb_qd(c.cqd)->state, TCPS_ESTABLISHED);
	cr_assert_eq(tnet_stats(NB)->tcp.keepalive_probes, 0);
	cr_assert_not(tnet_done(pq));
	/* Traffic postpones the probes. */
	demi_qtoken_t pb = pop_qt(c.sqd);
	for (int i = 0; i < 10; i++) {
		expect_push_ok(push_bytes(c.sqd, "tick", 4), MS);
		expect_pop(pq, "tick", 4, 10 * MS);
		pq = pop_qt(c.cqd);
		tnet_run(5 * SEC);
	}
	cr_assert_eq(tnet_stats(NA)->tcp.keepalive_probes, n, "probes sent although data flowed");
	expect_push_ok(push_bytes(c.cqd, "done", 4), MS);
	expect_pop(pb, "done", 4, 10 * MS);
	close_pair(&c);
}

Test(tcp_opts, keepalive_inherited_from_listener)
{
	keepalive_knobs();
	start(NULL);
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 8000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	int on = 1;
	cr_assert_eq(demi_setsockopt(lqd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	demi_qtoken_t aqt, cqt;
	cr_assert_eq(demi_accept(&aqt, lqd), 0);
	int cqd = tnet_tcp(NA);
	cr_assert_eq(demi_connect(&cqt, cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(tnet_wait(cqt, SEC).qr_opcode, DEMI_OPC_CONNECT);
	demi_qresult_t r = tnet_wait(aqt, SEC);
	int sqd = r.qr_value.ares.qd;
	int v = 0;
	socklen_t len = sizeof(v);
	cr_assert_eq(demi_getsockopt(sqd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	cr_assert_eq(v, 1);
	tnet_run(25 * SEC);
	cr_assert_geq(tnet_stats(NB)->tcp.keepalive_probes, 2);
	cr_assert_eq(tnet_stats(NA)->tcp.keepalive_probes, 0);
	demi_close(cqd);
	demi_close(sqd);
	demi_close(lqd);
	tnet_run(10 * MS);
}

/* ---- the receiver: SACK blocks, reordering, window edge, delayed ACKs ---- */

/* The next ACK from the stack (data-less segments only), within 10 ms. */
static void next_ack(struct rseg *s)
{
	cr_assert(raw_wait_tcp(s, 10 * MS), "no ACK");
	cr_assert(s->flags & TH_ACK);
	cr_assert(s->opts_ok);
}

/* RFC 2018 section 4: SACK blocks report what is held above a hole, the block with the newest segment first. */
Test(tcp_opts, receiver_sack_blocks_and_reordering)
{
	K.delack_ms = 0; /* every ACK at once: the blocks of each are checked */
	start(NULL);
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	syn.sack_ok = true;
	rconn_open(&c, NA, -1, 7000, 40000, 0xffffff00u, &syn); /* the stream wraps past 2^32 */
	struct tcb *tp = tcb_qd(c.qd);
	cr_assert(tp->flags & TF_SACK);
	raw_drain(MS, NULL);
	const uint32_t base = c.snd_nxt;
	static uint8_t stream[700];
	for (uint32_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 13 + 7);
	uint32_t last_edge = 0;
	bool have_edge = false;
	struct rseg s;
#define SEG(k) raw_tcp(NA, c.rport, c.lport, base + 100u * (k), c.rcv_nxt, TH_ACK, 65535, NULL, stream + 100 * (k), 100)
#define EDGE()                                                                                                         \
	do {                                                                                                           \
		uint32_t e_ = s.ack + s.win;                                                                           \
		if (have_edge)                                                                                         \
			cr_assert(SEQ_GEQ(e_, last_edge), "the window's right edge moved left: %u -> %u", last_edge, e_); \
		last_edge = e_;                                                                                        \
		have_edge = true;                                                                                      \
	} while (0)
	SEG(0);
	next_ack(&s);
	EDGE();
	cr_assert_eq(s.ack, base + 100);
	cr_assert_not(s.o.flags & TCP_OPTF_SACK);
	SEG(2);
	next_ack(&s);
	EDGE();
	cr_assert_eq(s.ack, base + 100, "an out-of-order segment is answered at once with a duplicate ACK");
	cr_assert(s.o.flags & TCP_OPTF_SACK);
	cr_assert_eq(s.o.nsack, 1);
	cr_assert_eq(s.o.sack[0].start, base + 200);
	cr_assert_eq(s.o.sack[0].end, base + 300);
	SEG(4);
	next_ack(&s);
	EDGE();
	cr_assert_eq(s.o.nsack, 2);
	cr_assert_eq(s.o.sack[0].start, base + 400, "the newest block comes first");
	cr_assert_eq(s.o.sack[1].start, base + 200);
	SEG(6);
	next_ack(&s);
	EDGE();
	cr_assert_eq(s.o.nsack, 3);
	cr_assert_eq(s.o.sack[0].start, base + 600);
	cr_assert_eq(s.o.sack[0].end, base + 700);
	SEG(3);
	next_ack(&s);
	EDGE();
	cr_assert_eq(s.ack, base + 100);
	cr_assert_eq(s.o.nsack, 2);
	cr_assert_eq(s.o.sack[0].start, base + 200, "the block holding the newest segment (merged 200-500) first");
	cr_assert_eq(s.o.sack[0].end, base + 500);
	/* The others, in any order: [600, 700) and no other. */
	bool seen600 = false;
	for (int i = 1; i < s.o.nsack; i++) {
		if (s.o.sack[i].start == base + 600 && s.o.sack[i].end == base + 700)
			seen600 = true;
		else
			cr_assert_fail("unexpected block [%u, %u)", s.o.sack[i].start - base, s.o.sack[i].end - base);
	}
	cr_assert(seen600);
	SEG(1);
	next_ack(&s);
	EDGE();
	cr_assert_eq(s.ack, base + 500, "a filled hole is ACKed at once up to the next hole");
	cr_assert_eq(s.o.nsack, 1);
	cr_assert_eq(s.o.sack[0].start, base + 600);
	SEG(5);
	next_ack(&s);
	EDGE();
	cr_assert_eq(s.ack, base + 700);
	cr_assert_not(s.o.flags & TCP_OPTF_SACK, "SACK blocks after every hole is filled");
	/* The application sees the stream in order. */
	uint32_t got = 0;
	while (got < sizeof(stream)) {
		demi_qresult_t r = tnet_wait(pop_qt(c.qd), 10 * MS);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
		uint32_t n = r.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert_leq(got + n, sizeof(stream));
		cr_assert_eq(memcmp(r.qr_value.sga.sga_segs[0].sgaseg_buf, stream + got, n), 0, "bytes %u..%u differ", got,
			     got + n);
		got += n;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	cr_assert_eq(tp->rq.ooo->n, 0);
#undef SEG
#undef EDGE
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/* RFC 9293 section 3.8.6.3 (RFC 1122 4.2.3.2): an ACK within 0.5 s, and at least every second full-sized segment. */
Test(tcp_opts, delayed_ack_rules)
{
	start(NULL);
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	rconn_open(&c, NA, -1, 7000, 40000, 1, &syn);
	raw_drain(MS, NULL);
	static uint8_t full[1460];
	memset(full, 'f', sizeof(full));
	/* One full segment: the ACK may wait, but not long. */
	uint64_t t0 = clock_now();
	rconn_send(&c, TH_ACK, full, sizeof(full));
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 500 * MS), "no ACK within 500 ms");
	cr_assert_eq(s.ack, c.snd_nxt);
	uint64_t waited = clock_now() - t0;
	cr_assert_geq(waited, 10 * MS, "a lone full segment was ACKed at once (%llu us): delayed ACKs are on by default",
		      (unsigned long long)(waited / NSEC_PER_USEC));
	cr_assert_eq(tnet_stats(NA)->tcp.delayed_acks, 1);
	/* Two full segments: ACKed at once. */
	rconn_send(&c, TH_ACK, full, sizeof(full));
	rconn_send(&c, TH_ACK, full, sizeof(full));
	cr_assert(raw_wait_tcp(&s, MS), "the second full-sized segment must be ACKed at once");
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(tnet_stats(NA)->tcp.delayed_acks, 1);
	for (int i = 0; i < 3; i++) {
		demi_qresult_t r = tnet_wait(pop_qt(c.qd), MS);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/* RFC 1122 4.2.3.6: a keepalive probe is SEG.SEQ = SND.NXT - 1 with at most one octet; an answer keeps the connection. */
Test(tcp_opts, keepalive_probe_format_and_answer)
{
	keepalive_knobs();
	start(NULL);
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	rconn_open(&c, NA, -1, 7000, 40000, 1, &syn);
	raw_drain(MS, NULL);
	int on = 1;
	cr_assert_eq(demi_setsockopt(c.qd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);
	demi_qtoken_t pq = pop_qt(c.qd);
	uint64_t t0 = clock_now();
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 11 * SEC), "no keepalive probe");
	uint64_t t = clock_now() - t0;
	cr_assert(t >= 10 * SEC - 10 * MS && t <= 10 * SEC + 10 * MS, "first probe after %llu ms", (unsigned long long)(t / MS));
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.seq, c.rcv_nxt - 1);
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_leq(s.dlen, 1);
	/* Answered: the next probe comes an idle period later. */
	rconn_send(&c, TH_ACK, NULL, 0);
	t0 = clock_now();
	cr_assert(raw_wait_tcp(&s, 11 * SEC), "no second probe");
	t = clock_now() - t0;
	cr_assert(t >= 10 * SEC - 10 * MS && t <= 10 * SEC + 10 * MS, "second probe %llu ms after the answer",
		  (unsigned long long)(t / MS));
	/* Unanswered: probes every interval, then the connection fails with a RST. */
	int probes = 1;
	for (;;) {
		cr_assert(raw_wait_tcp(&s, 3 * SEC), "nothing after %d probes", probes);
		if (s.flags & TH_RST)
			break;
		cr_assert_eq(s.seq, c.rcv_nxt - 1);
		probes++;
	}
	cr_assert_eq(probes, 3);
	expect_fail(pq, ETIMEDOUT, MS);
	cr_assert_eq(tnet_stats(NA)->tcp.keepalive_probes, 4);
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/* A receive buffer smaller than two segments (SO_RCVBUF's minimum): slow, but no stall and no timeout. */
Test(tcp_opts, tiny_receive_buffer_transfer)
{
	start(NULL);
	struct tconn c = pair_bufs(8000, 0, 2048);
	cr_assert_eq(tcb_qd(c.sqd)->rcvbuf, 2048);
	struct xdir d;
	xdir_init(&d, c.cqd, c.sqd, 256 << 10, 71);
	xfer_run(&d, 1, 4096, 4, 30 * SEC);
	cr_assert_eq(tnet_stats(NA)->tcp.rto_timeouts, 0, "the transfer needed timeouts");
	cr_assert_leq(tcb_qd(c.cqd)->max_sndwnd, 2048);
	close_pair(&c);
}

/* A client port whose ISN (A's, to B:bport) lies within [2^32 - before, 2^32 - after): the stream crosses 2^32. */
static uint16_t port_for_isn_before_wrap(uint16_t bport, uint32_t before, uint32_t after)
{
	for (uint32_t p = 1024; p < 65536; p++) {
		uint32_t isn = tcp_isn(&T.in[NA]->tcp.secret, IP_A, htons((uint16_t)p), IP_B, htons(bport));
		if (isn >= 0u - before && isn < 0u - after)
			return (uint16_t)p;
	}
	cr_assert_fail("no port gives such an ISN");
	return 0;
}

/* Drops the data segment A -> B that covers sequence number 0 (just past the wrap). */
static bool drop_at_wrap(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	(void)to;
	struct rseg s;
	if (from != F.pa || F.dropped || !parse_tcp_frame(f, len, &s) || !s.dlen)
		return false;
	/* The first segment that holds sequence number 0 or starts within one MSS after it. */
	if ((uint32_t)(s.seq + s.dlen) < s.seq || s.seq < 1448) {
		F.dropped = true;
		F.dropped_seq = s.seq;
		F.dropped_len = s.dlen;
		return true;
	}
	return false;
}

/* Sequence numbers wrap past 2^32 in mid-transfer, and the segment at the wrap is lost: recovered by SACK. */
Test(tcp_opts, loss_at_sequence_wrap_recovered)
{
	struct memwire_opts o = { .delay_ns = 200 * NSEC_PER_USEC };
	start(&o);
	uint16_t port = port_for_isn_before_wrap(8000, 1u << 20, 256u << 10);
	struct tconn c = pair_port(port, 8000, 0, 0);
	struct tcb *a = tcb_qd(c.cqd);
	cr_assert(a->iss >= 0u - (1u << 20));
	filter_on();
	memwire_set_filter(T.w, drop_at_wrap, NULL);
	struct xdir d[2];
	xdir_init(&d[0], c.cqd, c.sqd, 4 << 20, 81);
	xdir_init(&d[1], c.sqd, c.cqd, 64 << 10, 82);
	xfer_run(d, 2, 65536, 8, 20 * SEC);
	cr_assert(F.dropped);
	cr_assert(SEQ_GT(a->snd_una, 0u) && a->snd_una < (8u << 20), "the stream did not cross 2^32");
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	cr_assert_eq(st->rto_timeouts, 0);
	cr_assert_eq(st->fast_recoveries, 1);
	cr_assert_eq(st->retransmits, 1);
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

/*
 * RFC 9293 section 3.10.7.4: a segment reaching past the window is trimmed
 * to it; with the window closed, data is refused but ACKs and an exact RST
 * are still taken ("special allowance").
 */
Test(tcp_opts, window_edge_trim_and_zero_window_allowances)
{
	K.delack_ms = 0;
	start(NULL);
	int lqd = tnet_tcp(NA);
	struct sockaddr_in la = tnet_addr(IP_A, 7000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&la, sizeof(la)), 0);
	int rb = 2048;
	cr_assert_eq(demi_setsockopt(lqd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	rconn_open(&c, NA, lqd, 7000, 40000, 1, &syn);
	cr_assert_eq(c.synack.win, 2048);
	raw_drain(MS, NULL);
	struct tcb *tp = tcb_qd(c.qd);
	static uint8_t blk[1460];
	for (uint32_t i = 0; i < sizeof(blk); i++)
		blk[i] = (uint8_t)i;
	rconn_send(&c, TH_ACK, blk, sizeof(blk));
	struct rseg s;
	raw_drain(MS, &s);
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(s.win, 2048 - 1460);
	/* 1460 more: only 588 fit. */
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, c.rcv_nxt, TH_ACK, 65535, NULL, blk, sizeof(blk));
	raw_drain(MS, &s);
	cr_assert_eq(s.ack, c.snd_nxt + 588, "a segment past the window edge: ACK %+d, want +588", (int)(s.ack - c.snd_nxt));
	cr_assert_eq(s.win, 0);
	cr_assert_eq(tp->rq.bytes, 2048);
	c.snd_nxt += 588;
	/* Zero window: data is refused and ACKed... */
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, c.rcv_nxt, TH_ACK, 65535, NULL, "more", 4);
	raw_drain(MS, &s);
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(tp->rq.bytes, 2048);
	/* ...but an ACK for the stack's data is taken. */
	expect_push_ok(push_bytes(c.qd, "reply", 5), MS);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.dlen, 5);
	c.rcv_nxt += 5;
	rconn_send(&c, TH_ACK, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(tp->snd_una, tp->snd_max, "an ACK was refused for want of receive window");
	/* And an exact RST. */
	rconn_send(&c, TH_RST, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(tp->state, TCPS_CLOSED, "an exact RST was refused for want of receive window");
	/* The data already received is still there for the application, then the reset. */
	uint32_t got = 0;
	for (;;) {
		demi_qresult_t r = tnet_wait(pop_qt(c.qd), MS);
		if (r.qr_opcode == DEMI_OPC_FAILED) {
			cr_assert_eq(r.qr_ret, ECONNRESET);
			break;
		}
		got += r.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	cr_assert_eq(got, 2048);
	demi_close(c.qd);
	demi_close(lqd);
	run_drain(10 * MS);
}
