/* Connection and server commands: PING ECHO QUIT SELECT HELLO CLIENT COMMAND CONFIG INFO, what redis-cli and
 * client libraries send on connect, answered as redis-server 7.0 answers them in RESP2. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kv_db.h"

static inline char tolower_c(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

static const struct kv_server_info default_info = {
	.version = "7.0.0-demi",
	.libos = "catnap",
	.tcp_port = 6379,
	.appendfsync = "everysec",
};

static const struct kv_server_info *info_of(struct kv_ctx *x)
{
	return x->c != NULL && x->c->info != NULL ? x->c->info : &default_info;
}

static void cmd_ping(struct kv_ctx *x)
{
	if (x->argc > 2)
		kv_reply_wrong_arity(x);
	else if (x->argc == 2)
		kv_bulk(x->out, x->argv[1].p, x->argv[1].len);
	else
		kv_out_put(x->out, "+PONG\r\n", 7);
}

static void cmd_echo(struct kv_ctx *x) { kv_bulk(x->out, x->argv[1].p, x->argv[1].len); }

static void cmd_quit(struct kv_ctx *x)
{
	if (x->c != NULL)
		x->c->quit = true;
	kv_reply_ok(x);
}

static void cmd_select(struct kv_ctx *x)
{
	long long db;
	if (!kv_arg_ll(&x->argv[1], &db))
		kv_reply_err(x, kv_err_notint);
	else if (db != 0)
		kv_reply_err(x, "ERR DB index is out of range");
	else
		kv_reply_ok(x);
}

static void bulk_str(struct kv_out *o, const char *s) { kv_bulk(o, s, strlen(s)); }

/* A client name: printable ASCII without spaces, as Redis's clientSetName. */
static bool set_name(struct kv_ctx *x, const struct kv_arg *name)
{
	for (size_t i = 0; i < name->len; i++) {
		if (name->p[i] < '!' || name->p[i] > '~') {
			kv_reply_err(x, "ERR Client names cannot contain spaces, newlines or special characters.");
			return false;
		}
	}
	if (x->c != NULL && name->len >= sizeof(x->c->name)) {
		kv_reply_errf(x, "ERR Client names are limited to %zu bytes here", sizeof(x->c->name) - 1);
		return false;
	}
	if (x->c != NULL) {
		memcpy(x->c->name, name->p, name->len);
		x->c->name[name->len] = '\0';
	}
	return true;
}

static void cmd_hello(struct kv_ctx *x)
{
	int j = 1;
	if (x->argc >= 2) {
		long long ver;
		if (!kv_arg_ll(&x->argv[1], &ver)) {
			kv_reply_err(x, "ERR Protocol version is not an integer or out of range");
			return;
		}
		/* RESP3 is not spoken here: clients fall back to RESP2 on NOPROTO */
		if (ver != 2) {
			kv_reply_err(x, "NOPROTO unsupported protocol version");
			return;
		}
		j = 2;
	}
	for (; j < x->argc; j++) {
		int more = x->argc - 1 - j;
		const struct kv_arg *o = &x->argv[j];
		if (kv_arg_is(o, "auth") && more >= 2) {
			/* no users or passwords here: as redis-server's passwordless 'default' user */
			if (!kv_arg_is(&x->argv[j + 1], "default")) {
				kv_reply_err(x, "WRONGPASS invalid username-password pair or user is disabled.");
				return;
			}
			j += 2;
		} else if (kv_arg_is(o, "setname") && more >= 1) {
			if (!set_name(x, &x->argv[j + 1]))
				return;
			j++;
		} else {
			kv_reply_errf(x, "ERR Syntax error in HELLO option '%.*s'", (int)o->len, o->p);
			return;
		}
	}
	if (x->c != NULL)
		x->c->resp = 2;
	kv_array(x->out, 14);
	bulk_str(x->out, "server"), bulk_str(x->out, "redis");
	bulk_str(x->out, "version"), bulk_str(x->out, info_of(x)->version);
	bulk_str(x->out, "proto"), kv_int(x->out, 2);
	bulk_str(x->out, "id"), kv_int(x->out, x->c != NULL ? (long long)x->c->id : 0);
	bulk_str(x->out, "mode"), bulk_str(x->out, "standalone");
	bulk_str(x->out, "role"), bulk_str(x->out, "master");
	bulk_str(x->out, "modules"), kv_array(x->out, 0);
}


static void reply_unknown_sub(struct kv_ctx *x, const char *upper)
{
	kv_reply_errf(x, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)(x->argv[1].len < 128 ? x->argv[1].len : 128),
		x->argv[1].p, upper);
}

static void lower_arg(char *dst, size_t size, const struct kv_arg *a)
{
	size_t n = a->len < size - 1 ? a->len : size - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (a->p[i] >= 'A' && a->p[i] <= 'Z') ? (char)(a->p[i] + 32) : a->p[i];
	dst[n] = '\0';
}

static void reply_sub_arity(struct kv_ctx *x, const char *cmd)
{
	char sub[16];
	lower_arg(sub, sizeof(sub), &x->argv[1]);
	kv_reply_errf(x, "ERR wrong number of arguments for '%s|%s' command", cmd, sub);
}

static void cmd_client(struct kv_ctx *x)
{
	const struct kv_arg *sub = &x->argv[1];
	char name[16];
	lower_arg(name, sizeof(name), sub);
	if (kv_arg_is(sub, "id")) {
		if (x->argc != 2)
			goto arity;
		kv_int(x->out, x->c != NULL ? (long long)x->c->id : 0);
	} else if (kv_arg_is(sub, "getname")) {
		if (x->argc != 2)
			goto arity;
		if (x->c == NULL || x->c->name[0] == '\0')
			kv_out_null(x->out);
		else
			bulk_str(x->out, x->c->name);
	} else if (kv_arg_is(sub, "setname")) {
		if (x->argc != 3)
			goto arity;
		if (set_name(x, &x->argv[2]))
			kv_reply_ok(x);
	} else if (kv_arg_is(sub, "setinfo")) {
		/* Redis 7.2's: client libraries send it on connect; the values are checked and not kept */
		if (x->argc != 4)
			goto arity;
		const struct kv_arg *attr = &x->argv[2], *val = &x->argv[3];
		if (!kv_arg_is(attr, "lib-name") && !kv_arg_is(attr, "lib-ver")) {
			kv_reply_errf(x, "ERR Unrecognized option '%.*s'", (int)attr->len, attr->p);
			return;
		}
		for (size_t i = 0; i < val->len; i++) {
			if (val->p[i] < '!' || val->p[i] > '~') {
				kv_reply_errf(x, "ERR %s cannot contain spaces, newlines or special characters.",
					kv_arg_is(attr, "lib-name") ? "lib-name" : "lib-ver");
				return;
			}
		}
		kv_reply_ok(x);
	} else {
		reply_unknown_sub(x, "CLIENT");
	}
	return;
arity:
	kv_reply_errf(x, "ERR wrong number of arguments for 'client|%s' command", name);
}

static size_t command_count(void)
{
	const struct kv_cmd_def *tables[] = {kv_cmds_string, kv_cmds_keys, kv_cmds_list, kv_cmds_set, kv_cmds_hash,
		kv_cmds_zset, kv_cmds_server};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (const struct kv_cmd_def *d = tables[i]; d->name != NULL; d++)
			n++;
	return n;
}

/* COMMAND answered minimally: what clients ask on connect works, the documentation is empty. */
static void cmd_command(struct kv_ctx *x)
{
	if (x->argc == 1) {
		kv_array(x->out, 0);
		return;
	}
	const struct kv_arg *sub = &x->argv[1];
	if (kv_arg_is(sub, "count")) {
		if (x->argc != 2) {
			kv_reply_err(x, "ERR wrong number of arguments for 'command|count' command");
			return;
		}
		kv_int(x->out, (long long)command_count());
	} else if (kv_arg_is(sub, "docs")) {
		kv_array(x->out, 0);
	} else if (kv_arg_is(sub, "info")) {
		kv_array(x->out, x->argc - 2);
		for (int j = 2; j < x->argc; j++)
			kv_out_null_array(x->out);
	} else {
		reply_unknown_sub(x, "COMMAND");
	}
}

/* Redis's glob (stringmatchlen) for CONFIG GET: * ? [...] and \, case-insensitive. */
static bool glob(const char *p, size_t plen, const char *s, size_t slen)
{
	while (plen > 0) {
		switch (*p) {
		case '*':
			while (plen > 1 && p[1] == '*')
				p++, plen--;
			if (plen == 1)
				return true;
			for (size_t i = 0; i <= slen; i++)
				if (glob(p + 1, plen - 1, s + i, slen - i))
					return true;
			return false;
		case '?':
			if (slen == 0)
				return false;
			s++, slen--;
			break;
		case '[': {
			if (slen == 0)
				return false;
			p++, plen--;
			bool neg = plen > 0 && *p == '^', match = false;
			if (neg)
				p++, plen--;
			while (plen > 0 && *p != ']') {
				if (*p == '\\' && plen >= 2) {
					p++, plen--;
					match |= tolower_c(*p) == tolower_c(*s);
				} else if (plen >= 3 && p[1] == '-') {
					char a = tolower_c(p[0]), b = tolower_c(p[2]), c = tolower_c(*s);
					if (a > b) {
						char t = a;
						a = b, b = t;
					}
					match |= c >= a && c <= b;
					p += 2, plen -= 2;
				} else {
					match |= tolower_c(*p) == tolower_c(*s);
				}
				p++, plen--;
			}
			if (neg)
				match = !match;
			if (!match)
				return false;
			s++, slen--;
			if (plen == 0)
				return slen == 0;
			break;
		}
		case '\\':
			if (plen >= 2)
				p++, plen--;
			/* fall through */
		default:
			if (slen == 0 || tolower_c(*p) != tolower_c(*s))
				return false;
			s++, slen--;
			break;
		}
		p++, plen--;
	}
	return slen == 0;
}

static void cmd_config(struct kv_ctx *x)
{
	const struct kv_arg *sub = &x->argv[1];
	if (kv_arg_is(sub, "get")) {
		if (x->argc < 3) {
			reply_sub_arity(x, "config");
			return;
		}
		const struct kv_server_info *in = info_of(x);
		const char *params[][2] = {
			{"save", ""},
			{"appendonly", in->aof_enabled ? "yes" : "no"},
			{"appendfsync", in->appendfsync != NULL ? in->appendfsync : "everysec"},
			{"databases", "1"},
		};
		size_t np = sizeof(params) / sizeof(params[0]);
		bool hit[sizeof(params) / sizeof(params[0])] = {false};
		size_t n = 0;
		for (int j = 2; j < x->argc; j++)
			for (size_t i = 0; i < np; i++)
				if (!hit[i] && glob(x->argv[j].p, x->argv[j].len, params[i][0], strlen(params[i][0])))
					hit[i] = true, n++;
		kv_array(x->out, (long long)n * 2);
		for (size_t i = 0; i < np; i++)
			if (hit[i])
				bulk_str(x->out, params[i][0]), bulk_str(x->out, params[i][1]);
	} else if (kv_arg_is(sub, "set")) {
		if (x->argc < 4) {
			reply_sub_arity(x, "config");
			return;
		}
		kv_reply_errf(x, "ERR CONFIG SET is not supported here: '%.*s' is set on the command line",
			(int)x->argv[2].len, x->argv[2].p);
	} else if (kv_arg_is(sub, "resetstat")) {
		kv_reply_ok(x);
	} else {
		reply_unknown_sub(x, "CONFIG");
	}
}

enum { SEC_SERVER = 1, SEC_CLIENTS = 2, SEC_PERSISTENCE = 4, SEC_STATS = 8, SEC_REPLICATION = 16, SEC_KEYSPACE = 32 };

static void cmd_info(struct kv_ctx *x)
{
	static const struct {
		const char *name;
		int bit;
	} secs[] = {{"server", SEC_SERVER}, {"clients", SEC_CLIENTS}, {"persistence", SEC_PERSISTENCE},
		{"stats", SEC_STATS}, {"replication", SEC_REPLICATION}, {"keyspace", SEC_KEYSPACE}};
	int want = 0;
	if (x->argc == 1)
		want = ~0;
	for (int j = 1; j < x->argc; j++) {
		const struct kv_arg *a = &x->argv[j];
		if (kv_arg_is(a, "all") || kv_arg_is(a, "default") || kv_arg_is(a, "everything"))
			want = ~0;
		for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
			if (kv_arg_is(a, secs[i].name))
				want |= secs[i].bit;
	}
	const struct kv_server_info *in = info_of(x);
	struct kv_db *db = x->db;
	char buf[4096];
	size_t n = 0;
	int sections = 0;
#define ADD(...) n += (size_t)snprintf(buf + n, sizeof(buf) - n, __VA_ARGS__)
#define SECTION(title)                                                                                                 \
	do {                                                                                                           \
		if (sections++)                                                                                        \
			ADD("\r\n");                                                                                   \
		ADD("# %s\r\n", title);                                                                                \
	} while (0)
	uint64_t up = x->now > in->start_ms ? (x->now - in->start_ms) / 1000 : 0;
	if (want & SEC_SERVER) {
		SECTION("Server");
		ADD("redis_version:%s\r\nredis_mode:standalone\r\nos:Demi %s\r\narch_bits:%d\r\nmultiplexing_api:demi\r\n"
		    "tcp_port:%d\r\nuptime_in_seconds:%" PRIu64 "\r\nuptime_in_days:%" PRIu64 "\r\nhz:10\r\n",
			in->version, in->libos != NULL ? in->libos : "catnap", (int)(sizeof(void *) * 8), in->tcp_port, up,
			up / 86400);
	}
	if (want & SEC_CLIENTS) {
		SECTION("Clients");
		ADD("connected_clients:%" PRIu64 "\r\nblocked_clients:0\r\n", in->connected_clients);
	}
	if (want & SEC_PERSISTENCE) {
		SECTION("Persistence");
		ADD("loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_bgsave_status:ok\r\n"
		    "aof_enabled:%d\r\naof_rewrite_in_progress:0\r\naof_last_write_status:ok\r\n",
			in->aof_enabled ? 1 : 0);
		if (in->aof_enabled)
			ADD("aof_current_size:%" PRIu64 "\r\naof_fsyncs:%" PRIu64 "\r\naof_records:%" PRIu64
			    "\r\naof_last_fsync_ms:%lld\r\n",
				in->aof_size, in->aof_fsyncs, in->aof_records, in->aof_last_fsync_ms);
	}
	if (want & SEC_STATS) {
		SECTION("Stats");
		ADD("total_connections_received:%" PRIu64 "\r\ntotal_commands_processed:%" PRIu64
		    "\r\nrejected_connections:%" PRIu64 "\r\nexpired_keys:%" PRIu64 "\r\nevicted_keys:0\r\n"
		    "keyspace_hits:%" PRIu64 "\r\nkeyspace_misses:%" PRIu64 "\r\n",
			in->total_connections, in->total_commands, in->rejected_connections, db->expired_keys,
			db->keyspace_hits, db->keyspace_misses);
	}
	if (want & SEC_REPLICATION) {
		SECTION("Replication");
		ADD("role:master\r\nconnected_slaves:0\r\n");
	}
	if (want & SEC_KEYSPACE) {
		SECTION("Keyspace");
		if (kv_db_size(db) > 0)
			ADD("db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", kv_db_size(db), db->nexp);
	}
#undef SECTION
#undef ADD
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	kv_bulk(x->out, buf, n);
}

const struct kv_cmd_def kv_cmds_server[] = {
	{"ping", -1, 0, cmd_ping},
	{"echo", 2, 0, cmd_echo},
	{"quit", -1, 0, cmd_quit},
	{"select", 2, 0, cmd_select},
	{"hello", -1, 0, cmd_hello},
	{"client", -2, 0, cmd_client},
	{"command", -1, 0, cmd_command},
	{"config", -2, 0, cmd_config},
	{"info", -1, 0, cmd_info},
	{NULL, 0, 0, NULL},
};
