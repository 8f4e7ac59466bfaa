/* What kv_exec writes: the reply when the client's output limit is reached (overflow), and the log, whose
 * replay into a fresh data set must give the same data set after any sequence of commands. */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(log, .init = setup, .fini = teardown);

/* A reply larger than the output limit: more() fails, the writes after it are dropped, nothing overruns. */
Test(log, overflow)
{
	char cmd[64];
	for (int i = 0; i < 600; i++) {
		snprintf(cmd, sizeof(cmd), "RPUSH l element-%d", i);
		kvt_run(&t, cmd);
	}
	kvt_buf_free(&t.out);
	kvt_buf_init(&t.out, 1024);
	const char *r = kvt_run(&t, "LRANGE l 0 -1");
	cr_expect(t.out.o.overflow);
	cr_expect_leq(t.out.cap, 1024);
	cr_expect_leq(kvt_buf_len(&t.out), t.out.cap);
	cr_expect(strncmp(r, "*600\r\n$9\r\nelement-0\r\n", 21) == 0);
	size_t mores = t.out.mores;
	/* once overflowed, further replies are dropped without asking for more room again and again */
	kvt_run(&t, "LRANGE l 0 -1");
	cr_expect_leq(t.out.mores - mores, 2);
	/* every reply kind stops cleanly at the limit */
	const char *cmds[] = {"PING", "GET nosuch", "LRANGE l 0 -1", "INFO", "HELLO 2", "MGET a b c", "SMEMBERS s",
		"ZRANGE z 0 -1 WITHSCORES", "HGETALL h", "foo bar"};
	kvt_run(&t, "SADD s a b c d e f g h i j k l m n o p q r s t u v w x y z");
	kvt_run(&t, "HSET h a 1 b 2 c 3 d 4 e 5 f 6 g 7 h 8 i 9 j 10");
	kvt_run(&t, "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i 10 j 11 k 12 l");
	for (size_t limit = 64; limit <= 512; limit += 64) {
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			kvt_buf_free(&t.out);
			kvt_buf_init(&t.out, limit);
			kvt_run(&t, cmds[i]);
			cr_expect_leq(kvt_buf_len(&t.out), limit, "%s at %zu", cmds[i], limit);
		}
	}
}

/* A write that fails or changes nothing logs nothing (kvt_run checks that the flag and the log agree). */
Test(log, failed_writes_log_nothing)
{
	const char *cmds[] = {"SET a", "SET a 1 NX XX", "SET a 1 EX 0", "LPUSH s", "DEL nosuch", "EXPIRE nosuch 10",
		"PERSIST nosuch", "SREM nosuch a", "HDEL nosuch f", "ZADD z XX 1 a", "LPOP nosuch", "SPOP nosuch",
		"ZPOPMIN nosuch", "INCR", "FLUSHALL", "APPEND k \"\"", "SET k v NX"};
	kvt_run(&t, "SET k v");
	kvt_run(&t, "SET str v");
	size_t len = kvt_buf_len(&t.log);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (i == 14)
			continue; /* FLUSHALL with keys is a write */
		kvt_run(&t, cmds[i]);
		cr_expect_eq(t.flags & KV_CMD_WRITE, 0, "%s", cmds[i]);
	}
	kvt_run(&t, "LPUSH str x");
	kvt_run(&t, "INCR str");
	kvt_run(&t, "ZADD str 1 a");
	cr_expect_eq(kvt_buf_len(&t.log), len);
}

/* A long random mix of every write command over a few keys, with the clock moving, replayed at checkpoints. */
Test(log, random_replay)
{
	static const char *keys[] = {"a", "b", "c", "d", "\"e\\x00f\""};
	static const char *fmts[] = {"SET %s %u", "SET %s %u EX %u", "SET %s %u PX %u NX", "SET %s %u XX KEEPTTL",
		"SET %s %u GET PXAT %u000", "INCR %s", "INCRBY %s %u", "DECRBY %s %u", "APPEND %s x%u", "MSET %s %u b 1",
		"DEL %s", "EXPIRE %s %u", "PEXPIRE %s %u GT", "PERSIST %s", "EXPIREAT %s %u", "LPUSH %s %u %u",
		"RPUSH %s %u", "LPOP %s", "RPOP %s %u", "SADD %s m%u m%u", "SREM %s m%u", "SPOP %s", "SPOP %s %u",
		"HSET %s f%u %u", "HDEL %s f%u", "ZADD %s %u m%u", "ZADD %s INCR %u m%u", "ZPOPMIN %s %u",
		"ZREM %s m%u", "FLUSHALL"};
	unsigned r = 42;
	char cmd[128];
	for (int i = 0; i < 20000; i++) {
		r = r * 1103515245u + 12345u;
		unsigned f = (r >> 8) % (sizeof(fmts) / sizeof(fmts[0]));
		if (f == sizeof(fmts) / sizeof(fmts[0]) - 1 && (r >> 20) % 50 != 0)
			continue; /* FLUSHALL rarely */
		const char *k = keys[(r >> 4) % 5];
		unsigned a = (r >> 12) % 20 + 1, b = (r >> 16) % 7 + 1;
		if (f == 4)
			a = (unsigned)(t.now / 1000) + a;
		if (f == 14)
			b = (unsigned)(t.now / 1000) + b;
		snprintf(cmd, sizeof(cmd), fmts[f], k, a, b);
		const char *reply = kvt_run(&t, cmd);
		if (getenv("KVT_TRACE")) fprintf(stderr, "%s -> %s\n", cmd, reply);
		(void)reply;
		t.now += (r >> 24) % 700;
		if (i % 7 == 0)
			kv_db_expire_cycle(t.db, t.now, 3); /* the server's timer, between commands */
		if (i % 2500 == 2499)
			kvt_check_replay(&t);
	}
	kvt_check_replay(&t);
	/* replayed long after every expiry: the same (empty of expiring keys) data set */
	t.now += 1000000;
	kvt_check_replay(&t);
}
