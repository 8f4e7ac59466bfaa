/* ICMP over memwire: echo replies, port and protocol unreachable, the rate limit. */
#include "inet_test.h"

#include <stdio.h>
#include <unistd.h>

#include "net/prot/icmp.h"
#include "runtime/log.h"

static void init(void) { tnet_init(NULL, NULL); }
static void fini(void) { tnet_fini(); }

TestSuite(icmp, .init = init, .fini = fini, .timeout = 20);

static uint32_t mk_echo(uint8_t *f, uint32_t dst_ip, const uint8_t *dst_mac, uint32_t dlen)
{
	uint8_t icmp[1500];
	icmp[0] = ICMP_ECHO;
	icmp[1] = 0;
	icmp[2] = icmp[3] = 0;
	icmp[4] = 0x12;
	icmp[5] = 0x34; /* id */
	icmp[6] = 0;
	icmp[7] = 9; /* seq */
	for (uint32_t i = 0; i < dlen; i++)
		icmp[8 + i] = (uint8_t)i;
	uint16_t sum = ref_cksum(icmp, 8 + dlen, 0);
	memcpy(icmp + 2, &sum, 2);
	uint32_t n = mk_eth(f, dst_mac, MAC_RAW, 0x0800);
	return n + mk_ipv4(f + n, IP_RAW, dst_ip, 1, 77, 0, icmp, 8 + dlen);
}

Test(icmp, echo_reply)
{
	uint8_t f[2048], r[2048];
	uint32_t n = mk_echo(f, IP_A, MAC_A, 56);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	uint32_t got = raw_recv(r, sizeof(r));
	cr_assert_eq(got, n);
	cr_assert_eq(memcmp(r, MAC_RAW, 6), 0);
	cr_assert_eq(ref_cksum(r + 14, 20, 0), 0);
	uint32_t src, dst;
	memcpy(&src, r + 26, 4);
	memcpy(&dst, r + 30, 4);
	cr_assert_eq(src, IP_A);
	cr_assert_eq(dst, IP_RAW);
	cr_assert_eq(r[34], ICMP_ECHO_REPLY);
	cr_assert_eq(ref_cksum(r + 34, got - 34, 0), 0, "incrementally updated checksum is wrong");
	cr_assert_eq(memcmp(r + 38, f + 38, got - 38), 0, "id, seq or data changed");
	cr_assert_eq(tnet_stats(NA)->icmp.tx_echo_replies, 1);
	/* To the broadcast address: not answered (RFC 1122 3.2.2.6). */
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	n = mk_echo(f, 0xffffffffu, bcast, 8);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(raw_recv(r, sizeof(r)), 0);
	cr_assert_eq(tnet_stats(NA)->icmp.drop_broadcast, 1);
	/* A bad checksum: dropped. */
	n = mk_echo(f, IP_A, MAC_A, 8);
	f[40] ^= 1;
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(raw_recv(r, sizeof(r)), 0);
	cr_assert_eq(tnet_stats(NA)->icmp.drop_checksum, 1);
}

/* A large echo request arrives in fragments; its reply leaves in fragments. */
Test(icmp, fragmented_echo)
{
	uint8_t icmp[3008];
	memset(icmp, 0x5a, sizeof(icmp));
	icmp[0] = ICMP_ECHO;
	icmp[1] = icmp[2] = icmp[3] = 0;
	uint16_t sum = ref_cksum(icmp, sizeof(icmp), 0);
	memcpy(icmp + 2, &sum, 2);
	uint8_t f[2048];
	for (uint32_t off = 0; off < sizeof(icmp); off += 1480) {
		uint32_t len = sizeof(icmp) - off < 1480 ? (uint32_t)sizeof(icmp) - off : 1480;
		uint32_t n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
		n += mk_ipv4(f + n, IP_RAW, IP_A, 1, 99, (uint16_t)((off + len < sizeof(icmp) ? 0x2000 : 0) | off / 8),
			     icmp + off, len);
		raw_inject(NA, f, n);
	}
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(tnet_stats(NA)->icmp.tx_echo_replies, 1);
	cr_assert_eq(tnet_stats(NA)->ipv4.frag_tx, 3);
	uint8_t r[2048];
	int frames = 0;
	while (raw_recv(r, sizeof(r)))
		frames++;
	cr_assert_eq(frames, 3);
}

Test(icmp, port_unreachable_and_rate_limit)
{
	uint8_t f[2048], r[2048];
	uint32_t n = mk_udp_frame(f, 4000, 9999, "hello", 5);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	uint32_t got = raw_recv(r, sizeof(r));
	cr_assert_geq(got, 14 + 20 + 8 + 20 + 8);
	cr_assert_eq(r[34], ICMP_UNREACH);
	cr_assert_eq(r[35], ICMP_UNREACH_PORT);
	cr_assert_eq(ref_cksum(r + 34, got - 34 < 8 + 33 ? got - 34 : 8 + 33, 0), 0);
	/* It quotes the datagram: header, UDP header and the data. */
	cr_assert_eq(memcmp(r + 42, f + 14, 33), 0);
	cr_assert_eq(tnet_stats(NA)->udp.drop_no_port, 1);
	/* A burst: ICMP_RATE_BURST answers, the rest rate-limited; later more. */
	for (int i = 0; i < 50; i++)
		raw_inject(NA, f, n);
	tnet_run(NSEC_PER_USEC * 10);
	int answers = 0;
	while (raw_recv(r, sizeof(r)))
		answers++;
	cr_assert_eq(answers, ICMP_RATE_BURST - 1);
	cr_assert_eq(tnet_stats(NA)->icmp.ratelimited, 50 - (ICMP_RATE_BURST - 1));
	tnet_run(NSEC_PER_SEC);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_gt(raw_recv(r, sizeof(r)), 0);
	/* Not for a broadcast datagram. */
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t udp[64];
	uint32_t ulen = mk_udp(udp, IP_RAW, 0xffffffffu, 1, 9999, "x", 1);
	n = mk_eth(f, bcast, MAC_RAW, 0x0800);
	n += mk_ipv4(f + n, IP_RAW, 0xffffffffu, 17, 1, 0, udp, ulen);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_eq(raw_recv(r, sizeof(r)), 0);
}

Test(icmp, protocol_unreachable)
{
	uint8_t f[256], r[256];
	uint32_t n = mk_eth(f, MAC_A, MAC_RAW, 0x0800);
	n += mk_ipv4(f + n, IP_RAW, IP_A, 99, 1, 0, "abcdefgh", 8);
	raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	cr_assert_gt(raw_recv(r, sizeof(r)), 0);
	cr_assert_eq(r[34], ICMP_UNREACH);
	cr_assert_eq(r[35], ICMP_UNREACH_PROTOCOL);
	cr_assert_eq(tnet_stats(NA)->ipv4.drop_protocol, 1);
}

/* DEMI_LOG=debug: the first drop of a class is logged, once per stack; later ones only count. */
Test(icmp, first_drop_of_a_class_logged_once)
{
	enum log_level saved = log_threshold;
	log_threshold = LOG_DEBUG;
	fflush(stderr);
	FILE *tmp = tmpfile();
	cr_assert_not_null(tmp);
	int err_fd = dup(2);
	dup2(fileno(tmp), 2);
	uint8_t f[2048];
	uint32_t n = mk_udp_frame(f, 4000, 9999, "hello", 5);
	for (int i = 0; i < 3; i++)
		raw_inject(NA, f, n);
	tnet_run(NSEC_PER_MSEC);
	fflush(stderr);
	dup2(err_fd, 2);
	close(err_fd);
	log_threshold = saved;
	cr_assert_eq(tnet_stats(NA)->udp.drop_no_port, 3);
	rewind(tmp);
	char line[512];
	int lines = 0;
	while (fgets(line, sizeof(line), tmp))
		lines += strstr(line, "debug: inet: first drop: udp no-port") != NULL;
	fclose(tmp);
	cr_assert_eq(lines, 1, "want one 'first drop: udp no-port' line, got %d", lines);
}
