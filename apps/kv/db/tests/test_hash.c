/* Hash commands through kv_exec. */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(hash, .init = setup, .fini = teardown);

Test(hash, set_get_del)
{
	kvt_expect(&t, "HSET h f1 v1 f2 v2", ":2\r\n");
	kvt_expect(&t, "HSET h f1 new f3 v3", ":1\r\n");
	kvt_expect(&t, "HSET h f1", "-ERR wrong number of arguments for 'hset' command\r\n");
	kvt_expect(&t, "HSET h f1 v f2", "-ERR wrong number of arguments for 'hset' command\r\n");
	kvt_expect(&t, "HGET h f1", "$3\r\nnew\r\n");
	kvt_expect(&t, "HGET h nosuch", "$-1\r\n");
	kvt_expect(&t, "HGET nosuch f", "$-1\r\n");
	kvt_expect(&t, "HLEN h", ":3\r\n");
	kvt_expect(&t, "HEXISTS h f2", ":1\r\n");
	kvt_expect(&t, "HDEL h f2 nosuch", ":1\r\n");
	kvt_expect(&t, "HDEL h nosuch", ":0\r\n");
	cr_expect_eq(t.flags, 0);
	kvt_expect(&t, "HMSET h f4 v4", "+OK\r\n");
	kvt_check_replay(&t);
	kvt_expect(&t, "HDEL h f1 f3 f4", ":3\r\n");
	kvt_expect(&t, "EXISTS h", ":0\r\n");
	kvt_expect(&t, "HSET h only one", ":1\r\n");
	kvt_expect(&t, "HGETALL h", "*2\r\n$4\r\nonly\r\n$3\r\none\r\n");
	kvt_expect(&t, "HGETALL nosuch", "*0\r\n");
	kvt_expect(&t, "TYPE h", "+hash\r\n");
	kvt_expect(&t, "SET s v", "+OK\r\n");
	kvt_expect(&t, "HGET s f", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_expect(&t, "HSET s f v", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_check_replay(&t);
}
