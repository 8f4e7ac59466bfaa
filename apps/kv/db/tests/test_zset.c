/* Sorted set commands through kv_exec: scores as doubles, formatted as redis-server 7.0 does (%.17g). */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(zset, .init = setup, .fini = teardown);

Test(zset, add_score_range)
{
	kvt_expect(&t, "ZADD z 1.5 a 0.1 b", ":2\r\n");
	kvt_expect(&t, "ZSCORE z b", "$19\r\n0.10000000000000001\r\n");
	kvt_expect(&t, "ZADD z 1e20 c 3 d", ":2\r\n");
	kvt_expect(&t, "ZRANGE z 0 -1 WITHSCORES",
		"*8\r\n$1\r\nb\r\n$19\r\n0.10000000000000001\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nd\r\n$1\r\n3\r\n$1\r\nc\r\n"
		"$5\r\n1e+20\r\n");
	kvt_expect(&t, "ZRANGE z 1 2", "*2\r\n$1\r\na\r\n$1\r\nd\r\n");
	kvt_expect(&t, "ZRANGE z 0 1 REV", "*2\r\n$1\r\nc\r\n$1\r\nd\r\n");
	kvt_expect(&t, "ZRANGE z 5 10", "*0\r\n");
	kvt_expect(&t, "ZRANGE z 0 -1 FOO", "-ERR syntax error\r\n");
	kvt_expect(&t, "ZADD z inf e -inf f", ":2\r\n");
	kvt_expect(&t, "ZSCORE z e", "$3\r\ninf\r\n");
	kvt_expect(&t, "ZSCORE z f", "$4\r\n-inf\r\n");
	kvt_expect(&t, "ZSCORE z nosuch", "$-1\r\n");
	kvt_expect(&t, "ZADD z nan g", "-ERR value is not a valid float\r\n");
	kvt_expect(&t, "ZADD z 1x g", "-ERR value is not a valid float\r\n");
	kvt_expect(&t, "ZADD z 1", "-ERR wrong number of arguments for 'zadd' command\r\n");
	kvt_expect(&t, "ZADD z NX 1", "-ERR syntax error\r\n");
	kvt_expect(&t, "ZCARD z", ":6\r\n");
	kvt_expect(&t, "ZCARD nosuch", ":0\r\n");
	kvt_expect(&t, "TYPE z", "+zset\r\n");
	kvt_check_replay(&t);
}

Test(zset, add_options)
{
	kvt_expect(&t, "ZADD z 1 a", ":1\r\n");
	kvt_expect(&t, "ZADD z NX 5 a 2 b", ":1\r\n");
	kvt_expect(&t, "ZSCORE z a", "$1\r\n1\r\n");
	kvt_expect(&t, "ZADD z XX 5 a 3 c", ":0\r\n");
	kvt_expect(&t, "ZSCORE z a", "$1\r\n5\r\n");
	kvt_expect(&t, "ZSCORE z c", "$-1\r\n");
	kvt_expect(&t, "ZADD z CH 6 a 2 b 7 d", ":2\r\n");
	kvt_expect(&t, "ZADD z GT 1 a", ":0\r\n");
	kvt_expect(&t, "ZADD z GT CH 10 a", ":1\r\n");
	kvt_expect(&t, "ZADD z LT CH 20 a", ":0\r\n");
	kvt_expect(&t, "ZADD z INCR 2.5 a", "$4\r\n12.5\r\n");
	kvt_expect(&t, "ZADD z INCR 1 new", "$1\r\n1\r\n");
	kvt_expect(&t, "ZADD z NX INCR 1 a", "$-1\r\n");
	kvt_expect(&t, "ZADD z INCR 1 a 2 b", "-ERR INCR option supports a single increment-element pair\r\n");
	kvt_expect(&t, "ZADD z NX XX 1 a", "-ERR XX and NX options at the same time are not compatible\r\n");
	kvt_expect(&t, "ZADD z GT LT 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n");
	kvt_expect(&t, "ZADD z inf a", ":0\r\n");
	kvt_expect(&t, "ZADD z INCR -inf a", "-ERR resulting score is not a number (NaN)\r\n");
	kvt_expect(&t, "ZADD nosuch XX 1 a", ":0\r\n");
	kvt_expect(&t, "EXISTS nosuch", ":0\r\n");
	kvt_check_replay(&t);
}

Test(zset, popmin_rem)
{
	kvt_expect(&t, "ZPOPMIN z", "*0\r\n");
	kvt_expect(&t, "ZADD z 3 c 1 a 2 b 1 aa", ":4\r\n");
	kvt_expect(&t, "ZPOPMIN z", "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
	kvt_expect(&t, "ZPOPMIN z 2", "*4\r\n$2\r\naa\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
	kvt_expect(&t, "ZPOPMIN z 0", "*0\r\n");
	kvt_expect(&t, "ZPOPMIN z -1", "-ERR value is out of range, must be positive\r\n");
	kvt_expect(&t, "ZREM z c x", ":1\r\n");
	kvt_expect(&t, "EXISTS z", ":0\r\n");
	kvt_check_replay(&t);
}

/* Many members in random order: ranks, order and removals stay consistent (the skiplist's spans). */
Test(zset, skiplist_ranks)
{
	char cmd[96], want[96];
	unsigned r = 12345;
	for (int i = 0; i < 2000; i++) {
		r = r * 1103515245 + 12345;
		snprintf(cmd, sizeof(cmd), "ZADD z %u m%04d", (r >> 8) % 500, i);
		kvt_expect(&t, cmd, ":1\r\n");
	}
	for (int i = 0; i < 2000; i += 3) {
		snprintf(cmd, sizeof(cmd), "ZREM z m%04d", i);
		kvt_expect(&t, cmd, ":1\r\n");
	}
	/* walk by rank one at a time and compare with the order of a full ZRANGE */
	struct kvt_buf all;
	kvt_buf_init(&all, 0);
	const char *full = kvt_run(&t, "ZRANGE z 0 -1 WITHSCORES");
	kv_out_put(&all.o, full, strlen(full));
	const char *p = kvt_buf_str(&all);
	cr_assert(strncmp(p, "*2666\r\n", 7) == 0, "%.10s", p);
	p += 7;
	double prev = -1;
	char prev_m[16] = "";
	for (int rank = 0; rank < 1333; rank++) {
		snprintf(cmd, sizeof(cmd), "ZRANGE z %d %d WITHSCORES", rank, rank);
		const char *one = kvt_run(&t, cmd);
		cr_assert(strncmp(one, "*2\r\n", 4) == 0);
		size_t n = strlen(one + 4);
		cr_assert(strncmp(p, one + 4, n) == 0, "rank %d: %s", rank, one);
		char m[16];
		double s;
		cr_assert(sscanf(one + 4, "$%*d\r\n%15[^\r]\r\n$%*d\r\n%lf", m, &s) == 2);
		cr_assert(s > prev || (s == prev && strcmp(m, prev_m) > 0), "rank %d out of order", rank);
		prev = s;
		strcpy(prev_m, m);
		p += n;
	}
	snprintf(want, sizeof(want), ":%d\r\n", 1333);
	kvt_expect(&t, "ZCARD z", want);
	kvt_buf_free(&all);
	kvt_check_replay(&t);
}
