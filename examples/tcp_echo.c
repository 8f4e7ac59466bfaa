/*
 * TCP echo over PDPIX, runnable on any libOS (LIBOS=...).
 *   tcp_echo server ADDR:PORT            echo every byte back, many clients at once
 *   tcp_echo client ADDR:PORT [N] [SIZE]  send N messages of SIZE bytes, check each
 *                                         echo byte by byte, print latency percentiles
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

#define MAX_QTS 4096

static int server(const struct sockaddr_in *addr)
{
	int lqd;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	int one = 1;
	CHECK(demi_setsockopt(lqd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	CHECK(demi_bind(lqd, (const struct sockaddr *)addr, sizeof(*addr)));
	CHECK(demi_listen(lqd, 1024));
	printf("tcp_echo: listening on %s:%d\n", inet_ntoa(addr->sin_addr), ntohs(addr->sin_port));
	fflush(stdout);

	/* One token per connection (its pending pop or push) plus the accept. */
	static demi_qtoken_t qts[MAX_QTS];
	int nqts = 0;
	CHECK(demi_accept(&qts[nqts++], lqd));
	for (;;) {
		demi_qresult_t qr;
		int i;
		CHECK(demi_wait_any(&qr, &i, qts, nqts, NULL));
		qts[i] = qts[--nqts]; /* the completed token is spent */
		switch (qr.qr_opcode) {
		case DEMI_OPC_ACCEPT:
			CHECK(demi_accept(&qts[nqts++], lqd));
			if (nqts < MAX_QTS)
				CHECK(demi_pop(&qts[nqts++], qr.qr_value.ares.qd));
			else
				demi_close(qr.qr_value.ares.qd); /* over capacity: refuse politely */
			break;
		case DEMI_OPC_POP:
			if (qr.qr_value.sga.sga_segs[0].sgaseg_len == 0) { /* the peer closed */
				demi_sgafree(&qr.qr_value.sga);
				demi_close(qr.qr_qd);
				break;
			}
			/* Zero copy: the popped buffer goes straight back out. */
			CHECK(demi_push(&qts[nqts++], qr.qr_qd, &qr.qr_value.sga));
			CHECK(demi_sgafree(&qr.qr_value.sga));
			break;
		case DEMI_OPC_PUSH:
			CHECK(demi_pop(&qts[nqts++], qr.qr_qd));
			break;
		case DEMI_OPC_FAILED:
			/* A reset connection ends; the server goes on. */
			if (qr.qr_ret != ECANCELED)
				demi_close(qr.qr_qd);
			break;
		default:
			break;
		}
	}
	return 0;
}

static int client(const struct sockaddr_in *addr, long n, size_t size)
{
	int qd;
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_connect(&qt, qd, (const struct sockaddr *)addr, sizeof(*addr)));
	CHECK(demi_wait(&qr, qt, NULL));
	if (qr.qr_opcode != DEMI_OPC_CONNECT) {
		fprintf(stderr, "tcp_echo: connect failed: %s\n", strerror((int)qr.qr_ret));
		return 1;
	}
	uint64_t *lat = calloc((size_t)n, sizeof(*lat));
	unsigned char *expect = malloc(size);
	if (!lat || !expect)
		return 1;
	for (long i = 0; i < n; i++) {
		demi_sgarray_t sga = demi_sgaalloc(size);
		if (!sga.sga_buf) {
			fprintf(stderr, "tcp_echo: out of buffers\n");
			return 1;
		}
		for (size_t j = 0; j < size; j++)
			expect[j] = (unsigned char)(i * 31 + j);
		memcpy(sga.sga_segs[0].sgaseg_buf, expect, size);
		uint64_t t0 = now_ns();
		CHECK(demi_push(&qt, qd, &sga));
		CHECK(demi_sgafree(&sga)); /* the stack keeps its own reference until the push completes */
		CHECK(demi_wait(&qr, qt, NULL));
		if (qr.qr_opcode != DEMI_OPC_PUSH) {
			fprintf(stderr, "tcp_echo: push failed: %s\n", strerror((int)qr.qr_ret));
			return 1;
		}
		/* A stream may echo a message back in several pieces. */
		for (size_t got = 0; got < size;) {
			CHECK(demi_pop(&qt, qd));
			CHECK(demi_wait(&qr, qt, NULL));
			if (qr.qr_opcode != DEMI_OPC_POP || qr.qr_value.sga.sga_segs[0].sgaseg_len == 0) {
				fprintf(stderr, "tcp_echo: connection lost after %ld messages\n", i);
				return 1;
			}
			demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
			if (got + seg->sgaseg_len > size || memcmp(seg->sgaseg_buf, expect + got, seg->sgaseg_len) != 0) {
				fprintf(stderr, "tcp_echo: message %ld: echoed bytes differ\n", i);
				return 1;
			}
			got += seg->sgaseg_len;
			CHECK(demi_sgafree(&qr.qr_value.sga));
		}
		lat[i] = now_ns() - t0;
	}
	CHECK(demi_close(qd));
	print_latency("tcp_echo", lat, (size_t)n, size);
	free(lat);
	free(expect);
	return 0;
}

int main(int argc, char **argv)
{
	/* The largest sga demi_sgaalloc hands out. */
	return example_main(argc, argv, "tcp_echo", 16u << 20, server, client);
}
