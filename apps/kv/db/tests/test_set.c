/* Set commands through kv_exec; SPOP logged as SREM of what it popped. */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(set, .init = setup, .fini = teardown);

Test(set, add_rem_card)
{
	kvt_expect(&t, "SADD s a b c a", ":3\r\n");
	kvt_expect(&t, "SADD s a", ":0\r\n");
	cr_expect_eq(t.flags, 0, "adding nothing new is not a write");
	kvt_expect(&t, "SCARD s", ":3\r\n");
	kvt_expect(&t, "SISMEMBER s b", ":1\r\n");
	kvt_expect(&t, "SISMEMBER s x", ":0\r\n");
	kvt_expect(&t, "SISMEMBER nosuch x", ":0\r\n");
	kvt_expect(&t, "SREM s b x", ":1\r\n");
	kvt_expect(&t, "SREM s x", ":0\r\n");
	kvt_expect(&t, "SMEMBERS nosuch", "*0\r\n");
	kvt_expect(&t, "SREM s a c", ":2\r\n");
	kvt_expect(&t, "EXISTS s", ":0\r\n");
	kvt_expect(&t, "SADD s one", ":1\r\n");
	kvt_expect(&t, "SMEMBERS s", "*1\r\n$3\r\none\r\n");
	kvt_expect(&t, "TYPE s", "+set\r\n");
	kvt_expect(&t, "SET str v", "+OK\r\n");
	kvt_expect(&t, "SADD str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_expect(&t, "SCARD str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_check_replay(&t);
}

Test(set, many_members_rehash)
{
	char cmd[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(cmd, sizeof(cmd), "SADD s m%d", i);
		kvt_expect(&t, cmd, ":1\r\n");
	}
	kvt_expect(&t, "SCARD s", ":5000\r\n");
	const char *r = kvt_run(&t, "SMEMBERS s");
	cr_expect(strncmp(r, "*5000\r\n", 7) == 0);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(cmd, sizeof(cmd), "SREM s m%d", i);
		kvt_expect(&t, cmd, ":1\r\n");
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(cmd, sizeof(cmd), "SISMEMBER s m%d", i);
		kvt_expect(&t, cmd, i % 2 ? ":1\r\n" : ":0\r\n");
	}
	kvt_check_replay(&t);
}

Test(set, spop)
{
	kvt_expect(&t, "SPOP s", "$-1\r\n");
	kvt_expect(&t, "SPOP s 3", "*0\r\n");
	kvt_expect(&t, "SADD s a b c d e f g h", ":8\r\n");
	const char *r = kvt_run(&t, "SPOP s");
	cr_expect(strncmp(r, "$1\r\n", 4) == 0);
	kvt_expect(&t, "SCARD s", ":7\r\n");
	r = kvt_run(&t, "SPOP s 3");
	cr_expect(strncmp(r, "*3\r\n", 4) == 0);
	kvt_expect(&t, "SCARD s", ":4\r\n");
	kvt_expect(&t, "SPOP s 0", "*0\r\n");
	kvt_expect(&t, "SPOP s -1", "-ERR value is out of range, must be positive\r\n");
	kvt_expect(&t, "SPOP s 1 2", "-ERR syntax error\r\n");
	kvt_check_replay(&t);
	/* the log says SREM, never SPOP: a replay pops nothing at random */
	cr_expect_null(memmem(t.log.base, kvt_buf_len(&t.log), "SPOP", 4));
	r = kvt_run(&t, "SPOP s 10");
	cr_expect(strncmp(r, "*4\r\n", 4) == 0);
	kvt_expect(&t, "EXISTS s", ":0\r\n");
	kvt_check_replay(&t);
}
