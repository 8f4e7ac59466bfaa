/*
 * Demi TCP's cost over memwire between two stacks in this thread, driven
 * through PDPIX as an application drives it (demi_push, demi_pop and the
 * waits on qtokens), the stacks polled by a fast-path coroutine as a device
 * libOS's poller does. bench/tcp_cost_run runs it under callgrind.
 *
 *   tcp_cost echo [-n N] [-s size] [-o]
 *     N round trips of `size` bytes (default 100000 of 64): the client
 *     (stack A) pushes, the server (stack B) pops and pushes the popped sga
 *     back, the client pops. Real clock. All of it is in echo_loop(), which
 *     callgrind collects alone: both stacks, PDPIX, the scheduler, memwire.
 *   tcp_cost bulk [-m MiB] [-c chunk] [-w pushes] [-d delay_ns] [-o]
 *     MiB (default 64) one way from A to B in pushes of `chunk` bytes
 *     (default 65536), at most `pushes` in flight (default 16), the server
 *     popping, completions collected with demi_wait_next_n; under the
 *     virtual clock with a one-way wire delay of delay_ns (default 10000),
 *     so that the simulated time is the protocol's own (windows, slow start,
 *     timers) and costs no CPU. All in bulk_loop(). The pushed buffers are
 *     allocated for each push but not written.
 *   -o (both): the wire's ports offload checksums, as a NIC that computes
 *     and checks them would (memwire does neither, so none is computed).
 * Both print wall-clock figures, segment counts, and the counts that the
 * run script divides callgrind's instruction count by.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inetstack/inet.h"
#include "inetstack/inet_priv.h"
#include "net/memwire.h"
#include "runtime/clock.h"
#include "runtime/rt.h"
#include "runtime/sched.h"

/* Measured loops stay out-of-line functions, so callgrind can toggle on them (clang has no noipa). */
#if defined(__clang__)
#define BENCH_NOIPA __attribute__((noinline))
#else
#define BENCH_NOIPA __attribute__((noipa))
#endif

#define OK(call)                                                                                                       \
	do {                                                                                                           \
		int e_ = (call);                                                                                       \
		if (e_) {                                                                                              \
			fprintf(stderr, "%s:%d: %s: %d\n", __FILE__, __LINE__, #call, e_);                             \
			exit(1);                                                                                       \
		}                                                                                                      \
	} while (0)

static struct rt *rt;
static struct memwire *w;
static struct inet *st[2];
static bool virt;
static uint32_t caps; /* -o: the wire's ports offload checksums, as a NIC would (memwire then checks none) */

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The fast path: both stacks polled every scheduler round (tests/inet/inet_harness.c does the same). */
static void poller(void *arg)
{
	(void)arg;
	do {
		inet_poll(st[0]);
		inet_poll(st[1]);
	} while (sched_defer(&rt->sched) == 0);
}

/* With the virtual clock, when a round ended with nothing done: time jumps to the next timer or frame arrival. */
static void idle(void)
{
	uint64_t now = clock_now(), next = timer_next(&rt->timers), arr = memwire_next_arrival(w);
	if (arr < next)
		next = arr;
	if (next == UINT64_MAX && memwire_in_flight(w) == 0) {
		fprintf(stderr, "stalled: nothing in flight, no timer armed\n");
		exit(1);
	}
	if (next > now)
		clock_advance(next - now);
}

/* demi_wait; with the virtual clock, zero-timeout waits (one scheduler round each) and idle(). */
static demi_qresult_t wait1(demi_qtoken_t qt)
{
	demi_qresult_t qr;
	struct timespec zero = { 0, 0 };
	int err;
	while ((err = demi_wait(&qr, qt, virt ? &zero : NULL)) == ETIMEDOUT)
		idle();
	OK(err);
	if (qr.qr_opcode == DEMI_OPC_FAILED) {
		fprintf(stderr, "operation failed: %d\n", (int)qr.qr_ret);
		exit(1);
	}
	return qr;
}

/* demi_wait_next_n, the same way: at least one completion of any operation of this thread. */
static int wait_next(demi_qresult_t *qrs, int n)
{
	struct timespec zero = { 0, 0 };
	int got = 0, err;
	while ((err = demi_wait_next_n(qrs, n, &got, virt ? &zero : NULL)) == ETIMEDOUT)
		idle();
	OK(err);
	for (int i = 0; i < got; i++)
		if (qrs[i].qr_opcode == DEMI_OPC_FAILED) {
			fprintf(stderr, "operation failed: %d\n", (int)qrs[i].qr_ret);
			exit(1);
		}
	return got;
}

static int tcp_qd(struct inet *in)
{
	struct queue *q;
	const struct queue_ops *ops;
	OK(inet_socket(in, SOCK_STREAM, &q, &ops));
	OK(qd_install(&rt->qds, q, ops));
	return q->qd;
}

/* Runtime, wire, stacks A (10.0.0.1) and B (10.0.0.2) knowing each other's MAC, a connection A -> B:7. */
static void setup(uint64_t delay_ns, int *cqd, int *sqd)
{
	if (virt)
		clock_use_virtual(NSEC_PER_SEC);
	struct demi_config cfg;
	config_defaults(&cfg);
	cfg.tcp_checksum_offload = cfg.udp_checksum_offload = caps != 0; /* the stack uses TX offload only if told */
	OK(rt_create(&cfg, &rt));
	struct memwire_opts wo = { .delay_ns = delay_ns };
	w = memwire_create(&rt->pool, &wo);
	const uint8_t mac[2][6] = { { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 } };
	uint32_t ip[2] = { inet_addr("10.0.0.1"), inet_addr("10.0.0.2") };
	for (int i = 0; i < 2; i++) {
		struct netdev *d = memwire_attach(w, mac[i], 1500, caps);
		struct demi_config c = cfg;
		c.has_local_ipv4_addr = true;
		c.local_ipv4_addr.s_addr = ip[i];
		c.has_local_link_addr = true;
		memcpy(c.local_link_addr, mac[i], 6);
		c.arp_table_len = 1;
		c.arp_table[0].ip.s_addr = ip[1 - i];
		memcpy(c.arp_table[0].mac, mac[1 - i], 6);
		OK(inet_create(rt, d, &c, &st[i]));
	}
	if (!sched_spawn(&rt->sched, TASK_FAST, poller, NULL))
		exit(1);
	int lqd = tcp_qd(st[1]);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7), .sin_addr.s_addr = ip[1] };
	OK(demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)));
	OK(demi_listen(lqd, 16));
	demi_qtoken_t aqt, cqt;
	OK(demi_accept(&aqt, lqd));
	*cqd = tcp_qd(st[0]);
	OK(demi_connect(&cqt, *cqd, (const struct sockaddr *)&a, sizeof(a)));
	wait1(cqt);
	*sqd = wait1(aqt).qr_value.ares.qd;
}

static uint64_t segs(void) { return st[0]->st.tcp.tx_segments + st[1]->st.tcp.tx_segments; }

/* ---- echo ---- */

static demi_sgarray_t pop_all(int qd, uint32_t size)
{
	demi_qtoken_t qt;
	OK(demi_pop(&qt, qd));
	demi_qresult_t qr = wait1(qt);
	if (qr.qr_opcode != DEMI_OPC_POP || qr.qr_value.sga.sga_segs[0].sgaseg_len != size) {
		fprintf(stderr, "short pop: %u of %u bytes\n", qr.qr_value.sga.sga_segs[0].sgaseg_len, size);
		exit(1);
	}
	return qr.qr_value.sga;
}

static inline void round_trip(int cqd, int sqd, demi_sgarray_t *msg, uint32_t size)
{
	demi_qtoken_t qt;
	OK(demi_push(&qt, cqd, msg));
	wait1(qt);
	demi_sgarray_t in = pop_all(sqd, size);
	OK(demi_push(&qt, sqd, &in)); /* the popped sga goes straight back: zero copy */
	wait1(qt);
	OK(demi_sgafree(&in));
	demi_sgarray_t back = pop_all(cqd, size);
	OK(demi_sgafree(&back));
}

/* Caches, and the windows opened: not measured. */
BENCH_NOIPA static void warm_up(long n, int cqd, int sqd, demi_sgarray_t *msg, uint32_t size)
{
	for (long i = 0; i < n; i++)
		round_trip(cqd, sqd, msg, size);
}

/* What callgrind measures: n round trips. */
BENCH_NOIPA static void echo_loop(long n, int cqd, int sqd, demi_sgarray_t *msg, uint32_t size)
{
	for (long i = 0; i < n; i++)
		round_trip(cqd, sqd, msg, size);
}

static int echo(long n, uint32_t size)
{
	int cqd, sqd;
	setup(0, &cqd, &sqd);
	demi_sgarray_t msg = demi_sgaalloc(size);
	if (!msg.sga_buf)
		return fprintf(stderr, "sgaalloc\n"), 1;
	memset(msg.sga_segs[0].sgaseg_buf, 0x5a, size);
	warm_up(1000, cqd, sqd, &msg, size);
	uint64_t s0 = segs(), t0 = wall_ns();
	echo_loop(n, cqd, sqd, &msg, size);
	uint64_t t1 = wall_ns(), s1 = segs();
	printf("%ld round trips of %u bytes: %.1f ns each (both stacks, PDPIX, scheduler, memwire copies)\n", n, size,
	       (double)(t1 - t0) / (double)n);
	printf("segments per round trip: %.2f (A sent %llu, B sent %llu in all)\n", (double)(s1 - s0) / (double)n,
	       (unsigned long long)st[0]->st.tcp.tx_segments, (unsigned long long)st[1]->st.tcp.tx_segments);
	printf("echo_loop round trips: %ld (after 1000 in warm_up)\n", n);
	printf("RESULT kind=tcp_echo size=%u n=%ld offload=%d ns=%.3f segs=%.3f\n", size, n, caps != 0,
	       (double)(t1 - t0) / (double)n, (double)(s1 - s0) / (double)n);
	demi_sgafree(&msg);
	return 0;
}

/* ---- bulk ---- */

#define MAXW 64

struct bulk {
	int cqd, sqd;
	uint64_t total, sent, received;
	uint32_t chunk;
	int window;
	uint64_t pops;
};

/* What callgrind measures: the whole transfer. Completions come from demi_wait_next_n, in order, with no token scan. */
BENCH_NOIPA static void bulk_loop(struct bulk *b)
{
	demi_qtoken_t qt;
	int npush = 0;
	OK(demi_pop(&qt, b->sqd));
	while (b->received < b->total || npush) {
		while (npush < b->window && b->sent < b->total) {
			uint32_t n = b->total - b->sent < b->chunk ? (uint32_t)(b->total - b->sent) : b->chunk;
			demi_sgarray_t sga = demi_sgaalloc(n);
			if (!sga.sga_buf) {
				fprintf(stderr, "sgaalloc\n");
				exit(1);
			}
			OK(demi_push(&qt, b->cqd, &sga));
			OK(demi_sgafree(&sga)); /* the stack holds its own reference */
			npush++;
			b->sent += n;
		}
		demi_qresult_t qrs[MAXW + 1];
		int got = wait_next(qrs, MAXW + 1);
		for (int i = 0; i < got; i++) {
			if (qrs[i].qr_opcode == DEMI_OPC_PUSH) {
				npush--;
				continue;
			}
			b->received += qrs[i].qr_value.sga.sga_segs[0].sgaseg_len;
			b->pops++;
			OK(demi_sgafree(&qrs[i].qr_value.sga));
			if (b->received < b->total)
				OK(demi_pop(&qt, b->sqd));
		}
	}
}

static int bulk(uint64_t mib, uint32_t chunk, int window, uint64_t delay_ns)
{
	virt = true;
	struct bulk b = { .total = mib << 20, .chunk = chunk, .window = window };
	setup(delay_ns, &b.cqd, &b.sqd);
	uint64_t s0 = segs(), v0 = clock_now(), t0 = wall_ns();
	uint64_t r0 = st[0]->st.tcp.retransmits;
	bulk_loop(&b);
	uint64_t t1 = wall_ns(), v1 = clock_now(), s1 = segs();
	double sim_s = (double)(v1 - v0) / 1e9, wall_s = (double)(t1 - t0) / 1e9;
	printf("%llu MiB one way in %u-byte pushes, %d in flight, one-way delay %llu ns (virtual clock)\n",
	       (unsigned long long)mib, chunk, window, (unsigned long long)delay_ns);
	printf("simulated: %.6f s, %.1f MB/s (window/RTT bound: %.1f MB/s for the 1 MiB receive buffer)\n", sim_s,
	       (double)b.total / sim_s / 1e6, (double)(1 << 20) / (2e-9 * (double)delay_ns) / 1e6);
	printf("wall: %.3f s, %.1f MB/s\n", wall_s, (double)b.total / wall_s / 1e6);
	printf("segments: %llu (A data %llu, B ACKs %llu), retransmits %llu, pops %llu (%.0f bytes each)\n",
	       (unsigned long long)(s1 - s0), (unsigned long long)st[0]->st.tcp.tx_segments,
	       (unsigned long long)st[1]->st.tcp.tx_segments,
	       (unsigned long long)(st[0]->st.tcp.retransmits - r0), (unsigned long long)b.pops,
	       (double)b.total / (double)b.pops);
	printf("bulk_loop bytes: %llu\n", (unsigned long long)b.total);
	printf("RESULT kind=tcp_bulk bytes=%llu chunk=%u offload=%d sim_MBps=%.1f wall_MBps=%.1f segs=%llu\n",
	       (unsigned long long)b.total, chunk, caps != 0, (double)b.total / sim_s / 1e6, (double)b.total / wall_s / 1e6,
	       (unsigned long long)(s1 - s0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "echo") && strcmp(argv[1], "bulk")))
		goto usage;
	bool is_echo = !strcmp(argv[1], "echo");
	long n = 100000;
	uint32_t size = 64, chunk = 65536;
	uint64_t mib = 64, delay = 10000;
	int window = 16, c;
	optind = 2;
	while ((c = getopt(argc, argv, "n:s:m:c:w:d:o")) != -1) {
		switch (c) {
		case 'o': caps = NETDEV_TX_IPV4_CSUM | NETDEV_TX_UDP_CSUM | NETDEV_TX_TCP_CSUM | NETDEV_RX_CSUM_OK; break;
		case 'n': n = atol(optarg); break;
		case 's': size = (uint32_t)atol(optarg); break;
		case 'm': mib = (uint64_t)atoll(optarg); break;
		case 'c': chunk = (uint32_t)atol(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'd': delay = (uint64_t)atoll(optarg); break;
		default: goto usage;
		}
	}
	if (size == 0 || size > 1400 || chunk == 0 || window < 1 || window > MAXW)
		goto usage;
	int rc = is_echo ? echo(n, size) : bulk(mib, chunk, window, delay);
	inet_destroy(st[0]);
	inet_destroy(st[1]);
	memwire_destroy(w);
	rt_destroy(rt);
	return rc;
usage:
	fprintf(stderr, "usage: tcp_cost echo [-n N] [-s size <= 1400] [-o]\n"
			"       tcp_cost bulk [-m MiB] [-c chunk] [-w pushes <= %d] [-d one-way delay ns] [-o]\n"
			"       -o: checksums offloaded to the wire's ports (none computed or checked)\n", MAXW);
	return 2;
}
