/* Hostile input: malformed frames at every layer are counted and dropped; random frames and a corrupting wire leave no trace. */
#include "inet_test.h"

#include "net/prot/arp.h"

static void init(void) { tnet_init(NULL, NULL); }
static void fini(void) { tnet_fini(); }

TestSuite(hostile, .init = init, .fini = fini, .timeout = 20);

#define PORT 7777

static void inject_run(const uint8_t *f, uint32_t n)
{
	raw_inject(NA, f, n);
	tnet_run(100 * NSEC_PER_USEC);
}

/* A good frame, then each field broken in turn; only the good one reaches the socket. */
Test(hostile, malformed_headers_counted)
{
	int qd = tnet_udp(NA, PORT);
	uint8_t good[256], f[256];
	uint32_t n = mk_udp_frame(good, 4000, PORT, "payload!", 8);
	struct demi_netstats *st = tnet_stats(NA);

	inject_run(good, 5); /* truncated Ethernet header */
	cr_assert_eq(st->eth.drop_short, 1);
	inject_run(good, 14 + 10); /* truncated IPv4 header */
	cr_assert_eq(st->ipv4.drop_short, 1);
	inject_run(good, n - 4); /* total length beyond the frame */
	cr_assert_eq(st->ipv4.drop_total_len, 1);

	memcpy(f, good, n);
	f[14] = 0x65; /* version 6 */
	inject_run(f, n);
	cr_assert_eq(st->ipv4.drop_version, 1);
	memcpy(f, good, n);
	f[14] = 0x44; /* IHL 4 */
	inject_run(f, n);
	memcpy(f, good, n);
	f[14] = 0x4f; /* IHL 15: 60 bytes, beyond the packet */
	inject_run(f, 14 + 40);
	cr_assert_eq(st->ipv4.drop_hdr_len, 2);
	memcpy(f, good, n);
	f[17] = 10; /* total length below IHL (checksum now wrong too, length is checked first) */
	f[16] = 0;
	inject_run(f, n);
	cr_assert_eq(st->ipv4.drop_total_len, 2);
	memcpy(f, good, n);
	f[14 + 10] ^= 0xff; /* IPv4 checksum */
	inject_run(f, n);
	cr_assert_eq(st->ipv4.drop_checksum, 1);
	memcpy(f, good, n);
	f[n - 1] ^= 0x01; /* payload: UDP checksum */
	inject_run(f, n);
	cr_assert_eq(st->udp.drop_checksum, 1);
	memcpy(f, good, n);
	f[34 + 5] = 200; /* UDP length beyond the packet */
	inject_run(f, n);
	memcpy(f, good, n);
	f[34 + 4] = 0;
	f[34 + 5] = 4; /* UDP length below 8 */
	inject_run(f, n);
	cr_assert_eq(st->udp.drop_length, 2);
	memcpy(f, good, n);
	f[0] = 0x02;
	f[5] = 0x77; /* someone else's MAC */
	inject_run(f, n);
	cr_assert_eq(st->eth.drop_not_ours, 1);
	memcpy(f, good, n);
	f[6] = 0x01; /* multicast source MAC */
	inject_run(f, n);
	cr_assert_eq(st->eth.drop_bad_src, 1);
	memcpy(f, good, n);
	f[12] = 0x86;
	f[13] = 0xdd; /* IPv6 EtherType */
	inject_run(f, n);
	cr_assert_eq(st->eth.drop_type, 1);
	/* IPv4 destination not ours, source broadcast. */
	uint8_t ip[128];
	memcpy(ip, good + 14, n - 14);
	uint32_t m = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	m += mk_ipv4(f + m, IP_RAW, inet_addr("10.0.0.200"), 17, 1, 0, ip + 20, n - 34);
	inject_run(f, m);
	cr_assert_eq(st->ipv4.drop_not_ours, 1);
	m = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	m += mk_ipv4(f + m, 0xffffffffu, IP_A, 17, 1, 0, ip + 20, n - 34);
	inject_run(f, m);
	cr_assert_eq(st->ipv4.drop_bad_src, 1);
	/* ARP: short, and wrong hardware length. */
	uint8_t a[64] = { 0 };
	m = mk_eth(a, MAC_A, MAC_RAW, 0x0806);
	inject_run(a, m + 10);
	struct arp_pkt ap = { .htype = htons(1), .ptype = htons(0x0800), .hlen = 7, .plen = 4, .oper = htons(1) };
	memcpy(a + m, &ap, sizeof(ap));
	inject_run(a, m + 28);
	cr_assert_eq(st->arp.drop_malformed, 2);
	/* Frames padded to 60 bytes by Ethernet: the padding is not data. */
	uint8_t small[64] = { 0 };
	m = mk_udp_frame(small, 4000, PORT, "x", 1);
	cr_assert_lt(m, 60);
	inject_run(small, 60);
	inject_run(good, n);
	/* Exactly two datagrams arrive: "x" and "payload!". */
	demi_qtoken_t qt;
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(demi_pop(&qt, qd), 0);
		demi_qresult_t qr = tnet_wait(qt, NSEC_PER_SEC);
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, i == 0 ? 1 : 8);
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	}
	cr_assert_eq(demi_pop(&qt, qd), 0);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_not(tnet_done(qt));
	cr_assert_eq(st->udp.rx_datagrams, 2);
}

static uint64_t rng = 12345;
static uint32_t next_rand(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng >> 33);
}

/* Random frames, and random mutations of valid ones (fragments included): no crash, memory back. */
Test(hostile, random_frames)
{
	tnet_udp(NA, PORT);
	uint8_t f[2048], good[2048];
	uint32_t n = mk_udp_frame(good, 4000, PORT, "0123456789abcdef0123456789abcdef", 32);
	for (int i = 0; i < 4000; i++) {
		uint32_t len;
		if (i % 2) {
			len = 1 + next_rand() % 200;
			for (uint32_t j = 0; j < len; j++)
				f[j] = (uint8_t)next_rand();
			if (i % 4 == 1) /* often addressed to us, as IPv4 or ARP, to reach past Ethernet */
				mk_eth(f, MAC_A, MAC_RAW, (i % 8 == 1) ? 0x0806 : 0x0800);
		} else {
			memcpy(f, good, n);
			len = n;
			int flips = 1 + (int)(next_rand() % 4);
			for (int k = 0; k < flips; k++)
				f[14 + next_rand() % (n - 14)] ^= (uint8_t)(1u << (next_rand() % 8));
			if (next_rand() % 3 == 0) /* a fragment header with a good checksum */
				mk_ipv4(f + 14, IP_RAW, IP_A, 17, (uint16_t)next_rand(),
					(uint16_t)(next_rand() & 0x3fff), NULL, n - 34);
		}
		raw_inject(NA, f, len);
		if (i % 64 == 0)
			tnet_run(10 * NSEC_PER_USEC);
	}
	tnet_run(IPV4_REASS_TIMEOUT_NS + NSEC_PER_SEC);
	cr_assert_eq(T.in[NA]->reass.nused, 0);
}

/* A wire corrupting a third of the frames: every datagram that arrives is intact. */
Test(hostile, corrupting_wire)
{
	tnet_fini();
	struct memwire_opts o = { .seed = 7, .corrupt_ppm = 300000 };
	tnet_init(&o, NULL);
	int a = tnet_udp(NA, 5000), b = tnet_udp(NB, 5001);
	int sent = 0;
	for (int i = 0; i < 200; i++) {
		demi_sgarray_t sga = tnet_sga(100, (uint8_t)i);
		struct sockaddr_in to = tnet_addr(IP_B, 5001);
		demi_qtoken_t qt;
		cr_assert_eq(demi_pushto(&qt, a, &sga, (const struct sockaddr *)&to, sizeof(to)), 0);
		tnet_wait(qt, NSEC_PER_SEC);
		cr_assert_eq(demi_sgafree(&sga), 0);
		sent++;
		tnet_run(100 * NSEC_PER_USEC);
	}
	tnet_run(200 * NSEC_PER_MSEC);
	int got = 0;
	for (;;) {
		demi_qtoken_t qt;
		cr_assert_eq(demi_pop(&qt, b), 0);
		tnet_run(NSEC_PER_USEC);
		if (!tnet_done(qt))
			break;
		demi_qresult_t qr = tnet_wait(qt, 0);
		const uint8_t *p = qr.qr_value.sga.sga_segs[0].sgaseg_buf;
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100);
		for (int j = 1; j < 100; j++)
			cr_assert_eq(p[j], (uint8_t)(p[0] + j), "corrupted payload delivered");
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
		got++;
	}
	struct demi_netstats *st = tnet_stats(NB);
	uint64_t dropped = st->udp.drop_checksum + st->ipv4.drop_checksum + st->eth.drop_not_ours + st->eth.drop_bad_src +
			   st->eth.drop_type + st->ipv4.drop_not_ours + st->ipv4.drop_bad_src + st->udp.drop_no_port +
			   st->ipv4.drop_version + st->ipv4.drop_hdr_len + st->ipv4.drop_total_len + st->udp.drop_length +
			   st->ipv4.frag_rx + st->ipv4.drop_protocol;
	cr_assert_gt(got, 100);
	cr_assert_lt(got, sent);
	cr_assert_gt(dropped, 0);
	cr_assert_gt(memwire_stats(T.w)->corrupted, 0);
}
