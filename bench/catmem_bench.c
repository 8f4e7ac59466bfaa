/*
 * catmem figures: pipe round trip next to a raw shared cache-line ping-pong
 * between the same two cores (the physical limit), one-way message rate,
 * and 64 KiB bandwidth next to memcpy. Every measurement forks two fresh
 * processes pinned to two CPUs; the pipe and raw runs alternate, and each
 * figure is the median of --rounds runs.
 *
 * Two references in between show where the gap to the limit comes from: a
 * raw ping-pong with one line per direction (what any pair of rings costs in
 * hardware), and catmem's own rings driven directly, without the runtime
 * (pipe_ring.c: what the ring format costs). Built against the internal
 * library for that.
 */
#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "bench.h"
#include "queues/catmem/pipe_ring.h"

struct opts {
	int rounds;
	long rtt_count;  /* round trips per latency run */
	long msgs;       /* 64 B messages per rate run */
	long big_msgs;   /* 64 KiB messages per bandwidth run */
	const char *idle_us; /* POLL_IDLE_US for the pipe processes */
};

/* Shared between the measuring processes and the parent that collects results. */
struct shared {
	_Alignas(64) _Atomic uint64_t ping;
	_Atomic uint64_t pong; /* same line as ping: that line is what travels */
	_Alignas(64) _Atomic uint64_t pong_apart; /* one line per direction */
	_Alignas(64) _Atomic int ready;
	_Alignas(64) double result; /* ns per round trip, messages/s, or bytes/s */
	char name[64];
};

static struct shared *sh;
static int cpu_a, cpu_b;

static void demi_start(const struct opts *o)
{
	setenv("LIBOS", "catmem", 1);
	setenv("POLL_IDLE_US", o->idle_us, 1);
	struct demi_args args = { 0 };
	CHECK(demi_init(&args));
}

/* Runs a(arg) and b(arg) in two fresh processes pinned to the two CPUs; returns sh->result. */
static double run_pair(void (*a)(const struct opts *), void (*b)(const struct opts *), const struct opts *o)
{
	atomic_store(&sh->ping, 0);
	atomic_store(&sh->pong, 0);
	atomic_store(&sh->ready, 0);
	sh->result = 0;
	snprintf(sh->name, sizeof(sh->name), "bench-%d-%d", (int)getpid(), rand());
	fflush(NULL);
	pid_t pb = fork();
	if (pb == 0) {
		bench_die_with_parent();
		bench_pin(cpu_b);
		b(o);
		_exit(0);
	}
	pid_t pa = fork();
	if (pa == 0) {
		bench_die_with_parent();
		bench_pin(cpu_a);
		a(o);
		_exit(0);
	}
	int st_a, st_b;
	waitpid(pa, &st_a, 0);
	waitpid(pb, &st_b, 0);
	if (!WIFEXITED(st_a) || WEXITSTATUS(st_a) || !WIFEXITED(st_b) || WEXITSTATUS(st_b)) {
		fprintf(stderr, "catmem_bench: a measuring process failed\n");
		exit(1);
	}
	return sh->result;
}

/* ---- raw cache-line ping-pong: the physical limit ---- */

static void raw_a(const struct opts *o)
{
	long n = o->rtt_count, warm = n / 10;
	while (!atomic_load(&sh->ready))
		;
	uint64_t t0 = 0;
	for (long i = 1; i <= warm + n; i++) {
		if (i == warm + 1)
			t0 = now_ns();
		atomic_store_explicit(&sh->ping, (uint64_t)i, memory_order_release);
		while (atomic_load_explicit(&sh->pong, memory_order_acquire) != (uint64_t)i)
			;
	}
	sh->result = (double)(now_ns() - t0) / (double)n;
}

static void raw_b(const struct opts *o)
{
	long total = o->rtt_count + o->rtt_count / 10;
	atomic_store(&sh->ready, 1);
	for (long i = 1; i <= total; i++) {
		while (atomic_load_explicit(&sh->ping, memory_order_acquire) != (uint64_t)i)
			;
		atomic_store_explicit(&sh->pong, (uint64_t)i, memory_order_release);
	}
}

/* The same with the answer on a line of its own, as two rings have it. */
static void apart_a(const struct opts *o)
{
	long n = o->rtt_count, warm = n / 10;
	while (!atomic_load(&sh->ready))
		;
	uint64_t t0 = 0;
	for (long i = 1; i <= warm + n; i++) {
		if (i == warm + 1)
			t0 = now_ns();
		atomic_store_explicit(&sh->ping, (uint64_t)i, memory_order_release);
		while (atomic_load_explicit(&sh->pong_apart, memory_order_acquire) != (uint64_t)i)
			;
	}
	sh->result = (double)(now_ns() - t0) / (double)n;
}

static void apart_b(const struct opts *o)
{
	long total = o->rtt_count + o->rtt_count / 10;
	atomic_store(&sh->ready, 1);
	for (long i = 1; i <= total; i++) {
		while (atomic_load_explicit(&sh->ping, memory_order_acquire) != (uint64_t)i)
			;
		atomic_store_explicit(&sh->pong_apart, (uint64_t)i, memory_order_release);
	}
}

/* ---- catmem's rings alone: the record format and its memory order, no runtime ---- */

static struct pipe_shared *ring_region;

static void ring_side(const struct opts *o, int d)
{
	uint8_t *base = (uint8_t *)ring_region;
	struct ring_tx tx;
	struct ring_rx rx;
	ring_tx_init(&tx, base + PIPE_RING_OFF(d), &ring_region->ring_head[d].v, 0x1234567890abcdefull | 1);
	ring_rx_init(&rx, base + PIPE_RING_OFF(1 - d), &ring_region->ring_head[1 - d].v, 0x1234567890abcdefull | 1);
	uint8_t msg[64], out[64];
	memset(msg, 0x5a, sizeof(msg));
	long n = o->rtt_count, warm = n / 10;
	if (d == 1)
		atomic_store(&sh->ready, 1);
	else
		while (!atomic_load(&sh->ready))
			;
	uint64_t t0 = 0;
	for (long i = 0; i < warm + n; i++) {
		struct ring_msg m;
		if (i == warm)
			t0 = now_ns();
		if (d == 0)
			while (ring_put_inline(&tx, msg, sizeof(msg)) == -EAGAIN)
				;
		while (ring_get(&rx, &m) == -EAGAIN)
			;
		memcpy(out, m.data, m.len);
		ring_consume(&rx, &m);
		if (d == 1)
			while (ring_put_inline(&tx, out, sizeof(out)) == -EAGAIN)
				;
	}
	if (d == 0)
		sh->result = (double)(now_ns() - t0) / (double)n;
}

static void ring_a(const struct opts *o)
{
	ring_side(o, 0);
}

static void ring_b(const struct opts *o)
{
	ring_side(o, 1);
}

/* ---- pipes ---- */

static int open_pipe(void)
{
	int qd, err;
	while ((err = demi_open_pipe(&qd, sh->name)) == ENOENT)
		usleep(100);
	CHECK(err);
	return qd;
}

/*
 * The result stays where demi_wait wrote it: copying the packed 64-byte
 * result (and the sga in it) by value right after it was written costs
 * failed store forwarding, tens of cycles on the round trip's critical path.
 */
static void wait_for(demi_qtoken_t qt, demi_qresult_t *qr)
{
	CHECK(demi_wait(qr, qt, NULL));
	if (qr->qr_opcode == DEMI_OPC_FAILED) {
		fprintf(stderr, "catmem_bench: operation failed: %s\n", strerror((int)qr->qr_ret));
		exit(1);
	}
}

static void push_wait(int qd, demi_sgarray_t *sga)
{
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_push(&qt, qd, sga));
	wait_for(qt, &qr);
}

/* Waits for the pop qt into *qr; returns its sga, inside *qr. */
static demi_sgarray_t *pop_wait_token(demi_qtoken_t qt, demi_qresult_t *qr)
{
	wait_for(qt, qr);
	return &qr->qr_value.sga;
}

/* Pops the next message into *qr; returns its sga, inside *qr. */
static demi_sgarray_t *pop_wait(int qd, demi_qresult_t *qr)
{
	demi_qtoken_t qt;
	CHECK(demi_pop(&qt, qd));
	return pop_wait_token(qt, qr);
}

/* Round trips of 64 B: push, then wait for the echo. */
static void rtt_a(const struct opts *o)
{
	demi_start(o);
	int qd;
	CHECK(demi_create_pipe(&qd, sh->name));
	demi_sgarray_t sga = demi_sgaalloc(64);
	memset(sga.sga_segs[0].sgaseg_buf, 0x5a, 64);
	long n = o->rtt_count, warm = n / 10;
	uint64_t t0 = 0;
	for (long i = 0; i < warm + n; i++) {
		if (i == warm)
			t0 = now_ns();
		push_wait(qd, &sga);
		demi_qresult_t qr;
		demi_sgafree(pop_wait(qd, &qr));
	}
	sh->result = (double)(now_ns() - t0) / (double)n;
	demi_sgafree(&sga);
	demi_close(qd);
}

/* Echoes until end of stream. */
static void echo_b(const struct opts *o)
{
	demi_start(o);
	int qd = open_pipe();
	for (;;) {
		demi_qresult_t qr;
		demi_sgarray_t *sga = pop_wait(qd, &qr);
		if (sga->sga_segs[0].sgaseg_len == 0) {
			demi_sgafree(sga);
			break;
		}
		push_wait(qd, sga);
		demi_sgafree(sga);
	}
	demi_close(qd);
}

/* One way: o->msgs messages of 64 B, then a 1-byte end marker. */
static void rate_a(const struct opts *o)
{
	demi_start(o);
	int qd;
	CHECK(demi_create_pipe(&qd, sh->name));
	demi_sgarray_t sga = demi_sgaalloc(64);
	memset(sga.sga_segs[0].sgaseg_buf, 0x5a, 64);
	for (long i = 0; i < o->msgs; i++)
		push_wait(qd, &sga); /* completes at once while the ring has room */
	sga.sga_segs[0].sgaseg_len = 1;
	push_wait(qd, &sga);
	demi_sgafree(&sga);
	demi_qresult_t qr;
	demi_sgafree(pop_wait(qd, &qr));
	demi_close(qd);
}

/* Pops until the end marker; the rate is counted from the first message. */
static void sink_b(const struct opts *o)
{
	demi_start(o);
	int qd = open_pipe();
	uint64_t t0 = 0, bytes = 0, msgs = 0, sum = 0;
	for (;;) {
		demi_qresult_t qr;
		demi_sgarray_t *sga = pop_wait(qd, &qr);
		uint32_t len = sga->sga_segs[0].sgaseg_len;
		if (!t0)
			t0 = now_ns();
		if (len <= 1) {
			demi_sgafree(sga);
			break;
		}
		/* Read every line, as a consumer would: the data has to cross. */
		const volatile uint64_t *p = sga->sga_segs[0].sgaseg_buf;
		for (uint32_t i = 0; i < len / 8; i += 8)
			sum += p[i];
		bytes += len;
		msgs++;
		demi_sgafree(sga);
	}
	uint64_t ns = now_ns() - t0;
	sh->result = bytes > msgs * 64 ? (double)bytes * 1e9 / (double)ns : (double)msgs * 1e9 / (double)ns;
	demi_sgarray_t ack = demi_sgaalloc(1);
	push_wait(qd, &ack);
	demi_sgafree(&ack);
	demi_close(qd);
	(void)sum;
}

/*
 * The runtime's instructions per message (bench/catmem_run --cost counts
 * cost_loop with callgrind): both ends of one pipe in this thread, each
 * message popped by a pop that was already waiting, as in a ping-pong
 * between two processes, but with no cross-core traffic to count.
 */
static __attribute__((noinline)) void cost_loop(int a, int b, demi_sgarray_t *sga, long n)
{
	for (long i = 0; i < n; i++) {
		demi_qtoken_t pa, pb;
		demi_qresult_t qr;
		CHECK(demi_pop(&pa, a));
		push_wait(b, sga);
		demi_sgafree(pop_wait_token(pa, &qr));
		CHECK(demi_pop(&pb, b));
		push_wait(a, sga);
		demi_sgafree(pop_wait_token(pb, &qr));
	}
}

static int cost_run(long n)
{
	setenv("LIBOS", "catmem", 1);
	struct demi_args args = { 0 };
	CHECK(demi_init(&args));
	char name[64];
	snprintf(name, sizeof(name), "catmem-cost-%d", (int)getpid());
	int a, b;
	CHECK(demi_create_pipe(&a, name));
	CHECK(demi_open_pipe(&b, name));
	demi_sgarray_t sga = demi_sgaalloc(64);
	memset(sga.sga_segs[0].sgaseg_buf, 0x5a, 64);
	cost_loop(a, b, &sga, n / 10 + 1); /* warm: every allocation made once */
	uint64_t t0 = now_ns();
	cost_loop(a, b, &sga, n);
	double ns = (double)(now_ns() - t0) / (double)(2 * n);
	demi_sgafree(&sga);
	CHECK(demi_close(b));
	CHECK(demi_close(a));
	printf("RESULT kind=catmem_cost msgs=%ld ns_per_msg=%.1f\n", 2 * n, ns);
	return 0;
}

#define BIG 65536

/* 64 KiB messages copied in from a private buffer: one copy on the way. */
static void bw_copy_a(const struct opts *o)
{
	demi_start(o);
	int qd;
	CHECK(demi_create_pipe(&qd, sh->name));
	demi_sgarray_t sga = demi_sgaalloc(BIG);
	memset(sga.sga_segs[0].sgaseg_buf, 0x5a, BIG);
	for (long i = 0; i < o->big_msgs; i++)
		push_wait(qd, &sga);
	demi_sgarray_t end = demi_sgaalloc(1);
	push_wait(qd, &end);
	demi_sgafree(&end);
	demi_sgafree(&sga);
	demi_qresult_t qr;
	demi_sgafree(pop_wait(qd, &qr));
	demi_close(qd);
}

/* 64 KiB messages written in place in the pipe (demi_pipe_sgaalloc): no copy at all. */
static void bw_zc_a(const struct opts *o)
{
	demi_start(o);
	int qd;
	CHECK(demi_create_pipe(&qd, sh->name));
	for (long i = 0; i < o->big_msgs; i++) {
		demi_sgarray_t sga;
		int err;
		while ((err = demi_pipe_sgaalloc(&sga, qd, BIG)) == EAGAIN)
			; /* every block is with the consumer: its frees come back through the return ring */
		CHECK(err);
		memset(sga.sga_segs[0].sgaseg_buf, (int)i, BIG); /* produce the data in place */
		push_wait(qd, &sga);
		demi_sgafree(&sga);
	}
	demi_sgarray_t end = demi_sgaalloc(1);
	push_wait(qd, &end);
	demi_sgafree(&end);
	demi_qresult_t qr;
	demi_sgafree(pop_wait(qd, &qr));
	demi_close(qd);
}

/* memcpy bandwidth on one core: 64 KiB from a hot source into a 2 MiB destination, as the pipe's pool. */
static double memcpy_bw(long msgs)
{
	size_t pool = 32 * (size_t)BIG;
	uint8_t *src = aligned_alloc(4096, BIG), *dst = aligned_alloc(4096, pool);
	memset(src, 0x5a, BIG);
	memset(dst, 0, pool);
	uint64_t t0 = now_ns();
	for (long i = 0; i < msgs; i++) {
		memcpy(dst + (size_t)(i % 32) * BIG, src, BIG);
		__asm__ volatile("" ::: "memory");
	}
	double bw = (double)msgs * BIG * 1e9 / (double)(now_ns() - t0);
	free(src);
	free(dst);
	return bw;
}

/* ---- raw cross-core handoff of 64 KiB blocks: the bandwidth limit of any zero-copy pipe ---- */

struct handoff {
	_Alignas(64) _Atomic uint32_t full;
};
static struct handoff *flags;
static uint8_t *blocks;

static void handoff_a(const struct opts *o)
{
	for (long i = 0; i < o->big_msgs; i++) {
		struct handoff *f = &flags[i % 32];
		while (atomic_load_explicit(&f->full, memory_order_acquire))
			;
		memset(blocks + (size_t)(i % 32) * BIG, (int)i, BIG);
		atomic_store_explicit(&f->full, 1, memory_order_release);
	}
}

static void handoff_b(const struct opts *o)
{
	uint64_t t0 = now_ns(), sum = 0;
	for (long i = 0; i < o->big_msgs; i++) {
		struct handoff *f = &flags[i % 32];
		while (!atomic_load_explicit(&f->full, memory_order_acquire))
			;
		const volatile uint64_t *p = (const uint64_t *)(blocks + (size_t)(i % 32) * BIG);
		for (uint32_t k = 0; k < BIG / 8; k += 8)
			sum += p[k];
		atomic_store_explicit(&f->full, 0, memory_order_release);
	}
	sh->result = (double)o->big_msgs * BIG * 1e9 / (double)(now_ns() - t0);
	(void)sum;
}

static void nop_b(const struct opts *o)
{
	(void)o;
}

static void memcpy_a(const struct opts *o)
{
	sh->result = memcpy_bw(o->big_msgs);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--rounds R] [--count N] [--msgs M] [--big-msgs B] [--poll-idle-us U]\n"
		"       %s --cost N   (N round trips in one thread, for callgrind: bench/catmem_run --cost)\n"
		"  defaults: --rounds 7 --count 200000 --msgs 2000000 --big-msgs 20000 --poll-idle-us 50\n",
		prog,
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .rounds = 7, .rtt_count = 200000, .msgs = 2000000, .big_msgs = 20000, .idle_us = "50" };
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v && !strcmp(argv[i], "--rounds"))
			o.rounds = atoi(v), i++;
		else if (v && !strcmp(argv[i], "--count"))
			o.rtt_count = atol(v), i++;
		else if (v && !strcmp(argv[i], "--msgs"))
			o.msgs = atol(v), i++;
		else if (v && !strcmp(argv[i], "--big-msgs"))
			o.big_msgs = atol(v), i++;
		else if (v && !strcmp(argv[i], "--poll-idle-us"))
			o.idle_us = v, i++;
		else if (v && !strcmp(argv[i], "--cost"))
			return cost_run(atol(v) > 0 ? atol(v) : 1);
		else
			usage(argv[0]);
	}
	if (o.rounds < 1 || o.rounds > 101 || o.rtt_count < 10 || o.msgs < 1 || o.big_msgs < 1)
		usage(argv[0]);
	cpu_a = bench_cpu(0);
	cpu_b = bench_cpu(1);
	if (cpu_b < 0)
		fprintf(stderr, "catmem_bench: fewer than two CPUs: both processes share one, figures are not meaningful\n");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	ring_region = mmap(NULL, PIPE_REGION_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	flags = mmap(NULL, 32 * sizeof(*flags), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	blocks = mmap(NULL, 32 * (size_t)BIG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ring_region == MAP_FAILED || flags == MAP_FAILED || blocks == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	srand((unsigned)now_ns());
	int r = o.rounds;
	double raw[101], apart[101], ring[101], rtt[101], rate[101], mc[101], hand[101], bw_copy[101], bw_zc[101];
	for (int i = 0; i < r; i++) {
		/* Alternate, so that a burst of other load hits both sides of each ratio alike. */
		raw[i] = run_pair(raw_a, raw_b, &o);
		rtt[i] = run_pair(rtt_a, echo_b, &o);
		apart[i] = run_pair(apart_a, apart_b, &o);
		memset(ring_region, 0, PIPE_HDR_BYTES + 2 * PIPE_RING_BYTES);
		ring[i] = run_pair(ring_a, ring_b, &o);
		rate[i] = run_pair(rate_a, sink_b, &o);
		mc[i] = run_pair(memcpy_a, nop_b, &o);
		memset(flags, 0, 32 * sizeof(*flags));
		hand[i] = run_pair(handoff_a, handoff_b, &o);
		bw_copy[i] = run_pair(bw_copy_a, sink_b, &o);
		bw_zc[i] = run_pair(bw_zc_a, sink_b, &o);
		fprintf(stderr,
			"round %d/%d: raw %.0f ns, pipe %.0f ns, apart %.0f ns, ring %.0f ns, %.2f M msg/s, memcpy %.2f GB/s, "
			"handoff %.2f GB/s, pipe %.2f / %.2f GB/s\n",
			i + 1, r, raw[i], rtt[i], apart[i], ring[i], rate[i] / 1e6, mc[i] / 1e9, hand[i] / 1e9,
			bw_copy[i] / 1e9, bw_zc[i] / 1e9);
	}
	double m_raw = median(raw, r), m_rtt = median(rtt, r), m_apart = median(apart, r), m_ring = median(ring, r),
	       m_rate = median(rate, r), m_mc = median(mc, r), m_hand = median(hand, r), m_copy = median(bw_copy, r),
	       m_zc = median(bw_zc, r);
	printf("catmem, CPUs %d and %d, POLL_IDLE_US=%s, median of %d rounds\n", cpu_a, cpu_b, o.idle_us, r);
	printf("| figure | measured | reference | ratio |\n|---|---|---|---|\n");
	printf("| 64 B round trip, Demi pipe (push, wait, pop, wait) | %.0f ns | raw cache-line ping-pong %.0f ns | "
	       "%.2fx (target <= 2x: %s) |\n",
	       m_rtt, m_raw, m_rtt / m_raw, m_rtt <= 2 * m_raw ? "met" : "NOT met");
	printf("| raw ping-pong, one line per direction | %.0f ns | raw cache-line ping-pong %.0f ns | %.2fx |\n", m_apart,
	       m_raw, m_apart / m_raw);
	printf("| 64 B round trip, catmem rings alone (no runtime) | %.0f ns | raw cache-line ping-pong %.0f ns | %.2fx |\n",
	       m_ring, m_raw, m_ring / m_raw);
	printf("| 64 B one-way rate, Demi pipe | %.2f M msg/s (%.0f ns/msg) | | |\n", m_rate / 1e6, 1e9 / m_rate);
	printf("| 64 KiB bandwidth, push copies once | %.2f GB/s | raw cross-core handoff %.2f GB/s | %.2f |\n",
	       m_copy / 1e9, m_hand / 1e9, m_copy / m_hand);
	printf("| 64 KiB bandwidth, demi_pipe_sgaalloc (no copy) | %.2f GB/s | raw cross-core handoff %.2f GB/s | %.2f |\n",
	       m_zc / 1e9, m_hand / 1e9, m_zc / m_hand);
	printf("| memcpy 64 KiB, one core | %.2f GB/s | | |\n", m_mc / 1e9);
	printf("RESULT kind=catmem raw_rtt_ns=%.0f apart_rtt_ns=%.0f ring_rtt_ns=%.0f pipe_rtt_ns=%.0f ratio=%.3f "
	       "rate_mps=%.0f memcpy_bps=%.0f handoff_bps=%.0f copy_bps=%.0f zc_bps=%.0f poll_idle_us=%s\n",
	       m_raw, m_apart, m_ring, m_rtt, m_rtt / m_raw, m_rate, m_mc, m_hand, m_copy, m_zc, o.idle_us);
	return 0;
}
