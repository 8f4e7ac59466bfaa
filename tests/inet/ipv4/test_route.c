/*
 * Routes and martians over memwire: a local prefix and a default gateway (the
 * raw port, 10.0.0.9), off-subnet destinations sent to the gateway's MAC with
 * no ARP, ENETUNREACH without a gateway, martian sources and LAND segments
 * dropped with their counters.
 */
#include "inet_test.h"

#include "inetstack/inet_tx.h"
#include "tcp/tcp_raw.h"

static void fini(void) { tnet_fini(); }

TestSuite(route, .fini = fini, .timeout = 20);

static void drain(void)
{
	static uint8_t f[2048];
	while (raw_recv(f, sizeof(f)))
		;
}

/* A's subnet is 10.0.0.0/24; with_gw: the raw port is its gateway. */
static void prefix24_gw(struct demi_config *c, int idx)
{
	if (idx != NA)
		return;
	c->ipv4_prefix_len = 24;
	c->has_default_gateway = true;
	c->default_gateway.s_addr = inet_addr("10.0.0.9");
}

static void prefix24(struct demi_config *c, int idx)
{
	if (idx == NA)
		c->ipv4_prefix_len = 24;
}

static void push_to(int qd, uint32_t ip, uint16_t port)
{
	demi_sgarray_t sga = tnet_sga(10, 1);
	struct sockaddr_in to = tnet_addr(ip, port);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&to, sizeof(to)), 0);
	cr_assert_eq(tnet_wait(qt, NSEC_PER_SEC).qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(demi_sgafree(&sga), 0);
}

/* Off the subnet: to the gateway's MAC, the destination address kept, no ARP request. On it: ARP as before. */
Test(route, off_subnet_through_gateway)
{
	tnet_init(NULL, prefix24_gw);
	struct demi_netstats *st = tnet_stats(NA);
	uint64_t req = st->arp.tx_requests;
	int a = tnet_udp(NA, 1000);
	push_to(a, inet_addr("192.168.5.5"), 9);
	tnet_run(NSEC_PER_MSEC);
	uint8_t f[2048];
	uint32_t n = raw_recv(f, sizeof(f));
	cr_assert_geq(n, 14 + 20 + 8);
	cr_assert_eq(memcmp(f, MAC_RAW, 6), 0, "not sent to the gateway's MAC");
	uint32_t dst;
	memcpy(&dst, f + 14 + 16, 4);
	cr_assert_eq(dst, inet_addr("192.168.5.5"));
	cr_assert_eq(st->neigh.tx_via_gateway, 1);
	cr_assert_eq(st->arp.tx_requests, req, "ARP asked for an off-link address");
	/* On the subnet: resolved by ARP, delivered. */
	int b = tnet_udp(NB, 2000);
	push_to(a, IP_B, 2000);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, b), 0);
	demi_qresult_t qr = tnet_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	demi_sgafree(&qr.qr_value.sga);
	cr_assert_eq(st->arp.tx_requests, req + 1);
	cr_assert_eq(st->neigh.tx_via_gateway, 1);
	/* A SYN from a spoofed off-subnet source: the SYN-ACK goes to the gateway, no ARP. */
	int lqd = tnet_tcp(NA);
	struct sockaddr_in la = tnet_addr(IP_A, 80);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&la, sizeof(la)), 0);
	cr_assert_eq(demi_listen(lqd, 8), 0);
	drain();
	uint8_t seg[64];
	uint32_t src = inet_addr("172.16.1.1");
	n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	uint32_t tl = mk_tcp(seg, src, IP_A, 4000, 80, 1000, 0, TH_SYN, 65535, NULL, NULL, 0);
	n += mk_ipv4(f + n, src, IP_A, 6, 1, 0, seg, tl);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	n = raw_recv(f, sizeof(f));
	cr_assert_geq(n, 14 + 20 + 20);
	cr_assert_eq(memcmp(f, MAC_RAW, 6), 0);
	cr_assert_eq(f[14 + 20 + 13], TH_SYN | TH_ACK);
	cr_assert_eq(st->arp.tx_requests, req + 1);
	cr_assert_eq(st->neigh.tx_via_gateway, 2);
	demi_close(lqd);
	tnet_run(NSEC_PER_MSEC);
	drain();
}

/* A prefix and no gateway: connect fails with ENETUNREACH (TCP and UDP), a datagram is dropped and counted. */
Test(route, no_gateway_unreachable)
{
	tnet_init(NULL, prefix24);
	struct demi_netstats *st = tnet_stats(NA);
	int a = tnet_udp(NA, 1000);
	push_to(a, inet_addr("192.168.5.5"), 9);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(st->neigh.drop_no_route, 1);
	cr_assert_eq(st->udp.tx_datagrams, 1);
	struct sockaddr_in off = tnet_addr(inet_addr("192.168.5.5"), 80);
	demi_qtoken_t qt;
	int t = tnet_tcp(NA);
	cr_assert_eq(demi_connect(&qt, t, (const struct sockaddr *)&off, sizeof(off)), ENETUNREACH);
	int u = tnet_udp(NA, 0);
	cr_assert_eq(demi_connect(&qt, u, (const struct sockaddr *)&off, sizeof(off)), ENETUNREACH);
	/* The subnet itself still works, and so does our own address. */
	struct tconn c = tnet_tcp_pair(90);
	(void)c;
	cr_assert_eq(st->neigh.drop_no_route, 1);
}

/* A gateway needs a prefix and must be inside it. */
Test(route, config_checked)
{
	struct demi_config c;
	config_defaults(&c);
	c.has_local_ipv4_addr = true;
	c.local_ipv4_addr.s_addr = inet_addr("10.0.0.1");
	cr_assert_eq(inet_config_check(&c, "test"), 0);
	c.has_default_gateway = true;
	c.default_gateway.s_addr = inet_addr("10.0.0.254");
	cr_assert_eq(inet_config_check(&c, "test"), -EINVAL, "a gateway without a prefix");
	c.ipv4_prefix_len = 24;
	cr_assert_eq(inet_config_check(&c, "test"), 0);
	c.default_gateway.s_addr = inet_addr("10.0.1.254");
	cr_assert_eq(inet_config_check(&c, "test"), -EINVAL, "a gateway outside the subnet");
	c.default_gateway.s_addr = inet_addr("10.0.0.1");
	cr_assert_eq(inet_config_check(&c, "test"), -EINVAL, "our own address as the gateway");
	tnet_init(NULL, NULL); /* for the suite's fini */
}

/* Martian sources from the wire: each class dropped and counted, nothing delivered. */
Test(route, martians_dropped)
{
	tnet_init(NULL, prefix24);
	int a = tnet_udp(NA, 7000);
	struct {
		const char *src;
		size_t off;
	} cases[] = {
		{ "10.0.0.1", offsetof(struct demi_netstats_neigh, drop_martian_own) },
		{ "0.0.0.0", offsetof(struct demi_netstats_neigh, drop_martian_zero) },
		{ "127.0.0.1", offsetof(struct demi_netstats_neigh, drop_martian_loopback) },
		{ "224.0.0.1", offsetof(struct demi_netstats_neigh, drop_martian_mcast) },
		{ "240.1.2.3", offsetof(struct demi_netstats_neigh, drop_martian_mcast) },
		{ "255.255.255.255", offsetof(struct demi_netstats_neigh, drop_martian_bcast) },
		{ "10.0.0.255", offsetof(struct demi_netstats_neigh, drop_martian_bcast) },
	};
	struct demi_netstats *st = tnet_stats(NA);
	uint8_t f[256], u[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t src = inet_addr(cases[i].src);
		uint64_t before = *(uint64_t *)((uint8_t *)&st->neigh + cases[i].off);
		uint32_t ul = mk_udp(u, src, IP_A, 4000, 7000, "martian", 7);
		uint32_t n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
		n += mk_ipv4(f + n, src, IP_A, 17, 1, 0, u, ul);
		raw_inject(NA, f, n);
		tnet_run(NSEC_PER_MSEC);
		cr_assert_eq(*(uint64_t *)((uint8_t *)&st->neigh + cases[i].off), before + 1, "source %s not dropped",
			     cases[i].src);
	}
	cr_assert_eq(st->ipv4.drop_bad_src, sizeof(cases) / sizeof(cases[0]));
	cr_assert_eq(st->udp.rx_datagrams, 0);
	/* An ordinary source still arrives. */
	uint32_t ul = mk_udp(u, IP_RAW, IP_A, 4000, 7000, "fine", 4);
	uint32_t n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	n += mk_ipv4(f + n, IP_RAW, IP_A, 17, 1, 0, u, ul);
	raw_inject(NA, f, n);
	demi_qtoken_t qt;
	cr_assert_eq(demi_pop(&qt, a), 0);
	demi_qresult_t qr = tnet_wait(qt, NSEC_PER_SEC);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	demi_sgafree(&qr.qr_value.sga);
}

/*
 * LAND: a SYN to a listener from its own address and port. From the wire it
 * is a martian; handed in as looped back (trusted) it reaches TCP, which
 * drops it: no SYN-ACK, no storm.
 */
Test(route, land_dropped)
{
	tnet_init(NULL, NULL);
	int lqd = tnet_tcp(NA);
	struct sockaddr_in la = tnet_addr(IP_A, 80);
	cr_assert_eq(demi_bind(lqd, (const struct sockaddr *)&la, sizeof(la)), 0);
	cr_assert_eq(demi_listen(lqd, 8), 0);
	struct demi_netstats *st = tnet_stats(NA);
	uint8_t f[256], seg[64];
	uint32_t tl = mk_tcp(seg, IP_A, IP_A, 80, 80, 1000, 0, TH_SYN, 65535, NULL, NULL, 0);
	uint32_t n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	n += mk_ipv4(f + n, IP_A, IP_A, 6, 1, 0, seg, tl);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(st->neigh.drop_martian_own, 1);
	uint64_t rx0 = st->ipv4.rx_packets, tx0 = st->tcp.tx_segments;
	/* The same segment as the loopback would hand it in. */
	struct pkt p;
	cr_assert_eq(inet_pkt_alloc(T.in[NA], n - 14, &p), 0);
	memcpy(p.data, f + 14, n - 14);
	ipv4_input(T.in[NA], &p, true);
	tnet_run(100 * NSEC_PER_MSEC);
	cr_assert_eq(st->neigh.drop_land, 1);
	cr_assert_eq(st->tcp.tx_segments, tx0, "a LAND SYN was answered");
	cr_assert_leq(st->ipv4.rx_packets - rx0, 1, "%llu packets after one LAND SYN",
		      (unsigned long long)(st->ipv4.rx_packets - rx0));
	drain();
}
