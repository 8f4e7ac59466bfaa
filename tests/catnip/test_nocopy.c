/*
 * catnip's zero-copy check: buffers from demi_sgaalloc reach rte_eth_tx_burst
 * without a memcpy, received frames reach the application without one, and a
 * pushed TCP buffer freed at once (demi_sgafree) still goes out intact when
 * TCP retransmits it later. Run by run.sh in a namespace over net_tap against
 * Linux echo servers (LIBOS=catnip, LOCAL_IPV4_ADDR and EAL_INIT set):
 *   test_catnip_nocopy UDP_ECHO_ADDR:PORT TCP_ECHO_ADDR:PORT GO_FILE [retransmit]
 * After connecting, the TCP part waits for GO_FILE (run.sh creates it once
 * it drops TCP on the tap, so the first transmissions are lost), pushes
 * and frees, overwrites fresh buffers (a buffer recycled too early would
 * show), prints "pushed" (run.sh lets TCP through again), then checks every
 * echoed byte. Every push is at most one segment, so TCP sends each from its
 * own buffer (doc/tcp.md). With "retransmit", some segment must have been
 * sent again. Exit 0 when every byte came back and the counters
 * (demi_netstats) show no copy; 1 otherwise; 77 when DPDK cannot start here.
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/netstats.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TCP_PUSHES 24
#define UDP_TRIES 3

static int failures;

#define CHECK(call)                                                                                      \
	do {                                                                                             \
		int err_ = (call);                                                                       \
		if (err_) {                                                                              \
			fprintf(stderr, "test_catnip_nocopy: %s: %s\n", #call, strerror(err_));          \
			exit(1);                                                                         \
		}                                                                                        \
	} while (0)

#define EXPECT(cond, ...)                                                                                \
	do {                                                                                             \
		if (!(cond)) {                                                                           \
			fprintf(stderr, "test_catnip_nocopy: FAIL: " __VA_ARGS__);                       \
			fputc('\n', stderr);                                                             \
			failures++;                                                                      \
		}                                                                                        \
	} while (0)

static struct sockaddr_in parse(const char *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "test_catnip_nocopy: bad address %s\n", s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		exit(2);
	return a;
}

static uint8_t pattern(unsigned seed, size_t i)
{
	return (uint8_t)(i * 131u + seed * 17u + (i >> 8));
}

static demi_sgarray_t filled(size_t size, unsigned seed)
{
	demi_sgarray_t sga = demi_sgaalloc(size);
	if (!sga.sga_buf) {
		fprintf(stderr, "test_catnip_nocopy: demi_sgaalloc(%zu) failed\n", size);
		exit(1);
	}
	uint8_t *d = sga.sga_segs[0].sgaseg_buf;
	for (size_t i = 0; i < size; i++)
		d[i] = pattern(seed, i);
	return sga;
}

/* Waits for qt up to ms; false on timeout. */
static bool wait_for(demi_qtoken_t qt, long ms, demi_qresult_t *qr)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	int err = demi_wait(qr, qt, &ts);
	if (err == ETIMEDOUT)
		return false;
	CHECK(err);
	return true;
}

/* Datagrams of each size to the Linux echo server, from sgaalloc buffers; 1 B and 17 B make short frames. */
static void udp_part(struct sockaddr_in peer)
{
	static const size_t sizes[] = { 1, 17, 18, 64, 512, 1000, 1472 };
	int qd;
	CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	demi_qtoken_t pop;
	CHECK(demi_pop(&pop, qd));
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t size = sizes[k];
		bool ok = false;
		for (int t = 0; t < UDP_TRIES && !ok; t++) {
			demi_sgarray_t sga = filled(size, (unsigned)k);
			demi_qtoken_t qt;
			demi_qresult_t qr;
			CHECK(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&peer, sizeof(peer)));
			CHECK(demi_wait(&qr, qt, NULL));
			EXPECT(qr.qr_opcode == DEMI_OPC_PUSH, "UDP push of %zu B failed", size);
			CHECK(demi_sgafree(&sga));
			if (!wait_for(pop, 2000, &qr))
				continue; /* UDP: a lost datagram is retried */
			demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
			const uint8_t *d = seg->sgaseg_buf;
			ok = seg->sgaseg_len == size;
			for (size_t i = 0; ok && i < size; i++)
				ok = d[i] == pattern((unsigned)k, i);
			EXPECT(ok, "UDP echo of %zu B differs", size);
			CHECK(demi_sgafree(&qr.qr_value.sga));
			CHECK(demi_pop(&pop, qd));
			ok = true;
		}
		EXPECT(ok, "no UDP echo of %zu B after %d tries", size, UDP_TRIES);
	}
	printf("test_catnip_nocopy: UDP echoes of 1 to 1472 B intact\n");
	CHECK(demi_close(qd));
}

/* Polls the stack (through a pending pop that must not complete yet) until path exists. */
static void wait_file(const char *path, demi_qtoken_t pop)
{
	struct stat st;
	for (int i = 0; i < 1000 && stat(path, &st) != 0; i++) {
		demi_qresult_t qr;
		if (wait_for(pop, 10, &qr)) {
			fprintf(stderr, "test_catnip_nocopy: data before any push\n");
			exit(1);
		}
	}
}

static size_t tcp_size(int i)
{
	static const size_t sizes[] = { 64, 700, 1400, 5 };
	return sizes[i % 4];
}

/* Pushes freed at once and lost on the wire, then retransmitted: the bytes must still be the pushed ones. */
static void tcp_part(struct sockaddr_in peer, const char *go)
{
	int qd;
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_connect(&qt, qd, (const struct sockaddr *)&peer, sizeof(peer)));
	CHECK(demi_wait(&qr, qt, NULL));
	if (qr.qr_opcode != DEMI_OPC_CONNECT) {
		fprintf(stderr, "test_catnip_nocopy: connect: %s\n", strerror((int)qr.qr_ret));
		exit(1);
	}
	printf("connected\n");
	fflush(stdout);
	demi_qtoken_t pop;
	CHECK(demi_pop(&pop, qd));
	wait_file(go, pop);
	size_t total = 0;
	demi_qtoken_t pushes[TCP_PUSHES];
	for (int i = 0; i < TCP_PUSHES; i++) {
		demi_sgarray_t sga = filled(tcp_size(i), (unsigned)i);
		CHECK(demi_push(&pushes[i], qd, &sga));
		CHECK(demi_sgafree(&sga)); /* the stack and the device keep their own references */
		total += tcp_size(i);
	}
	/* Buffers recycled too early would be handed out here and overwritten before the retransmission. */
	demi_sgarray_t scratch[TCP_PUSHES];
	for (int i = 0; i < TCP_PUSHES; i++) {
		scratch[i] = demi_sgaalloc(tcp_size(i));
		memset(scratch[i].sga_segs[0].sgaseg_buf, 0xee, tcp_size(i));
	}
	printf("pushed\n");
	fflush(stdout);
	size_t got = 0;
	int seg_i = 0;
	size_t seg_off = 0;
	for (bool first = true; got < total; first = false) {
		if (!first)
			CHECK(demi_pop(&pop, qd));
		if (!wait_for(pop, 20000, &qr)) {
			EXPECT(0, "TCP echo: %zu of %zu bytes after 20 s", got, total);
			break;
		}
		if (qr.qr_opcode != DEMI_OPC_POP || qr.qr_value.sga.sga_segs[0].sgaseg_len == 0) {
			EXPECT(0, "TCP echo: connection ended after %zu of %zu bytes", got, total);
			break;
		}
		demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
		const uint8_t *d = seg->sgaseg_buf;
		for (uint32_t j = 0; j < seg->sgaseg_len; j++) {
			if (d[j] != pattern((unsigned)seg_i, seg_off)) {
				EXPECT(0, "TCP echo: byte %zu (push %d, offset %zu) differs", got + j, seg_i, seg_off);
				got = total;
				break;
			}
			if (++seg_off == tcp_size(seg_i)) {
				seg_i++;
				seg_off = 0;
			}
		}
		got += seg->sgaseg_len;
		CHECK(demi_sgafree(&qr.qr_value.sga));
	}
	for (int i = 0; i < TCP_PUSHES; i++) {
		CHECK(demi_wait(&qr, pushes[i], NULL));
		CHECK(demi_sgafree(&scratch[i]));
	}
	printf("test_catnip_nocopy: TCP echo of %d pushes (%zu B) intact\n", TCP_PUSHES, total);
	CHECK(demi_close(qd));
}

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "retransmit"))) {
		fprintf(stderr, "usage: test_catnip_nocopy UDP_ECHO_ADDR:PORT TCP_ECHO_ADDR:PORT GO_FILE [retransmit]\n");
		return 2;
	}
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	int err = demi_init(&args);
	if (err) {
		fprintf(stderr, "test_catnip_nocopy: demi_init: %s\n", strerror(err));
		return 77; /* run.sh reads the log to tell a DPDK that cannot start from a bug */
	}
	udp_part(parse(argv[1]));
	tcp_part(parse(argv[2]), argv[3]);
	struct demi_netstats st;
	CHECK(demi_netstats(&st));
	printf("test_catnip_nocopy: device: zero-copy tx %llu rx %llu frames, copied tx %llu rx %llu bytes; "
	       "stack copies: eth %llu udp %llu tcp %llu; tcp in place %llu, retransmits %llu\n",
		(unsigned long long)st.eth.dev_tx_zero_copy, (unsigned long long)st.eth.dev_rx_zero_copy,
		(unsigned long long)st.eth.dev_tx_copied_bytes, (unsigned long long)st.eth.dev_rx_copied_bytes,
		(unsigned long long)st.eth.tx_copies, (unsigned long long)st.udp.tx_copies,
		(unsigned long long)st.tcp.tx_copies, (unsigned long long)st.tcp.tx_in_place,
		(unsigned long long)st.tcp.retransmits);
	EXPECT(st.eth.dev_tx_copied_bytes == 0, "the device copied %llu bytes on transmit",
		(unsigned long long)st.eth.dev_tx_copied_bytes);
	EXPECT(st.eth.dev_rx_copied_bytes == 0, "the device copied %llu bytes on receive",
		(unsigned long long)st.eth.dev_rx_copied_bytes);
	/* A retransmission may repacket several small pushes into one segment, which TCP copies (doc/tcp.md). */
	EXPECT(st.udp.tx_copies == 0 && st.tcp.tx_copies <= st.tcp.retransmits && st.eth.tx_copies == 0,
		"the stack copied pushed payloads (udp %llu tcp %llu beyond %llu retransmits, eth %llu)",
		(unsigned long long)st.udp.tx_copies, (unsigned long long)st.tcp.tx_copies,
		(unsigned long long)st.tcp.retransmits, (unsigned long long)st.eth.tx_copies);
	EXPECT(st.udp.tx_in_place >= 7 && st.tcp.tx_in_place >= TCP_PUSHES, "pushes not sent in place");
	EXPECT(st.eth.dev_tx_zero_copy >= 7 + TCP_PUSHES, "fewer zero-copy frames than pushes");
	if (argc == 5)
		EXPECT(st.tcp.retransmits > 0, "nothing was retransmitted: TCP was not dropped long enough");
	if (failures)
		return 1;
	printf("test_catnip_nocopy: PASS\n");
	return 0;
}
