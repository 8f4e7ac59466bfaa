/* Random commands: every command name with random arguments (numbers at the edges, options, binary bytes,
 * wrong types), in any order, with the clock jumping and the active expiry running. Nothing crashes, every
 * reply is one well-formed RESP value, and the log still replays to the same data set (ASan runs it too). */
#include "kvt.h"

static const char *const names[] = {"GET", "SET", "MSET", "MGET", "STRLEN", "APPEND", "INCR", "DECR", "INCRBY",
	"DECRBY", "DEL", "UNLINK", "EXISTS", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "TTL", "PTTL", "PERSIST",
	"TYPE", "DBSIZE", "FLUSHDB", "LPUSH", "RPUSH", "LPOP", "RPOP", "LLEN", "LINDEX", "LRANGE", "SADD", "SREM", "SPOP",
	"SMEMBERS", "SCARD", "SISMEMBER", "HSET", "HMSET", "HGET", "HEXISTS", "HGETALL", "HDEL", "HLEN", "ZADD",
	"ZPOPMIN", "ZRANGE", "ZSCORE", "ZCARD", "ZREM", "PING", "ECHO", "SELECT", "HELLO", "CLIENT", "COMMAND",
	"CONFIG", "INFO", "nosuch"};
static const char *const words[] = {"k", "l", "s", "h", "z", "0", "1", "-1", "2", "10", "100", "-100",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "1.5", "inf", "-inf", "nan", "1e308",
	"NX", "XX", "GT", "LT", "CH", "INCR", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "WITHSCORES", "REV", "ID",
	"SETNAME", "GETNAME", "SETINFO", "lib-name", "COUNT", "DOCS", "INFO", "GET", "save", "a*", "[", "\\", "AUTH",
	"default", "server", "keyspace", "", "x"};

static uint64_t r = 0x243f6a8885a308d3ull;
static uint64_t next(void)
{
	r ^= r << 13, r ^= r >> 7, r ^= r << 17;
	return r;
}

/* Skips one RESP value at p; returns its end or NULL when malformed. */
static const char *resp_skip(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || nl == p || nl[-1] != '\r')
		return NULL;
	char *e;
	long n;
	switch (*p) {
	case '+':
	case '-':
		return nl + 1;
	case ':':
		strtoll(p + 1, &e, 10);
		return e == nl - 1 ? nl + 1 : NULL;
	case '$':
		n = strtol(p + 1, &e, 10);
		if (e != nl - 1 || n < -1)
			return NULL;
		if (n == -1)
			return nl + 1;
		if (end - (nl + 1) < n + 2 || nl[1 + n] != '\r' || nl[2 + n] != '\n')
			return NULL;
		return nl + 3 + n;
	case '*':
		n = strtol(p + 1, &e, 10);
		if (e != nl - 1 || n < -1)
			return NULL;
		p = nl + 1;
		for (long i = 0; i < n && p != NULL; i++)
			p = resp_skip(p, end);
		return p;
	}
	return NULL;
}

Test(random, commands)
{
	struct kvt t;
	kvt_init(&t);
	struct kv_arg argv[12];
	char bin[12][8];
	int writes = 0, errors = 0, oks = 0;
	for (int i = 0; i < 30000; i++) {
		int argc = 1 + (int)(next() % 7);
		argv[0].p = names[next() % (sizeof(names) / sizeof(names[0]))];
		argv[0].len = strlen(argv[0].p);
		for (int j = 1; j < argc; j++) {
			if (next() % 8 == 0) { /* binary bytes */
				size_t n = next() % 8;
				for (size_t b = 0; b < n; b++)
					bin[j][b] = (char)next();
				argv[j].p = bin[j], argv[j].len = n;
			} else {
				argv[j].p = words[next() % (sizeof(words) / sizeof(words[0]))];
				argv[j].len = strlen(argv[j].p);
			}
		}
		if (strcmp(argv[0].p, "FLUSHDB") == 0 && next() % 20 != 0)
			continue;
		kvt_buf_reset(&t.out);
		size_t log_before = kvt_buf_len(&t.log);
		int flags = kv_exec(t.db, &t.c, argc, argv, t.now, &t.out.o, &t.log.o);
		cr_assert_eq((flags & KV_CMD_WRITE) != 0, kvt_buf_len(&t.log) != log_before, "%s: flags and log disagree",
			argv[0].p);
		const char *p = t.out.base, *end = p + kvt_buf_len(&t.out);
		cr_assert(p != NULL && resp_skip(p, end) == end, "%s (%d args): not one RESP value: %.60s", argv[0].p,
			argc, p != NULL ? p : "");
		writes += (flags & KV_CMD_WRITE) != 0;
		if (p[0] == '-')
			errors++;
		else
			oks++;
		t.c.quit = false;
		t.now += next() % 3000;
		if (i % 10 == 0)
			kv_db_expire_cycle(t.db, t.now, 5);
		if (i % 10000 == 9999)
			kvt_check_replay(&t);
	}
	kvt_check_replay(&t);
	cr_log_info("%d writes, %d errors, %d other replies", writes, errors, oks);
	cr_expect_gt(writes, 1000, "the mix writes: %d", writes);
	cr_expect_gt(oks, 5000, "the mix is not all errors: %d", oks);
	kvt_fini(&t);
}
