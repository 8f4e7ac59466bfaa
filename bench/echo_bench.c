/*
 * TCP echo over PDPIX on the libOS that LIBOS selects (default catnap):
 * round-trip latency (ping-pong) and message throughput (a window of W
 * messages outstanding) over 127.0.0.1, server and client in two processes
 * pinned to different CPUs. Each process calls demi_init itself: the fork
 * happens before anything is initialised.
 *   echo_bench [--size 64] [--count 200000] [--warmup N] [--window 16] [--seconds 2] [--lat-only|--tput-only]
 * bench/linux_echo.c is the same program over plain Linux sockets.
 */
#include <sys/wait.h>

#include "demi_server.h"

static int connect_to(uint16_t port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int qd;
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_connect(&qt, qd, (const struct sockaddr *)&addr, sizeof(addr)));
	CHECK(demi_wait(&qr, qt, NULL));
	if (qr.qr_opcode != DEMI_OPC_CONNECT) {
		fprintf(stderr, "echo_bench: connect failed: %s\n", strerror((int)qr.qr_ret));
		exit(1);
	}
	return qd;
}

static void fill(demi_sgarray_t *sga, size_t size)
{
	unsigned char *p = sga->sga_segs[0].sgaseg_buf;
	for (size_t j = 0; j < size; j++)
		p[j] = (unsigned char)(j * 31 + 7);
}

/*
 * Ping-pong: push one message, wait for it, pop until all its bytes are back.
 * The same sga is pushed every time (its data never changes), so buffer
 * allocation is not part of the round trip; bench/micro measures it apart.
 */
static void run_latency(uint16_t port, const struct echo_opts *o)
{
	int qd = connect_to(port);
	demi_sgarray_t sga = demi_sgaalloc(o->size);
	if (!sga.sga_buf) {
		fprintf(stderr, "echo_bench: demi_sgaalloc failed\n");
		exit(1);
	}
	fill(&sga, o->size);
	const unsigned char *expect = sga.sga_segs[0].sgaseg_buf;
	uint64_t *lat = malloc((size_t)o->count * sizeof(*lat));
	if (!lat)
		exit(1);
	long total = o->warmup + o->count;
	for (long i = 0; i < total; i++) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		uint64_t t0 = now_ns();
		CHECK(demi_push(&qt, qd, &sga));
		CHECK(demi_wait(&qr, qt, NULL));
		if (qr.qr_opcode != DEMI_OPC_PUSH) {
			fprintf(stderr, "echo_bench: push failed: %s\n", strerror((int)qr.qr_ret));
			exit(1);
		}
		for (size_t got = 0; got < o->size;) {
			CHECK(demi_pop(&qt, qd));
			CHECK(demi_wait(&qr, qt, NULL));
			demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
			if (qr.qr_opcode != DEMI_OPC_POP || seg->sgaseg_len == 0) {
				fprintf(stderr, "echo_bench: connection lost after %ld messages\n", i);
				exit(1);
			}
			if (got + seg->sgaseg_len > o->size || memcmp(seg->sgaseg_buf, expect + got, seg->sgaseg_len)) {
				fprintf(stderr, "echo_bench: message %ld: echoed bytes differ\n", i);
				exit(1);
			}
			got += seg->sgaseg_len;
			CHECK(demi_sgafree(&qr.qr_value.sga));
		}
		if (i >= o->warmup)
			lat[i - o->warmup] = now_ns() - t0;
	}
	CHECK(demi_sgafree(&sga));
	CHECK(demi_close(qd));
	struct lat_stats s = lat_summarise(lat, (size_t)o->count);
	lat_report(bench_libos(), o->size, (size_t)o->count, &s);
	free(lat);
}

/*
 * Window: keep o->window messages pushed but not yet echoed, one pop always
 * outstanding; count the messages echoed during o->seconds after a warm-up
 * of a fifth of that. Then stop pushing and drain, so the server ends clean.
 */
static void run_throughput(uint16_t port, const struct echo_opts *o)
{
	int qd = connect_to(port);
	demi_sgarray_t sga = demi_sgaalloc(o->size);
	if (!sga.sga_buf) {
		fprintf(stderr, "echo_bench: demi_sgaalloc failed\n");
		exit(1);
	}
	fill(&sga, o->size);
	const uint64_t size = o->size;
	uint64_t sent = 0, back_bytes = 0;
	uint64_t start = now_ns();
	struct tput_span w;
	tput_span_start(&w, start, o->seconds);
	demi_qtoken_t qt;
	demi_qresult_t qrs[64];
	CHECK(demi_pop(&qt, qd));
	for (;;) {
		while (w.pushing && sent - back_bytes / size < (uint64_t)o->window) {
			CHECK(demi_push(&qt, qd, &sga));
			sent++;
		}
		if (!w.pushing && back_bytes == sent * size)
			break;
		int n;
		CHECK(demi_wait_next_n(qrs, 64, &n, NULL));
		for (int i = 0; i < n; i++) {
			demi_qresult_t *qr = &qrs[i];
			if (qr->qr_opcode == DEMI_OPC_POP) {
				uint32_t len = qr->qr_value.sga.sga_segs[0].sgaseg_len;
				if (len == 0) {
					fprintf(stderr, "echo_bench: server closed the connection\n");
					exit(1);
				}
				back_bytes += len;
				CHECK(demi_sgafree(&qr->qr_value.sga));
				CHECK(demi_pop(&qt, qd));
			} else if (qr->qr_opcode != DEMI_OPC_PUSH) {
				fprintf(stderr, "echo_bench: operation failed: %s\n", strerror((int)qr->qr_ret));
				exit(1);
			}
		}
		tput_span_tick(&w, now_ns(), back_bytes / size);
	}
	/* The last pop is still pending: closing the queue cancels it. */
	CHECK(demi_sgafree(&sga));
	CHECK(demi_close(qd));
	tput_report(bench_libos(), o->size, o->window, w.m_end - w.m_begin, w.ns_end - w.ns_begin);
}

int main(int argc, char **argv)
{
	struct echo_opts o = echo_parse(argc, argv);
	int scpu = bench_cpu(0), ccpu = bench_cpu(1);
	if (ccpu < 0)
		scpu = -1; /* one CPU: leave both unpinned */
	int fds[2];
	CHECK_SYS(pipe(fds));
	fflush(stdout);
	pid_t pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		close(fds[0]);
		bench_die_with_parent();
		bench_pin(scpu);
		uint16_t port;
		int lqd = demi_server_listen(argc, argv, &port);
		if (write(fds[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		close(fds[1]);
		demi_echo_serve(lqd, o.lat + o.tput);
		_exit(0);
	}
	close(fds[1]);
	bench_pin(ccpu);
	uint16_t port;
	if (read(fds[0], &port, sizeof(port)) != sizeof(port)) {
		fprintf(stderr, "echo_bench: the server did not start\n");
		waitpid(pid, NULL, 0);
		return 1;
	}
	close(fds[0]);
	struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	printf("echo_bench: LIBOS=%s, 127.0.0.1:%u, server on CPU %d, client on CPU %d\n", bench_libos(), port, scpu,
	       ccpu);
	if (o.lat)
		run_latency(port, &o);
	if (o.tput)
		run_throughput(port, &o);
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "echo_bench: the server failed\n");
		return 1;
	}
	return 0;
}
