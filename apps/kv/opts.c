/* demi-kv's command line: Redis's option names, given as "--name value" as redis-server takes them. */
#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
	"usage: demi-kv [--bind ADDR] [--port N] [--appendonly yes|no] [--appendfsync always|everysec|no]\n"
	"               [--appendfilename PATH] [--maxclients N] [--client-output-buffer-limit BYTES]\n"
	"               [--loglevel warning|notice|verbose]\n"
	"A Redis-protocol (RESP2) key-value server on Demi; LIBOS and CONFIG_PATH from the environment.\n"
	"Defaults: 127.0.0.1:6379, appendonly no, appendfsync everysec, appendfilename appendonly.aof,\n"
	"maxclients 10000, client-output-buffer-limit 32mb (0: none), loglevel notice.\n";

const char *kv_fsync_name(enum aof_fsync f)
{
	return f == AOF_FSYNC_ALWAYS ? "always" : f == AOF_FSYNC_NO ? "no" : "everysec";
}

/* A count with Redis's optional unit (k kb m mb g gb: k = 1000, kb = 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	uint64_t mul = 1;
	if (*end) {
		static const struct { const char *u; uint64_t m; } units[] = {
			{ "k", 1000 }, { "kb", 1024 }, { "m", 1000000 }, { "mb", 1048576 },
			{ "g", 1000000000 }, { "gb", 1073741824 },
		};
		mul = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcasecmp(end, units[i].u) == 0)
				mul = units[i].m;
		if (mul == 0)
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "demi-kv: bad value '%s' for %s: %s\n", val, opt, want);
	return -1;
}

int kv_opts_parse(struct kv_opts *o, int argc, char **argv)
{
	*o = (struct kv_opts){
		.bind = "127.0.0.1",
		.port = 6379,
		.appendfsync = AOF_FSYNC_EVERYSEC,
		.appendfilename = "appendonly.aof",
		.maxclients = 10000,
		.output_limit = 32ull << 20,
		.loglevel = 1,
	};
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strncmp(opt, "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "demi-kv: %s: %s\n%s", opt,
				strncmp(opt, "--", 2) != 0 ? "not an option" : "needs a value", usage);
			return -1;
		}
		const char *val = argv[++i];
		const char *name = opt + 2;
		uint64_t n;
		if (strcmp(name, "bind") == 0) {
			struct in_addr a;
			if (inet_pton(AF_INET, val, &a) != 1)
				return bad(opt, val, "an IPv4 address");
			o->bind = val;
		} else if (strcmp(name, "port") == 0) {
			if (parse_size(val, &n) != 0 || n == 0 || n > 65535)
				return bad(opt, val, "1..65535");
			o->port = (int)n;
		} else if (strcmp(name, "appendonly") == 0) {
			if (strcasecmp(val, "yes") != 0 && strcasecmp(val, "no") != 0)
				return bad(opt, val, "yes or no");
			o->appendonly = strcasecmp(val, "yes") == 0;
		} else if (strcmp(name, "appendfsync") == 0) {
			if (strcasecmp(val, "always") == 0)
				o->appendfsync = AOF_FSYNC_ALWAYS;
			else if (strcasecmp(val, "everysec") == 0)
				o->appendfsync = AOF_FSYNC_EVERYSEC;
			else if (strcasecmp(val, "no") == 0)
				o->appendfsync = AOF_FSYNC_NO;
			else
				return bad(opt, val, "always, everysec or no");
		} else if (strcmp(name, "appendfilename") == 0) {
			if (!*val)
				return bad(opt, val, "a path");
			o->appendfilename = val;
		} else if (strcmp(name, "maxclients") == 0) {
			if (parse_size(val, &n) != 0 || n == 0 || n > 1000000)
				return bad(opt, val, "1..1000000");
			o->maxclients = (uint32_t)n;
		} else if (strcmp(name, "client-output-buffer-limit") == 0) {
			if (parse_size(val, &n) != 0 || (n != 0 && n < 65536))
				return bad(opt, val, "a byte count of at least 64kb (units k kb m mb g gb), 0 for no limit");
			o->output_limit = n;
		} else if (strcmp(name, "loglevel") == 0) {
			if (strcmp(val, "warning") == 0)
				o->loglevel = 0;
			else if (strcmp(val, "notice") == 0)
				o->loglevel = 1;
			else if (strcmp(val, "verbose") == 0 || strcmp(val, "debug") == 0)
				o->loglevel = 2;
			else
				return bad(opt, val, "warning, notice or verbose");
		} else {
			fprintf(stderr, "demi-kv: unknown option %s\n%s", opt, usage);
			return -1;
		}
	}
	return 0;
}
