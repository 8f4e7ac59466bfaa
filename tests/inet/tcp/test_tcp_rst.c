/*
 * TCP resets and the segments RFC 5961 guards against, crafted from the raw
 * port: RSTs to closed ports (RFC 9293 section 3.10.7.1), exact and in-window
 * RSTs, SYNs on synchronized connections, ACKs of data never sent,
 * out-of-window data, the challenge ACK rate limit, resets in SYN-SENT and
 * SYN-RECEIVED, the resets a close sends, and a restarted peer recovering
 * through a challenge ACK.
 */
#include "tcp_raw.h"

static void cfg(struct demi_config *c, int idx)
{
	(void)idx;
	c->tcp_delayed_ack_ms = 0; /* every segment answered at once: what the raw port sees is deterministic */
	cfg_static_arp(c);
}

static void init(void)
{
	tnet_init(NULL, cfg);
	fix_isn_secrets();
}
static void fini(void) { tnet_fini(); }

TestSuite(tcp_rst, .init = init, .fini = fini, .timeout = 60);

#define MS NSEC_PER_MSEC

/* A connection from the raw port to stack A's port 7000, no options, the raw side's ISN 1000. */
static void open_plain(struct rconn *c)
{
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	rconn_open(c, NA, -1, 7000, 40000, 1000, &syn);
	raw_drain(MS, NULL);
}

static void close_conn(struct rconn *c)
{
	demi_close(c->qd);
	demi_close(c->lqd);
	tnet_run(MS);
}

/* The connection survived what was sent to it: its pop pq still waits, data still arrives; then it closes. */
static void still_alive_then_close(struct rconn *c, demi_qtoken_t pq)
{
	cr_assert_not(tnet_done(pq));
	rconn_send(c, TH_ACK | TH_PSH, "alive", 5);
	expect_pop(pq, "alive", 5, 10 * MS);
	close_conn(c);
}

/* ---- RFC 9293 section 3.10.7.1: CLOSED ---- */

Test(tcp_rst, closed_port_rst_numbers)
{
	struct rseg s;
	/* No ACK bit: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, the SYN counted in SEG.LEN. */
	raw_tcp(NA, 40001, 9, 5000, 0, TH_SYN, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST | TH_ACK, "flags %#x", s.flags);
	cr_assert_eq(s.seq, 0);
	cr_assert_eq(s.ack, 5001);
	cr_assert_eq(s.sport, 9);
	cr_assert_eq(s.dport, 40001);
	cr_assert_eq(s.dlen, 0);

	/* Data and FIN without ACK: SEG.LEN counts both. */
	raw_tcp(NA, 40002, 9, 0xfffffff0u, 0, TH_FIN | TH_PSH, 65535, NULL, "0123456789abcdefXYZ", 19);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST | TH_ACK);
	cr_assert_eq(s.seq, 0);
	cr_assert_eq(s.ack, 0xfffffff0u + 19 + 1, "ack %#x", s.ack); /* across the 2^32 wrap */

	/* ACK bit on: <SEQ=SEG.ACK><CTL=RST>, no ACK. */
	raw_tcp(NA, 40003, 9, 777, 0xabcdef01u, TH_ACK, 65535, NULL, "hi", 2);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST, "flags %#x", s.flags);
	cr_assert_eq(s.seq, 0xabcdef01u);
	cr_assert_eq(s.sport, 9);
	cr_assert_eq(s.dport, 40003);

	/* A RST is never answered. */
	raw_tcp(NA, 40004, 9, 1, 2, TH_RST | TH_ACK, 0, NULL, NULL, 0);
	raw_tcp(NA, 40004, 9, 1, 0, TH_RST, 0, NULL, NULL, 0);
	cr_assert_eq(raw_drain(10 * MS, NULL), 0);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx, 3);

	/* A bound socket that is not listening is a closed port too. */
	int qd = tnet_tcp(NA);
	struct sockaddr_in a = tnet_addr(IP_A, 9);
	cr_assert_eq(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	raw_tcp(NA, 40005, 9, 100, 0, TH_SYN, 65535, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_RST | TH_ACK);
	cr_assert_eq(s.ack, 101);
	demi_close(qd);
}

/* ---- RFC 5961 section 3.2: RST ---- */

Test(tcp_rst, rst_exact_seq_resets)
{
	struct rconn c;
	open_plain(&c);
	demi_qtoken_t pq = pop_qt(c.qd);
	tnet_run(MS);
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, 0, TH_RST, 0, NULL, NULL, 0);
	expect_fail(pq, ECONNRESET, 10 * MS);
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	cr_assert_eq(st->rst_rx, 1);
	cr_assert_eq(st->conn_failed, 1);
	cr_assert_eq(st->challenge_acks, 0);
	cr_assert_eq(raw_drain(MS, NULL), 0, "a reset is not answered");
	/* The connection is gone from the tables; the application's socket reports the reset. */
	cr_assert_null(tcb_find(NA, c.lport, IP_RAW, c.rport));
	cr_assert_eq(tcb_qd(c.qd)->state, TCPS_CLOSED);
	int err = 0;
	socklen_t len = sizeof(err);
	cr_assert_eq(demi_getsockopt(c.qd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	cr_assert_eq(err, ECONNRESET);
	/* Push and pop after the reset fail with it. */
	demi_qtoken_t qt = push_bytes(c.qd, "late", 4);
	expect_fail(qt, ECONNRESET, MS);
	expect_fail(pop_qt(c.qd), ECONNRESET, MS);
	/* Nothing went out for the late push. */
	cr_assert_eq(raw_drain(MS, NULL), 0);
	close_conn(&c);
}

Test(tcp_rst, rst_with_ack_exact_seq_resets)
{
	struct rconn c;
	open_plain(&c);
	demi_qtoken_t pq = pop_qt(c.qd);
	rconn_send(&c, TH_RST | TH_ACK, NULL, 0);
	expect_fail(pq, ECONNRESET, 10 * MS);
	close_conn(&c);
}

Test(tcp_rst, rst_in_window_gets_challenge_ack)
{
	struct rconn c;
	open_plain(&c);
	struct tcb *tp = tcb_qd(c.qd);
	demi_qtoken_t pq = pop_qt(c.qd);
	uint32_t offs[] = { 1, 100, 30000 };
	for (int i = 0; i < 3; i++) {
		raw_tcp(NA, c.rport, c.lport, c.snd_nxt + offs[i], 0, TH_RST, 0, NULL, NULL, 0);
		struct rseg s;
		cr_assert(raw_wait_tcp(&s, 10 * MS), "no challenge ACK for RST at +%u", offs[i]);
		/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
		cr_assert_eq(s.flags, TH_ACK, "flags %#x", s.flags);
		cr_assert_eq(s.seq, c.rcv_nxt);
		cr_assert_eq(s.ack, c.snd_nxt);
		cr_assert_eq(s.dlen, 0);
		cr_assert_eq(raw_drain(MS, NULL), 0, "one ACK per RST");
	}
	cr_assert_eq(tnet_stats(NA)->tcp.challenge_acks, 3);
	cr_assert_eq(tnet_stats(NA)->tcp.conn_failed, 0);
	cr_assert_eq(tp->state, TCPS_ESTABLISHED);
	still_alive_then_close(&c, pq);
}

Test(tcp_rst, rst_out_of_window_ignored)
{
	struct rconn c;
	open_plain(&c);
	struct tcb *tp = tcb_qd(c.qd);
	demi_qtoken_t pq = pop_qt(c.qd);
	uint32_t wnd = tp->rcv_adv - tp->rcv_nxt;
	cr_assert_gt(wnd, 0);
	uint32_t seqs[] = { c.snd_nxt - 1, c.snd_nxt - 1000, c.snd_nxt + wnd, c.snd_nxt + wnd + 5000,
			    c.snd_nxt + 0x80000000u };
	for (int i = 0; i < 5; i++) {
		raw_tcp(NA, c.rport, c.lport, seqs[i], 0, TH_RST, 0, NULL, NULL, 0);
		raw_tcp(NA, c.rport, c.lport, seqs[i], c.rcv_nxt, TH_RST | TH_ACK, 0, NULL, NULL, 0);
	}
	cr_assert_eq(raw_drain(10 * MS, NULL), 0, "RFC 5961 3.2: out-of-window RSTs are dropped silently");
	cr_assert_eq(tnet_stats(NA)->tcp.challenge_acks, 0);
	cr_assert_eq(tp->state, TCPS_ESTABLISHED);
	still_alive_then_close(&c, pq);
}

/* RFC 7323 section 5.2: a RST is acceptable whatever its timestamp (PAWS does not apply). */
Test(tcp_rst, rst_with_old_timestamp_still_resets)
{
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	syn.ts = true;
	syn.ts_val = 100000;
	rconn_open(&c, NA, -1, 7000, 40000, 1000, &syn);
	cr_assert(c.ts);
	c.ts_val = 200000;
	rconn_send(&c, TH_ACK | TH_PSH, "x", 1);
	demi_qtoken_t pq = pop_qt(c.qd);
	expect_pop(pq, "x", 1, 10 * MS);
	raw_drain(MS, NULL);
	pq = pop_qt(c.qd);
	c.ts_val = 5; /* far older than TS.Recent */
	rconn_send(&c, TH_RST, NULL, 0);
	expect_fail(pq, ECONNRESET, 10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.drop_paws, 0);
	close_conn(&c);
}

/* ---- RFC 5961 section 4.2: SYN on a synchronized connection ---- */

static void syn_gets_challenge(uint32_t off)
{
	struct rconn c;
	open_plain(&c);
	struct tcb *tp = tcb_qd(c.qd);
	demi_qtoken_t pq = pop_qt(c.qd);
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt + off, 0, TH_SYN, 65535, NULL, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS), "no ACK answered the SYN");
	cr_assert_eq(s.flags, TH_ACK, "flags %#x: a SYN must not reset an established connection", s.flags);
	cr_assert_eq(s.seq, c.rcv_nxt);
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(raw_drain(MS, NULL), 0);
	cr_assert_eq(tp->state, TCPS_ESTABLISHED);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx, 0);
	cr_assert_eq(tnet_stats(NA)->tcp.conn_failed, 0);
	still_alive_then_close(&c, pq);
}

Test(tcp_rst, syn_in_window_gets_challenge_ack)
{
	syn_gets_challenge(10);
	cr_assert_eq(tnet_stats(NA)->tcp.challenge_acks, 1);
}

Test(tcp_rst, syn_at_rcv_nxt_gets_challenge_ack) { syn_gets_challenge(0); }

Test(tcp_rst, syn_out_of_window_gets_ack) { syn_gets_challenge(0x40000000u); }

Test(tcp_rst, syn_retransmitted_isn_gets_ack) { syn_gets_challenge((uint32_t)-1); }

/* ---- RFC 5961 section 5.2 and RFC 9293 section 3.10.7.4 fifth: unacceptable ACK values ---- */

static void bad_ack_dropped(int64_t delta_from_snd_max)
{
	struct rconn c;
	open_plain(&c);
	struct tcb *tp = tcb_qd(c.qd);
	/* Something in flight from the stack, unacknowledged, so SND.UNA < SND.NXT. */
	demi_qtoken_t wq = push_bytes(c.qd, "outbound", 8);
	expect_push_ok(wq, MS);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.dlen, 8);
	raw_drain(MS, NULL);
	tcp_seq una = tp->snd_una;
	cr_assert_eq(tp->snd_max, una + 8);
	demi_qtoken_t pq = pop_qt(c.qd);
	uint32_t bad = tp->snd_max + (uint32_t)delta_from_snd_max;
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, bad, TH_ACK | TH_PSH, c.win, NULL, "poison", 6);
	cr_assert(raw_wait_tcp(&s, 10 * MS), "no ACK answered an unacceptable ACK");
	cr_assert_eq(s.flags & (TH_ACK | TH_RST | TH_SYN), TH_ACK);
	bool data_taken = s.ack != c.snd_nxt;
	if (data_taken) {
		demi_qresult_t r = tnet_wait(pq, MS);
		if (r.qr_opcode == DEMI_OPC_POP)
			demi_sgafree(&r.qr_value.sga);
	}
	cr_assert_not(data_taken, "the data of a segment with an unacceptable ACK (%+lld from SND.MAX) was accepted",
		      (long long)delta_from_snd_max);
	cr_assert_eq(tp->snd_una, una, "SND.UNA moved on a bad ACK");
	cr_assert_eq(tp->state, TCPS_ESTABLISHED);
	/* Let the stack's own retransmission of "outbound" be ACKed properly now. */
	raw_drain(MS, NULL);
	if (tnet_done(pq)) {
		demi_qresult_t r = tnet_wait(pq, MS);
		if (r.qr_opcode == DEMI_OPC_POP)
			demi_sgafree(&r.qr_value.sga);
		cr_assert_fail("data of a dropped segment was delivered");
	}
	c.rcv_nxt = tp->snd_max;
	rconn_send(&c, TH_ACK | TH_PSH, "good", 4);
	expect_pop(pq, "good", 4, 10 * MS);
	cr_assert_eq(tp->snd_una, tp->snd_max);
	close_conn(&c);
}

Test(tcp_rst, ack_of_unsent_data_gets_challenge_ack)
{
	bad_ack_dropped(1000);
	cr_assert_eq(tnet_stats(NA)->tcp.challenge_acks, 1);
}

Test(tcp_rst, ack_of_one_unsent_byte_dropped) { bad_ack_dropped(1); }

Test(tcp_rst, ack_far_below_snd_una_gets_challenge_ack)
{
	/* Below SND.UNA - MAX.SND.WND (the raw side offers 65535, unscaled). */
	bad_ack_dropped(-8 - 65535 - 1000);
	cr_assert_eq(tnet_stats(NA)->tcp.challenge_acks, 1);
}

Test(tcp_rst, ack_one_below_max_window_gets_challenge_ack)
{
	/* SEG.ACK = SND.UNA - MAX.SND.WND - 1: the first value outside the range. */
	bad_ack_dropped(-8 - 65535 - 1);
	cr_assert_eq(tnet_stats(NA)->tcp.challenge_acks, 1);
}

/* An old ACK inside [SND.UNA - MAX.SND.WND, SND.UNA) is a duplicate: its data is accepted (RFC 5961 5.2). */
Test(tcp_rst, old_ack_within_max_window_accepted)
{
	struct rconn c;
	open_plain(&c);
	struct tcb *tp = tcb_qd(c.qd);
	demi_qtoken_t pq = pop_qt(c.qd);
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, tp->snd_una - 65535, TH_ACK | TH_PSH, c.win, NULL, "fine", 4);
	c.snd_nxt += 4;
	expect_pop(pq, "fine", 4, 10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.challenge_acks, 0);
	close_conn(&c);
}

/* RFC 9293 section 3.10.7.4 fifth: the send window is updated only when SND.UNA =< SEG.ACK =< SND.NXT. */
Test(tcp_rst, old_ack_does_not_update_window)
{
	struct rconn c;
	open_plain(&c);
	struct tcb *tp = tcb_qd(c.qd);
	cr_assert_eq(tp->snd_wnd, 65535);
	demi_qtoken_t pq = pop_qt(c.qd);
	rconn_send(&c, TH_ACK | TH_PSH, "first", 5);
	expect_pop(pq, "first", 5, 10 * MS);
	cr_assert(SEQ_LT(tp->snd_wl1, c.snd_nxt));
	pq = pop_qt(c.qd);
	/* Newer data (SEG.SEQ > SND.WL1) but an old ACK (SEG.ACK < SND.UNA), with a zero window. */
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt, tp->snd_una - 1000, TH_ACK | TH_PSH, 0, NULL, "data", 4);
	c.snd_nxt += 4;
	expect_pop(pq, "data", 4, 10 * MS);
	cr_assert_eq(tp->snd_wnd, 65535, "an old ACK changed the send window to %u", tp->snd_wnd);
	close_conn(&c);
}

/* ---- RFC 9293 section 3.10.7.4 first: unacceptable sequence numbers ---- */

Test(tcp_rst, out_of_window_data_acked_and_dropped)
{
	struct rconn c;
	open_plain(&c);
	struct tcb *tp = tcb_qd(c.qd);
	demi_qtoken_t pq = pop_qt(c.qd);
	uint32_t wnd = tp->rcv_adv - tp->rcv_nxt;
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt + wnd + 100, c.rcv_nxt, TH_ACK | TH_PSH, c.win, NULL, "beyond", 6);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS), "an unacceptable segment must be ACKed");
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.seq, c.rcv_nxt);
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(tnet_stats(NA)->tcp.drop_out_of_window, 1);
	cr_assert_eq(tp->rq.ooo->n, 0, "data beyond the window was kept");
	/* Old data, wholly below RCV.NXT: ACKed, not delivered again. */
	rconn_send(&c, TH_ACK | TH_PSH, "0123456789", 10);
	expect_pop(pq, "0123456789", 10, 10 * MS);
	raw_drain(MS, NULL);
	pq = pop_qt(c.qd);
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt - 10, c.rcv_nxt, TH_ACK | TH_PSH, c.win, NULL, "0123456789", 10);
	cr_assert(raw_wait_tcp(&s, 10 * MS), "a duplicate must be ACKed");
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(raw_drain(MS, NULL), 0);
	cr_assert_not(tnet_done(pq), "duplicate data delivered again");
	/* A segment overlapping the left edge: only the new part is delivered. */
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt - 4, c.rcv_nxt, TH_ACK | TH_PSH, c.win, NULL, "6789NEW", 7);
	c.snd_nxt += 3;
	expect_pop(pq, "NEW", 3, 10 * MS);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.ack, c.snd_nxt);
	close_conn(&c);
}

/* ---- RFC 5961 section 7: challenge ACK rate limit ---- */

Test(tcp_rst, challenge_ack_rate_limited)
{
	struct rconn c;
	open_plain(&c);
	/* Start at the beginning of a one-second window of the limiter. */
	uint64_t now = clock_now();
	tnet_run(NSEC_PER_SEC - now % NSEC_PER_SEC + MS);
	raw_drain(0, NULL);
	int acks = 0;
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	for (int batch = 0; batch < 15; batch++) {
		for (int i = 0; i < 100; i++)
			raw_tcp(NA, c.rport, c.lport, c.snd_nxt + 1 + (uint32_t)(batch * 100 + i), 0, TH_RST, 0, NULL,
				NULL, 0);
		/* Until the stack has taken the whole batch (it polls a burst at a time). */
		for (int guard = 0; guard < 100 && st->rst_rx < (uint64_t)(batch + 1) * 100; guard++)
			acks += raw_drain(100 * NSEC_PER_USEC, NULL);
		cr_assert_eq(st->rst_rx, (uint64_t)(batch + 1) * 100);
	}
	acks += raw_drain(MS, NULL);
	cr_assert_lt(clock_now() % NSEC_PER_SEC, 900 * MS, "the burst did not fit in one second of the limiter");
	cr_assert_eq(st->rst_rx, 1500);
	cr_assert_eq(acks, TCP_CHALLENGE_ACKS_PER_S, "%d challenge ACKs in one second", acks);
	cr_assert_eq(st->challenge_acks, TCP_CHALLENGE_ACKS_PER_S);
	cr_assert_eq(tcb_qd(c.qd)->state, TCPS_ESTABLISHED);
	/* The next second has a fresh allowance. */
	tnet_run(NSEC_PER_SEC);
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt + 5, 0, TH_RST, 0, NULL, NULL, 0);
	cr_assert_eq(raw_drain(10 * MS, NULL), 1);
	close_conn(&c);
}

/* ---- SYN-SENT (RFC 9293 section 3.10.7.3) ---- */

/* A connects to the raw port; returns its qd, the connect's token and A's SYN. */
static int connect_to_raw(uint16_t port, demi_qtoken_t *qt, struct rseg *syn)
{
	int qd = tnet_tcp(NA);
	struct sockaddr_in a = tnet_addr(IP_RAW, port);
	cr_assert_eq(demi_connect(qt, qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert(raw_wait_tcp(syn, 10 * MS));
	cr_assert_eq(syn->flags, TH_SYN);
	cr_assert_eq(tcb_qd(qd)->state, TCPS_SYN_SENT);
	return qd;
}

Test(tcp_rst, syn_sent_rst_with_good_ack_refuses)
{
	demi_qtoken_t qt;
	struct rseg syn;
	int qd = connect_to_raw(80, &qt, &syn);
	raw_tcp(NA, 80, syn.sport, 0, syn.seq + 1, TH_RST | TH_ACK, 0, NULL, NULL, 0);
	expect_fail(qt, ECONNREFUSED, 10 * MS);
	cr_assert_eq(raw_drain(MS, NULL), 0);
	cr_assert_eq(tcb_qd(qd)->state, TCPS_CLOSED);
	demi_close(qd);
}

Test(tcp_rst, syn_sent_rst_without_ack_ignored)
{
	demi_qtoken_t qt;
	struct rseg syn;
	int qd = connect_to_raw(80, &qt, &syn);
	raw_tcp(NA, 80, syn.sport, 0, 0, TH_RST, 0, NULL, NULL, 0);
	/* RST with a wrong ACK: not acceptable either; dropped (a RST is never answered). */
	raw_tcp(NA, 80, syn.sport, 0, syn.seq + 7, TH_RST | TH_ACK, 0, NULL, NULL, 0);
	cr_assert_eq(raw_drain(10 * MS, NULL), 0);
	cr_assert_eq(tcb_qd(qd)->state, TCPS_SYN_SENT);
	cr_assert_not(tnet_done(qt));
	/* The handshake still completes. */
	raw_tcp(NA, 80, syn.sport, 5000, syn.seq + 1, TH_SYN | TH_ACK, 65535, NULL, NULL, 0);
	demi_qresult_t r = tnet_wait(qt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.seq, syn.seq + 1);
	cr_assert_eq(s.ack, 5001);
	demi_close(qd);
	tnet_run(MS);
}

Test(tcp_rst, syn_sent_bad_ack_gets_rst)
{
	demi_qtoken_t qt;
	struct rseg syn;
	int qd = connect_to_raw(80, &qt, &syn);
	uint32_t bad[] = { syn.seq, syn.seq + 2, syn.seq - 100 };
	for (int i = 0; i < 3; i++) {
		raw_tcp(NA, 80, syn.sport, 5000, bad[i], TH_SYN | TH_ACK, 65535, NULL, NULL, 0);
		struct rseg s;
		cr_assert(raw_wait_tcp(&s, 10 * MS), "no RST for a SYN-ACK acknowledging %#x", bad[i]);
		/* <SEQ=SEG.ACK><CTL=RST> */
		cr_assert_eq(s.flags, TH_RST, "flags %#x", s.flags);
		cr_assert_eq(s.seq, bad[i]);
	}
	cr_assert_eq(tcb_qd(qd)->state, TCPS_SYN_SENT);
	cr_assert_not(tnet_done(qt));
	raw_tcp(NA, 80, syn.sport, 5000, syn.seq + 1, TH_SYN | TH_ACK, 65535, NULL, NULL, 0);
	cr_assert_eq(tnet_wait(qt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
	demi_close(qd);
	tnet_run(MS);
}

/* ---- SYN-RECEIVED ---- */

Test(tcp_rst, syn_received_rst_returns_to_listen)
{
	int lqd = tnet_tcp(NA);
	struct sockaddr_in a = tnet_addr(IP_A, 7000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	raw_tcp(NA, 41000, 7000, 9000, 0, TH_SYN, 65535, NULL, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	struct tcb *lp = tcb_qd(lqd);
	cr_assert_eq(lp->nsynq, 1);
	struct tcb *child = tcb_find(NA, 7000, IP_RAW, 41000);
	cr_assert_not_null(child);
	cr_assert_eq(child->state, TCPS_SYN_RECEIVED);
	/* An in-window RST with the wrong number: challenge ACK, the half-open connection stays. */
	raw_tcp(NA, 41000, 7000, 9001 + 50, 0, TH_RST, 0, NULL, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags & TH_RST, 0);
	cr_assert_eq(lp->nsynq, 1);
	/* The exact one: back to LISTEN, nothing to accept, no answer. */
	raw_tcp(NA, 41000, 7000, 9001, 0, TH_RST, 0, NULL, NULL, 0);
	cr_assert_eq(raw_drain(10 * MS, NULL), 0);
	cr_assert_eq(lp->nsynq, 0);
	cr_assert_eq(lp->state, TCPS_LISTEN);
	cr_assert_null(tcb_find(NA, 7000, IP_RAW, 41000));
	cr_assert_eq(T.in[NA]->tcp.nconns, 1);
	cr_assert_eq(lp->nacceptq, 0);
	/* The listener still works. */
	struct rconn c;
	struct ropts syn = RO_NONE;
	rconn_open(&c, NA, lqd, 7000, 41001, 1, &syn);
	close_conn(&c);
}

/* ---- resets a close sends ---- */

Test(tcp_rst, linger_zero_close_sends_rst)
{
	struct tconn c = tnet_tcp_pair(8000);
	demi_qtoken_t pq = pop_qt(c.sqd);
	struct linger l = { 1, 0 };
	cr_assert_eq(demi_setsockopt(c.cqd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
	cr_assert_eq(demi_close(c.cqd), 0);
	expect_fail(pq, ECONNRESET, 10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx, 1);
	cr_assert_eq(tnet_stats(NB)->tcp.rst_rx, 1);
	/* Abortive: no TIME-WAIT left behind on A. */
	tnet_run(MS);
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
	demi_close(c.sqd);
	demi_close(c.lqd);
}

Test(tcp_rst, close_with_unread_data_sends_rst)
{
	struct tconn c = tnet_tcp_pair(8000);
	demi_qtoken_t wq = push_bytes(c.sqd, "unread by A", 11);
	expect_push_ok(wq, MS);
	tnet_run(MS);
	cr_assert_eq(tcb_qd(c.cqd)->rq.bytes, 11);
	demi_qtoken_t pq = pop_qt(c.sqd);
	cr_assert_eq(demi_close(c.cqd), 0);
	/* RFC 2525 section 2.17: data lost on close is signalled with a RST, not a FIN. */
	expect_fail(pq, ECONNRESET, 10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx, 1);
	tnet_run(MS);
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
	demi_close(c.sqd);
	demi_close(c.lqd);
}

Test(tcp_rst, close_listener_resets_unaccepted)
{
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 8000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 8), 0);
	int cq[2];
	demi_qtoken_t pq[2];
	for (int i = 0; i < 2; i++) {
		cq[i] = tnet_tcp(NA);
		demi_qtoken_t qt;
		cr_assert_eq(demi_connect(&qt, cq[i], (const struct sockaddr *)&a, sizeof(a)), 0);
		cr_assert_eq(tnet_wait(qt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
		pq[i] = pop_qt(cq[i]);
	}
	tnet_run(MS);
	cr_assert_eq(tcb_qd(lqd)->nacceptq, 2);
	cr_assert_eq(demi_close(lqd), 0);
	for (int i = 0; i < 2; i++)
		expect_fail(pq[i], ECONNRESET, 10 * MS);
	tnet_run(MS);
	cr_assert_eq(T.in[NB]->tcp.nconns, 0);
	for (int i = 0; i < 2; i++)
		demi_close(cq[i]);
}

/*
 * RFC 5961 section 4 (figure in 4.2) and RFC 9293 section 3.5.2: a peer that
 * lost its state opens again from the same port; the challenge ACK it gets
 * draws its RST (numbered from that ACK), which resets the old connection;
 * its next SYN opens a new one.
 */
Test(tcp_rst, restarted_peer_recovers_through_challenge_ack)
{
	struct rconn c;
	open_plain(&c);
	demi_qtoken_t pq = pop_qt(c.qd);
	demi_qtoken_t aqt;
	cr_assert_eq(demi_accept(&aqt, c.lqd), 0);
	const uint32_t isn2 = 777777;
	raw_tcp(NA, c.rport, c.lport, isn2, 0, TH_SYN, 65535, &(struct ropts){ .mss = 1460, .wscale = -1 }, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_ACK, "flags %#x", s.flags);
	/* The restarted peer, in SYN-SENT, answers an unacceptable ACK with <SEQ=SEG.ACK><CTL=RST>. */
	raw_tcp(NA, c.rport, c.lport, s.ack, 0, TH_RST, 0, NULL, NULL, 0);
	expect_fail(pq, ECONNRESET, 10 * MS);
	raw_tcp(NA, c.rport, c.lport, isn2, 0, TH_SYN, 65535, &(struct ropts){ .mss = 1460, .wscale = -1 }, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.ack, isn2 + 1);
	raw_tcp(NA, c.rport, c.lport, isn2 + 1, s.seq + 1, TH_ACK, 65535, NULL, NULL, 0);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	demi_close(r.qr_value.ares.qd);
	close_conn(&c);
}
