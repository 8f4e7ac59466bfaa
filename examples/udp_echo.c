/*
 * UDP echo over PDPIX, runnable on any libOS (LIBOS=...).
 *   udp_echo server ADDR:PORT             echo every datagram to its sender
 *   udp_echo client ADDR:PORT [N] [SIZE]  send N datagrams of SIZE bytes, check each echo,
 *                                         print latency percentiles
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>

#include "common.h"

static int server(const struct sockaddr_in *addr)
{
	int qd;
	CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	CHECK(demi_bind(qd, (const struct sockaddr *)addr, sizeof(*addr)));
	printf("udp_echo: listening on %s:%d\n", inet_ntoa(addr->sin_addr), ntohs(addr->sin_port));
	fflush(stdout);
	for (;;) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		CHECK(demi_pop(&qt, qd));
		CHECK(demi_wait(&qr, qt, NULL));
		if (qr.qr_opcode != DEMI_OPC_POP)
			continue;
		/* The popped buffer goes back out as it is: no copy. */
		struct sockaddr_in from = qr.qr_value.sga.sga_addr;
		CHECK(demi_pushto(&qt, qd, &qr.qr_value.sga, (const struct sockaddr *)&from, sizeof(from)));
		CHECK(demi_sgafree(&qr.qr_value.sga));
		CHECK(demi_wait(&qr, qt, NULL));
	}
}

static int client(const struct sockaddr_in *addr, long n, size_t size)
{
	int qd;
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	uint64_t *lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		return 1;
	long lost = 0;
	for (long i = 0; i < n; i++) {
		demi_sgarray_t sga = demi_sgaalloc(size);
		if (!sga.sga_buf)
			return 1;
		unsigned char *p = sga.sga_segs[0].sgaseg_buf;
		for (size_t j = 0; j < size; j++)
			p[j] = (unsigned char)(i + j);
		uint64_t t0 = now_ns();
		CHECK(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)addr, sizeof(*addr)));
		CHECK(demi_wait(&qr, qt, NULL));
		CHECK(demi_pop(&qt, qd));
		/* UDP may lose a datagram: give up on this one after a second. */
		struct timespec limit = { .tv_sec = 1 };
		int err = demi_wait(&qr, qt, &limit);
		if (err == ETIMEDOUT) {
			lost++;
			CHECK(demi_close(qd)); /* cancels the pending pop */
			CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
			CHECK(demi_sgafree(&sga));
			continue;
		}
		CHECK(err);
		lat[i - lost] = now_ns() - t0;
		demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
		if (qr.qr_opcode != DEMI_OPC_POP || seg->sgaseg_len != size ||
		    memcmp(seg->sgaseg_buf, sga.sga_segs[0].sgaseg_buf, size) != 0) {
			fprintf(stderr, "udp_echo: datagram %ld: echo differs\n", i);
			return 1;
		}
		CHECK(demi_sgafree(&qr.qr_value.sga));
		CHECK(demi_sgafree(&sga));
	}
	CHECK(demi_close(qd));
	if (lost)
		printf("udp_echo: %ld of %ld datagrams lost\n", lost, n);
	if (n > lost)
		print_latency("udp_echo", lat, (size_t)(n - lost), size);
	free(lat);
	return lost == n;
}

int main(int argc, char **argv)
{
	/* The largest UDP payload over IPv4. */
	return example_main(argc, argv, "udp_echo", 65507, server, client);
}
