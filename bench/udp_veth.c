/*
 * UDP echo round trip over a veth pair: a Demi client (any libOS; catpowder in
 * bench/udp_veth_run) or a Linux-socket client against a Linux UDP echo
 * server in the peer namespace. Both clients busy-poll, as the server does.
 *   udp_veth server ADDR:PORT [--seconds S]   busy-polling Linux echo server, stops after S (300)
 *   udp_veth linux ADDR:PORT [--size 64] [--count N] [--warmup N]
 *   udp_veth demi ADDR:PORT [--size 64] [--count N] [--warmup N]
 * Clients print one human line and one RESULT line (kind=lat impl=linux|$LIBOS).
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bench.h"

struct opts {
	struct sockaddr_in addr;
	size_t size;
	long count, warmup;
	double seconds;
};

static void usage(void)
{
	fprintf(stderr, "usage: udp_veth server|linux|demi ADDR:PORT [--size B] [--count N] [--warmup N] [--seconds S]\n");
	exit(2);
}

static struct opts parse(int argc, char **argv)
{
	struct opts o = { .size = 64, .count = 100000, .warmup = -1, .seconds = 300 };
	if (argc < 3 || bench_parse_addr(argv[2], &o.addr) < 0)
		usage();
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--size"))
			o.size = (size_t)atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--count"))
			o.count = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--warmup"))
			o.warmup = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			o.seconds = atof(argv[i + 1]);
		else
			usage();
	}
	if ((argc - 3) % 2 || o.size == 0 || o.size > 1472 || o.count <= 0)
		usage();
	if (o.warmup < 0)
		o.warmup = o.count / 10 > 1000 ? o.count / 10 : 1000;
	return o;
}

static void server(const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK_SYS(fd);
	CHECK_SYS(bind(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	printf("udp_veth: server on %s:%d\n", inet_ntoa(o->addr.sin_addr), ntohs(o->addr.sin_port));
	fflush(stdout);
	uint64_t end = now_ns() + (uint64_t)(o->seconds * 1e9);
	char buf[2048];
	for (uint64_t polls = 0;; polls++) {
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
		if (n > 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
		else if ((polls & 0xffff) == 0 && now_ns() > end)
			return;
	}
}

static void linux_client(const struct opts *o)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK_SYS(fd);
	CHECK_SYS(connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
	char out[2048], in[2048];
	memset(out, 'x', o->size);
	uint64_t *lat = calloc((size_t)o->count, sizeof(*lat));
	for (long i = -o->warmup; i < o->count; i++) {
		uint64_t t0 = now_ns();
		CHECK_SYS(send(fd, out, o->size, 0));
		ssize_t n;
		while ((n = recv(fd, in, sizeof(in), MSG_DONTWAIT)) < 0 && (errno == EAGAIN || errno == EINTR))
			;
		CHECK_SYS(n);
		if ((size_t)n != o->size) {
			fprintf(stderr, "udp_veth: echo of %zd B, want %zu\n", n, o->size);
			exit(1);
		}
		if (i >= 0)
			lat[i] = now_ns() - t0;
	}
	struct lat_stats s = lat_summarise(lat, (size_t)o->count);
	lat_report("linux", o->size, (size_t)o->count, &s);
	free(lat);
}

static void demi_client(const struct opts *o)
{
	char *argv[] = { "udp_veth", NULL };
	struct demi_args args = { .argc = 1, .argv = argv, .callback = NULL };
	CHECK(demi_init(&args));
	int qd;
	CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
	/* One sga pushed every time: allocation stays out of the round trip. */
	demi_sgarray_t sga = demi_sgaalloc(o->size);
	if (!sga.sga_buf) {
		fprintf(stderr, "udp_veth: demi_sgaalloc failed\n");
		exit(1);
	}
	memset(sga.sga_segs[0].sgaseg_buf, 'x', o->size);
	uint64_t *lat = calloc((size_t)o->count, sizeof(*lat));
	struct timespec limit = { .tv_sec = 2 };
	for (long i = -o->warmup; i < o->count; i++) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		uint64_t t0 = now_ns();
		CHECK(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&o->addr, sizeof(o->addr)));
		CHECK(demi_wait(&qr, qt, NULL));
		CHECK(demi_pop(&qt, qd));
		CHECK(demi_wait(&qr, qt, &limit)); /* a lost datagram ends the run: veth does not lose them */
		if (qr.qr_opcode != DEMI_OPC_POP || qr.qr_value.sga.sga_segs[0].sgaseg_len != o->size) {
			fprintf(stderr, "udp_veth: bad echo (opcode %d)\n", qr.qr_opcode);
			exit(1);
		}
		if (i >= 0)
			lat[i] = now_ns() - t0;
		CHECK(demi_sgafree(&qr.qr_value.sga));
	}
	CHECK(demi_sgafree(&sga));
	CHECK(demi_close(qd));
	struct lat_stats s = lat_summarise(lat, (size_t)o->count);
	lat_report(bench_libos(), o->size, (size_t)o->count, &s);
	free(lat);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	struct opts o = parse(argc, argv);
	if (!strcmp(argv[1], "server"))
		server(&o);
	else if (!strcmp(argv[1], "linux"))
		linux_client(&o);
	else if (!strcmp(argv[1], "demi"))
		demi_client(&o);
	else
		usage();
	return 0;
}
