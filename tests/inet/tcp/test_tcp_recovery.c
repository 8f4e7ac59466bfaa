/*
 * TCP recovery from loss on memwire (suite tcp_opts, with test_tcp_opts.c): SACK and NewReno recovery from one
 * lost segment (also at the 2^32 wrap and with ISNs "before" 0), and the receiver's SACK blocks under reordering.
 */
#include "tcp_knobs.h"

TestSuite(tcp_opts, .init = setup, .fini = fini, .timeout = 60);

/* ---- recovery from one lost segment ---- */

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

/* ---- the receiver: SACK blocks and reordering ---- */

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
