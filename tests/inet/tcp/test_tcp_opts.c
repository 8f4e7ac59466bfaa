/*
 * TCP options on memwire (suite tcp_opts; flow control, timers and recovery are in test_tcp_{flow,timers,recovery}.c):
 * window scaling (RFC 7323 section 2) both ways and against peers that do not offer it, peers without options
 * (MSS 536, RFC 9293 section 3.7.1), the SYN-ACK's options, timestamps (RTT measurement, PAWS).
 */
#include "tcp_knobs.h"

TestSuite(tcp_opts, .init = setup, .fini = fini, .timeout = 60);

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
