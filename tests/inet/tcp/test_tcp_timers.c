/*
 * TCP timers on memwire (suite tcp_opts, with test_tcp_opts.c): the retransmission limit and backoff (RFC 6298),
 * SYN retries, keepalive (RFC 1122 4.2.3.6) and delayed ACKs (RFC 9293 section 3.8.6.3).
 */
#include "tcp_knobs.h"

TestSuite(tcp_opts, .init = setup, .fini = fini, .timeout = 60);

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

/* ---- delayed ACKs ---- */

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
