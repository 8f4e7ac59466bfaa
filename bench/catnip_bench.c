/*
 * TCP round trip and bulk goodput between two processes over PDPIX on the libOS that LIBOS selects
 * (catnip over net_memif, catnap over loopback: bench/catnip_memif_run), and the same bulk transfer over
 * plain Linux sockets as the baseline.
 *   catnip_bench echo ADDR:PORT                       PDPIX echo server (serves until killed)
 *   catnip_bench sink ADDR:PORT                       PDPIX sink for bulk clients (serves until killed)
 *   catnip_bench rtt ADDR:PORT [--size 64] [--count N] [--warmup N]
 *   catnip_bench bulk ADDR:PORT [--bytes N[K|M|G]] [--chunk 65536] [--window 8]
 *   catnip_bench linux-sink ADDR:PORT | linux-bulk ADDR:PORT [--bytes N] [--chunk 65536]
 * rtt pushes one sga of SIZE bytes again and again (allocation stays out of the figure), waits for the push
 * and pops until every byte is back, checking them. bulk sends an 8-byte big-endian length, then that many
 * bytes in pushes of CHUNK bytes with WINDOW pushes outstanding (one filled sga per slot, pushed again
 * once its push completed); the sink answers one byte once it has them all, so the clock covers delivery.
 * Clients print one human line and one RESULT line (kind=lat|bulk impl=$LIBOS|linux ...).
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/netstats.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "demi_server.h"

#define MAX_WINDOW 64

struct opts {
	struct sockaddr_in addr;
	size_t size, chunk;
	long count, warmup;
	uint64_t bytes;
	int window;
};

static void usage(void)
{
	fprintf(stderr, "usage: catnip_bench echo|sink|rtt|bulk|linux-sink|linux-bulk ADDR:PORT [--size B] [--count N] "
			"[--warmup N] [--bytes N[K|M|G]] [--chunk B] [--window W]\n");
	exit(2);
}

static struct opts parse(int argc, char **argv)
{
	struct opts o = { .size = 64, .chunk = 65536, .count = 100000, .warmup = -1, .bytes = 1ull << 30, .window = 8 };
	if (argc < 3 || bench_parse_addr(argv[2], &o.addr) < 0)
		usage();
	for (int i = 3; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--size"))
			o.size = (size_t)atol(v);
		else if (!strcmp(a, "--count"))
			o.count = atol(v);
		else if (!strcmp(a, "--warmup"))
			o.warmup = atol(v);
		else if (!strcmp(a, "--bytes"))
			o.bytes = bench_parse_bytes(v);
		else if (!strcmp(a, "--chunk"))
			o.chunk = (size_t)bench_parse_bytes(v);
		else if (!strcmp(a, "--window"))
			o.window = atoi(v);
		else
			usage();
	}
	if ((argc - 3) % 2 || o.size == 0 || o.count < 1 || o.window < 1 || o.window > MAX_WINDOW || o.chunk == 0 ||
	    o.bytes == 0)
		usage();
	if (o.warmup < 0)
		o.warmup = o.count / 10 > 1000 ? o.count / 10 : 1000;
	return o;
}

static void demi_start(char **argv)
{
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
}

static int demi_listener(const struct opts *o)
{
	int lqd, one = 1;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_setsockopt(lqd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	CHECK(demi_bind(lqd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	CHECK(demi_listen(lqd, 64));
	printf("catnip_bench: listening on %s:%d\n", inet_ntoa(o->addr.sin_addr), ntohs(o->addr.sin_port));
	fflush(stdout);
	return lqd;
}

static int demi_connect_to(const struct opts *o)
{
	int qd, one = 1;
	demi_qtoken_t qt;
	demi_qresult_t qr;
	CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	CHECK(demi_connect(&qt, qd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	CHECK(demi_wait(&qr, qt, NULL));
	if (qr.qr_opcode != DEMI_OPC_CONNECT) {
		fprintf(stderr, "catnip_bench: connect failed: %s\n", strerror((int)qr.qr_ret));
		exit(1);
	}
	return qd;
}

static demi_qresult_t wait_op(demi_qtoken_t qt, demi_opcode_t want)
{
	demi_qresult_t qr;
	CHECK(demi_wait(&qr, qt, NULL));
	if (qr.qr_opcode != want) {
		fprintf(stderr, "catnip_bench: operation failed: %s\n", strerror((int)qr.qr_ret));
		exit(1);
	}
	return qr;
}

static void run_rtt(const struct opts *o)
{
	int qd = demi_connect_to(o);
	demi_sgarray_t sga = demi_sgaalloc(o->size);
	if (!sga.sga_buf)
		exit(1);
	unsigned char *msg = sga.sga_segs[0].sgaseg_buf;
	for (size_t j = 0; j < o->size; j++)
		msg[j] = (unsigned char)(j * 31 + 7);
	uint64_t *lat = malloc((size_t)o->count * sizeof(*lat));
	if (!lat)
		exit(1);
	for (long i = -o->warmup; i < o->count; i++) {
		demi_qtoken_t qt;
		uint64_t t0 = now_ns();
		CHECK(demi_push(&qt, qd, &sga));
		wait_op(qt, DEMI_OPC_PUSH);
		for (size_t got = 0; got < o->size;) {
			CHECK(demi_pop(&qt, qd));
			demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP);
			demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[0];
			if (seg->sgaseg_len == 0 || got + seg->sgaseg_len > o->size ||
				memcmp(seg->sgaseg_buf, msg + got, seg->sgaseg_len) != 0) {
				fprintf(stderr, "catnip_bench: echo differs or ended\n");
				exit(1);
			}
			got += seg->sgaseg_len;
			CHECK(demi_sgafree(&qr.qr_value.sga));
		}
		if (i >= 0)
			lat[i] = now_ns() - t0;
	}
	struct lat_stats s = lat_summarise(lat, (size_t)o->count);
	lat_report(bench_libos(), o->size, (size_t)o->count, &s);
	CHECK(demi_sgafree(&sga));
	CHECK(demi_close(qd));
	free(lat);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void bulk_report(const char *impl, const struct opts *o, uint64_t ns)
{
	double mbps = (double)o->bytes * 1e3 / (double)ns;
	printf("%s: sent %llu B in pushes of %zu B in %.3f s: %.1f MB/s\n", impl, (unsigned long long)o->bytes,
	       o->chunk, (double)ns / 1e9, mbps);
	printf("RESULT kind=bulk impl=%s bytes=%llu chunk=%zu ns=%llu mbps=%.1f\n", impl, (unsigned long long)o->bytes,
	       o->chunk, (unsigned long long)ns, mbps);
	fflush(stdout);
}

/* Demi's own stack says what TCP did (retransmissions explain a slow run); catnap has no counters. */
static void print_tcp_counters(void)
{
	struct demi_netstats st;
	if (demi_netstats(&st) != 0)
		return;
	printf("tcp: tx %llu segments (%llu in place, %llu copied), rx %llu, retransmits %llu, rto %llu, fast recoveries %llu; "
	       "device copied tx %llu rx %llu bytes\n",
	       (unsigned long long)st.tcp.tx_segments, (unsigned long long)st.tcp.tx_in_place,
	       (unsigned long long)st.tcp.tx_copies, (unsigned long long)st.tcp.rx_segments,
	       (unsigned long long)st.tcp.retransmits, (unsigned long long)st.tcp.rto_timeouts,
	       (unsigned long long)st.tcp.fast_recoveries, (unsigned long long)st.eth.dev_tx_copied_bytes,
	       (unsigned long long)st.eth.dev_rx_copied_bytes);
}

static void run_bulk(const struct opts *o)
{
	int qd = demi_connect_to(o);
	demi_qtoken_t qt;
	demi_sgarray_t hdr = demi_sgaalloc(8);
	put_be64(hdr.sga_segs[0].sgaseg_buf, o->bytes);
	uint64_t t0 = now_ns();
	CHECK(demi_push(&qt, qd, &hdr));
	CHECK(demi_sgafree(&hdr));
	wait_op(qt, DEMI_OPC_PUSH);
	demi_sgarray_t slot[MAX_WINDOW];
	demi_qtoken_t qts[MAX_WINDOW];
	int idx[MAX_WINDOW]; /* which slot each outstanding token belongs to */
	int n = 0;
	uint64_t left = o->bytes;
	for (int w = 0; w < o->window; w++) {
		slot[w] = demi_sgaalloc(o->chunk);
		if (!slot[w].sga_buf)
			exit(1);
		memset(slot[w].sga_segs[0].sgaseg_buf, 0x5a, o->chunk);
	}
	/* Each slot pushes its chunk, then again once that push completed (its bytes never change). */
	for (int w = 0; w < o->window && left; w++) {
		demi_sgarray_t s = slot[w];
		s.sga_segs[0].sgaseg_len = (uint32_t)(left < o->chunk ? left : o->chunk);
		left -= s.sga_segs[0].sgaseg_len;
		CHECK(demi_push(&qts[n], qd, &s));
		idx[n++] = w;
	}
	while (n) {
		demi_qresult_t qr;
		int i;
		CHECK(demi_wait_any(&qr, &i, qts, n, NULL));
		if (qr.qr_opcode != DEMI_OPC_PUSH) {
			fprintf(stderr, "catnip_bench: push failed: %s\n", strerror((int)qr.qr_ret));
			exit(1);
		}
		int w = idx[i];
		qts[i] = qts[--n];
		idx[i] = idx[n];
		if (left) {
			demi_sgarray_t s = slot[w];
			s.sga_segs[0].sgaseg_len = (uint32_t)(left < o->chunk ? left : o->chunk);
			left -= s.sga_segs[0].sgaseg_len;
			CHECK(demi_push(&qts[n], qd, &s));
			idx[n++] = w;
		}
	}
	CHECK(demi_pop(&qt, qd));
	demi_qresult_t qr = wait_op(qt, DEMI_OPC_POP);
	uint64_t ns = now_ns() - t0;
	if (qr.qr_value.sga.sga_segs[0].sgaseg_len != 1) {
		fprintf(stderr, "catnip_bench: the sink did not confirm\n");
		exit(1);
	}
	CHECK(demi_sgafree(&qr.qr_value.sga));
	bulk_report(bench_libos(), o, ns);
	print_tcp_counters();
	for (int w = 0; w < o->window; w++)
		CHECK(demi_sgafree(&slot[w]));
	CHECK(demi_close(qd));
}

/* One bulk connection at a time: the length, the bytes, one byte back; then the next connection. */
static void run_sink(const struct opts *o)
{
	int lqd = demi_listener(o);
	for (;;) {
		demi_qtoken_t qt;
		CHECK(demi_accept(&qt, lqd));
		demi_qresult_t qr = wait_op(qt, DEMI_OPC_ACCEPT);
		int qd = qr.qr_value.ares.qd;
		uint8_t hdr[8];
		size_t hgot = 0;
		uint64_t want = 0, got = 0;
		bool ok = true;
		while (ok && (hgot < 8 || got < want)) {
			CHECK(demi_pop(&qt, qd));
			CHECK(demi_wait(&qr, qt, NULL));
			uint32_t len = qr.qr_opcode == DEMI_OPC_POP ? qr.qr_value.sga.sga_segs[0].sgaseg_len : 0;
			ok = len > 0;
			const uint8_t *d = ok ? qr.qr_value.sga.sga_segs[0].sgaseg_buf : NULL;
			while (len && hgot < 8) {
				hdr[hgot++] = *d++, len--;
				if (hgot == 8)
					want = get_be64(hdr);
			}
			got += len;
			if (qr.qr_opcode == DEMI_OPC_POP)
				CHECK(demi_sgafree(&qr.qr_value.sga));
		}
		if (ok) {
			demi_sgarray_t one = demi_sgaalloc(1);
			*(uint8_t *)one.sga_segs[0].sgaseg_buf = 1;
			CHECK(demi_push(&qt, qd, &one));
			CHECK(demi_sgafree(&one));
			CHECK(demi_wait(&qr, qt, NULL));
			/* Until the client closes: closing first with its data unread would reset the connection. */
			CHECK(demi_pop(&qt, qd));
			CHECK(demi_wait(&qr, qt, NULL));
			if (qr.qr_opcode == DEMI_OPC_POP)
				CHECK(demi_sgafree(&qr.qr_value.sga));
		}
		demi_close(qd);
	}
}

/* ---- the Linux-socket baseline ---- */

static void run_linux_sink(const struct opts *o)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	CHECK_SYS(lfd);
	CHECK_SYS(setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	CHECK_SYS(bind(lfd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	CHECK_SYS(listen(lfd, 16));
	printf("catnip_bench: listening on %s:%d\n", inet_ntoa(o->addr.sin_addr), ntohs(o->addr.sin_port));
	fflush(stdout);
	size_t cap = 256u * 1024;
	char *buf = malloc(cap);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		uint8_t hdr[8];
		if (bench_read_full(fd, hdr, 8) == 0) {
			uint64_t left = get_be64(hdr);
			while (left) {
				ssize_t n = recv(fd, buf, left < cap ? left : cap, 0);
				if (n <= 0)
					break;
				left -= (uint64_t)n;
			}
			uint8_t ack = 1;
			if (!left && bench_write_full(fd, &ack, 1) == 0)
				(void)recv(fd, buf, 1, 0); /* until the client closes */
		}
		close(fd);
	}
}

static void run_linux_bulk(const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_SYS(fd);
	CHECK_SYS(connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	char *buf = malloc(o->chunk);
	memset(buf, 0x5a, o->chunk);
	uint8_t hdr[8];
	put_be64(hdr, o->bytes);
	uint64_t t0 = now_ns();
	if (bench_write_full(fd, hdr, 8) < 0)
		exit(1);
	for (uint64_t left = o->bytes; left;) {
		size_t n = left < o->chunk ? left : o->chunk;
		if (bench_write_full(fd, buf, n) < 0)
			exit(1);
		left -= n;
	}
	uint8_t ack;
	if (bench_read_full(fd, &ack, 1) < 0)
		exit(1);
	uint64_t ns = now_ns() - t0;
	bulk_report("linux", o, ns);
	close(fd);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	struct opts o = parse(argc, argv);
	const char *mode = argv[1];
	if (!strcmp(mode, "linux-sink")) {
		run_linux_sink(&o);
	} else if (!strcmp(mode, "linux-bulk")) {
		run_linux_bulk(&o);
	} else if (!strcmp(mode, "echo")) {
		demi_start(argv);
		demi_echo_serve(demi_listener(&o), 0);
	} else if (!strcmp(mode, "sink")) {
		demi_start(argv);
		run_sink(&o);
	} else if (!strcmp(mode, "rtt")) {
		demi_start(argv);
		run_rtt(&o);
	} else if (!strcmp(mode, "bulk")) {
		demi_start(argv);
		run_bulk(&o);
	} else {
		usage();
	}
	return 0;
}
