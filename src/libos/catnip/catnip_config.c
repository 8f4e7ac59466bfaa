/* catnip's configuration key (dpdk:): the EAL's arguments. Built with or without DPDK, so the key always parses. */
#include "../../runtime/config_schema.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Appends one EAL argument; the YAML list and EAL_INIT both come through here. */
static int eal_add(struct demi_config *c, const char *arg, size_t n, char *why, size_t len)
{
	if (c->eal_argc >= CONFIG_EAL_ARGS_MAX) {
		snprintf(why, len, "too many arguments (at most %d)", CONFIG_EAL_ARGS_MAX);
		return -EINVAL;
	}
	int rc = cfg_copy_str(c->eal_argv[c->eal_argc], CONFIG_STR_MAX, arg, n, why, len);
	if (rc == 0)
		c->eal_argc++;
	return rc;
}

/* EAL_INIT: space-separated words, replacing the list (EAL_INIT= empties it). */
static int eal_set(struct demi_config *c, const struct cfg_key *k, const char *s, char *why, size_t len)
{
	static const char spaces[] = " \t";
	int rc = 0;

	(void)k;
	c->eal_argc = 0;
	for (s += strspn(s, spaces); *s && rc == 0; s += strspn(s, spaces)) {
		size_t n = strcspn(s, spaces);
		rc = eal_add(c, s, n, why, len);
		s += n;
	}
	return rc;
}

struct eal_ctx {
	struct demi_config *c;
	const char *path;
	const char *name;
};

static int eal_item(struct cfg_node *n, void *ctx)
{
	struct eal_ctx *e = ctx;
	enum cfg_shape shape = cfg_node_shape(n);
	char why[96];

	if (shape != CFG_NODE_SCALAR && shape != CFG_NODE_NULL)
		return cfg_node_fail(n, "%s.%s: expected a list of strings", e->path, e->name);
	if (eal_add(e->c, cfg_node_text(n), strlen(cfg_node_text(n)), why, sizeof(why)))
		return cfg_bad_value(n, e->path, e->name, why);
	return 0;
}

static int eal_read(struct demi_config *c, const struct cfg_key *k, struct cfg_node *n, const char *path)
{
	struct eal_ctx e = { .c = c, .path = path, .name = k->name };
	enum cfg_shape shape = cfg_node_shape(n);

	if (shape == CFG_NODE_NULL)
		return 0;
	if (shape != CFG_NODE_LIST)
		return cfg_node_fail(n, "%s.%s: expected a list of strings", path, k->name);
	c->eal_argc = 0;
	return cfg_node_list(n, eal_item, &e);
}

static const struct cfg_hooks eal_hooks = {
	.type_doc = "list of strings, at most 32, each < 256 chars",
	.set = eal_set,
	.read = eal_read,
};

static const struct cfg_key keys[] = {
	{ .section = "dpdk", .name = "eal_init", .env = "EAL_INIT", .type = CFG_CUSTOM, CFG_FIELD(eal_argv),
	  .hooks = &eal_hooks,
	  .doc = "Arguments to `rte_eal_init`; `EAL_INIT` gives them space separated." },
};

const struct cfg_table cfg_catnip_table = CFG_TABLE("catnip", keys);
