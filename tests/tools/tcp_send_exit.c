/*
 * tcp_send_exit: connects to IP:PORT, pushes BYTES of a pattern (byte i is (i * 7 + i / 251) & 0xff),
 * waits for every push, closes and returns from main: no demi_fini, no thread exit. What the peer
 * still lacks then must be sent by the teardown that exit() runs (rt.c's exit hook), FIN included
 * (tests/catpowder/tcp_cases.sh, case tcp-exit-drain). Only the public API.
 *   tcp_send_exit IP PORT BYTES
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64u * 1024u)

static int die(const char *what, int err)
{
	fprintf(stderr, "tcp_send_exit: %s: %s\n", what, strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: tcp_send_exit IP PORT BYTES\n");
		return 2;
	}
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1)
		return 2;
	unsigned long long total = strtoull(argv[3], NULL, 0), sent = 0;
	struct demi_args args = { .argc = argc, .argv = argv };
	int err, qd;
	if ((err = demi_init(&args)) != 0)
		return die("demi_init", err);
	if ((err = demi_socket(&qd, AF_INET, SOCK_STREAM, 0)) != 0)
		return die("demi_socket", err);
	demi_qtoken_t qt;
	demi_qresult_t qr;
	if ((err = demi_connect(&qt, qd, (const struct sockaddr *)&addr, sizeof(addr))) != 0)
		return die("demi_connect", err);
	if ((err = demi_wait(&qr, qt, NULL)) != 0 || qr.qr_opcode != DEMI_OPC_CONNECT)
		return die("connect", err ? err : (int)qr.qr_ret);
	while (sent < total) {
		uint32_t n = total - sent < CHUNK ? (uint32_t)(total - sent) : CHUNK;
		demi_sgarray_t sga = demi_sgaalloc(n);
		if (!sga.sga_buf)
			return die("demi_sgaalloc", 12);
		unsigned char *p = sga.sga_segs[0].sgaseg_buf;
		for (uint32_t i = 0; i < n; i++) {
			unsigned long long k = sent + i;
			p[i] = (unsigned char)((k * 7 + k / 251) & 0xff);
		}
		if ((err = demi_push(&qt, qd, &sga)) != 0)
			return die("demi_push", err);
		if ((err = demi_wait(&qr, qt, NULL)) != 0 || qr.qr_opcode != DEMI_OPC_PUSH)
			return die("push", err ? err : (int)qr.qr_ret);
		demi_sgafree(&sga);
		sent += n;
	}
	if ((err = demi_close(qd)) != 0)
		return die("demi_close", err);
	printf("tcp_send_exit: pushed %llu bytes, closed; returning from main\n", sent);
	return 0;
}
