/* Small helpers shared by the examples: address parsing, clocks, percentiles, error checks. */
#ifndef DEMI_EXAMPLES_COMMON_H
#define DEMI_EXAMPLES_COMMON_H

#include <arpa/inet.h>
#include <demi/libos.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exits with the call and its error when a PDPIX call fails. */
#define CHECK(call)                                                            \
	do {                                                                   \
		int err_ = (call);                                             \
		if (err_ != 0) {                                               \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, \
				#call, strerror(err_));                        \
			exit(1);                                               \
		}                                                              \
	} while (0)

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "A.B.C.D:PORT" to a sockaddr_in; -1 when malformed. */
static inline int parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts lat in place and prints p50/p99/p99.9 in microseconds. */
static inline void print_latency(const char *who, uint64_t *lat, size_t n, size_t size)
{
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("%s: %zu round trips of %zu B: p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.2f us\n", who, n, size,
	       lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3, lat[n * 999 / 1000] / 1e3, lat[n - 1] / 1e3);
}

/*
 * The examples' shared main: "NAME server|client ADDR:PORT [MESSAGES] [SIZE]",
 * demi_init, then server(addr) or client(addr, n, size) with size in 1..max_size.
 */
static inline int example_main(int argc, char **argv, const char *name, size_t max_size,
			       int (*server)(const struct sockaddr_in *),
			       int (*client)(const struct sockaddr_in *, long, size_t))
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s server|client ADDR:PORT [MESSAGES] [SIZE]\n", argv[0]);
		return 2;
	}
	struct sockaddr_in addr;
	if (parse_addr(argv[2], &addr) < 0) {
		fprintf(stderr, "%s: bad address %s\n", name, argv[2]);
		return 2;
	}
	struct demi_args args = { .argc = argc, .argv = argv, .callback = NULL };
	int err = demi_init(&args);
	if (err) {
		fprintf(stderr, "%s: demi_init: %s\n", name, strerror(err));
		return 1;
	}
	if (strcmp(argv[1], "server") == 0)
		return server(&addr);
	long n = argc > 3 ? atol(argv[3]) : 10000;
	size_t size = argc > 4 ? (size_t)atol(argv[4]) : 64;
	if (n <= 0 || size == 0 || size > max_size) {
		fprintf(stderr, "%s: MESSAGES must be positive, SIZE 1..%zu\n", name, max_size);
		return 2;
	}
	return client(&addr, n, size);
}

#endif
