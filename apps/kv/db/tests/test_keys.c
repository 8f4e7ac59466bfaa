/* Key space commands and expiry (lazy, active, and in the log as absolute times). */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(keys, .init = setup, .fini = teardown);

Test(keys, del_exists_type_dbsize_flush)
{
	kvt_expect(&t, "MSET a 1 b 2", "+OK\r\n");
	kvt_expect(&t, "RPUSH l x", ":1\r\n");
	kvt_expect(&t, "EXISTS a a nosuch l", ":3\r\n");
	kvt_expect(&t, "TYPE a", "+string\r\n");
	kvt_expect(&t, "TYPE l", "+list\r\n");
	kvt_expect(&t, "TYPE nosuch", "+none\r\n");
	kvt_expect(&t, "DBSIZE", ":3\r\n");
	cr_expect_eq(kv_db_size(t.db), 3);
	kvt_expect(&t, "DEL", "-ERR wrong number of arguments for 'del' command\r\n");
	kvt_expect(&t, "UNLINK b", ":1\r\n");
	kvt_expect(&t, "FLUSHDB x", "-ERR syntax error\r\n");
	kvt_expect(&t, "FLUSHALL", "+OK\r\n");
	cr_expect_eq(t.flags, KV_CMD_WRITE);
	kvt_expect(&t, "DBSIZE", ":0\r\n");
	kvt_expect(&t, "FLUSHDB ASYNC", "+OK\r\n");
	cr_expect_eq(t.flags, 0, "flushing an empty data set is not a write");
	kvt_check_replay(&t);
}

Test(keys, expire_ttl_persist)
{
	kvt_expect(&t, "SET k v", "+OK\r\n");
	kvt_expect(&t, "TTL k", ":-1\r\n");
	kvt_expect(&t, "TTL nosuch", ":-2\r\n");
	kvt_expect(&t, "PTTL nosuch", ":-2\r\n");
	kvt_expect(&t, "EXPIRE nosuch 10", ":0\r\n");
	kvt_expect(&t, "EXPIRE k 10", ":1\r\n");
	kvt_expect(&t, "TTL k", ":10\r\n");
	kvt_expect(&t, "PEXPIRE k 2500", ":1\r\n");
	kvt_expect(&t, "PTTL k", ":2500\r\n");
	kvt_expect(&t, "TTL k", ":3\r\n");
	kvt_expect(&t, "EXPIRE k 100 NX", ":0\r\n");
	kvt_expect(&t, "EXPIRE k 100 GT", ":1\r\n");
	kvt_expect(&t, "EXPIRE k 50 GT", ":0\r\n");
	kvt_expect(&t, "EXPIRE k 50 LT", ":1\r\n");
	kvt_expect(&t, "PERSIST k", ":1\r\n");
	kvt_expect(&t, "PERSIST k", ":0\r\n");
	cr_expect_eq(t.flags, 0);
	kvt_expect(&t, "EXPIRE k 100 XX", ":0\r\n");
	kvt_expect(&t, "EXPIRE k 100 GT", ":0\r\n");
	kvt_expect(&t, "EXPIRE k 100 LT", ":1\r\n");
	kvt_expect(&t, "EXPIRE k 100 foo", "-ERR Unsupported option foo\r\n");
	kvt_expect(&t, "EXPIRE k 100 NX XX", "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
	kvt_expect(&t, "EXPIRE k 100 GT LT", "-ERR GT and LT options at the same time are not compatible\r\n");
	kvt_expect(&t, "EXPIRE k x", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "EXPIRE k 9223372036854775807", "-ERR invalid expire time in 'expire' command\r\n");
	kvt_expect(&t, "PEXPIRE k 9223372036854775807", "-ERR invalid expire time in 'pexpire' command\r\n");
	kvt_expect(&t, "EXPIREAT k 1000000100", ":1\r\n");
	kvt_expect(&t, "TTL k", ":100\r\n");
	kvt_expect(&t, "PEXPIREAT k 1000000000500", ":1\r\n");
	kvt_expect(&t, "PTTL k", ":500\r\n");
	kvt_check_replay(&t);
	t.now += 500;
	kvt_expect(&t, "EXISTS k", ":0\r\n");
	kvt_expect(&t, "SET k v", "+OK\r\n");
	kvt_expect(&t, "EXPIRE k -1", ":1\r\n");
	kvt_expect(&t, "EXISTS k", ":0\r\n");
	kvt_check_replay(&t);
}

/* Relative expiries are logged as absolute times: the replay, however late, gives the same expiry. */
Test(keys, log_has_absolute_times)
{
	kvt_run(&t, "SET a v EX 100");
	kvt_run(&t, "SET b v PX 100 NX");
	kvt_run(&t, "SET c v");
	kvt_run(&t, "EXPIRE c 10");
	kvt_run(&t, "PEXPIRE c 20");
	kvt_run(&t, "SET d v");
	kvt_run(&t, "EXPIRE d 0");
	const char *want = "*5\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n1000000100000\r\n"
			   "*5\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n1000000000100\r\n"
			   "*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\nv\r\n"
			   "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nc\r\n$13\r\n1000000010000\r\n"
			   "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nc\r\n$13\r\n1000000000020\r\n"
			   "*3\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\nv\r\n"
			   "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n";
	cr_expect_str_eq(kvt_buf_str(&t.log), want);
	t.now += 50;
	kvt_check_replay(&t);
}

Test(keys, active_expiry)
{
	char cmd[64];
	for (int i = 0; i < 1000; i++) {
		snprintf(cmd, sizeof(cmd), "SET k%d v PX %d", i, i < 500 ? 10 : 100000);
		kvt_run(&t, cmd);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(cmd, sizeof(cmd), "SET p%d v", i);
		kvt_run(&t, cmd);
	}
	cr_expect_eq(kv_db_size(t.db), 1100);
	cr_expect_eq(kv_db_expire_cycle(t.db, t.now, 1000), 0, "nothing has expired yet");
	size_t removed = 0;
	for (int round = 0; round < 1000 / 20; round++)
		removed += kv_db_expire_cycle(t.db, t.now + 20, 20);
	cr_expect_eq(removed, 500, "one pass over the keys with a TTL finds every expired one");
	cr_expect_eq(kv_db_size(t.db), 600);
	kvt_expect(&t, "DBSIZE", ":600\r\n");
	t.now += 20;
	const char *info = kvt_run(&t, "INFO keyspace");
	cr_expect(strstr(info, "db0:keys=600,expires=500,avg_ttl=0\r\n") != NULL, "%s", info);
}
