/*
 * Bulk TCP goodput of one connection over a veth pair: a Demi client (any libOS; bench/tcp_veth_run) or a
 * Linux-socket client against the same Linux sink in the peer namespace.
 *   tcp_veth sink ADDR:PORT [--seconds S]      Linux server, one connection at a time, stops after S (600)
 *   tcp_veth linux ADDR:PORT [--bytes N] [--dir up|down]
 *   tcp_veth demi ADDR:PORT [--bytes N] [--dir up|down] [--window W]
 * Per connection the client sends a 16-byte header (bytes, direction: u64 big-endian each; direction 0:
 * the client sends, "up"; 1: the sink sends, "down"), then the bytes flow one way. Up: the sink answers
 * one byte once it has them all, so the client's clock covers delivery, not just filling a send buffer;
 * down: the client stops its clock at the last byte. The client then closes, and the sink after it.
 * The Demi client keeps W pushes of 64 KiB in flight (default 8; one sga pushed again and again, so
 * allocation and filling stay out of the figure) and one pop outstanding; the Linux client calls
 * blocking send/recv with 256 KiB buffers. Payload bytes are not checked (tests/tools/tcp_xfer does that).
 * Clients print one human line and one RESULT line (kind=bulk impl=linux|$LIBOS dir=up|down ... mbps=).
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "bench.h"

#define LINUX_BUF (256u * 1024)
#define DEMI_CHUNK (64u * 1024)
#define MAX_WINDOW 64

struct opts {
	struct sockaddr_in addr;
	uint64_t bytes;
	int down;
	int window;
	double seconds;
};

static void usage(void)
{
	fprintf(stderr, "usage: tcp_veth sink|linux|demi ADDR:PORT [--bytes N[K|M|G]] [--dir up|down] [--window W] "
			"[--seconds S]\n");
	exit(2);
}

static struct opts parse(int argc, char **argv)
{
	struct opts o = { .bytes = 1ull << 30, .window = 8, .seconds = 600 };
	if (argc < 3 || bench_parse_addr(argv[2], &o.addr) < 0)
		usage();
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--bytes"))
			o.bytes = bench_parse_bytes(argv[i + 1]);
		else if (!strcmp(argv[i], "--dir") && (!strcmp(argv[i + 1], "up") || !strcmp(argv[i + 1], "down")))
			o.down = !strcmp(argv[i + 1], "down");
		else if (!strcmp(argv[i], "--window"))
			o.window = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			o.seconds = atof(argv[i + 1]);
		else
			usage();
	}
	if ((argc - 3) % 2 || o.window < 1 || o.window > MAX_WINDOW || o.bytes == 0)
		usage();
	return o;
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

static void report(const char *impl, const struct opts *o, uint64_t ns)
{
	double mbps = (double)o->bytes * 1e3 / (double)ns;
	printf("%s: %s %llu B in %.3f s: %.1f MB/s\n", impl, o->down ? "received" : "sent",
	       (unsigned long long)o->bytes, (double)ns / 1e9, mbps);
	printf("RESULT kind=bulk impl=%s dir=%s bytes=%llu ns=%llu mbps=%.1f\n", impl, o->down ? "down" : "up",
	       (unsigned long long)o->bytes, (unsigned long long)ns, mbps);
	fflush(stdout);
}

/* ---- the Linux sink ---- */

static void sink(const struct opts *o)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_SYS(lfd);
	int one = 1;
	CHECK_SYS(setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	CHECK_SYS(bind(lfd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	CHECK_SYS(listen(lfd, 16));
	printf("tcp_veth: sink listening on %s:%d\n", inet_ntoa(o->addr.sin_addr), ntohs(o->addr.sin_port));
	fflush(stdout);
	/* Stop after --seconds even if no client comes. */
	struct timeval tv = { .tv_sec = (time_t)o->seconds };
	CHECK_SYS(setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	static uint8_t buf[LINUX_BUF];
	memset(buf, 'x', sizeof(buf));
	uint64_t end = now_ns() + (uint64_t)(o->seconds * 1e9);
	while (now_ns() < end) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		uint8_t hdr[16];
		if (bench_read_full(fd, hdr, sizeof(hdr)) == 0) {
			uint64_t bytes = get_be64(hdr);
			if (get_be64(hdr + 8) == 0) {
				uint64_t got = 0;
				ssize_t n;
				while (got < bytes && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
					got += (uint64_t)n;
				if (got == bytes)
					bench_write_full(fd, "!", 1);
			} else {
				for (uint64_t left = bytes; left;) {
					size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
					if (bench_write_full(fd, buf, n) < 0)
						break;
					left -= n;
				}
			}
			while (recv(fd, buf, sizeof(buf), 0) > 0) /* until the client closes */
				;
		}
		close(fd);
	}
}

/* ---- the clients ---- */

static void linux_client(const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_SYS(fd);
	CHECK_SYS(connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	static uint8_t buf[LINUX_BUF];
	memset(buf, 'x', sizeof(buf));
	uint8_t hdr[16];
	put_be64(hdr, o->bytes);
	put_be64(hdr + 8, (uint64_t)o->down);
	uint64_t t0 = now_ns();
	CHECK_SYS(bench_write_full(fd, hdr, sizeof(hdr)));
	if (!o->down) {
		for (uint64_t left = o->bytes; left;) {
			size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			CHECK_SYS(bench_write_full(fd, buf, n));
			left -= n;
		}
		CHECK_SYS(bench_read_full(fd, buf, 1));
	} else {
		for (uint64_t got = 0; got < o->bytes;) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0) {
				fprintf(stderr, "tcp_veth: linux: connection ended after %llu B\n", (unsigned long long)got);
				exit(1);
			}
			got += (uint64_t)n;
		}
	}
	uint64_t ns = now_ns() - t0;
	close(fd);
	report("linux", o, ns);
}

static demi_qresult_t demi_wait_ok(demi_qtoken_t qt, demi_opcode_t want)
{
	demi_qresult_t qr;
	CHECK(demi_wait(&qr, qt, NULL));
	if (qr.qr_opcode != want) {
		fprintf(stderr, "tcp_veth: demi: operation failed: %s\n", strerror((int)qr.qr_ret));
		exit(1);
	}
	return qr;
}

static void demi_client(const struct opts *o)
{
	char *argv[] = { "tcp_veth", NULL };
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	int qd;
	demi_qtoken_t qt;
	CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_connect(&qt, qd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	demi_wait_ok(qt, DEMI_OPC_CONNECT);

	/* One sga of 64 KiB, pushed again and again: the stack holds a reference per push, and the bytes never change. */
	demi_sgarray_t hdr = demi_sgaalloc(16), data = demi_sgaalloc(DEMI_CHUNK);
	if (!hdr.sga_buf || !data.sga_buf) {
		fprintf(stderr, "tcp_veth: demi_sgaalloc failed\n");
		exit(1);
	}
	memset(data.sga_segs[0].sgaseg_buf, 'x', DEMI_CHUNK);
	put_be64(hdr.sga_segs[0].sgaseg_buf, o->bytes);
	put_be64((uint8_t *)hdr.sga_segs[0].sgaseg_buf + 8, (uint64_t)o->down);

	uint64_t t0 = now_ns();
	CHECK(demi_push(&qt, qd, &hdr));
	demi_wait_ok(qt, DEMI_OPC_PUSH);
	if (!o->down) {
		demi_qtoken_t qts[MAX_WINDOW];
		int n = 0;
		for (uint64_t queued = 0;;) {
			while (n < o->window && queued < o->bytes) {
				demi_sgarray_t sga = data;
				uint64_t left = o->bytes - queued;
				if (left < DEMI_CHUNK)
					sga.sga_segs[0].sgaseg_len = (uint32_t)left;
				CHECK(demi_push(&qts[n++], qd, &sga));
				queued += sga.sga_segs[0].sgaseg_len;
			}
			if (n == 0)
				break;
			demi_qresult_t qr;
			int i;
			CHECK(demi_wait_any(&qr, &i, qts, n, NULL));
			if (qr.qr_opcode != DEMI_OPC_PUSH) {
				fprintf(stderr, "tcp_veth: demi: push failed: %s\n", strerror((int)qr.qr_ret));
				exit(1);
			}
			qts[i] = qts[--n];
		}
		CHECK(demi_pop(&qt, qd));
		demi_qresult_t qr = demi_wait_ok(qt, DEMI_OPC_POP);
		if (qr.qr_value.sga.sga_segs[0].sgaseg_len != 1) {
			fprintf(stderr, "tcp_veth: demi: no acknowledgement from the sink\n");
			exit(1);
		}
		demi_sgafree(&qr.qr_value.sga);
	} else {
		for (uint64_t got = 0; got < o->bytes;) {
			CHECK(demi_pop(&qt, qd));
			demi_qresult_t qr = demi_wait_ok(qt, DEMI_OPC_POP);
			uint32_t len = qr.qr_value.sga.sga_segs[0].sgaseg_len;
			demi_sgafree(&qr.qr_value.sga);
			if (len == 0) {
				fprintf(stderr, "tcp_veth: demi: connection ended after %llu B\n", (unsigned long long)got);
				exit(1);
			}
			got += len;
		}
	}
	uint64_t ns = now_ns() - t0;
	CHECK(demi_sgafree(&hdr));
	CHECK(demi_sgafree(&data));
	CHECK(demi_close(qd));
	report(bench_libos(), o, ns);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	struct opts o = parse(argc, argv);
	if (!strcmp(argv[1], "sink"))
		sink(&o);
	else if (!strcmp(argv[1], "linux"))
		linux_client(&o);
	else if (!strcmp(argv[1], "demi"))
		demi_client(&o);
	else
		usage();
	return 0;
}
