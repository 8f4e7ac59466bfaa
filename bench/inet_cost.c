/*
 * The inetstack's cost per UDP datagram, over memwire between two stacks in
 * this thread: N datagrams of --size bytes from stack A to stack B, each
 * pushed (demi_pushto), received (inet_poll on B) and popped (demi_pop).
 * Prints wall-clock ns per datagram, and how many times the two functions
 * that bench/inet_cost_run measures under callgrind were called:
 *   eth_input   the receive path of one frame: Ethernet, IPv4 checks, UDP
 *               checksum and demultiplexing, the socket's queue
 *   udp_output  the send path of one datagram: UDP header and checksum,
 *               IPv4 header and checksum, ARP lookup, Ethernet header, the
 *               transmit queue
 * Device costs (memwire copies frames) and the API layer are outside both.
 *   inet_cost [-n N] [-s size]     (default 100000 datagrams of 64 bytes)
 */
#include <demi/libos.h>
#include <demi/sga.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inetstack/inet.h"
#include "inetstack/inet_priv.h"
#include "net/memwire.h"
#include "runtime/rt.h"

static struct rt *rt;

#define OK(call)                                                                                                       \
	do {                                                                                                           \
		int e_ = (call);                                                                                       \
		if (e_) {                                                                                              \
			fprintf(stderr, "%s:%d: %s: %d\n", __FILE__, __LINE__, #call, e_);                             \
			exit(1);                                                                                       \
		}                                                                                                      \
	} while (0)

/* The result of an op that completed inline (pushes, and pops that found a datagram). */
static demi_qresult_t collect(demi_qtoken_t qt)
{
	struct op *op = op_lookup(&rt->ops, qt);
	if (!op || op->state != OP_DONE) {
		fprintf(stderr, "operation not complete\n");
		exit(1);
	}
	demi_qresult_t qr;
	op_collect(&rt->ops, op, &qr);
	return qr;
}

static int open_udp(struct inet *in, uint32_t ip, uint16_t port)
{
	struct queue *q;
	const struct queue_ops *ops;
	OK(inet_socket(in, SOCK_DGRAM, &q, &ops));
	OK(qd_install(&rt->qds, q, ops));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = ip };
	OK(demi_bind(q->qd, (const struct sockaddr *)&a, sizeof(a)));
	return q->qd;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = 100000;
	uint32_t size = 64;
	int c;
	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		if (c == 'n')
			n = atol(optarg);
		else if (c == 's')
			size = (uint32_t)atol(optarg);
		else
			return fprintf(stderr, "usage: inet_cost [-n N] [-s size]\n"), 2;
	}
	struct demi_config cfg;
	config_defaults(&cfg);
	OK(rt_create(&cfg, &rt));
	struct memwire *w = memwire_create(&rt->pool, NULL);
	const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 1 }, mac_b[6] = { 2, 0, 0, 0, 0, 2 };
	struct netdev *da = memwire_attach(w, mac_a, 1500, 0), *db = memwire_attach(w, mac_b, 1500, 0);
	struct inet *a, *b;
	uint32_t ip_a = inet_addr("10.0.0.1"), ip_b = inet_addr("10.0.0.2");
	struct demi_config ca = cfg, cb = cfg;
	ca.has_local_ipv4_addr = cb.has_local_ipv4_addr = true;
	ca.local_ipv4_addr.s_addr = ip_a;
	cb.local_ipv4_addr.s_addr = ip_b;
	OK(inet_create(rt, da, &ca, &a));
	OK(inet_create(rt, db, &cb, &b));
	int qa = open_udp(a, ip_a, 5000), qb = open_udp(b, ip_b, 5001);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(5001), .sin_addr.s_addr = ip_b };
	demi_sgarray_t sga = demi_sgaalloc(size);
	if (!sga.sga_buf)
		return fprintf(stderr, "sgaalloc\n"), 1;
	memset(sga.sga_segs[0].sgaseg_buf, 0x5a, size);
	demi_qtoken_t qt;

	/* Warm-up: the first datagram resolves B's address; a few more warm the caches. */
	OK(demi_pushto(&qt, qa, &sga, (const struct sockaddr *)&to, sizeof(to)));
	collect(qt);
	for (int i = 0; i < 100 && b->st.udp.rx_datagrams == 0; i++) {
		inet_poll(b);
		inet_poll(a);
	}
	OK(demi_pop(&qt, qb));
	demi_qresult_t qr = collect(qt);
	demi_sgafree(&qr.qr_value.sga);
	uint64_t rx0 = a->st.eth.rx_frames + b->st.eth.rx_frames, tx0 = a->st.udp.tx_datagrams;

	uint64_t t0 = now_ns();
	for (long i = 0; i < n; i++) {
		OK(demi_pushto(&qt, qa, &sga, (const struct sockaddr *)&to, sizeof(to)));
		collect(qt);
		inet_poll(b);
		OK(demi_pop(&qt, qb));
		qr = collect(qt);
		if (qr.qr_opcode != DEMI_OPC_POP || qr.qr_value.sga.sga_segs[0].sgaseg_len != size)
			return fprintf(stderr, "datagram %ld lost\n", i), 1;
		demi_sgafree(&qr.qr_value.sga);
	}
	uint64_t t1 = now_ns();

	uint64_t rx = a->st.eth.rx_frames + b->st.eth.rx_frames, tx = a->st.udp.tx_datagrams;
	printf("%ld datagrams of %u bytes: %.1f ns each (push, receive, pop; memwire copies included)\n", n, size,
	       (double)(t1 - t0) / (double)n);
	printf("eth_input calls: %llu (%llu measured, %llu warm-up)\n", (unsigned long long)rx,
	       (unsigned long long)(rx - rx0), (unsigned long long)rx0);
	printf("udp_output calls: %llu (%llu measured, %llu warm-up)\n", (unsigned long long)tx,
	       (unsigned long long)(tx - tx0), (unsigned long long)tx0);
	printf("copies on send: %llu, in place: %llu\n", (unsigned long long)a->st.udp.tx_copies,
	       (unsigned long long)a->st.udp.tx_in_place);
	printf("RESULT kind=inet_cost size=%u n=%ld ns=%.3f\n", size, n, (double)(t1 - t0) / (double)n);
	demi_sgafree(&sga);
	inet_destroy(a);
	inet_destroy(b);
	memwire_destroy(w);
	rt_destroy(rt);
	return 0;
}
