/* The PDPIX echo server that echo_bench and idle_cpu run in their server process. */
#ifndef DEMI_BENCH_DEMI_SERVER_H
#define DEMI_BENCH_DEMI_SERVER_H

#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <netinet/in.h>

#include "bench.h"

/*
 * demi_init, then a TCP listener on 127.0.0.1 with a port the kernel picks.
 * Returns the listening qd and writes the port, in host order, to *port.
 */
static inline int demi_server_listen(int argc, char **argv, uint16_t *port)
{
	struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	int lqd;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK(demi_bind(lqd, (const struct sockaddr *)&addr, sizeof(addr)));
	CHECK(demi_listen(lqd, 64));
	socklen_t len = sizeof(addr);
	CHECK(demi_getsockname(lqd, (struct sockaddr *)&addr, &len));
	*port = ntohs(addr.sin_port);
	return lqd;
}

/*
 * Echoes every byte back on every accepted connection. Each connection keeps
 * one pop outstanding; a popped sga is pushed straight back (zero copy) and
 * the next pop is posted at once, without waiting for the push. Completions
 * of all operations are collected with demi_wait_next_n. Returns after
 * `conns` connections have closed (never when conns <= 0).
 */
static inline void demi_echo_serve(int lqd, int conns)
{
	demi_qtoken_t qt;
	demi_qresult_t qrs[64];
	int closed = 0;
	CHECK(demi_accept(&qt, lqd));
	for (;;) {
		int n;
		CHECK(demi_wait_next_n(qrs, 64, &n, NULL));
		for (int i = 0; i < n; i++) {
			demi_qresult_t *qr = &qrs[i];
			switch (qr->qr_opcode) {
			case DEMI_OPC_ACCEPT:
				CHECK(demi_accept(&qt, lqd));
				CHECK(demi_pop(&qt, qr->qr_value.ares.qd));
				break;
			case DEMI_OPC_POP:
				if (qr->qr_value.sga.sga_segs[0].sgaseg_len == 0) { /* the peer closed */
					demi_sgafree(&qr->qr_value.sga);
					demi_close(qr->qr_qd);
					if (conns > 0 && ++closed >= conns)
						return;
					break;
				}
				CHECK(demi_push(&qt, qr->qr_qd, &qr->qr_value.sga));
				CHECK(demi_sgafree(&qr->qr_value.sga)); /* the push holds its own reference */
				CHECK(demi_pop(&qt, qr->qr_qd));
				break;
			case DEMI_OPC_PUSH:
				break;
			case DEMI_OPC_FAILED:
				/* ECANCELED: an operation of a connection closed above. */
				if (qr->qr_ret != ECANCELED) {
					fprintf(stderr, "echo server: qd %d failed: %s\n", qr->qr_qd,
						strerror((int)qr->qr_ret));
					demi_close(qr->qr_qd);
					if (conns > 0 && ++closed >= conns)
						return;
				}
				break;
			default:
				break;
			}
		}
	}
}

#endif
