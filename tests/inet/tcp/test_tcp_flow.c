/*
 * TCP flow control on memwire (suite tcp_opts, with test_tcp_opts.c): zero and tiny windows and their probes
 * (RFC 9293 section 3.8.6), a lost window update, the window edge and the zero-window allowances.
 */
#include "tcp_knobs.h"

TestSuite(tcp_opts, .init = setup, .fini = fini, .timeout = 60);

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
