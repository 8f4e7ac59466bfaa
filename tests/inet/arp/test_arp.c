/* ARP over memwire: resolution, the parked-packet queue, retries and timeout, TTL, static entries, replies. */
#include "inet_test.h"

#include "net/prot/arp.h"

static void fini(void) { tnet_fini(); }

TestSuite(arp, .fini = fini, .timeout = 20);

static int drop_from;      /* port whose ARP frames the filter drops, -1 none */
static int drop_budget;    /* how many more to drop; < 0: all */

static bool drop_arp(void *arg, int from, int to, const uint8_t *f, uint32_t len)
{
	(void)arg;
	(void)to;
	(void)len;
	if (from != drop_from || f[12] != 0x08 || f[13] != 0x06 || drop_budget == 0)
		return false;
	if (drop_budget > 0)
		drop_budget--;
	return true;
}

Test(arp, gratuitous_at_start_and_resolution)
{
	tnet_init(NULL, NULL);
	/* Each stack announced itself once; neither learnt the other from an announcement. */
	cr_assert_eq(tnet_stats(NA)->arp.tx_requests, 1);
	cr_assert_eq(tnet_stats(NB)->arp.rx_requests, 1);
	uint8_t mac[6];
	cr_assert_eq(arp_lookup(T.in[NB], IP_A, mac), -ENOENT);
	int a = tnet_udp(NA, 1000), b = tnet_udp(NB, 2000);
	tnet_sendto(a, IP_B, 2000, 10, 1);
	cr_assert_eq(tnet_pop_tag(b), 1);
	cr_assert_eq(arp_lookup(T.in[NA], IP_B, mac), 0);
	cr_assert_eq(memcmp(mac, MAC_B, 6), 0);
	/* RFC 826: the target of a request learns its sender. */
	cr_assert_eq(arp_lookup(T.in[NB], IP_A, mac), 0);
	cr_assert_eq(memcmp(mac, MAC_A, 6), 0);
	cr_assert_eq(tnet_stats(NB)->arp.tx_replies, 1);
	/* Resolved: the next datagram needs no request. */
	tnet_sendto(a, IP_B, 2000, 10, 2);
	cr_assert_eq(tnet_pop_tag(b), 2);
	cr_assert_eq(tnet_stats(NA)->arp.tx_requests, 2);
	cr_assert_eq(tnet_stats(NA)->arp.queued, 1);
	cr_assert_eq(tnet_stats(NA)->arp.flushed, 1);
}

/* Packets sent before the reply are parked and leave in order once it comes, after two lost replies. */
Test(arp, parked_packets_flushed_on_reply)
{
	tnet_init(NULL, NULL);
	drop_from = 1;
	drop_budget = 2;
	memwire_set_filter(T.w, drop_arp, NULL);
	int a = tnet_udp(NA, 1000), b = tnet_udp(NB, 2000);
	for (int i = 0; i < 5; i++)
		tnet_sendto(a, IP_B, 2000, 10, (uint8_t)i);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(tnet_pop_tag(b), i);
	cr_assert_eq(tnet_stats(NA)->arp.queued, 5);
	cr_assert_eq(tnet_stats(NA)->arp.flushed, 5);
	cr_assert_eq(tnet_stats(NA)->arp.tx_requests, 1 + 3); /* announcement, then three tries */
	cr_assert_eq(tnet_stats(NA)->arp.timeouts, 0);
}

static void three_tries_10ms(struct demi_config *c, int idx)
{
	(void)idx;
	c->arp_request_retries = 3;
	c->arp_request_timeout_ms = 10;
}

/* No reply ever: arp_request_retries requests, arp_request_timeout apart, then the parked packets go. */
Test(arp, timeout_drops_parked)
{
	tnet_init(NULL, three_tries_10ms);
	drop_from = 1;
	drop_budget = -1;
	memwire_set_filter(T.w, drop_arp, NULL);
	int a = tnet_udp(NA, 1000);
	tnet_udp(NB, 2000);
	for (int i = 0; i < 3; i++)
		tnet_sendto(a, IP_B, 2000, 100, (uint8_t)i);
	tnet_run(25 * NSEC_PER_MSEC);
	cr_assert_eq(tnet_stats(NA)->arp.timeouts, 0);
	tnet_run(10 * NSEC_PER_MSEC);
	struct demi_netstats_arp *st = &tnet_stats(NA)->arp;
	cr_assert_eq(st->timeouts, 1);
	cr_assert_eq(st->tx_requests, 1 + 3);
	cr_assert_eq(st->drop_queue_timeout, 3);
	cr_assert_eq(T.in[NA]->arp.pend_used, 0);
	uint8_t mac[6];
	cr_assert_eq(arp_lookup(T.in[NA], IP_B, mac), -ENOENT);
}

/* The parking queue is bounded per address. */
Test(arp, parked_queue_bounded)
{
	tnet_init(NULL, three_tries_10ms);
	int a = tnet_udp(NA, 1000);
	for (int i = 0; i < ARP_PENDING_PER_ENTRY + 6; i++)
		tnet_sendto(a, inet_addr("10.0.0.50"), 9, 10, 0);
	cr_assert_eq(tnet_stats(NA)->arp.queued, ARP_PENDING_PER_ENTRY);
	cr_assert_eq(tnet_stats(NA)->arp.drop_queue_full, 6);
	tnet_run(100 * NSEC_PER_MSEC);
	cr_assert_eq(tnet_stats(NA)->arp.drop_queue_timeout, ARP_PENDING_PER_ENTRY);
}

static void static_b(struct demi_config *c, int idx)
{
	if (idx != NA)
		return;
	c->arp_table[c->arp_table_len].ip.s_addr = inet_addr("10.0.0.2");
	memcpy(c->arp_table[c->arp_table_len].mac, MAC_B, 6);
	c->arp_table_len++;
}

Test(arp, static_entry_needs_no_request)
{
	tnet_init(NULL, static_b);
	int a = tnet_udp(NA, 1000), b = tnet_udp(NB, 2000);
	tnet_sendto(a, IP_B, 2000, 10, 7);
	cr_assert_eq(tnet_pop_tag(b), 7);
	cr_assert_eq(tnet_stats(NA)->arp.tx_requests, 1);
	cr_assert_eq(tnet_stats(NA)->arp.queued, 0);
}

static void ttl_1s(struct demi_config *c, int idx)
{
	(void)idx;
	c->arp_cache_ttl_s = 1;
}

Test(arp, entries_expire_after_ttl)
{
	tnet_init(NULL, ttl_1s);
	int a = tnet_udp(NA, 1000), b = tnet_udp(NB, 2000);
	tnet_sendto(a, IP_B, 2000, 10, 1);
	cr_assert_eq(tnet_pop_tag(b), 1);
	uint8_t mac[6];
	cr_assert_eq(arp_lookup(T.in[NA], IP_B, mac), 0);
	tnet_run(1100 * NSEC_PER_MSEC);
	cr_assert_eq(arp_lookup(T.in[NA], IP_B, mac), -ENOENT);
	tnet_sendto(a, IP_B, 2000, 10, 2);
	cr_assert_eq(tnet_pop_tag(b), 2);
	cr_assert_eq(tnet_stats(NA)->arp.tx_requests, 3);
}

static uint32_t mk_arp(uint8_t *f, const uint8_t *eth_dst, uint16_t oper, const uint8_t *sha, uint32_t spa,
		       const uint8_t *tha, uint32_t tpa)
{
	uint32_t n = mk_eth(f, eth_dst, sha, 0x0806);
	struct arp_pkt ap = { .htype = htons(1), .ptype = htons(0x0800), .hlen = 6, .plen = 4, .oper = htons(oper),
			      .spa = spa, .tpa = tpa };
	memcpy(ap.sha, sha, 6);
	memcpy(ap.tha, tha, 6);
	memcpy(f + n, &ap, sizeof(ap));
	return n + (uint32_t)sizeof(ap);
}

Test(arp, answers_requests_drops_unsolicited_replies)
{
	tnet_init(NULL, NULL);
	static const uint8_t zero[6], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t evil[6] = { 0x02, 0xee, 0xee, 0xee, 0xee, 0xee };
	uint8_t f[128], r[128];
	/* A request for A's address from the raw port: answered, to the asker. */
	uint32_t n = mk_arp(f, bcast, 1, MAC_RAW, IP_RAW, zero, IP_A);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	uint32_t got = raw_recv(r, sizeof(r));
	cr_assert_eq(got, 60, "reply of %u bytes (padded to 60)", got);
	const struct arp_pkt *ap = (const struct arp_pkt *)(r + 14);
	cr_assert_eq(memcmp(r, MAC_RAW, 6), 0);
	cr_assert_eq(ntohs(ap->oper), 2);
	cr_assert_eq(memcmp(ap->sha, MAC_A, 6), 0);
	cr_assert_eq(ap->spa, IP_A);
	cr_assert_eq(memcmp(ap->tha, MAC_RAW, 6), 0);
	cr_assert_eq(ap->tpa, IP_RAW);
	/* A request for someone else: no answer. */
	n = mk_arp(f, bcast, 1, MAC_RAW, IP_RAW, zero, inet_addr("10.0.0.77"));
	raw_inject(NA, f, n);
	/* Replies nobody asked for: dropped, not learnt (also one poisoning a static entry). */
	n = mk_arp(f, MAC_A, 2, evil, inet_addr("10.0.0.77"), MAC_A, IP_A);
	raw_inject(NA, f, n);
	n = mk_arp(f, MAC_A, 2, evil, IP_RAW, MAC_A, IP_A);
	raw_inject(NA, f, n);
	/* Someone claiming our address. */
	n = mk_arp(f, bcast, 2, evil, IP_A, zero, IP_A);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(raw_recv(r, sizeof(r)), 0);
	uint8_t mac[6];
	cr_assert_eq(arp_lookup(T.in[NA], inet_addr("10.0.0.77"), mac), -ENOENT);
	cr_assert_eq(arp_lookup(T.in[NA], IP_RAW, mac), 0);
	cr_assert_eq(memcmp(mac, MAC_RAW, 6), 0, "a static entry changed");
	cr_assert_eq(tnet_stats(NA)->arp.drop_unsolicited, 1);
	cr_assert_eq(tnet_stats(NA)->arp.drop_conflict, 1);
	cr_assert_eq(tnet_stats(NA)->arp.tx_replies, 1);
}
