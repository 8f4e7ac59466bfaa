/* String commands through kv_exec: replies as redis-server 7.0 gives them, and the log's rewrite. */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(string, .init = setup, .fini = teardown);

Test(string, set_get_del)
{
	kvt_expect(&t, "GET a", "$-1\r\n");
	kvt_expect(&t, "SET a hello", "+OK\r\n");
	cr_expect_eq(t.flags, KV_CMD_WRITE);
	kvt_expect(&t, "get a", "$5\r\nhello\r\n");
	cr_expect_eq(t.flags, 0);
	kvt_expect(&t, "SET a \"\\x00\\r\\n\"", "+OK\r\n");
	kvt_expect(&t, "GET a", "$3\r\n\0\r\n\r\n");
	kvt_expect(&t, "SET \"k\\x00y\" v", "+OK\r\n");
	kvt_expect(&t, "GET \"k\\x00y\"", "$1\r\nv\r\n");
	kvt_expect(&t, "GET k", "$-1\r\n");
	kvt_expect(&t, "DEL a \"k\\x00y\" nosuch", ":2\r\n");
	kvt_expect(&t, "DEL a", ":0\r\n");
	cr_expect_eq(t.flags, 0, "a DEL that deleted nothing is not a write");
	kvt_expect(&t, "GET", "-ERR wrong number of arguments for 'get' command\r\n");
	kvt_expect(&t, "SET a", "-ERR wrong number of arguments for 'set' command\r\n");
	kvt_check_replay(&t);
}

Test(string, set_options)
{
	kvt_expect(&t, "SET a 1 NX", "+OK\r\n");
	kvt_expect(&t, "SET a 2 NX", "$-1\r\n");
	kvt_expect(&t, "SET b 2 XX", "$-1\r\n");
	kvt_expect(&t, "SET a 3 XX GET", "$1\r\n1\r\n");
	kvt_expect(&t, "SET a 4 GET", "$1\r\n3\r\n");
	kvt_expect(&t, "SET n 4 GET", "$-1\r\n");
	kvt_expect(&t, "SET a 5 NX GET", "$1\r\n4\r\n");
	kvt_expect(&t, "GET a", "$1\r\n4\r\n");
	kvt_expect(&t, "SET a 1 NX XX", "-ERR syntax error\r\n");
	kvt_expect(&t, "SET a 1 EX 10 PX 100", "-ERR syntax error\r\n");
	kvt_expect(&t, "SET a 1 EX 10 KEEPTTL", "-ERR syntax error\r\n");
	kvt_expect(&t, "SET a 1 EX", "-ERR syntax error\r\n");
	kvt_expect(&t, "SET a 1 FOO", "-ERR syntax error\r\n");
	kvt_expect(&t, "SET a 1 EX x", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "SET a 1 EX 0", "-ERR invalid expire time in 'set' command\r\n");
	kvt_expect(&t, "SET a 1 PX -5", "-ERR invalid expire time in 'set' command\r\n");
	kvt_expect(&t, "SET a 1 EX 9223372036854775", "-ERR invalid expire time in 'set' command\r\n");
	kvt_expect(&t, "SET a 1 EX 100", "+OK\r\n");
	kvt_expect(&t, "TTL a", ":100\r\n");
	kvt_expect(&t, "PTTL a", ":100000\r\n");
	kvt_expect(&t, "SET a 2 KEEPTTL", "+OK\r\n");
	kvt_expect(&t, "TTL a", ":100\r\n");
	kvt_expect(&t, "SET a 3", "+OK\r\n");
	kvt_expect(&t, "TTL a", ":-1\r\n");
	kvt_expect(&t, "SET a 3 px 1500", "+OK\r\n");
	kvt_expect(&t, "TTL a", ":2\r\n");
	kvt_expect(&t, "SET a 3 PXAT 1000000005000", "+OK\r\n");
	kvt_expect(&t, "PTTL a", ":5000\r\n");
	kvt_expect(&t, "SET a 3 EXAT 1000000010", "+OK\r\n");
	kvt_expect(&t, "PTTL a", ":10000\r\n");
	t.now += 10000;
	kvt_expect(&t, "GET a", "$-1\r\n");
	kvt_expect(&t, "TTL a", ":-2\r\n");
	kvt_check_replay(&t);
}

Test(string, set_wrongtype_get)
{
	kvt_expect(&t, "LPUSH l x", ":1\r\n");
	kvt_expect(&t, "SET l v GET", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_expect(&t, "GET l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_expect(&t, "SET l v", "+OK\r\n");
	kvt_expect(&t, "GET l", "$1\r\nv\r\n");
	kvt_check_replay(&t);
}

Test(string, incr)
{
	kvt_expect(&t, "INCR c", ":1\r\n");
	kvt_expect(&t, "INCRBY c 41", ":42\r\n");
	kvt_expect(&t, "DECR c", ":41\r\n");
	kvt_expect(&t, "DECRBY c -9", ":50\r\n");
	kvt_expect(&t, "GET c", "$2\r\n50\r\n");
	kvt_expect(&t, "SET c 9223372036854775807", "+OK\r\n");
	kvt_expect(&t, "INCR c", "-ERR increment or decrement would overflow\r\n");
	kvt_expect(&t, "SET c -9223372036854775808", "+OK\r\n");
	kvt_expect(&t, "DECR c", "-ERR increment or decrement would overflow\r\n");
	kvt_expect(&t, "DECRBY c -9223372036854775808", "-ERR decrement would overflow\r\n");
	kvt_expect(&t, "INCRBY c x", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "INCRBY c 1.5", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "SET s abc", "+OK\r\n");
	kvt_expect(&t, "INCR s", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "SET s \" 1\"", "+OK\r\n");
	kvt_expect(&t, "INCR s", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "SET s 01", "+OK\r\n");
	kvt_expect(&t, "INCR s", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "SET s 99 EX 100", "+OK\r\n");
	kvt_expect(&t, "INCR s", ":100\r\n");
	kvt_expect(&t, "TTL s", ":100\r\n");
	kvt_check_replay(&t);
	/* a key changed in place before its expiry keeps its TTL in the replay, even replayed after the expiry */
	t.now += 200000;
	kvt_expect(&t, "GET s", "$-1\r\n");
	kvt_check_replay(&t);
}

Test(string, mset_mget_append_strlen)
{
	kvt_expect(&t, "MSET a 1 b 2 c 3", "+OK\r\n");
	kvt_expect(&t, "MSET a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n");
	kvt_expect(&t, "LPUSH l x", ":1\r\n");
	kvt_expect(&t, "MGET a b nosuch l c", "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$-1\r\n$1\r\n3\r\n");
	kvt_expect(&t, "APPEND a bc", ":3\r\n");
	kvt_expect(&t, "APPEND new xyz", ":3\r\n");
	kvt_expect(&t, "APPEND l xyz", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_expect(&t, "GET a", "$3\r\n1bc\r\n");
	kvt_expect(&t, "STRLEN a", ":3\r\n");
	kvt_expect(&t, "STRLEN nosuch", ":0\r\n");
	kvt_expect(&t, "STRLEN l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	for (int i = 0; i < 100; i++)
		kvt_run(&t, "APPEND big 0123456789");
	kvt_expect(&t, "STRLEN big", ":1000\r\n");
	kvt_check_replay(&t);
}
