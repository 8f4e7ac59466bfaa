/*
 * RACK-TLP (RFC 8985), PRR (RFC 6937), the scoreboard across a timeout, D-SACK (RFC 2883), a FIN beyond a hole and
 * an illegal option length, over memwire with the virtual clock (suite tcp_rack). Each RACK case also runs, or
 * could run, with tcp.recovery "sack" (RFC 6675 alone), which fails it.
 */
#include "tcp_knobs.h"

#include "inetstack/tcp/tcp_rec.h"

TestSuite(tcp_rack, .init = setup, .fini = fini, .timeout = 60);

/* ---- a filter: drops chosen A -> B data segments and B -> A ACKs, records A's data segments ---- */

static struct {
	int pa, pb;
	uint32_t drop_seq;       /* A's data segment starting here ... */
	int drop_seq_times;      /* ... is dropped this many times */
	int nth;                 /* the nth data segment A -> B (1-based) fixes drop_seq, when drop_seq_times is set */
	uint32_t drop_seq2;      /* the same for a second segment (nth2, drop_seq2_times) */
	int drop_seq2_times, nth2;
	bool seq2_fixed;
	int data_seen;
	bool seq_fixed;
	uint32_t drop_ack;       /* drop B's first pure ACK with this ack number (drop_ack_on) */
	bool drop_ack_on, ack_dropped;
	int nrec;
	uint32_t rec_seq[512];
	uint64_t rec_t[512];
	bool dsack_seen;         /* B sent a D-SACK block (first block below its ACK) */
	uint32_t dsack_start, dsack_end;
} G;

static bool gfilt(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	(void)to;
	struct rseg s;
	if (!parse_tcp_frame(f, len, &s))
		return false;
	if (from == G.pa && s.dlen) {
		G.data_seen++;
		if (G.nrec < 512) {
			G.rec_seq[G.nrec] = s.seq;
			G.rec_t[G.nrec++] = clock_now();
		}
		if (G.drop_seq_times && !G.seq_fixed && G.data_seen == G.nth) {
			G.drop_seq = s.seq;
			G.seq_fixed = true;
		}
		if (G.seq_fixed && s.seq == G.drop_seq && G.drop_seq_times > 0) {
			G.drop_seq_times--;
			return true;
		}
		if (G.drop_seq2_times && !G.seq2_fixed && G.data_seen == G.nth2) {
			G.drop_seq2 = s.seq;
			G.seq2_fixed = true;
		}
		if (G.seq2_fixed && s.seq == G.drop_seq2 && G.drop_seq2_times > 0) {
			G.drop_seq2_times--;
			return true;
		}
	}
	if (from == G.pb) {
		if (s.opts_ok && (s.o.flags & TCP_OPTF_SACK) && SEQ_LEQ(s.o.sack[0].end, s.ack) && !G.dsack_seen) {
			G.dsack_seen = true;
			G.dsack_start = s.o.sack[0].start;
			G.dsack_end = s.o.sack[0].end;
		}
		if (G.drop_ack_on && !G.ack_dropped && !s.dlen && s.ack == G.drop_ack &&
		    !(s.flags & (TH_SYN | TH_FIN | TH_RST))) {
			G.ack_dropped = true;
			return true;
		}
	}
	return false;
}

static void gfilter_on(void)
{
	memset(&G, 0, sizeof(G));
	G.pa = memwire_port_index(T.dev[NA]);
	G.pb = memwire_port_index(T.dev[NB]);
	memwire_set_filter(T.w, gfilt, NULL);
}

/* Runs until A has everything acknowledged, at most max_ns; the time it took. */
static uint64_t run_until_acked(struct tcb *a, uint64_t max_ns)
{
	uint64_t t0 = clock_now();
	while (a->snd_una != a->snd_max && clock_now() - t0 < max_ns)
		run_drain(100 * NSEC_PER_USEC);
	cr_assert_eq(a->snd_una, a->snd_max, "still %u bytes unacknowledged after %llu ms", a->snd_max - a->snd_una,
		     (unsigned long long)(max_ns / MS));
	return clock_now() - t0;
}

/* Pushes n bytes on qd (one buffer) and lets B pop them. */
static void burst(struct tconn *c, uint32_t n)
{
	static uint8_t b[64 << 10];
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7);
	push_bytes(c->cqd, b, n);
}

static void drain_b(struct tconn *c, uint32_t n)
{
	uint32_t got = 0;
	while (got < n) {
		demi_qresult_t r = tnet_wait(pop_qt(c->sqd), 100 * MS);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
		got += r.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	cr_assert_eq(got, n);
}

/*
 * A lost retransmission: the segment and its fast retransmission are both dropped in a bulk transfer. RACK
 * finds the second loss by time (data sent after the retransmission is SACKed), without duplicate-ACK
 * counting and without the RTO; RFC 6675 alone waits for the timeout.
 */
static void lost_retransmission_case(const char *recovery)
{
	K.recovery = recovery;
	struct memwire_opts o = { .delay_ns = 200 * NSEC_PER_USEC };
	start(&o);
	struct tconn c = pair_bufs(8100, 0, 0);
	struct tcb *a = tcb_qd(c.cqd);
	cr_assert_str_eq(a->rec->name, recovery ? recovery : "rack");
	gfilter_on();
	G.nth = 40;
	G.drop_seq_times = 2;
	struct xdir d;
	xdir_init(&d, c.cqd, c.sqd, 2 << 20, 51);
	xfer_run(&d, 1, 65536, 8, 20 * SEC);
	cr_assert(G.seq_fixed && G.drop_seq_times == 0, "the segment and its retransmission were not both dropped");
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	cr_assert_eq(st->rto_timeouts, 0, "a lost retransmission needed the RTO (%llu retransmissions, RACK marked %u)",
		     (unsigned long long)st->retransmits, a->rack.rack_marked);
	cr_assert_eq(st->retransmits, 2, "%llu retransmissions, want the segment twice", (unsigned long long)st->retransmits);
	cr_assert_geq(a->rack.rack_marked, 2);
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

Test(tcp_rack, lost_retransmission_found_by_time) { lost_retransmission_case(NULL); }

/*
 * The ACK for the end of a burst is lost: the tail loss probe resends the last segment about two SRTTs after
 * the last ACK, not after the 200 ms minimum RTO; the receiver reports the duplicate in a D-SACK block.
 */
Test(tcp_rack, tail_loss_probe_after_two_srtt)
{
	struct memwire_opts o = { .delay_ns = 1 * MS };
	start(&o);
	struct tconn c = pair_bufs(8101, 0, 0);
	struct tcb *a = tcb_qd(c.cqd);
	/* Warm up: an RTT sample and an open window. */
	burst(&c, 4000);
	drain_b(&c, 4000);
	run_until_acked(a, SEC);
	cr_assert_gt(a->srtt_ns, 0);
	gfilter_on();
	const uint32_t n = 10 * a->mss;
	G.drop_ack = a->snd_max + n;
	G.drop_ack_on = true;
	burst(&c, n);
	uint64_t took = run_until_acked(a, 2 * SEC);
	drain_b(&c, n);
	cr_assert(G.ack_dropped, "the last ACK was never seen");
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	cr_assert_eq(st->rto_timeouts, 0, "the RTO fired: no probe");
	cr_assert_eq(a->rack.tlp_sent, 1, "%u probes", a->rack.tlp_sent);
	cr_assert_eq(st->retransmits, 1);
	/* The burst's own round trip (2 ms) plus about 2 SRTT, far below the 200 ms RTO floor. */
	uint64_t srtt = a->srtt_ns;
	cr_assert_lt(took, 2 * MS + 4 * srtt, "all acknowledged after %llu us (SRTT %llu us)",
		     (unsigned long long)(took / 1000), (unsigned long long)(srtt / 1000));
	/* RFC 2883: the probe duplicated data B had; B said so in its first SACK block. */
	cr_assert(G.dsack_seen, "no D-SACK block for the duplicate");
	cr_assert_eq(G.dsack_end - G.dsack_start, a->mss, "D-SACK block [%u, %u)", G.dsack_start, G.dsack_end);
	cr_assert_eq(G.dsack_end, G.drop_ack);
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

/*
 * The scoreboard across a timeout (RFC 6675 section 5.1, as Linux): segments 3 and 6 of a 10-segment burst
 * are lost twice (their fast retransmissions too, and nothing follows to show it), so the RTO fires; the
 * SACKed segments are not sent again after it: the only retransmissions are of segments 3 and 6 (going back
 * to SND.UNA would send segment 7 again once the ACK of segment 3 opens the window to two segments).
 */
static void scoreboard_case(const char *recovery)
{
	K.recovery = recovery;
	struct memwire_opts o = { .delay_ns = 1 * MS };
	start(&o);
	struct tconn c = pair_bufs(8102, 0, 0);
	struct tcb *a = tcb_qd(c.cqd);
	burst(&c, 4000);
	drain_b(&c, 4000);
	run_until_acked(a, SEC);
	gfilter_on();
	G.nth = 3;
	G.drop_seq_times = 2;
	G.nth2 = 6;
	G.drop_seq2_times = 2;
	const uint32_t n = 10 * a->mss;
	burst(&c, n);
	run_until_acked(a, 5 * SEC);
	drain_b(&c, n);
	struct demi_netstats_tcp *st = &tnet_stats(NA)->tcp;
	cr_assert_eq(st->rto_timeouts, 1, "%llu timeouts, want the one the double loss makes",
		     (unsigned long long)st->rto_timeouts);
	cr_assert(G.seq_fixed && G.seq2_fixed && !G.drop_seq_times && !G.drop_seq2_times);
	/* 10 segments, the fast retransmissions of segments 3 and 6 (lost too), theirs after the timeout. */
	cr_assert_eq(G.nrec, 10 + 4, "%d data segments for 10 and two lost twice (SACKed data resent?)", G.nrec);
	for (int i = 10; i < G.nrec; i++)
		cr_assert(G.rec_seq[i] == G.drop_seq || G.rec_seq[i] == G.drop_seq2, "segment %d resent: %u, only %u and %u were lost",
			  i, G.rec_seq[i], G.drop_seq, G.drop_seq2);
	memwire_set_filter(T.w, NULL, NULL);
	close_pair(&c);
}

Test(tcp_rack, scoreboard_kept_across_rto) { scoreboard_case(NULL); }

/* ---- PRR (RFC 6937 section 3.1) ---- */

Test(tcp_rack_prr, send_quantities)
{
	const uint32_t mss = 1000;
	/*
	 * RecoverFS 20 segments, ssthresh 10: while pipe > ssthresh, one segment for every two delivered (a part
	 * of a segment lets a whole one out, as Linux counts in segments; the next ACK then gives nothing).
	 */
	uint32_t out = 0, cnt[8], sent[8];
	for (uint32_t k = 1; k <= 8; k++) {
		cnt[k - 1] = tcp_prr_sndcnt(k * mss, out, 20 * mss, 10 * mss, 15 * mss, mss, mss);
		sent[k - 1] = cnt[k - 1] / mss * mss;
		out += sent[k - 1];
	}
	uint32_t want_cnt[8] = { mss, 0, mss, 0, mss, 0, mss, 0 };
	uint32_t want[8] = { mss, 0, mss, 0, mss, 0, mss, 0 };
	for (int k = 0; k < 8; k++) {
		cr_assert_eq(cnt[k], want_cnt[k], "ACK %d: PRR lets %u out, want %u", k + 1, cnt[k], want_cnt[k]);
		cr_assert_eq(sent[k], want[k]);
	}
	cr_assert_eq(out, 4 * mss, "half of what was delivered");
	/* The fast retransmit goes even when the proportion says nothing yet. */
	cr_assert_eq(tcp_prr_sndcnt(100, 0, 100 * mss, 10 * mss, 50 * mss, 100, mss), mss);
	/* Nothing once prr_out has caught up with the proportion. */
	cr_assert_eq(tcp_prr_sndcnt(4 * mss, 2 * mss, 20 * mss, 10 * mss, 15 * mss, mss, mss), 0);
	/* PRR-SSRB: pipe below ssthresh grows back, by what was delivered plus one segment at most. */
	cr_assert_eq(tcp_prr_sndcnt(12 * mss, 6 * mss, 20 * mss, 10 * mss, 8 * mss, mss, mss), 2 * mss);
	cr_assert_eq(tcp_prr_sndcnt(12 * mss, 10 * mss, 20 * mss, 10 * mss, 2 * mss, mss, mss), 3 * mss);
	cr_assert_eq(tcp_prr_sndcnt(12 * mss, 11 * mss, 20 * mss, 10 * mss, 2 * mss, 3 * mss, mss), 4 * mss);
	/* ssthresh - pipe below one segment still lets one out (no ACK may be left to come). */
	cr_assert_eq(tcp_prr_sndcnt(12 * mss, 11 * mss, 20 * mss, 10 * mss - 300, 9 * mss, mss, mss), mss);
}

/* ---- the receiver: D-SACK, a FIN beyond a hole, an illegal option length (the raw port as the peer) ---- */

static void open_raw(struct rconn *c, uint16_t lport, uint16_t rport)
{
	K.delack_ms = 0;
	start(NULL);
	struct ropts syn = RO_NONE;
	syn.mss = 1460;
	syn.sack_ok = true;
	rconn_open(c, NB, -1, lport, rport, 0x10000000u, &syn);
	cr_assert(tcb_qd(c->qd)->flags & TF_SACK);
	raw_drain(MS, NULL);
}

static void next_ack(struct rseg *s)
{
	cr_assert(raw_wait_tcp(s, 10 * MS), "no ACK");
	cr_assert(s->flags & TH_ACK);
	cr_assert(s->opts_ok);
}

static uint8_t stream[600];

#define SEG(c, k, fl)                                                                                                  \
	raw_tcp(NB, (c)->rport, (c)->lport, base + 100u * (k), (c)->rcv_nxt, TH_ACK | (fl), 65535, NULL,              \
		stream + 100 * (k), 100)

/* RFC 2883 section 4: a segment received twice is reported in the first SACK block of the ACK it causes. */
Test(tcp_rack, dsack_block_for_a_duplicate)
{
	struct rconn c;
	open_raw(&c, 7100, 41000);
	const uint32_t base = c.snd_nxt;
	struct rseg s;
	SEG(&c, 0, 0);
	next_ack(&s);
	cr_assert_eq(s.ack, base + 100);
	cr_assert_not(s.o.flags & TCP_OPTF_SACK);
	SEG(&c, 0, 0); /* again: a spurious retransmission */
	next_ack(&s);
	cr_assert_eq(s.ack, base + 100);
	cr_assert(s.o.flags & TCP_OPTF_SACK, "no D-SACK block for a duplicate");
	cr_assert_eq(s.o.nsack, 1);
	cr_assert_eq(s.o.sack[0].start, base);
	cr_assert_eq(s.o.sack[0].end, base + 100);
	/* A duplicate of out-of-order data: the D-SACK block first, the SACK block of the held data after it. */
	SEG(&c, 2, 0);
	next_ack(&s);
	cr_assert_eq(s.o.nsack, 1);
	SEG(&c, 2, 0);
	next_ack(&s);
	cr_assert_eq(s.o.nsack, 2);
	cr_assert_eq(s.o.sack[0].start, base + 200);
	cr_assert_eq(s.o.sack[0].end, base + 300);
	cr_assert_eq(s.o.sack[1].start, base + 200);
	/* Reported once: the next ACK carries only the usual block. */
	SEG(&c, 4, 0);
	next_ack(&s);
	cr_assert_eq(s.o.sack[0].start, base + 400);
	for (int i = 0; i < s.o.nsack; i++)
		cr_assert_neq(s.o.sack[i].end - s.o.sack[i].start, 0);
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/* A FIN that arrives beyond a hole stays with its data: once the hole fills, the FIN is acknowledged at once. */
Test(tcp_rack, fin_beyond_a_hole_kept)
{
	struct rconn c;
	open_raw(&c, 7101, 41001);
	const uint32_t base = c.snd_nxt;
	for (uint32_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 3 + 1);
	struct rseg s;
	SEG(&c, 0, 0);
	next_ack(&s);
	SEG(&c, 2, TH_FIN); /* data and FIN beyond the hole at 100 */
	next_ack(&s);
	cr_assert_eq(s.ack, base + 100);
	cr_assert(s.o.flags & TCP_OPTF_SACK);
	SEG(&c, 1, 0); /* fills the hole */
	next_ack(&s);
	cr_assert_eq(s.ack, base + 301, "the FIN beyond the hole was forgotten (ACK %u, want %u)", s.ack - base, 301);
	struct tcb *tp = tcb_qd(c.qd);
	cr_assert_eq(tp->state, TCPS_CLOSE_WAIT);
	uint32_t got = 0;
	while (got < 300) {
		demi_qresult_t r = tnet_wait(pop_qt(c.qd), 10 * MS);
		cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
		uint32_t k = r.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert(k > 0 && got + k <= 300, "pop of %u bytes after %u", k, got);
		cr_assert_eq(memcmp(r.qr_value.sga.sga_segs[0].sgaseg_buf, stream + got, k), 0);
		got += k;
		cr_assert_eq(demi_sgafree(&r.qr_value.sga), 0);
	}
	expect_pop(pop_qt(c.qd), NULL, 0, 10 * MS); /* EOF */
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}

/*
 * An illegal option length (RFC 9293 section 3.1, MUST-7): Linux ignores the rest of the options and
 * processes the segment; so does Demi (the data is taken and acknowledged).
 */
Test(tcp_rack, illegal_option_length_processed)
{
	struct rconn c;
	open_raw(&c, 7102, 41002);
	const uint32_t base = c.snd_nxt;
	static uint8_t f[2048], seg[2048];
	struct ropts op = RO_NONE;
	op.mss = 1460; /* 4 bytes of options, rewritten below */
	uint32_t tl = mk_tcp(seg, IP_RAW, IP_B, c.rport, c.lport, base, c.rcv_nxt, TH_ACK, 65535, &op, stream, 100);
	/* NOP, then kind 99 with length 0: illegal. Patch the checksum by recomputing over the segment. */
	seg[TCP_HDR_LEN] = TCPOPT_NOP;
	seg[TCP_HDR_LEN + 1] = 99;
	seg[TCP_HDR_LEN + 2] = 0;
	seg[TCP_HDR_LEN + 3] = 0;
	memset(seg + 16, 0, 2);
	uint32_t hs = ntohl(IP_RAW), hd = ntohl(IP_B);
	uint16_t sum = ref_cksum(seg, tl, (hs >> 16) + (hs & 0xffff) + (hd >> 16) + (hd & 0xffff) + 6 + tl);
	memcpy(seg + 16, &sum, 2);
	uint32_t n = mk_eth(f, MAC_B, MAC_RAW, 0x0800);
	n += mk_ipv4(f + n, IP_RAW, IP_B, 6, 0x4243, 0, seg, tl);
	raw_inject(NB, f, n);
	struct rseg s;
	next_ack(&s);
	cr_assert_eq(s.ack, base + 100, "the segment with an illegal option length was not processed");
	expect_pop(pop_qt(c.qd), stream, 100, 10 * MS);
	cr_assert_eq(tnet_stats(NB)->tcp.drop_bad_options, 0);
	demi_close(c.qd);
	demi_close(c.lqd);
	run_drain(10 * MS);
}
