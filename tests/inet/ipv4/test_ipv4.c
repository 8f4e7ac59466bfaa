/* IPv4 over memwire: reassembly in and out of order, duplicates, overlaps, loss and timeout; fragmentation on send. */
#include "inet_test.h"

#include <stdlib.h>

#include "net/prot/icmp.h"
#include "net/prot/ipv4.h"

static void init(void) { tnet_init(NULL, NULL); }
static void fini(void) { tnet_fini(); }

TestSuite(ipv4, .init = init, .fini = fini, .timeout = 20);

#define PORT 7777
static uint8_t dgram[70000]; /* a UDP datagram (header + payload) from the raw port to A */
static uint32_t dgram_len;

static void make_dgram(uint32_t payload)
{
	uint8_t *data = malloc(payload);
	for (uint32_t i = 0; i < payload; i++)
		data[i] = (uint8_t)(i * 7 + 1);
	dgram_len = mk_udp(dgram, IP_RAW, IP_A, 4444, PORT, data, payload);
	free(data);
}

/* Injects bytes [off, off+len) of dgram as one fragment with identification id. */
static void frag(uint16_t id, uint32_t off, uint32_t len, bool more)
{
	uint8_t f[2048];
	uint32_t n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	n += mk_ipv4(f + n, IP_RAW, IP_A, 17, id, (uint16_t)((more ? IPV4_MF : 0) | (off / 8)), dgram + off, len);
	raw_inject(NA, f, n);
}

/* The datagram is popped whole and intact (and, unless more are expected, once). */
static void expect_dgram_n(int qd, bool more);
static void expect_dgram(int qd) { expect_dgram_n(qd, false); }
static void expect_dgram_n(int qd, bool more)
{
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	demi_qresult_t qr = tnet_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, dgram_len - 8);
	cr_assert_eq(memcmp(qr.qr_value.sga.sga_segs[0].sgaseg_buf, dgram + 8, dgram_len - 8), 0);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	if (more)
		return;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_not(tnet_done(qt), "delivered twice");
}

Test(ipv4, reassembly_in_order)
{
	int qd = tnet_udp(NA, PORT);
	make_dgram(4000);
	for (uint32_t off = 0; off < dgram_len; off += 1480)
		frag(1, off, dgram_len - off < 1480 ? dgram_len - off : 1480, off + 1480 < dgram_len);
	expect_dgram(qd);
	cr_assert_eq(tnet_stats(NA)->ipv4.frag_rx, 3);
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_ok, 1);
	cr_assert_eq(T.in[NA]->reass.nused, 0);
}

Test(ipv4, reassembly_out_of_order_with_duplicates)
{
	int qd = tnet_udp(NA, PORT);
	make_dgram(5000);
	/* 8-byte-aligned pieces of 800: last first, then odd ones, then even ones, each twice but the last. */
	uint32_t n = (dgram_len + 799) / 800;
	for (int pass = 0; pass < 3; pass++) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t k = pass == 0 ? n - 1 : i;
			if (pass == 0 && i > 0)
				break;
			if (pass > 0 && k == n - 1)
				continue;
			if (pass == 1 && k % 2 == 0)
				continue;
			if (pass == 2 && k % 2 == 1)
				continue;
			uint32_t off = k * 800, len = dgram_len - off < 800 ? dgram_len - off : 800;
			frag(2, off, len, k + 1 < n);
			if (k + 1 < n)
				frag(2, off, len, true);
		}
	}
	expect_dgram(qd);
	/* The copy of the piece that completed it starts a new reassembly: n - 2 duplicates. */
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_dup, n - 2);
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_ok, 1);
}

/* Two datagrams interleaved, told apart by their identification. */
Test(ipv4, interleaved_datagrams)
{
	int qd = tnet_udp(NA, PORT);
	make_dgram(2000);
	frag(10, 0, 1000, true);
	frag(11, 1000, dgram_len - 1000, false);
	frag(11, 0, 1000, true);
	frag(10, 1000, dgram_len - 1000, false);
	expect_dgram_n(qd, true);
	expect_dgram(qd);
}

/* A fragment that overlaps data already received, not exactly: the whole datagram goes. */
Test(ipv4, overlap_drops_datagram)
{
	int qd = tnet_udp(NA, PORT);
	make_dgram(3000);
	frag(3, 0, 1600, true);
	frag(3, 1592, 800, true); /* overlaps 8 bytes */
	frag(3, 2400, dgram_len - 2400, false);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_overlap, 1);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_not(tnet_done(qt));
	/* What was left after the drop started a new reassembly that never completes. */
	tnet_run(IPV4_REASS_TIMEOUT_NS + NSEC_PER_SEC);
	cr_assert_eq(T.in[NA]->reass.nused, 0);
}

/* A fragment never comes: the reassembly is abandoned at the timeout, its memory freed, the sender told. */
Test(ipv4, missing_fragment_times_out)
{
	tnet_udp(NA, PORT);
	make_dgram(3000);
	uint32_t before = T.rt->pool.in_use;
	frag(4, 0, 1480, true);
	frag(4, 2960, dgram_len - 2960, false);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(T.in[NA]->reass.nused, 1);
	cr_assert_gt(T.rt->pool.in_use, before);
	tnet_run(IPV4_REASS_TIMEOUT_NS);
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_timeout, 1);
	cr_assert_eq(T.in[NA]->reass.nused, 0);
	/* RFC 792: time exceeded, fragment reassembly, quoting the first fragment's header. */
	uint8_t r[2048];
	uint32_t n = raw_recv(r, sizeof(r));
	cr_assert_gt(n, 14 + 20 + 8 + 20);
	cr_assert_eq(r[14 + 9], 1);
	cr_assert_eq(r[14 + 20], ICMP_TIME_EXCEEDED);
	cr_assert_eq(r[14 + 20 + 1], ICMP_TIMX_REASS);
	cr_assert_eq(ref_cksum(r + 34, n - 34, 0), 0, "bad ICMP checksum");
	cr_assert_eq(T.rt->pool.in_use, before);
}

/* Memory is bounded: the 17th datagram in reassembly evicts the oldest. */
Test(ipv4, bounded_contexts)
{
	make_dgram(3000);
	for (int i = 0; i < IPV4_REASS_MAX + 1; i++) {
		frag((uint16_t)(100 + i), 0, 1480, true);
		tnet_run(NSEC_PER_MSEC);
	}
	cr_assert_eq(T.in[NA]->reass.nused, IPV4_REASS_MAX);
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_evicted, 1);
}

/* Fragments whose end passes 65535 bytes (the ping of death), misaligned ones, conflicting ends. */
Test(ipv4, bad_fragments)
{
	make_dgram(3000);
	frag(5, 65528, 16, false); /* ends past 65535 */
	frag(6, 0, 1001, true);    /* not a multiple of 8 but MF set */
	frag(7, 1000, 1000, false);
	frag(7, 1600, 800, true);  /* data past the known end */
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(tnet_stats(NA)->ipv4.reass_bad, 3);
	cr_assert_eq(T.in[NA]->reass.nused, 0);
}

/* A large datagram from A leaves in MTU-sized fragments that put back together give the datagram. */
Test(ipv4, fragmentation_on_send)
{
	int a = tnet_udp(NA, 3000);
	const uint32_t len = 9000;
	demi_sgarray_t sga = tnet_sga(len, 11);
	struct sockaddr_in to = tnet_addr(IP_RAW, 53);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pushto(&qt, a, &sga, (const struct sockaddr *)&to, sizeof(to)), 0);
	tnet_wait(qt, NSEC_PER_SEC);
	static uint8_t whole[70000];
	uint32_t got = 0, end = 0, frags = 0;
	uint16_t id = 0;
	uint8_t r[2048];
	uint32_t n;
	while ((n = raw_recv(r, sizeof(r))) != 0) {
		cr_assert_leq(n, 1514);
		cr_assert_eq(ref_cksum(r + 14, 20, 0), 0);
		uint16_t off, tot, fid;
		memcpy(&off, r + 14 + 6, 2);
		memcpy(&tot, r + 14 + 2, 2);
		memcpy(&fid, r + 14 + 4, 2);
		off = ntohs(off);
		if (frags++ == 0)
			id = fid;
		cr_assert_eq(fid, id);
		uint32_t at = (off & IPV4_OFFMASK) * 8u, plen = ntohs(tot) - 20u;
		memcpy(whole + at, r + 34, plen);
		got += plen;
		if (!(off & IPV4_MF))
			end = at + plen;
		else
			cr_assert_eq(plen % 8, 0);
	}
	cr_assert_eq(frags, 7); /* 9008 bytes in 1480-byte pieces */
	cr_assert_eq(got, len + 8);
	cr_assert_eq(end, len + 8);
	uint32_t hs = ntohl(IP_A), hd = ntohl(IP_RAW);
	uint32_t pseudo = (hs >> 16) + (hs & 0xffff) + (hd >> 16) + (hd & 0xffff) + 17 + (len + 8);
	cr_assert_eq(ref_cksum(whole, len + 8, pseudo), 0, "UDP checksum of the reassembled datagram");
	cr_assert_eq(memcmp(whole + 8, sga.sga_segs[0].sgaseg_buf, len), 0);
	cr_assert_eq(demi_sgafree(&sga), 0);
	cr_assert_eq(tnet_stats(NA)->ipv4.frag_tx, 7);
}
