/* Helpers shared by the benchmarks: clocks, CPU pinning, arguments, socket I/O, latency statistics, result lines. */
#ifndef DEMI_BENCH_H
#define DEMI_BENCH_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Exits with the call and its error when a call returning a positive errno fails. */
#define CHECK(call)                                                            \
	do {                                                                   \
		int err_ = (call);                                             \
		if (err_ != 0) {                                               \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, \
				#call, strerror(err_));                        \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* Exits with errno when a libc call returning -1 fails. */
#define CHECK_SYS(call)                                                        \
	do {                                                                   \
		if ((call) < 0) {                                              \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, \
				#call, strerror(errno));                       \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* "ADDR:PORT" (IPv4) into *out: 0, or -1 when s is not one. */
static inline int bench_parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

/* A byte count with an optional K, M or G suffix; 0 when malformed (zero itself is refused too). */
static inline uint64_t bench_parse_bytes(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': v <<= 10, end++; break;
	case 'M': v <<= 20, end++; break;
	case 'G': v <<= 30, end++; break;
	default: break;
	}
	return *end ? 0 : v;
}

/* The libOS a Demi benchmark runs on, for its reports: $LIBOS, catnap by default. */
static inline const char *bench_libos(void)
{
	const char *l = getenv("LIBOS");
	return l && *l ? l : "catnap";
}

/* Reads exactly len bytes from a Linux socket: 0, or -1 on end of stream or error. */
static inline int bench_read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Writes exactly len bytes to a Linux socket: 0, or -1 on error. */
static inline int bench_write_full(int fd, const void *buf, size_t len)
{
	for (size_t put = 0; put < len;) {
		ssize_t n = send(fd, (const char *)buf + put, len - put, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The idx-th CPU this process may run on (idx counted from 0), or -1 when it
 * may run on fewer than idx + 1 CPUs.
 */
static inline int bench_cpu(int idx)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -1;
	for (int c = 0, seen = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && seen++ == idx)
			return c;
	return -1;
}

/*
 * Pins the calling process to its role's CPU: role 0 (server) the first
 * allowed CPU, role 1 (client) the second. With one CPU nothing is pinned.
 * Both CPUs are chosen before the fork so that the two roles never share one.
 */
static inline void bench_pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		perror("sched_setaffinity");
}

/* In a forked child: die with the parent, so that no server outlives a failed run. */
static inline void bench_die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct lat_stats {
	double mean, p50, p99, p999, max; /* nanoseconds */
};

/* Sorts lat in place and summarises it. */
static inline struct lat_stats lat_summarise(uint64_t *lat, size_t n)
{
	struct lat_stats s = { 0 };
	if (n == 0)
		return s;
	qsort(lat, n, sizeof(*lat), bench_cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)lat[i];
	s.mean = sum / (double)n;
	s.p50 = (double)lat[n / 2];
	s.p99 = (double)lat[n * 99 / 100];
	s.p999 = (double)lat[n * 999 / 1000];
	s.max = (double)lat[n - 1];
	return s;
}

/*
 * The throughput window both echo programs measure alike: timing starts a
 * fifth of `seconds` after `start` (warm-up), lasts `seconds`, then pushing
 * stops so the client can drain.
 */
struct tput_span {
	uint64_t t_begin, t_end;   /* when timing starts and ends */
	uint64_t m_begin, m_end;   /* messages echoed back at those points */
	uint64_t ns_begin, ns_end; /* the clock at those points */
	bool timing, pushing;
};

static inline void tput_span_start(struct tput_span *w, uint64_t start, double seconds)
{
	*w = (struct tput_span){ .pushing = true };
	w->t_begin = start + (uint64_t)(seconds * 0.2e9);
	w->t_end = w->t_begin + (uint64_t)(seconds * 1e9);
}

/* Called after every poll with the clock and the messages echoed so far. */
static inline void tput_span_tick(struct tput_span *w, uint64_t now, uint64_t msgs_back)
{
	if (!w->timing && w->pushing && now >= w->t_begin) {
		w->timing = true;
		w->m_begin = msgs_back;
		w->ns_begin = now;
	} else if (w->timing && now >= w->t_end) {
		w->timing = false;
		w->pushing = false;
		w->m_end = msgs_back;
		w->ns_end = now;
	}
}

/*
 * Prints a latency result: one human line, then one "RESULT" line of
 * key=value pairs that bench/run parses.
 */
static inline void lat_report(const char *impl, size_t size, size_t n, const struct lat_stats *s)
{
	printf("%s: %zu round trips of %zu B: mean %.2f us  p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.2f us\n",
	       impl, n, size, s->mean / 1e3, s->p50 / 1e3, s->p99 / 1e3, s->p999 / 1e3, s->max / 1e3);
	printf("RESULT kind=lat impl=%s size=%zu n=%zu mean_ns=%.0f p50_ns=%.0f p99_ns=%.0f p999_ns=%.0f max_ns=%.0f\n",
	       impl, size, n, s->mean, s->p50, s->p99, s->p999, s->max);
	fflush(stdout);
}

static inline void tput_report(const char *impl, size_t size, int window, uint64_t msgs, uint64_t ns)
{
	double mps = (double)msgs * 1e9 / (double)ns;
	printf("%s: %llu messages of %zu B, window %d, in %.3f s: %.0f messages/s (%.1f MB/s each way)\n", impl,
	       (unsigned long long)msgs, size, window, (double)ns / 1e9, mps, mps * (double)size / 1e6);
	printf("RESULT kind=tput impl=%s size=%zu window=%d msgs=%llu ns=%llu mps=%.0f\n", impl, size, window,
	       (unsigned long long)msgs, (unsigned long long)ns, mps);
	fflush(stdout);
}

/* Options common to echo_bench and linux_echo. */
struct echo_opts {
	size_t size;      /* bytes per message */
	long count;       /* timed round trips */
	long warmup;      /* untimed round trips first */
	int window;       /* throughput: messages outstanding */
	double seconds;   /* throughput: timed duration */
	int lat, tput;    /* which measurements to run */
};

static inline void echo_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--size BYTES] [--count N] [--warmup N] [--window W] [--seconds S] [--lat-only|--tput-only]\n"
		"  defaults: --size 64 --count 200000 --warmup count/10 (at least 1000) --window 16 --seconds 2\n",
		prog);
	exit(2);
}

static inline struct echo_opts echo_parse(int argc, char **argv)
{
	struct echo_opts o = { .size = 64, .count = 200000, .warmup = -1, .window = 16, .seconds = 2.0, .lat = 1, .tput = 1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--lat-only")) {
			o.tput = 0;
		} else if (!strcmp(a, "--tput-only")) {
			o.lat = 0;
		} else if (v && !strcmp(a, "--size")) {
			o.size = (size_t)atol(v), i++;
		} else if (v && !strcmp(a, "--count")) {
			o.count = atol(v), i++;
		} else if (v && !strcmp(a, "--warmup")) {
			o.warmup = atol(v), i++;
		} else if (v && !strcmp(a, "--window")) {
			o.window = atoi(v), i++;
		} else if (v && !strcmp(a, "--seconds")) {
			o.seconds = atof(v), i++;
		} else {
			echo_usage(argv[0]);
		}
	}
	if (o.warmup < 0)
		o.warmup = o.count / 10 > 1000 ? o.count / 10 : 1000;
	if (o.size == 0 || o.size > (1u << 20) || o.count <= 0 || o.window <= 0 || o.seconds <= 0 ||
	    (!o.lat && !o.tput))
		echo_usage(argv[0]);
	return o;
}

#endif
