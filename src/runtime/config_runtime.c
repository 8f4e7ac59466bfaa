/* The runtime's configuration keys: the libOS, Demi's own demi: section, and the socket options every libOS applies. */
#include "config_schema.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PATH_LEN 128

static int level_set(struct demi_config *c, const struct cfg_key *k, const char *s, char *why, size_t len)
{
	char *dst = (char *)c + k->off;

	if (log_parse_level(s) < 0 || strlen(s) >= k->size) {
		snprintf(why, len, "expected error, warn, info, debug or trace");
		return -EINVAL;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static const struct cfg_hooks level_hooks = {
	.type_doc = "`error`, `warn` (or `warning`), `info`, `debug`, `trace`",
	.set = level_set,
};

/* Demikernel's {enabled, time_...} forms of keepalive and linger. */
struct toggle {
	bool linger; /* else keepalive */
	bool enabled;
	uint64_t seconds; /* linger.time_seconds */
};

static bool is_timer(const struct toggle *t, const char *name)
{
	if (t->linger)
		return strcmp(name, "time_seconds") == 0;
	return strcmp(name, "time_millis") == 0 || strcmp(name, "interval") == 0;
}

static int toggle_entry(struct cfg_node *n, const char *path, const char *name, void *ctx)
{
	struct toggle *t = ctx;
	char why[96];
	uint64_t v;

	if (strcmp(name, "enabled") != 0 && !is_timer(t, name))
		return cfg_node_fail_key(n, "unknown key '%s.%s'", path, name);
	if (cfg_expect_scalar(n, path, name))
		return -EINVAL;
	if (cfg_node_shape(n) == CFG_NODE_NULL)
		return 0;
	if (strcmp(name, "enabled") == 0) {
		if (cfg_parse_bool(cfg_node_text(n), &t->enabled, why, sizeof(why)))
			return cfg_bad_value(n, path, name, why);
		return 0;
	}
	/* Linux has no per-socket keepalive timings in Demikernel either: checked, then unused. */
	if (cfg_parse_uint(cfg_node_text(n), 0, t->linger ? 65535 : UINT64_MAX, &v, why, sizeof(why)))
		return cfg_bad_value(n, path, name, why);
	t->seconds = v;
	return 0;
}

/* A single value as the key's type, or the mapping form. */
static int toggle_read(struct demi_config *c, const struct cfg_key *k, struct cfg_node *n, const char *path)
{
	struct toggle t = { .linger = k->type == CFG_INT, .enabled = false, .seconds = 0 };
	char full[PATH_LEN];
	int rc;

	if (cfg_node_shape(n) != CFG_NODE_MAP)
		return cfg_read_scalar(c, k, n, path);
	snprintf(full, sizeof(full), "%s.%s", path, k->name);
	if ((rc = cfg_node_map(n, full, toggle_entry, &t)))
		return rc;
	if (t.linger)
		c->tcp_linger_s = t.enabled ? (int)t.seconds : -1;
	else
		c->tcp_keepalive = t.enabled;
	return 0;
}

static const struct cfg_hooks keepalive_hooks = {
	.type_doc = "bool, or `{enabled, time_millis, interval}`",
	.read = toggle_read,
};
static const struct cfg_hooks linger_hooks = {
	.type_doc = "integer seconds -1 .. 65535, or `{enabled, time_seconds}`",
	.read = toggle_read,
};

static const struct cfg_key keys[] = {
	CFG_STR_KEY(NULL, "libos", "LIBOS", libos, "catnap",
		    "libOS to run: catnap, catnip, catpowder, ... Environment only."),

	{ .section = "tcp_socket_options", .name = "keepalive", .env = "KEEPALIVE", .type = CFG_BOOL,
	  CFG_FIELD(tcp_keepalive), .def.u = false, .hooks = &keepalive_hooks,
	  .doc = "TCP keepalive on new sockets (`KEEPALIVE`: a bool). The timings of the mapping form are checked "
		 "and ignored, as Demikernel does on Linux." },
	{ .section = "tcp_socket_options", .name = "linger", .env = "LINGER", .type = CFG_INT,
	  CFG_FIELD(tcp_linger_s), .min = -1, .max = 65535, .def.i = -1, .hooks = &linger_hooks,
	  .doc = "SO_LINGER on new sockets; -1: off (`LINGER`: an integer). Mapping form: `enabled: false` (the "
		 "default when omitted) means off; `time_seconds` defaults to 0." },
	CFG_BOOL_KEY("tcp_socket_options", "nodelay", "NODELAY", tcp_nodelay, true,
		     "Disable Nagle's algorithm on new sockets."),

	CFG_UINT_KEY("demi", "poll_idle_us", "POLL_IDLE_US", poll_idle_us, 50, 0, UINT64_MAX, "microseconds",
		     "Spin this long with nothing to do before blocking; 0: never block."),
	CFG_UINT_KEY("demi", "max_qtokens", "MAX_QTOKENS", max_qtokens, 65536, 16, UINT32_MAX, NULL,
		     "Pending plus completed-but-unwaited operations."),
	/* qds are 2^30 + a slot and must fit in an int (runtime/queue.h, QD_MAX_COUNT). */
	CFG_UINT_KEY("demi", "max_queues", "MAX_QUEUES", max_queues, 65536, 16, 1u << 30, NULL,
		     "Open queue descriptors (qds are 2^30 and up)."),
	CFG_UINT_KEY("demi", "max_buffers", "MAX_BUFFERS", max_buffers, 262144, 16, UINT32_MAX, NULL,
		     "Live buffers of all sizes."),
	CFG_UINT_KEY("demi", "max_buffer_bytes", "MAX_BUFFER_BYTES", max_buffer_bytes, 1ull << 30, 1 << 20,
		     UINT64_MAX, "bytes", "Cap on buffer memory (default 1 GiB)."),
	CFG_UINT_KEY("demi", "coroutine_stack", "COROUTINE_STACK", coroutine_stack, 65536, 16384, 8 << 20, "bytes",
		     "Stack size of each coroutine."),
	{ .section = "demi", .name = "log_level", .env = "DEMI_LOG", .type = CFG_STR, CFG_FIELD(log_level),
	  .def.s = "warn", .hooks = &level_hooks, .doc = "Log threshold." },
};

const struct cfg_table cfg_runtime_table = CFG_TABLE("runtime", keys);
