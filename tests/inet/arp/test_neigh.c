/*
 * ARP's neighbour limits over memwire (arp.h): unresolved entries capped and
 * evictable, resolved entries in use kept, LRU eviction, the request budget
 * per address and in total, stale entries probed, and a spoofed SYN flood
 * that costs bounded ARP work while a real client connects.
 */
#include "inet_test.h"

#include "net/prot/arp.h"
#include "tcp/tcp_raw.h"

static void fini(void) { tnet_fini(); }

TestSuite(neigh, .fini = fini, .timeout = 30);

static void drain(void)
{
	static uint8_t f[2048];
	while (raw_recv(f, sizeof(f)))
		;
}

/* Runs ns of virtual time in 10 ms steps, emptying the raw port between them. */
static void run(uint64_t ns)
{
	uint64_t end = clock_now() + ns;
	while (clock_now() < end) {
		uint64_t left = end - clock_now();
		tnet_run(left < 10 * NSEC_PER_MSEC ? left : 10 * NSEC_PER_MSEC);
		drain();
	}
}

static void three_tries_10ms(struct demi_config *c, int idx)
{
	(void)idx;
	c->arp_request_retries = 3;
	c->arp_request_timeout_ms = 10;
}

static uint32_t addr_n(uint32_t net, uint32_t i) { return htonl(ntohl(inet_addr("10.0.0.0")) | net << 16 | (i + 1)); }

/* Datagrams to 100 addresses nobody answers: at most ARP_UNRES_MAX unresolved entries, B's entry untouched. */
Test(neigh, unresolved_capped_resolved_kept)
{
	tnet_init(NULL, three_tries_10ms);
	int a = tnet_udp(NA, 1000), b = tnet_udp(NB, 2000);
	tnet_sendto(a, IP_B, 2000, 10, 1);
	cr_assert_eq(tnet_pop_tag(b), 1);
	for (uint32_t i = 0; i < 100; i++) {
		tnet_sendto(a, addr_n(1, i), 9, 10, 0);
		cr_assert_leq(T.in[NA]->arp.nunres, ARP_UNRES_MAX);
	}
	struct demi_netstats *st = tnet_stats(NA);
	cr_assert_eq(st->neigh.arp_unres_evicted, 100 - ARP_UNRES_MAX);
	cr_assert_eq(st->arp.drop_cache_full, 0);
	uint8_t mac[6];
	cr_assert_eq(arp_lookup(T.in[NA], IP_B, mac), 0, "a resolved entry gave way to unresolved ones");
	tnet_sendto(a, IP_B, 2000, 10, 2);
	cr_assert_eq(tnet_pop_tag(b), 2);
	/* The resolutions fail, are held FAILED for a second, then go. */
	run(ARP_FAILED_HOLD_NS + 100 * NSEC_PER_MSEC);
	cr_assert_eq(T.in[NA]->arp.nunres, 0);
	cr_assert_eq(st->arp.timeouts, ARP_UNRES_MAX);
}

/* Requests to 300 new addresses at once: at most the bucket leaves now, then ARP_REQ_RATE a second. */
Test(neigh, requests_rate_limited_in_total)
{
	tnet_init(NULL, NULL);
	int a = tnet_udp(NA, 1000);
	struct demi_netstats *st = tnet_stats(NA);
	uint64_t before = st->arp.tx_requests;
	for (uint32_t i = 0; i < 300; i++)
		tnet_sendto(a, addr_n(2, i), 9, 10, 0);
	cr_assert_leq(st->arp.tx_requests - before, ARP_REQ_BURST);
	cr_assert_geq(st->neigh.arp_ratelimited, 300 - ARP_REQ_BURST);
	run(NSEC_PER_SEC);
	cr_assert_leq(st->arp.tx_requests - before, ARP_REQ_BURST + ARP_REQ_RATE + 1);
}

static int drop_from = -1;

static bool drop_arp(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	(void)to;
	(void)len;
	return from == drop_from && f[12] == 0x08 && f[13] == 0x06;
}

/* An address that failed to resolve gets no request for ARP_FAILED_HOLD_NS; its packets are dropped and counted. */
Test(neigh, failed_address_held)
{
	tnet_init(NULL, three_tries_10ms);
	drop_from = NB;
	memwire_set_filter(T.w, drop_arp, NULL);
	int a = tnet_udp(NA, 1000);
	tnet_udp(NB, 2000);
	struct demi_netstats *st = tnet_stats(NA);
	tnet_sendto(a, IP_B, 2000, 10, 1);
	run(40 * NSEC_PER_MSEC);
	cr_assert_eq(st->arp.timeouts, 1);
	uint64_t req = st->arp.tx_requests;
	for (int i = 0; i < 5; i++)
		tnet_sendto(a, IP_B, 2000, 10, 2);
	run(100 * NSEC_PER_MSEC);
	cr_assert_eq(st->neigh.arp_drop_failed, 5);
	cr_assert_eq(st->arp.tx_requests, req, "a request within the hold");
	run(ARP_FAILED_HOLD_NS);
	tnet_sendto(a, IP_B, 2000, 10, 3);
	cr_assert_eq(st->arp.tx_requests, req + 1, "no request after the hold");
}

static void ttl_1s(struct demi_config *c, int idx)
{
	(void)idx;
	c->arp_cache_ttl_s = 1;
}

/* An entry in use outlives its TTL: it goes stale and one unicast probe confirms it, no broadcast. */
Test(neigh, stale_entry_in_use_probed)
{
	tnet_init(NULL, ttl_1s);
	int a = tnet_udp(NA, 1000), b = tnet_udp(NB, 2000);
	struct demi_netstats *st = tnet_stats(NA);
	for (int i = 0; i < 30; i++) {
		tnet_sendto(a, IP_B, 2000, 10, (uint8_t)i);
		cr_assert_eq(tnet_pop_tag(b), (uint8_t)i);
		run(100 * NSEC_PER_MSEC);
		uint8_t mac[6];
		cr_assert_eq(arp_lookup(T.in[NA], IP_B, mac), 0, "the entry in use went at %d", i);
	}
	cr_assert_geq(st->neigh.arp_probes, 2);
	/* The announcement and the first resolution broadcast; the rest were probes. */
	cr_assert_eq(st->arp.tx_requests, 2 + st->neigh.arp_probes);
	cr_assert_eq(st->arp.queued, 1);
}

static uint32_t mk_arp(uint8_t *f, const uint8_t *eth_dst, uint16_t oper, const uint8_t *sha, uint32_t spa,
		       uint32_t tpa)
{
	static const uint8_t zero[6];
	uint32_t n = mk_eth(f, eth_dst, sha, 0x0806);
	struct arp_pkt ap = { .htype = htons(1), .ptype = htons(0x0800), .hlen = 6, .plen = 4, .oper = htons(oper),
			      .spa = spa, .tpa = tpa };
	memcpy(ap.sha, sha, 6);
	memcpy(ap.tha, zero, 6);
	memcpy(f + n, &ap, sizeof(ap));
	return n + (uint32_t)sizeof(ap);
}

/* 300 hosts ask for A: the cache fills with resolved entries, the least recently used go, the one in use stays. */
Test(neigh, lru_eviction_keeps_entry_in_use)
{
	tnet_init(NULL, NULL);
	int a = tnet_udp(NA, 1000), b = tnet_udp(NB, 2000);
	tnet_sendto(a, IP_B, 2000, 10, 1);
	cr_assert_eq(tnet_pop_tag(b), 1);
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[128], mac[6] = { 0x02, 0x33, 0, 0, 0, 0 };
	for (uint32_t i = 0; i < 300; i++) {
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		raw_inject(NA, f, mk_arp(f, bcast, 1, mac, addr_n(3, i), IP_A));
		if (i % 16 == 15) {
			tnet_run(NSEC_PER_USEC);
			drain();
		}
	}
	tnet_run(NSEC_PER_MSEC);
	drain();
	struct demi_netstats *st = tnet_stats(NA);
	cr_assert_eq(st->arp.tx_replies, 300);
	cr_assert_geq(st->neigh.arp_evicted, 300 - (ARP_ENTRIES - 2));
	cr_assert_eq(arp_lookup(T.in[NA], IP_B, mac), 0, "the entry in use was evicted");
	cr_assert_eq(arp_lookup(T.in[NA], IP_RAW, mac), 0, "a static entry was evicted");
	/* The newest learnt entry is there, the oldest went. */
	cr_assert_eq(arp_lookup(T.in[NA], addr_n(3, 299), mac), 0);
	cr_assert_eq(arp_lookup(T.in[NA], addr_n(3, 0), mac), -ENOENT);
}

/*
 * Spoofed SYNs from 2,000 on-link addresses that never answer ARP, one a
 * millisecond, while A connects to B's listener and echoes every 50 ms: every
 * connect succeeds in one round trip, and B's ARP work stays within the
 * budget's upper half and refill.
 */
Test(neigh, syn_flood_bounded_arp_work)
{
	tnet_init(NULL, NULL);
	const uint16_t port = 80;
	int lqd = tnet_tcp(NB);
	struct sockaddr_in la = tnet_addr(IP_B, port);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&la, sizeof(la)), 0);
	cr_assert_eq(demi_listen(lqd, 64), 0);
	struct demi_netstats *st = tnet_stats(NB);
	uint64_t req0 = st->arp.tx_requests;
	uint64_t t0 = clock_now();
	static uint8_t f[256], seg[128];
	int connects = 0;
	for (uint32_t i = 0; i < 2000; i++) {
		uint32_t src = addr_n(4 + i / 250, i % 250);
		uint32_t n = mk_eth(f, MAC_B, MAC_RAW, 0x0800);
		uint32_t tl = mk_tcp(seg, src, IP_B, (uint16_t)(1024 + i), port, i * 7919u, 0, TH_SYN, 65535, NULL, NULL,
				     0);
		n += mk_ipv4(f + n, src, IP_B, 6, (uint16_t)i, 0, seg, tl);
		raw_inject(NB, f, n);
		tnet_run(NSEC_PER_MSEC);
		drain();
		if (i % 50 == 25) {
			/* A real client: connect, echo one byte, close. */
			int cqd = tnet_tcp(NA);
			demi_qtoken_t qt, aqt;
			cr_assert_eq(demi_accept(&aqt, lqd), 0);
			uint64_t c0 = clock_now();
			cr_assert_eq(demi_connect(&qt, cqd, (const struct sockaddr *)&la, sizeof(la)), 0);
			demi_qresult_t r = tnet_wait(qt, 3 * NSEC_PER_SEC);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_CONNECT, "connect %d failed: %d", connects, (int)r.qr_ret);
			cr_assert_lt(clock_now() - c0, 50 * NSEC_PER_MSEC, "connect %d took %llu ns", connects,
				     (unsigned long long)(clock_now() - c0));
			r = tnet_wait(aqt, NSEC_PER_SEC);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_ACCEPT);
			int sqd = r.qr_value.ares.qd;
			demi_sgarray_t sga = tnet_sga(1, (uint8_t)i);
			cr_assert_eq(demi_push(&qt, cqd, &sga), 0);
			tnet_wait(qt, NSEC_PER_SEC);
			demi_sgafree(&sga);
			cr_assert_eq(demi_pop(&qt, sqd), 0);
			r = tnet_wait(qt, NSEC_PER_SEC);
			cr_assert_eq(r.qr_opcode, DEMI_OPC_POP);
			demi_sgafree(&r.qr_value.sga);
			demi_close(cqd);
			demi_close(sqd);
			connects++;
		}
	}
	uint64_t secs = (clock_now() - t0 + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
	cr_assert_eq(connects, 40);
	uint64_t req = st->arp.tx_requests - req0;
	cr_assert_leq(req, ARP_REQ_BURST / 2 + ARP_REQ_RATE * secs + 1, "%llu ARP requests in %llu s",
		      (unsigned long long)req, (unsigned long long)secs);
	cr_assert_geq(st->neigh.arp_drop_reply_unresolved, 1000);
	cr_assert_leq(T.in[NB]->arp.nunres, ARP_UNRES_MAX);
	uint8_t mac[6];
	cr_assert_eq(arp_lookup(T.in[NB], IP_A, mac), 0);
	run(2 * NSEC_PER_SEC);
}
