/*
 * TCP's state machine (RFC 9293 section 3.3.2, figure 5) on memwire, every
 * transition observed on the control blocks: active, passive and
 * simultaneous open (also a socket with itself), a lost handshake ACK,
 * active, passive and simultaneous close, FIN retransmission, CLOSE-WAIT
 * sending, FIN-WAIT-2 and its limit, LAST-ACK, TIME-WAIT (expiry, FIN
 * retransmission, reuse by a new SYN, RFC 6191), data after close, and the
 * PDPIX errors of connect, push, pop and close.
 */
#include "tcp_raw.h"
#include "tcp_xfer.h"
#include <stdio.h>

#define MS NSEC_PER_MSEC
#define TW_MS 500
#define FIN_TIMEOUT_MS 2000

static void cfg(struct demi_config *c, int idx)
{
	(void)idx;
	c->tcp_time_wait_ms = TW_MS;
	c->tcp_fin_timeout_ms = FIN_TIMEOUT_MS;
	cfg_static_arp(c);
}

static void init(void)
{
	tnet_init(NULL, cfg);
	fix_isn_secrets();
}
static void fini(void) { tnet_fini(); }

TestSuite(tcp_states, .init = init, .fini = fini, .timeout = 60);

/* A one-way delay of d on the wire, so that each step of a handshake can be seen. */
static void set_delay(uint64_t d)
{
	struct memwire_opts o = { .delay_ns = d };
	memwire_set_opts(T.w, &o);
}

static uint16_t local_port(int qd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	cr_assert_eq(demi_getsockname(qd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* A (the client end) closes, and B's pop sees the end of the stream: A's FIN is through. */
static void close_a_seen_by_b(const struct tconn *c)
{
	demi_qtoken_t pb = pop_qt(c->sqd);
	cr_assert_eq(demi_close(c->cqd), 0);
	expect_pop(pb, NULL, 0, 10 * MS);
}

/* A's side of the pair, which must be in FIN-WAIT-2 by now. */
static struct tcb *a_in_fin_wait_2(uint16_t cport)
{
	struct tcb *a = tcb_find(NA, cport, IP_B, 8000);
	cr_assert_not_null(a);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_2);
	return a;
}

/* ---- opening ---- */

Test(tcp_states, three_way_handshake_states)
{
	const uint64_t d = MS;
	set_delay(d);
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 8000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	struct tcb *lp = tcb_qd(lqd);
	cr_assert_eq(lp->state, TCPS_LISTEN);
	demi_qtoken_t aqt, cqt;
	cr_assert_eq(demi_accept(&aqt, lqd), 0);
	int cqd = tnet_tcp(NA);
	struct tcb *ca = tcb_qd(cqd);
	cr_assert_eq(ca->state, TCPS_CLOSED);
	cr_assert_eq(demi_connect(&cqt, cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(ca->state, TCPS_SYN_SENT);
	uint16_t cport = local_port(cqd);
	/* The SYN reaches B: a half-open child in SYN-RECEIVED. */
	tnet_run(d + d / 2);
	cr_assert_eq(ca->state, TCPS_SYN_SENT);
	cr_assert_eq(lp->nsynq, 1);
	struct tcb *child = tcb_find(NB, 8000, IP_A, cport);
	cr_assert_not_null(child);
	cr_assert_eq(child->state, TCPS_SYN_RECEIVED);
	cr_assert_not(tnet_done(aqt));
	/* The SYN-ACK reaches A: ESTABLISHED, the connect completes. */
	tnet_run(d);
	cr_assert_eq(ca->state, TCPS_ESTABLISHED);
	cr_assert(tnet_done(cqt));
	cr_assert_eq(child->state, TCPS_SYN_RECEIVED);
	cr_assert_not(tnet_done(aqt));
	/* The ACK reaches B. */
	tnet_run(d);
	cr_assert_eq(child->state, TCPS_ESTABLISHED);
	cr_assert_eq(lp->nsynq, 0);
	demi_qresult_t r = tnet_wait(aqt, MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	cr_assert_eq(tcb_qd(r.qr_value.ares.qd), child);
	cr_assert_eq(tnet_wait(cqt, MS).qr_opcode, DEMI_OPC_CONNECT);
	cr_assert_eq(ca->snd_una, ca->iss + 1);
	cr_assert_eq(ca->rcv_nxt, child->iss + 1);
	cr_assert_eq(child->rcv_nxt, ca->iss + 1);
	cr_assert_eq(tnet_stats(NA)->tcp.active_opens, 1);
	cr_assert_eq(tnet_stats(NB)->tcp.passive_opens, 1);
	cr_assert_eq(tnet_stats(NA)->tcp.retransmits + tnet_stats(NB)->tcp.retransmits, 0);
	demi_close(cqd);
	demi_close(r.qr_value.ares.qd);
	demi_close(lqd);
}

/* RFC 9293 figure 7: both ends send SYN at once; each goes SYN-SENT, SYN-RECEIVED, ESTABLISHED. */
Test(tcp_states, simultaneous_open)
{
	set_delay(MS);
	int qa = tnet_tcp(NA), qb = tnet_tcp(NB);
	struct sockaddr_in la = tnet_addr(IP_A, 5000), lb = tnet_addr(IP_B, 6000);
	cr_assert_eq(demi_bind(qa, (const struct sockaddr *)&la, sizeof(la)), 0);
	cr_assert_eq(demi_bind(qb, (const struct sockaddr *)&lb, sizeof(lb)), 0);
	demi_qtoken_t ta, tb;
	cr_assert_eq(demi_connect(&ta, qa, (const struct sockaddr *)&lb, sizeof(lb)), 0);
	cr_assert_eq(demi_connect(&tb, qb, (const struct sockaddr *)&la, sizeof(la)), 0);
	struct tcb *a = tcb_qd(qa), *b = tcb_qd(qb);
	cr_assert_eq(a->state, TCPS_SYN_SENT);
	cr_assert_eq(b->state, TCPS_SYN_SENT);
	/* The SYNs cross: each side answers the other's SYN with SYN-ACK. */
	tnet_run(MS + MS / 2);
	cr_assert_eq(a->state, TCPS_SYN_RECEIVED);
	cr_assert_eq(b->state, TCPS_SYN_RECEIVED);
	cr_assert_not(tnet_done(ta));
	demi_qresult_t r = tnet_wait(ta, 20 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT, "connect A: %d", (int)r.qr_ret);
	r = tnet_wait(tb, 20 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT, "connect B: %d", (int)r.qr_ret);
	cr_assert_eq(a->state, TCPS_ESTABLISHED);
	cr_assert_eq(b->state, TCPS_ESTABLISHED);
	cr_assert_eq(a->rcv_nxt, b->iss + 1);
	cr_assert_eq(b->rcv_nxt, a->iss + 1);
	cr_assert_eq(a->snd_una, a->iss + 1);
	cr_assert_eq(b->snd_una, b->iss + 1);
	struct demi_netstats_tcp *sa = &tnet_stats(NA)->tcp, *sb = &tnet_stats(NB)->tcp;
	cr_assert_eq(sa->rst_tx + sb->rst_tx, 0);
	cr_assert_eq(sa->retransmits + sb->retransmits, 0, "the handshake needed a timeout");
	cr_assert_eq(sa->active_opens, 1);
	cr_assert_eq(sb->active_opens, 1);
	/* Both options negotiated both ways. */
	cr_assert(a->flags & TF_TS);
	cr_assert(b->flags & TF_TS);
	/* Data both ways. */
	demi_qtoken_t pa = pop_qt(qa), pb = pop_qt(qb);
	demi_qtoken_t wa = push_bytes(qa, "from A", 6), wb = push_bytes(qb, "from B", 6);
	expect_push_ok(wa, 10 * MS);
	expect_push_ok(wb, 10 * MS);
	expect_pop(pb, "from A", 6, 10 * MS);
	expect_pop(pa, "from B", 6, 10 * MS);
	demi_close(qa);
	demi_close(qb);
	tnet_run(10 * MS);
}

/* ---- closing ---- */

Test(tcp_states, active_and_passive_close_states)
{
	const uint64_t d = MS;
	set_delay(d);
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	struct tcb *a = tcb_qd(c.cqd), *b = tcb_qd(c.sqd);
	demi_qtoken_t pb = pop_qt(c.sqd);
	cr_assert_eq(demi_close(c.cqd), 0);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_1);
	cr_assert(a->flags & TF_FIN_SENT);
	/* The FIN reaches B: CLOSE-WAIT, and the pop sees the end of the stream. */
	tnet_run(d + d / 2);
	cr_assert_eq(b->state, TCPS_CLOSE_WAIT);
	expect_pop(pb, NULL, 0, MS);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_1);
	/* B's ACK reaches A: FIN-WAIT-2. */
	tnet_run(d);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_2);
	/* Another pop in CLOSE-WAIT: the end of the stream again. */
	expect_pop(pop_qt(c.sqd), NULL, 0, MS);
	/* B closes: LAST-ACK. */
	cr_assert_eq(demi_close(c.sqd), 0);
	cr_assert_eq(b->state, TCPS_LAST_ACK);
	/* B's FIN reaches A: TIME-WAIT. */
	tnet_run(d + d / 2);
	cr_assert_eq(a->state, TCPS_TIME_WAIT);
	cr_assert_eq(b->state, TCPS_LAST_ACK);
	/* A's ACK reaches B: CLOSED, the control block freed. */
	tnet_run(d);
	cr_assert_null(tcb_find(NB, 8000, IP_A, cport));
	cr_assert_eq(T.in[NB]->tcp.nconns, 1); /* the listener */
	cr_assert_eq(tcb_find(NA, cport, IP_B, 8000), a);
	cr_assert_eq(a->state, TCPS_TIME_WAIT);
	struct demi_netstats_tcp *sa = &tnet_stats(NA)->tcp, *sb = &tnet_stats(NB)->tcp;
	cr_assert_eq(sa->rst_tx + sb->rst_tx, 0);
	cr_assert_eq(sa->retransmits + sb->retransmits, 0);
	demi_close(c.lqd);
}

Test(tcp_states, time_wait_expires_after_time_wait_ms)
{
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	close_a_seen_by_b(&c);
	cr_assert_eq(demi_close(c.sqd), 0);
	/* Run until A is in TIME-WAIT, noting when. */
	struct tcb *tw = NULL;
	for (int i = 0; i < 100 && !tw; i++) {
		tnet_run(10 * NSEC_PER_USEC);
		tw = tcb_in_state(NA, TCPS_TIME_WAIT);
	}
	cr_assert_not_null(tw);
	uint64_t t0 = clock_now();
	tnet_run((TW_MS - 10) * MS);
	cr_assert_eq(tcb_find(NA, cport, IP_B, 8000), tw, "TIME-WAIT ended early");
	cr_assert_eq(tw->state, TCPS_TIME_WAIT);
	tnet_run(20 * MS);
	cr_assert_null(tcb_find(NA, cport, IP_B, 8000), "TIME-WAIT still there %llu ms after entering it",
		       (unsigned long long)((clock_now() - t0) / MS));
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
	demi_close(c.lqd);
}

/* RFC 9293 figure 13: both close at once; FIN-WAIT-1, CLOSING, TIME-WAIT on both sides. */
Test(tcp_states, simultaneous_close)
{
	const uint64_t d = MS;
	set_delay(d);
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	struct tcb *a = tcb_qd(c.cqd), *b = tcb_qd(c.sqd);
	cr_assert_eq(demi_close(c.cqd), 0);
	cr_assert_eq(demi_close(c.sqd), 0);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_1);
	cr_assert_eq(b->state, TCPS_FIN_WAIT_1);
	/* Each FIN arrives before the ACK of the other's: CLOSING. */
	tnet_run(d + d / 2);
	cr_assert_eq(a->state, TCPS_CLOSING);
	cr_assert_eq(b->state, TCPS_CLOSING);
	/* The ACKs of the FINs arrive: TIME-WAIT on both. */
	tnet_run(d);
	cr_assert_eq(a->state, TCPS_TIME_WAIT);
	cr_assert_eq(b->state, TCPS_TIME_WAIT);
	cr_assert_eq(tcb_find(NA, cport, IP_B, 8000), a);
	cr_assert_eq(tcb_find(NB, 8000, IP_A, cport), b);
	struct demi_netstats_tcp *sa = &tnet_stats(NA)->tcp, *sb = &tnet_stats(NB)->tcp;
	cr_assert_eq(sa->rst_tx + sb->rst_tx, 0);
	cr_assert_eq(sa->retransmits + sb->retransmits, 0);
	/* Both expire after time_wait_ms. */
	tnet_run((TW_MS + 10) * MS);
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
	cr_assert_eq(T.in[NB]->tcp.nconns, 1);
	demi_close(c.lqd);
}

/* Closing with data queued: the FIN follows the data (on the last segment or after it). */
Test(tcp_states, close_after_push_delivers_data_then_eof)
{
	struct tconn c = tnet_tcp_pair(8000);
	static uint8_t big[100000];
	for (uint32_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	demi_qtoken_t wq = push_bytes(c.cqd, big, sizeof(big));
	cr_assert_eq(demi_close(c.cqd), 0);
	/* The push was taken into the send queue before the close: it is not cancelled. */
	demi_qresult_t r = tnet_wait(wq, MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_PUSH, "push: %d", (int)r.qr_ret);
	uint32_t got = 0;
	for (;;) {
		r = tnet_wait(pop_qt(c.sqd), NSEC_PER_SEC);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
		uint32_t n = r.qr_value.sga.sga_segs[0].sgaseg_len;
		if (n == 0) {
			cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
			break;
		}
		cr_assert_leq(got + n, sizeof(big));
		cr_assert_eq(memcmp(r.qr_value.sga.sga_segs[0].sgaseg_buf, big + got, n), 0);
		got += n;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	cr_assert_eq(got, sizeof(big));
	cr_assert_eq(tcb_qd(c.sqd)->state, TCPS_CLOSE_WAIT);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx + tnet_stats(NB)->tcp.rst_tx, 0);
}

/* ---- half-close: CLOSE-WAIT still sends; the peer that sent FIN still receives (raw peer) ---- */

Test(tcp_states, close_wait_still_sends_then_last_ack)
{
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1000;
	rconn_open(&c, NA, -1, 7000, 40000, 1000, &syn);
	raw_drain(MS, NULL);
	struct tcb *tp = tcb_qd(c.qd);
	demi_qtoken_t pq = pop_qt(c.qd);
	rconn_send(&c, TH_ACK | TH_FIN, NULL, 0);
	expect_pop(pq, NULL, 0, 10 * MS);
	cr_assert_eq(tp->state, TCPS_CLOSE_WAIT);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 100 * MS), "the FIN was not ACKed");
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.ack, c.snd_nxt);
	/* Pushes work in CLOSE-WAIT. */
	static uint8_t msg[2500];
	for (uint32_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	expect_push_ok(push_bytes(c.qd, msg, sizeof(msg)), MS);
	uint32_t got = 0;
	while (got < sizeof(msg)) {
		cr_assert(raw_wait_tcp(&s, 100 * MS), "got %u of %zu bytes", got, sizeof(msg));
		if (s.dlen == 0)
			continue;
		cr_assert_eq(s.seq, c.rcv_nxt);
		cr_assert_leq(s.dlen, 1000);
		cr_assert_eq(memcmp(s.data, msg + got, s.dlen), 0);
		got += s.dlen;
		c.rcv_nxt += s.dlen;
		rconn_send(&c, TH_ACK, NULL, 0);
	}
	tnet_run(MS);
	cr_assert_eq(tp->snd_una, tp->snd_max);
	/* Close: LAST-ACK, FIN; the ACK of the FIN ends it. */
	cr_assert_eq(demi_close(c.qd), 0);
	cr_assert_eq(tp->state, TCPS_LAST_ACK);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert(s.flags & TH_FIN);
	cr_assert_eq(s.seq, c.rcv_nxt);
	c.rcv_nxt++;
	rconn_send(&c, TH_ACK, NULL, 0);
	tnet_run(MS);
	cr_assert_null(tcb_find(NA, 7000, IP_RAW, 40000));
	cr_assert_eq(T.in[NA]->tcp.nconns, 1);
	demi_close(c.lqd);
}

/* Data and FIN in one segment: the data, then the end of the stream; the ACK covers the FIN. */
Test(tcp_states, data_and_fin_in_one_segment)
{
	struct rconn c;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	rconn_open(&c, NA, -1, 7000, 40000, 1000, &syn);
	raw_drain(MS, NULL);
	struct tcb *tp = tcb_qd(c.qd);
	demi_qtoken_t pq = pop_qt(c.qd);
	rconn_send(&c, TH_ACK | TH_PSH | TH_FIN, "bye", 3);
	expect_pop(pq, "bye", 3, 10 * MS);
	expect_pop(pop_qt(c.qd), NULL, 0, 10 * MS);
	cr_assert_eq(tp->state, TCPS_CLOSE_WAIT);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 100 * MS));
	cr_assert_eq(s.ack, c.snd_nxt, "ACK %u does not cover the FIN (%u)", s.ack, c.snd_nxt);
	/* A retransmission of the same segment changes nothing and is ACKed again. */
	raw_tcp(NA, c.rport, c.lport, c.snd_nxt - 4, c.rcv_nxt, TH_ACK | TH_PSH | TH_FIN, 65535, NULL, "bye", 3);
	cr_assert(raw_wait_tcp(&s, 100 * MS));
	cr_assert_eq(s.ack, c.snd_nxt);
	expect_pop(pop_qt(c.qd), NULL, 0, 10 * MS);
	cr_assert_eq(demi_close(c.qd), 0);
	cr_assert_eq(tp->state, TCPS_LAST_ACK);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_FIN | TH_ACK);
	c.rcv_nxt++;
	rconn_send(&c, TH_ACK, NULL, 0);
	tnet_run(MS);
	cr_assert_eq(T.in[NA]->tcp.nconns, 1);
	demi_close(c.lqd);
}

/*
 * Data for a descriptor already closed (FIN-WAIT-2) cannot be read by anyone:
 * RFC 1122 section 4.2.2.13 (a half-duplex close) and doc/tcp.md: answered
 * with RST, so the sender learns the data was lost.
 */
Test(tcp_states, data_after_close_answered_with_rst)
{
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	close_a_seen_by_b(&c);
	tnet_run(MS);
	a_in_fin_wait_2(cport);
	/* B, in CLOSE-WAIT, sends. */
	expect_push_ok(push_bytes(c.sqd, "nobody reads this", 17), MS);
	tnet_run(10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx, 1, "A took data for a closed descriptor without a reset (%llu)", (unsigned long long)tnet_stats(NA)->tcp.rst_tx);
	cr_assert_null(tcb_find(NA, cport, IP_B, 8000));
	expect_fail(push_bytes(c.sqd, "more", 4), ECONNRESET, MS);
	demi_close(c.sqd);
	demi_close(c.lqd);
}

/* An orphan in FIN-WAIT-2 is bounded by fin_timeout_ms; afterwards the peer's data is answered with RST. */
Test(tcp_states, fin_wait_2_timeout)
{
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	close_a_seen_by_b(&c);
	tnet_run(MS);
	struct tcb *a = a_in_fin_wait_2(cport);
	tnet_run((FIN_TIMEOUT_MS - 50) * MS);
	cr_assert_eq(tcb_find(NA, cport, IP_B, 8000), a);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_2);
	tnet_run(100 * MS);
	cr_assert_null(tcb_find(NA, cport, IP_B, 8000), "FIN-WAIT-2 of a closed descriptor outlived fin_timeout_ms");
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
	cr_assert_eq(tcb_qd(c.sqd)->state, TCPS_CLOSE_WAIT);
	/* B sends into the void: RST (RFC 9293 section 3.10.7.1), and B's connection fails. */
	expect_push_ok(push_bytes(c.sqd, "hello?", 6), MS);
	tnet_run(10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx, 1);
	cr_assert_eq(tcb_qd(c.sqd)->state, TCPS_CLOSED);
	expect_fail(push_bytes(c.sqd, "again", 5), ECONNRESET, MS);
	expect_fail(pop_qt(c.sqd), ECONNRESET, MS);
	demi_close(c.sqd);
	demi_close(c.lqd);
}

/* ---- TIME-WAIT ---- */

/* Drops the first pure ACK from A to B that acknowledges sequence number `ack`. */
static struct {
	int from, to;
	uint32_t ack;
	int dropped;
} fin_ack_drop;

static bool drop_fin_ack(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	struct rseg s;
	if (from != fin_ack_drop.from || to != fin_ack_drop.to || fin_ack_drop.dropped || !parse_tcp_frame(f, len, &s))
		return false;
	if (s.flags == TH_ACK && s.dlen == 0 && s.ack == fin_ack_drop.ack) {
		fin_ack_drop.dropped++;
		return true;
	}
	return false;
}

/*
 * RFC 9293 section 3.10.7.4 (eighth, TIME-WAIT): "The only thing that can
 * arrive in this state is a retransmission of the remote FIN. Acknowledge
 * it, and restart the 2 MSL timeout."
 */
Test(tcp_states, time_wait_acks_retransmitted_fin_and_restarts)
{
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	struct tcb *b = tcb_qd(c.sqd);
	close_a_seen_by_b(&c);
	tnet_run(MS);
	/* B's FIN will be sequence number snd_nxt; drop A's first ACK of it. */
	fin_ack_drop.from = memwire_port_index(T.dev[NA]);
	fin_ack_drop.to = memwire_port_index(T.dev[NB]);
	fin_ack_drop.ack = b->snd_nxt + 1;
	memwire_set_filter(T.w, drop_fin_ack, NULL);
	cr_assert_eq(demi_close(c.sqd), 0);
	cr_assert_eq(b->state, TCPS_LAST_ACK);
	struct tcb *a = NULL;
	for (int i = 0; i < 100 && !a; i++) {
		tnet_run(10 * NSEC_PER_USEC);
		a = tcb_in_state(NA, TCPS_TIME_WAIT);
	}
	cr_assert_not_null(a);
	uint64_t t_tw = clock_now();
	tnet_run(MS);
	cr_assert_eq(fin_ack_drop.dropped, 1);
	/* B retransmits its FIN after its RTO. */
	uint64_t t_rx = 0;
	while (clock_now() < t_tw + TW_MS * MS && tcb_find(NB, 8000, IP_A, cport)) {
		tnet_run(MS);
		if (!t_rx && tnet_stats(NB)->tcp.retransmits)
			t_rx = clock_now();
	}
	cr_assert_neq(t_rx, 0, "B never retransmitted its FIN");
	cr_assert_null(tcb_find(NB, 8000, IP_A, cport), "A did not ACK the retransmitted FIN");
	cr_assert_geq(t_rx - t_tw, 100 * MS);
	/* A's TIME-WAIT restarted at the retransmission: still there past its first deadline. */
	if (clock_now() < t_tw + (TW_MS + 20) * MS)
		tnet_run(t_tw + (TW_MS + 20) * MS - clock_now());
	cr_assert_eq(tcb_find(NA, cport, IP_B, 8000), a,
		     "TIME-WAIT ended %u ms after entering it although a FIN came again %u ms after entering it",
		     TW_MS, (unsigned)((t_rx - t_tw) / MS));
	cr_assert_eq(a->state, TCPS_TIME_WAIT);
	tnet_run(t_rx + (TW_MS + 10) * MS - clock_now());
	cr_assert_null(tcb_find(NA, cport, IP_B, 8000));
	memwire_set_filter(T.w, NULL, NULL);
	demi_close(c.lqd);
}

/* Drops the first segment from port `from` matching flags exactly with no data. */
static struct {
	int from;
	uint8_t flags;
	int dropped;
} once;

static bool drop_once(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	(void)to;
	struct rseg s;
	if (from != once.from || once.dropped || !parse_tcp_frame(f, len, &s))
		return false;
	if (s.flags == once.flags && s.dlen == 0) {
		once.dropped++;
		return true;
	}
	return false;
}

/* FIN-WAIT-1: an unacknowledged FIN is retransmitted after the RTO; its ACK moves on to FIN-WAIT-2. */
Test(tcp_states, fin_retransmitted_until_acked)
{
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	demi_qtoken_t pb = pop_qt(c.sqd);
	once.from = memwire_port_index(T.dev[NB]);
	once.flags = TH_ACK;
	once.dropped = 0;
	memwire_set_filter(T.w, drop_once, NULL);
	cr_assert_eq(demi_close(c.cqd), 0);
	expect_pop(pb, NULL, 0, 10 * MS);
	tnet_run(10 * MS);
	cr_assert_eq(once.dropped, 1);
	struct tcb *a = tcb_find(NA, cport, IP_B, 8000);
	cr_assert_not_null(a);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_1);
	tnet_run(2 * NSEC_PER_SEC);
	cr_assert_eq(a->state, TCPS_FIN_WAIT_2);
	cr_assert_eq(tnet_stats(NA)->tcp.retransmits, 1);
	cr_assert_eq(tnet_stats(NA)->tcp.rto_timeouts, 1);
	memwire_set_filter(T.w, NULL, NULL);
	demi_close(c.sqd);
	demi_close(c.lqd);
	tnet_run(10 * MS);
}

/* The final ACK of the handshake is lost; the client's first data segment (which carries the ACK) completes it. */
Test(tcp_states, lost_handshake_ack_completed_by_data)
{
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 8000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	demi_qtoken_t aqt, cqt;
	cr_assert_eq(demi_accept(&aqt, lqd), 0);
	once.from = memwire_port_index(T.dev[NA]);
	once.flags = TH_ACK;
	once.dropped = 0;
	memwire_set_filter(T.w, drop_once, NULL);
	int cqd = tnet_tcp(NA);
	cr_assert_eq(demi_connect(&cqt, cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(tnet_wait(cqt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
	tnet_run(MS);
	cr_assert_eq(once.dropped, 1);
	cr_assert_not(tnet_done(aqt));
	cr_assert_eq(tcb_qd(lqd)->nsynq, 1);
	expect_push_ok(push_bytes(cqd, "early", 5), MS);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT, "the data segment did not complete the handshake");
	expect_pop(pop_qt(r.qr_value.ares.qd), "early", 5, 10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.retransmits + tnet_stats(NB)->tcp.retransmits, 0);
	memwire_set_filter(T.w, NULL, NULL);
	demi_close(cqd);
	demi_close(r.qr_value.ares.qd);
	demi_close(lqd);
	tnet_run(10 * MS);
}

/* A connection to a listener on the same stack (through the loopback path). */
Test(tcp_states, connect_to_own_listener)
{
	int lqd = tnet_tcp(NA);
	struct sockaddr_in a = tnet_addr(IP_A, 9000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	demi_qtoken_t aqt, cqt;
	cr_assert_eq(demi_accept(&aqt, lqd), 0);
	int cqd = tnet_tcp(NA);
	cr_assert_eq(demi_connect(&cqt, cqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(tnet_wait(cqt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	int sqd = r.qr_value.ares.qd;
	struct xdir d[2];
	xdir_init(&d[0], cqd, sqd, 1 << 20, 61);
	xdir_init(&d[1], sqd, cqd, 1 << 20, 62);
	xfer_run(d, 2, 65536, 4, 10 * NSEC_PER_SEC);
	demi_close(cqd);
	demi_close(sqd);
	demi_close(lqd);
	tnet_run(TW_MS * MS + 10 * MS);
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
}

/* A socket that connects to its own address and port: a simultaneous open with itself (RFC 9293 figure 7). */
Test(tcp_states, self_connect)
{
	int qd = tnet_tcp(NA);
	struct sockaddr_in a = tnet_addr(IP_A, 9001);
	cr_assert_eq(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	demi_qtoken_t cqt;
	cr_assert_eq(demi_connect(&cqt, qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	demi_qresult_t r = tnet_wait(cqt, 100 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT, "self-connect: %d", (int)r.qr_ret);
	struct tcb *tp = tcb_qd(qd);
	cr_assert_eq(tp->state, TCPS_ESTABLISHED);
	cr_assert_eq(tp->rcv_nxt, tp->snd_una);
	demi_qtoken_t pq = pop_qt(qd);
	expect_push_ok(push_bytes(qd, "echo", 4), MS);
	expect_pop(pq, "echo", 4, 10 * MS);
	demi_close(qd);
	tnet_run(TW_MS * MS + 10 * MS);
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
}

/* RFC 6191 / RFC 9293 section 3.6.1: the passive side of a new connection reopens a tuple in TIME-WAIT. */
Test(tcp_states, time_wait_reused_by_new_syn)
{
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	/* The server closes first: the server's side goes TIME-WAIT. */
	demi_qtoken_t pa = pop_qt(c.cqd);
	cr_assert_eq(demi_close(c.sqd), 0);
	expect_pop(pa, NULL, 0, 10 * MS);
	cr_assert_eq(demi_close(c.cqd), 0);
	tnet_run(10 * MS);
	struct tcb *tw = tcb_find(NB, 8000, IP_A, cport);
	cr_assert_not_null(tw);
	cr_assert_eq(tw->state, TCPS_TIME_WAIT);
	cr_assert_eq(T.in[NA]->tcp.nconns, 0);
	/* 100 ms later the client connects again from the same port: its ISN is higher. */
	tnet_run(100 * MS);
	int qd = tnet_tcp(NA);
	struct sockaddr_in la = tnet_addr(IP_A, cport), sa = tnet_addr(IP_B, 8000);
	cr_assert_eq(demi_bind(qd, (const struct sockaddr *)&la, sizeof(la)), 0);
	demi_qtoken_t cqt, aqt;
	cr_assert_eq(demi_accept(&aqt, c.lqd), 0);
	cr_assert_eq(demi_connect(&cqt, qd, (const struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(tnet_wait(cqt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	cr_assert_eq(ntohs(r.qr_value.ares.addr.sin_port), cport);
	struct tcb *nb = tcb_qd(r.qr_value.ares.qd);
	cr_assert_eq(nb->state, TCPS_ESTABLISHED);
	cr_assert_eq(tcb_find(NB, 8000, IP_A, cport), nb);
	cr_assert_eq(tcb_in_state(NB, TCPS_TIME_WAIT), NULL);
	cr_assert_eq(T.in[NB]->tcp.nconns, 2);
	struct demi_netstats_tcp *s1 = &tnet_stats(NA)->tcp, *s2 = &tnet_stats(NB)->tcp;
	cr_assert_eq(s1->rst_tx + s2->rst_tx, 0);
	cr_assert_eq(s1->retransmits, 0);
	demi_qtoken_t pb = pop_qt(r.qr_value.ares.qd);
	expect_push_ok(push_bytes(qd, "again", 5), MS);
	expect_pop(pb, "again", 5, 10 * MS);
	demi_close(qd);
	demi_close(r.qr_value.ares.qd);
	demi_close(c.lqd);
}

/* A local connect to a 4-tuple that the same stack holds in TIME-WAIT takes it over (doc/tcp.md). */
Test(tcp_states, connect_takes_over_own_time_wait)
{
	struct tconn c = tnet_tcp_pair(8000);
	uint16_t cport = local_port(c.cqd);
	close_a_seen_by_b(&c);
	cr_assert_eq(demi_close(c.sqd), 0);
	tnet_run(10 * MS);
	cr_assert_not_null(tcb_find(NA, cport, IP_B, 8000));
	cr_assert_eq(tcb_find(NA, cport, IP_B, 8000)->state, TCPS_TIME_WAIT);
	tnet_run(50 * MS);
	int qd = tnet_tcp(NA);
	struct sockaddr_in la = tnet_addr(IP_A, cport), sa = tnet_addr(IP_B, 8000);
	cr_assert_eq(demi_bind(qd, (const struct sockaddr *)&la, sizeof(la)), 0);
	demi_qtoken_t cqt, aqt;
	cr_assert_eq(demi_accept(&aqt, c.lqd), 0);
	cr_assert_eq(demi_connect(&cqt, qd, (const struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(tnet_wait(cqt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	cr_assert_null(tcb_in_state(NA, TCPS_TIME_WAIT));
	cr_assert_eq(tcb_find(NA, cport, IP_B, 8000), tcb_qd(qd));
	demi_close(qd);
	demi_close(r.qr_value.ares.qd);
	demi_close(c.lqd);
}

/* A raw peer connected to A:7000 whose connection A closed first: A in TIME-WAIT. */
static struct tcb *raw_time_wait(struct rconn *c, bool ts)
{
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	syn.ts = ts;
	syn.ts_val = 1000;
	rconn_open(c, NA, -1, 7000, 40000, 5000, &syn);
	raw_drain(MS, NULL);
	cr_assert_eq(demi_close(c->qd), 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_FIN | TH_ACK);
	cr_assert_eq(s.seq, c->rcv_nxt);
	rconn_saw(c, &s);
	c->rcv_nxt++;
	c->ts_val += 10;
	rconn_send(c, TH_FIN | TH_ACK, NULL, 0);
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.ack, c->snd_nxt);
	struct tcb *tw = tcb_find(NA, 7000, IP_RAW, 40000);
	cr_assert_not_null(tw);
	cr_assert_eq(tw->state, TCPS_TIME_WAIT);
	cr_assert_eq(tw->rcv_nxt, c->snd_nxt);
	return tw;
}

Test(tcp_states, time_wait_old_syn_not_reused)
{
	struct rconn c;
	struct tcb *tw = raw_time_wait(&c, false);
	/* A SYN below RCV.NXT (and no timestamp): not a new incarnation; TIME-WAIT answers with an ACK. */
	raw_tcp(NA, 40000, 7000, c.snd_nxt - 100, 0, TH_SYN, 65535, NULL, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_ACK, "flags %#x", s.flags);
	cr_assert_eq(s.ack, c.snd_nxt);
	cr_assert_eq(tcb_find(NA, 7000, IP_RAW, 40000), tw);
	cr_assert_eq(tw->state, TCPS_TIME_WAIT);
	cr_assert_eq(tcb_qd(c.lqd)->nsynq, 0);
	demi_close(c.lqd);
}

Test(tcp_states, time_wait_new_syn_reopens)
{
	struct rconn c;
	raw_time_wait(&c, false);
	demi_qtoken_t aqt;
	cr_assert_eq(demi_accept(&aqt, c.lqd), 0);
	uint32_t isn = c.snd_nxt + 100000;
	raw_tcp(NA, 40000, 7000, isn, 0, TH_SYN, 65535, NULL, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK, "flags %#x", s.flags);
	cr_assert_eq(s.ack, isn + 1);
	struct tcb *child = tcb_find(NA, 7000, IP_RAW, 40000);
	cr_assert_not_null(child);
	cr_assert_eq(child->state, TCPS_SYN_RECEIVED);
	cr_assert_null(tcb_in_state(NA, TCPS_TIME_WAIT));
	raw_tcp(NA, 40000, 7000, isn + 1, s.seq + 1, TH_ACK, 65535, NULL, NULL, 0);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	cr_assert_eq(tcb_qd(r.qr_value.ares.qd)->state, TCPS_ESTABLISHED);
	demi_close(r.qr_value.ares.qd);
	demi_close(c.lqd);
	tnet_run(MS);
}

/* RFC 6191: with timestamps, a SYN whose TSval is newer reopens even with a lower sequence number. */
Test(tcp_states, time_wait_syn_with_newer_timestamp_reopens)
{
	struct rconn c;
	raw_time_wait(&c, true);
	cr_assert(c.ts);
	demi_qtoken_t aqt;
	cr_assert_eq(demi_accept(&aqt, c.lqd), 0);
	uint32_t isn = c.snd_nxt - 5000;
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	syn.ts = true;
	syn.ts_val = c.ts_val + 100;
	raw_tcp(NA, 40000, 7000, isn, 0, TH_SYN, 65535, &syn, NULL, 0);
	struct rseg s;
	cr_assert(raw_wait_tcp(&s, 10 * MS));
	cr_assert_eq(s.flags, TH_SYN | TH_ACK, "flags %#x", s.flags);
	cr_assert_eq(s.ack, isn + 1);
	struct ropts ack = RO_NONE;
	ack.ts = true;
	ack.ts_val = syn.ts_val + 1;
	ack.ts_ecr = s.o.ts_val;
	raw_tcp(NA, 40000, 7000, isn + 1, s.seq + 1, TH_ACK, 65535, &ack, NULL, 0);
	demi_qresult_t r = tnet_wait(aqt, 10 * MS);
	cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
	demi_close(r.qr_value.ares.qd);
	demi_close(c.lqd);
	tnet_run(MS);
}

/* ---- PDPIX errors and close semantics ---- */

Test(tcp_states, unconnected_push_pop_enotconn)
{
	int qd = tnet_tcp(NA);
	demi_qtoken_t qt;
	demi_sgarray_t sga = tnet_sga(10, 1);
	cr_assert_eq(demi_push(&qt, qd, &sga), ENOTCONN);
	cr_assert_eq(demi_pop(&qt, qd), ENOTCONN);
	struct sockaddr_in a = tnet_addr(IP_A, 8000);
	cr_assert_eq(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_push(&qt, qd, &sga), ENOTCONN);
	cr_assert_eq(demi_pop(&qt, qd), ENOTCONN);
	struct sockaddr_in p;
	socklen_t len = sizeof(p);
	cr_assert_eq(demi_getpeername(qd, (struct sockaddr *)&p, &len), ENOTCONN);
	cr_assert_eq(demi_accept(&qt, qd), EINVAL, "accept on a socket that is not listening");
	cr_assert_eq(demi_listen(qd, 4), 0);
	cr_assert_eq(demi_listen(qd, 4), EADDRINUSE);
	cr_assert_eq(demi_push(&qt, qd, &sga), ENOTCONN);
	cr_assert_eq(demi_pop(&qt, qd), ENOTCONN);
	cr_assert_eq(demi_sgafree(&sga), 0);
	demi_close(qd);
	/* Listen on an unbound socket. */
	qd = tnet_tcp(NA);
	cr_assert_eq(demi_listen(qd, 4), EDESTADDRREQ);
	demi_close(qd);
}

Test(tcp_states, connect_errors)
{
	/* Listening: EOPNOTSUPP. */
	int lqd = tnet_tcp(NB);
	struct sockaddr_in a = tnet_addr(IP_B, 8000);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(demi_listen(lqd, 4), 0);
	demi_qtoken_t qt;
	struct sockaddr_in ra = tnet_addr(IP_RAW, 80);
	cr_assert_eq(demi_connect(&qt, lqd, (const struct sockaddr *)&ra, sizeof(ra)), EOPNOTSUPP);
	/* Connecting (the raw port never answers): EINPROGRESS; push and pop: ENOTCONN. */
	int qd = tnet_tcp(NA);
	demi_qtoken_t cqt;
	cr_assert_eq(demi_connect(&cqt, qd, (const struct sockaddr *)&ra, sizeof(ra)), 0);
	cr_assert_eq(demi_connect(&qt, qd, (const struct sockaddr *)&ra, sizeof(ra)), EINPROGRESS);
	cr_assert_eq(demi_connect(&qt, qd, (const struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	cr_assert_eq(demi_pop(&qt, qd), ENOTCONN);
	/* Closing a connecting socket cancels its connect. */
	cr_assert_eq(demi_close(qd), 0);
	expect_fail(cqt, ECANCELED, MS);
	/* Connected: EISCONN. */
	qd = tnet_tcp(NA);
	cr_assert_eq(demi_connect(&cqt, qd, (const struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(tnet_wait(cqt, 10 * MS).qr_opcode, DEMI_OPC_CONNECT);
	cr_assert_eq(demi_connect(&qt, qd, (const struct sockaddr *)&a, sizeof(a)), EISCONN);
	cr_assert_eq(demi_listen(qd, 4), EISCONN);
	demi_close(qd);
	demi_close(lqd);
	tnet_run(10 * MS);
}

/*
 * PDPIX: close fails pending operations with ECANCELED; a push completes once
 * its last byte is within SO_SNDBUF of SND.UNA, and the bytes of a cancelled
 * push that had not left are dropped (doc/tcp.md).
 */
Test(tcp_states, close_cancels_pending_ops)
{
	struct tconn c = tnet_tcp_pair(8000);
	int sz = 2048;
	cr_assert_eq(demi_setsockopt(c.cqd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	struct tcb *a = tcb_qd(c.cqd);
	demi_qtoken_t pq = pop_qt(c.cqd);
	demi_qtoken_t accq;
	cr_assert_eq(demi_accept(&accq, c.lqd), 0);
	static uint8_t small[1000], big[65536];
	for (uint32_t i = 0; i < sizeof(small); i++)
		small[i] = (uint8_t)(i * 3);
	for (uint32_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 5 + 1);
	demi_qtoken_t w1 = push_bytes(c.cqd, small, sizeof(small));
	demi_qtoken_t w2 = push_bytes(c.cqd, big, sizeof(big));
	cr_assert(tnet_done(w1), "a push within SO_SNDBUF completes at once");
	cr_assert_not(tnet_done(w2), "a push past SO_SNDBUF waits for acknowledgements");
	uint32_t left = a->snd_max - (a->iss + 1); /* bytes that went out before the close */
	cr_assert_geq(left, sizeof(small));
	cr_assert_eq(demi_close(c.cqd), 0);
	expect_push_ok(w1, MS);
	expect_fail(w2, ECANCELED, MS);
	expect_fail(pq, ECANCELED, MS);
	/* Closing a listener cancels its accept. */
	cr_assert_eq(demi_close(c.lqd), 0);
	expect_fail(accq, ECANCELED, MS);
	/* B gets the completed push and whatever of the cancelled one had left, then the end of the stream. */
	static uint8_t want[sizeof(small) + sizeof(big)];
	memcpy(want, small, sizeof(small));
	memcpy(want + sizeof(small), big, sizeof(big));
	uint32_t got = 0;
	for (;;) {
		demi_qresult_t r = tnet_wait(pop_qt(c.sqd), NSEC_PER_SEC);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP, "pop: %d", (int)r.qr_ret);
		uint32_t n = r.qr_value.sga.sga_segs[0].sgaseg_len;
		if (n) {
			cr_assert_leq(got + n, sizeof(want));
			cr_assert_eq(memcmp(r.qr_value.sga.sga_segs[0].sgaseg_buf, want + got, n), 0);
		}
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
		if (n == 0)
			break;
		got += n;
	}
	cr_assert_eq(got, left, "B received %u bytes; %u had left before the close", got, left);
	/* A closed qd is gone. */
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, c.cqd), EBADF);
	cr_assert_eq(demi_close(c.cqd), EBADF);
	demi_close(c.sqd);
	tnet_run(10 * MS);
	cr_assert_eq(tnet_stats(NA)->tcp.rst_tx + tnet_stats(NB)->tcp.rst_tx, 0);
}
