/* List commands through kv_exec. */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(list, .init = setup, .fini = teardown);

Test(list, push_pop)
{
	kvt_expect(&t, "RPUSH l a b c", ":3\r\n");
	kvt_expect(&t, "LPUSH l z y", ":5\r\n");
	kvt_expect(&t, "LRANGE l 0 -1", "*5\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
	kvt_expect(&t, "LPOP l", "$1\r\ny\r\n");
	kvt_expect(&t, "RPOP l", "$1\r\nc\r\n");
	kvt_expect(&t, "LPOP l 2", "*2\r\n$1\r\nz\r\n$1\r\na\r\n");
	kvt_expect(&t, "LPOP l 0", "*0\r\n");
	cr_expect_eq(t.flags, 0, "LPOP of 0 elements changes nothing");
	kvt_expect(&t, "RPOP l 5", "*1\r\n$1\r\nb\r\n");
	kvt_expect(&t, "EXISTS l", ":0\r\n");
	kvt_expect(&t, "LPOP l", "$-1\r\n");
	kvt_expect(&t, "LPOP l 2", "*-1\r\n");
	kvt_expect(&t, "LPOP l -1", "-ERR value is out of range, must be positive\r\n");
	kvt_expect(&t, "LPOP l x", "-ERR value is out of range, must be positive\r\n");
	kvt_expect(&t, "LPOP l 1 2", "-ERR wrong number of arguments for 'lpop' command\r\n");
	kvt_expect(&t, "SET s v", "+OK\r\n");
	kvt_expect(&t, "LPUSH s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_expect(&t, "RPOP s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_expect(&t, "LLEN s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	kvt_check_replay(&t);
}

Test(list, range_index)
{
	kvt_expect(&t, "RPUSH l 0 1 2 3 4 5 6 7 8 9", ":10\r\n");
	kvt_expect(&t, "LLEN l", ":10\r\n");
	kvt_expect(&t, "LLEN nosuch", ":0\r\n");
	kvt_expect(&t, "LRANGE l 8 100", "*2\r\n$1\r\n8\r\n$1\r\n9\r\n");
	kvt_expect(&t, "LRANGE l -2 -1", "*2\r\n$1\r\n8\r\n$1\r\n9\r\n");
	kvt_expect(&t, "LRANGE l -100 0", "*1\r\n$1\r\n0\r\n");
	kvt_expect(&t, "LRANGE l 5 4", "*0\r\n");
	kvt_expect(&t, "LRANGE l 10 20", "*0\r\n");
	kvt_expect(&t, "LRANGE nosuch 0 -1", "*0\r\n");
	kvt_expect(&t, "LRANGE l a 1", "-ERR value is not an integer or out of range\r\n");
	kvt_expect(&t, "LINDEX l 3", "$1\r\n3\r\n");
	kvt_expect(&t, "LINDEX l -1", "$1\r\n9\r\n");
	kvt_expect(&t, "LINDEX l 10", "$-1\r\n");
	kvt_expect(&t, "LINDEX l -11", "$-1\r\n");
	kvt_expect(&t, "LINDEX l x", "-ERR value is not an integer or out of range\r\n");
}

/* The ring wraps and grows from both ends; every element stays where a plain array would have it. */
Test(list, ring_wraps_and_grows)
{
	char cmd[64], want[64];
	for (int i = 0; i < 1000; i++) {
		snprintf(cmd, sizeof(cmd), "%s l %d", i % 2 ? "LPUSH" : "RPUSH", i);
		kvt_run(&t, cmd);
	}
	/* left: 999 997 ... 1, then right: 0 2 ... 998 */
	for (int i = 0; i < 1000; i += 37) {
		int v = i < 500 ? 999 - 2 * i : 2 * (i - 500);
		snprintf(cmd, sizeof(cmd), "LINDEX l %d", i);
		snprintf(want, sizeof(want), "$%d\r\n%d\r\n", v >= 100 ? 3 : v >= 10 ? 2 : 1, v);
		kvt_expect(&t, cmd, want);
	}
	for (int i = 0; i < 990; i++)
		kvt_run(&t, i % 3 ? "LPOP l" : "RPOP l");
	kvt_expect(&t, "LLEN l", ":10\r\n");
	kvt_check_replay(&t);
}

/* LRANGE 0 599 of a 600 element list costs what it returns: the reply is exact at both ends. */
Test(list, lrange_600)
{
	for (int i = 0; i < 600; i++)
		kvt_run(&t, "LPUSH l xxx");
	const char *r = kvt_run(&t, "LRANGE l 0 599");
	cr_expect(strncmp(r, "*600\r\n", 6) == 0);
	cr_expect_eq(strlen(r), 6 + 600 * strlen("$3\r\nxxx\r\n"));
}
