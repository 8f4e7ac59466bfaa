/*
 * kv_exec's cost per command, in process (no network): ns per call of PING (the dispatch and a reply: the
 * baseline of the same run), MISS (one random read in 32 MiB: a cache miss, the memory's floor), GET, SET, INCR, LPUSH, SADD, HSET, ZADD over a key space of 100,000 keys with 64 B
 * values, and LRANGE of the first 100 and 600 elements of a 600 element list (their ratio shows that LRANGE is
 * linear in what it returns). Each figure is the median of --reps runs; the runs alternate the commands.
 * Built by apps/kv/db/meson.build (it needs kvdb); bench/kvdb_run builds and runs it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv_cmd.h"

static char sink[1 << 16];

/* Replies go to one fixed chunk, rewound when full: what a server's buffer costs, without the network. */
static int sink_more(struct kv_out *o)
{
	o->p = sink, o->end = sink + sizeof(sink);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define KEYS 100000

static char keys[KEYS][16], members[1000][8], scores[977][8];
#define MISS_BYTES (32u << 20)
static unsigned char *miss_area;
static volatile unsigned miss_sum;

struct bench {
	struct kv_db *db;
	struct kv_client c;
	struct kv_out out, log;
	uint64_t rng;
};

static uint64_t rnd(struct bench *b)
{
	b->rng ^= b->rng << 13, b->rng ^= b->rng >> 7, b->rng ^= b->rng << 17;
	return b->rng;
}

static int exec_words(struct bench *b, int argc, const char *const *words, const size_t *lens)
{
	struct kv_arg argv[8];
	for (int i = 0; i < argc; i++)
		argv[i].p = words[i], argv[i].len = lens[i];
	if (b->out.p + 65536 > b->out.end)
		sink_more(&b->out);
	if (b->log.p + 65536 > b->log.end)
		sink_more(&b->log);
	return kv_exec(b->db, &b->c, argc, argv, 1000000, &b->out, &b->log);
}

enum { C_PING, C_MISS, C_GET, C_SET, C_INCR, C_LPUSH, C_SADD, C_HSET, C_ZADD, C_LRANGE100, C_LRANGE600, C_N };
static const char *const names[C_N] = {"PING", "MISS", "GET", "SET", "INCR", "LPUSH", "SADD", "HSET", "ZADD",
	"LRANGE_100", "LRANGE_600"};

/* Runs command kind k n times; returns ns per call. */
static double run(struct bench *b, int k, int n)
{
	static char value[64];
	memset(value, 'v', sizeof(value));
	uint64_t t0 = now_ns();
	for (int i = 0; i < n; i++) {
		/* the arguments are made before the clock starts: the figures are kv_exec's, not snprintf's */
		unsigned r = (unsigned)(rnd(b) % KEYS);
		const char *key = keys[r], *member = members[r % 1000], *score = scores[r % 977];
		size_t kl = 10, ml = strlen(member);
		const char *w[6];
		size_t l[6];
		int argc = 0;
#define W(s, len) (w[argc] = (s), l[argc] = (len), argc++)
		switch (k) {
		case C_MISS: /* the memory floor: one random read in an array as large as the key space */
			miss_sum += miss_area[(rnd(b) % (MISS_BYTES / 64)) * 64];
			continue;
		case C_PING: W("PING", 4); break;
		case C_GET: W("GET", 3), W(key, kl); break;
		case C_SET: W("SET", 3), W(key, kl), W(value, sizeof(value)); break;
		case C_INCR: W("INCR", 4), W("counter", 7); break;
		case C_LPUSH: W("LPUSH", 5), W("mylist", 6), W(value, 3); break;
		case C_SADD: W("SADD", 4), W("myset", 5), W(member, ml); break;
		case C_HSET: W("HSET", 4), W("myhash", 6), W(member, ml), W(value, 10); break;
		case C_ZADD: W("ZADD", 4), W("myzset", 6), W(score, strlen(score)), W(member, ml); break;
		case C_LRANGE100: W("LRANGE", 6), W("list600", 7), W("0", 1), W("99", 2); break;
		case C_LRANGE600: W("LRANGE", 6), W("list600", 7), W("0", 1), W("599", 3); break;
		}
#undef W
		exec_words(b, argc, w, l);
	}
	return (double)(now_ns() - t0) / n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int reps = 5, calls = 200000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
			calls = atoi(argv[++i]);
		else if (strcmp(argv[i], "--quick") == 0)
			calls = 20000, reps = 3;
		else {
			fprintf(stderr, "usage: kvdb_bench [--reps N] [--calls N] [--quick]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > 100 || calls < 100) {
		fprintf(stderr, "kvdb_bench: --reps 1..100, --calls >= 100\n");
		return 2;
	}
	struct bench b = {.db = kv_db_create(), .c = {.id = 1, .resp = 2}, .rng = 88172645463325252ull};
	if (b.db == NULL)
		return 1;
	b.out.more = b.log.more = sink_more;
	sink_more(&b.out), sink_more(&b.log);
	/* the key space, and the 600 element list of redis-benchmark's LRANGE_600 */
	static char value[64];
	memset(value, 'v', sizeof(value));
	miss_area = malloc(MISS_BYTES);
	if (miss_area == NULL)
		return 1;
	memset(miss_area, 1, MISS_BYTES);
	for (unsigned i = 0; i < 1000; i++)
		snprintf(members[i], sizeof(members[i]), "m%u", i);
	for (unsigned i = 0; i < 977; i++)
		snprintf(scores[i], sizeof(scores[i]), "%u", i);
	for (unsigned i = 0; i < KEYS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key:%06u", i);
		exec_words(&b, 3, (const char *const[]){"SET", keys[i], value}, (const size_t[]){3, 10, sizeof(value)});
	}
	for (int i = 0; i < 600; i++)
		exec_words(&b, 3, (const char *const[]){"RPUSH", "list600", value}, (const size_t[]){5, 7, 3});
	double res[C_N][100];
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < C_N; k++)
			res[k][r] = run(&b, k, k >= C_LRANGE100 ? calls / 20 : calls);
	printf("# kv_exec in process, %d calls per run (LRANGE: %d), median of %d runs; ratio: to PING of the same runs\n",
		calls, calls / 20, reps);
	printf("%-12s %10s %8s\n", "command", "ns/call", "xPING");
	double med[C_N];
	for (int k = 0; k < C_N; k++) {
		qsort(res[k], (size_t)reps, sizeof(double), cmp_double);
		med[k] = res[k][reps / 2];
	}
	for (int k = 0; k < C_N; k++)
		printf("%-12s %10.1f %8.2f\n", names[k], med[k], med[k] / med[C_PING]);
	printf("GET/MISS %.2f (cache misses a GET costs, about)\n", med[C_GET] / med[C_MISS]);
	printf("LRANGE_600/LRANGE_100 %.2f (6.0 when linear in the elements returned)\n", med[C_LRANGE600] / med[C_LRANGE100]);
	kv_db_destroy(b.db);
	free(miss_area);
	return 0;
}
