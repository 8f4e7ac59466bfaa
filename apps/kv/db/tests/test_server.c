/* Connection and server commands, and the errors of the dispatcher, as redis-server 7.0 answers them. */
#include "kvt.h"

static struct kvt t;
static void setup(void) { kvt_init(&t); }
static void teardown(void) { kvt_fini(&t); }
TestSuite(server, .init = setup, .fini = teardown);

Test(server, ping_echo_quit_select)
{
	kvt_expect(&t, "PING", "+PONG\r\n");
	kvt_expect(&t, "ping hello", "$5\r\nhello\r\n");
	kvt_expect(&t, "PING a b", "-ERR wrong number of arguments for 'ping' command\r\n");
	kvt_expect(&t, "ECHO \"a b\"", "$3\r\na b\r\n");
	kvt_expect(&t, "ECHO", "-ERR wrong number of arguments for 'echo' command\r\n");
	kvt_expect(&t, "SELECT 0", "+OK\r\n");
	kvt_expect(&t, "SELECT 1", "-ERR DB index is out of range\r\n");
	kvt_expect(&t, "SELECT x", "-ERR value is not an integer or out of range\r\n");
	cr_expect_not(t.c.quit);
	kvt_expect(&t, "QUIT", "+OK\r\n");
	cr_expect(t.c.quit);
	cr_expect_eq(t.flags, KV_CMD_CLOSE);
}

Test(server, unknown_command)
{
	kvt_expect(&t, "foo a b", "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
	kvt_expect(&t, "FOO", "-ERR unknown command 'FOO', with args beginning with: \r\n");
	kvt_expect(&t, "\"a\\r\\nb\" \"x\\ny\"", "-ERR unknown command 'a  b', with args beginning with: 'x y' \r\n");
	/* a very long name and many arguments: cut as Redis cuts them (128 bytes), never overrun */
	char line[2048] = "", want[1024];
	memset(line, 'n', 300);
	line[300] = '\0';
	for (int i = 0; i < 100; i++)
		strcat(line, " abcdefgh");
	const char *r = kvt_run(&t, line);
	cr_expect(strncmp(r, "-ERR unknown command 'nnnn", 26) == 0);
	snprintf(want, sizeof(want), "-ERR unknown command '%.128s', with args beginning with: ", line);
	cr_expect(strncmp(r, want, strlen(want)) == 0);
	cr_expect(strlen(r) < 400, "%zu", strlen(r));
}

Test(server, hello)
{
	kvt_expect(&t, "HELLO 2",
		"*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$10\r\n7.0.0-demi\r\n$5\r\nproto\r\n:2\r\n"
		"$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
	kvt_expect(&t, "HELLO 3", "-NOPROTO unsupported protocol version\r\n");
	kvt_expect(&t, "HELLO 1", "-NOPROTO unsupported protocol version\r\n");
	kvt_expect(&t, "HELLO x", "-ERR Protocol version is not an integer or out of range\r\n");
	kvt_expect(&t, "HELLO 2 foo", "-ERR Syntax error in HELLO option 'foo'\r\n");
	kvt_expect(&t, "HELLO 2 SETNAME", "-ERR Syntax error in HELLO option 'SETNAME'\r\n");
	const char *r = kvt_run(&t, "HELLO 2 AUTH default pw SETNAME me");
	cr_expect(strncmp(r, "*14\r\n", 5) == 0);
	cr_expect_str_eq(t.c.name, "me");
	kvt_expect(&t, "HELLO 2 AUTH bob pw", "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

Test(server, client)
{
	kvt_expect(&t, "CLIENT ID", ":7\r\n");
	kvt_expect(&t, "CLIENT GETNAME", "$-1\r\n");
	kvt_expect(&t, "CLIENT SETNAME conn1", "+OK\r\n");
	kvt_expect(&t, "client getname", "$5\r\nconn1\r\n");
	kvt_expect(&t, "CLIENT SETNAME \"a b\"",
		"-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
	kvt_expect(&t, "CLIENT SETNAME \"\"", "+OK\r\n");
	kvt_expect(&t, "CLIENT GETNAME", "$-1\r\n");
	kvt_expect(&t, "CLIENT SETINFO LIB-NAME redis-py", "+OK\r\n");
	kvt_expect(&t, "CLIENT SETINFO lib-ver 5.0.1", "+OK\r\n");
	kvt_expect(&t, "CLIENT SETINFO foo 1", "-ERR Unrecognized option 'foo'\r\n");
	kvt_expect(&t, "CLIENT SETNAME", "-ERR wrong number of arguments for 'client|setname' command\r\n");
	kvt_expect(&t, "CLIENT", "-ERR wrong number of arguments for 'client' command\r\n");
	kvt_expect(&t, "CLIENT foo", "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
	char line[200] = "CLIENT SETNAME ";
	memset(line + 15, 'x', 100);
	line[115] = '\0';
	cr_expect(kvt_run(&t, line)[0] == '-', "a name longer than the client's room is refused, not cut");
}

Test(server, command_config)
{
	kvt_expect(&t, "COMMAND DOCS", "*0\r\n");
	kvt_expect(&t, "COMMAND DOCS get", "*0\r\n");
	const char *r = kvt_run(&t, "COMMAND COUNT");
	cr_expect(r[0] == ':' && atoi(r + 1) > 50, "%s", r);
	kvt_expect(&t, "COMMAND foo", "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n");
	kvt_expect(&t, "CONFIG GET save", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
	kvt_expect(&t, "CONFIG GET appendonly", "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
	t.info.aof_enabled = true;
	t.info.appendfsync = "always";
	kvt_expect(&t, "CONFIG GET appendonly appendfsync",
		"*4\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n");
	kvt_expect(&t, "CONFIG GET APPEND*", "*4\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n");
	kvt_expect(&t, "CONFIG GET a?pendonl[xy]", "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n");
	kvt_expect(&t, "CONFIG GET nosuch", "*0\r\n");
	kvt_expect(&t, "CONFIG GET", "-ERR wrong number of arguments for 'config|get' command\r\n");
	kvt_expect(&t, "CONFIG foo", "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n");
}

Test(server, info)
{
	t.info.tcp_port = 7777;
	t.info.connected_clients = 3;
	t.info.aof_enabled = true;
	t.info.start_ms = t.now - 90061000;
	kvt_run(&t, "SET a 1 EX 100");
	kvt_run(&t, "SET b 1");
	const char *r = kvt_run(&t, "INFO");
	const char *fields[] = {"# Server\r\n", "redis_version:7.0.0-demi\r\n", "tcp_port:7777\r\n",
		"uptime_in_seconds:90061\r\n", "uptime_in_days:1\r\n", "\r\n\r\n# Clients\r\n", "connected_clients:3\r\n",
		"# Persistence\r\n", "loading:0\r\n", "aof_enabled:1\r\n", "# Stats\r\n", "total_commands_processed:",
		"# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		cr_expect(strstr(r, fields[i]) != NULL, "no %s in INFO", fields[i]);
	r = kvt_run(&t, "INFO keyspace");
	cr_expect_str_eq(r, "$44\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n\r\n");
	r = kvt_run(&t, "INFO server clients");
	cr_expect(strstr(r, "# Server") != NULL && strstr(r, "# Clients") != NULL && strstr(r, "# Keyspace") == NULL);
	kvt_expect(&t, "INFO nosuch", "$0\r\n\r\n");
	kvt_run(&t, "FLUSHALL");
	kvt_expect(&t, "INFO keyspace", "$12\r\n# Keyspace\r\n\r\n");
}
