/* Configuration core: the registered key tables, defaults, value checks, environment overrides, file keys. */
#include "config_schema.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WHY_MAX 96

/* Every subsystem's keys; the order is doc/config.md's. */
const struct cfg_table *const cfg_tables[] = {
	&cfg_runtime_table, &cfg_inet_table, &cfg_catpowder_table, &cfg_catnip_table,
	&cfg_tcp_table,     &cfg_storage_table, &cfg_catmem_table,
};
const size_t cfg_ntables = sizeof(cfg_tables) / sizeof(cfg_tables[0]);

#define FOR_EACH_KEY(k)                                                                         \
	for (size_t t_ = 0; t_ < cfg_ntables; t_++)                                              \
		for (const struct cfg_key *k = cfg_tables[t_]->keys; k < cfg_tables[t_]->keys + cfg_tables[t_]->n; k++)

#define FIELD(c, k) ((char *)(c) + (k)->off)

/* ---- Value parsing, shared by the file and the environment ---- */

/* YAML 1.1 spellings, so that files written for yaml-rust and PyYAML both work. */
int cfg_parse_bool(const char *s, bool *out, char *why, size_t len)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	snprintf(why, len, "expected true or false (yes/no, on/off, 1/0)");
	return -EINVAL;
}

static void range_why(int64_t min, uint64_t max, char *why, size_t len)
{
	if (max == UINT64_MAX)
		snprintf(why, len, "expected an integer >= %" PRId64, min);
	else
		snprintf(why, len, "expected an integer in [%" PRId64 ", %" PRIu64 "]", min, max);
}

/* Decimal only; the leading-digit check stops strtoull from taking "-1" or " 1". */
int cfg_parse_uint(const char *s, int64_t min, uint64_t max, uint64_t *out, char *why,
		      size_t len)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < (uint64_t)(min < 0 ? 0 : min) || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	range_why(min, max, why, len);
	return -EINVAL;
}

static int parse_int(const char *s, int64_t min, uint64_t max, int64_t *out, char *why,
		     size_t len)
{
	const char *digits = s[0] == '-' ? s + 1 : s;
	char *end;
	long long v;

	if (!isdigit((unsigned char)digits[0]))
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || (v >= 0 && (uint64_t)v > max))
		goto bad;
	*out = v;
	return 0;
bad:
	range_why(min, max, why, len);
	return -EINVAL;
}

int cfg_parse_ipv4(const char *s, struct in_addr *out, char *why, size_t len)
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 0;
	snprintf(why, len, "expected an IPv4 address like 192.168.1.2");
	return -EINVAL;
}

static int hexval(char ch)
{
	return isdigit((unsigned char)ch) ? ch - '0' : tolower((unsigned char)ch) - 'a' + 10;
}

/* Only the canonical "aa:bb:cc:dd:ee:ff": other spellings are more likely typos than intent. */
int cfg_parse_mac(const char *s, uint8_t mac[6], char *why, size_t len)
{
	uint8_t tmp[6];

	if (strlen(s) != 17)
		goto bad;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
			goto bad;
		if (i < 5 && p[2] != ':')
			goto bad;
		tmp[i] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
	}
	memcpy(mac, tmp, sizeof(tmp));
	return 0;
bad:
	snprintf(why, len, "expected a MAC address like aa:bb:cc:dd:ee:ff");
	return -EINVAL;
}

int cfg_copy_str(char *dst, size_t size, const char *s, size_t n, char *why, size_t len)
{
	if (n >= size) {
		snprintf(why, len, "longer than %zu characters", size - 1);
		return -EINVAL;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Accepts s when it is one of the '|'-separated words. */
static int parse_word(const char *s, const char *words, char *dst, size_t size, char *why, size_t len)
{
	size_t n = strlen(s);
	for (const char *w = words; *w;) {
		size_t wl = strcspn(w, "|");
		if (wl == n && strncmp(w, s, n) == 0)
			return cfg_copy_str(dst, size, s, n, why, len);
		w += wl + (w[wl] == '|');
	}
	snprintf(why, len, "not one of %s", words);
	return -EINVAL;
}

/* ---- Defaults ---- */

void config_defaults(struct demi_config *c)
{
	memset(c, 0, sizeof(*c));
	FOR_EACH_KEY(k) {
		char *dst = FIELD(c, k);
		switch (k->type) {
		case CFG_BOOL:
			*(bool *)dst = k->def.u != 0;
			break;
		case CFG_UINT:
			if (k->size == sizeof(uint32_t))
				*(uint32_t *)dst = (uint32_t)k->def.u;
			else
				*(uint64_t *)dst = k->def.u;
			break;
		case CFG_INT:
			*(int *)dst = (int)k->def.i;
			break;
		case CFG_STR:
		case CFG_ENUM:
			if (k->def.s)
				snprintf(dst, k->size, "%s", k->def.s);
			break;
		case CFG_IPV4:
		case CFG_MAC:
		case CFG_CUSTOM:
		case CFG_IGNORED:
			break; /* unset, empty: the memset */
		}
	}
}

/* ---- One value written as text ---- */

static int set_uint(struct demi_config *c, const struct cfg_key *k, const char *s, char *why, size_t len)
{
	uint64_t v;
	int rc = cfg_parse_uint(s, k->min, k->max, &v, why, len);

	if (rc == 0 && k->size == sizeof(uint32_t))
		*(uint32_t *)FIELD(c, k) = (uint32_t)v;
	else if (rc == 0)
		*(uint64_t *)FIELD(c, k) = v;
	return rc;
}

static int set_int(struct demi_config *c, const struct cfg_key *k, const char *s, char *why, size_t len)
{
	int64_t v;
	int rc = parse_int(s, k->min, k->max, &v, why, len);

	if (rc == 0)
		*(int *)FIELD(c, k) = (int)v;
	return rc;
}

static int set_addr(struct demi_config *c, const struct cfg_key *k, const char *s, char *why, size_t len)
{
	void *dst = FIELD(c, k);
	int rc = k->type == CFG_IPV4 ? cfg_parse_ipv4(s, dst, why, len) : cfg_parse_mac(s, dst, why, len);

	if (rc == 0)
		*(bool *)((char *)c + k->has_off) = true;
	return rc;
}

/*
 * Parses one value written as text and stores it in *c: the single place
 * where a value's spelling is checked, for the file and the environment
 * alike. Returns 0, or -EINVAL with the reason in `why`.
 */
static int key_set(struct demi_config *c, const struct cfg_key *k, const char *s, char *why, size_t len)
{
	char *dst = FIELD(c, k);

	if (k->hooks && k->hooks->set)
		return k->hooks->set(c, k, s, why, len);
	switch (k->type) {
	case CFG_BOOL:
		return cfg_parse_bool(s, (bool *)dst, why, len);
	case CFG_UINT:
		return set_uint(c, k, s, why, len);
	case CFG_INT:
		return set_int(c, k, s, why, len);
	case CFG_IPV4:
	case CFG_MAC:
		return set_addr(c, k, s, why, len);
	case CFG_STR:
		return cfg_copy_str(dst, k->size, s, strlen(s), why, len);
	case CFG_ENUM:
		return parse_word(s, k->words, dst, k->size, why, len);
	case CFG_CUSTOM:
	case CFG_IGNORED:
		break;
	}
	snprintf(why, len, "cannot be set from a single value");
	return -EINVAL;
}

/* ---- Environment ---- */

int config_apply_env(struct demi_config *c)
{
	char why[WHY_MAX];

	FOR_EACH_KEY(k) {
		const char *s = k->env ? getenv(k->env) : NULL;
		if (s && key_set(c, k, s, why, sizeof(why)) != 0) {
			fprintf(stderr, "demi: config: environment: %s: %s, got '%.64s'\n", k->env, why, s);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- Keys read but unused ---- */

static bool is_default(const struct demi_config *c, const struct cfg_key *k)
{
	const char *v = (const char *)c + k->off;

	switch (k->type) {
	case CFG_BOOL:
		return *(const bool *)v == (k->def.u != 0);
	case CFG_INT:
		return *(const int *)v == (int)k->def.i;
	case CFG_UINT:
		return k->size == sizeof(uint32_t) ? *(const uint32_t *)v == (uint32_t)k->def.u
						   : *(const uint64_t *)v == k->def.u;
	default:
		return true; /* CFG_UNUSED is for scalar switches and numbers only */
	}
}

/* One warning per CFG_UNUSED key that is set, unless the configured log level hides warnings. */
static void warn_unused(const struct demi_config *c)
{
	if (log_parse_level(c->log_level) < LOG_WARN)
		return;
	FOR_EACH_KEY(k) {
		if ((k->flags & CFG_UNUSED) && !is_default(c, k))
			log_emit(LOG_WARN, __FILE__, __LINE__, "config: %s.%s is set: %s",
				 k->section, k->name, k->doc);
	}
}

/* ---- Keys in the file ---- */

int cfg_bad_value(const struct cfg_node *n, const char *path, const char *name, const char *why)
{
	return cfg_node_fail(n, "%s.%s: %s, got '%.64s'", path, name, why, cfg_node_text(n));
}

int cfg_expect_scalar(const struct cfg_node *n, const char *path, const char *name)
{
	switch (cfg_node_shape(n)) {
	case CFG_NODE_ALIAS:
		return cfg_node_fail(n, "%s.%s: aliases are not supported", path, name);
	case CFG_NODE_LIST:
	case CFG_NODE_MAP:
		return cfg_node_fail(n, "%s.%s: expected a single value, not a list or mapping", path, name);
	default:
		return 0;
	}
}

int cfg_read_scalar(struct demi_config *c, const struct cfg_key *k, struct cfg_node *n, const char *path)
{
	char why[WHY_MAX];

	if (cfg_expect_scalar(n, path, k->name))
		return -EINVAL;
	if (cfg_node_shape(n) == CFG_NODE_NULL)
		return 0;
	if (key_set(c, k, cfg_node_text(n), why, sizeof(why)))
		return cfg_bad_value(n, path, k->name, why);
	return 0;
}

static const struct cfg_key *find_key(const char *section, const char *name)
{
	FOR_EACH_KEY(k) {
		if (k->section && strcmp(k->section, section) == 0 && strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

/* Returns the table's copy of the section name, which outlives the parser's events. */
static const char *find_section(const char *name)
{
	FOR_EACH_KEY(k) {
		if (k->section && strcmp(k->section, name) == 0)
			return k->section;
	}
	return NULL;
}

static int section_entry(struct cfg_node *n, const char *path, const char *name, void *ctx)
{
	struct demi_config *c = ctx;
	const struct cfg_key *k = find_key(path, name);

	if (!k)
		return cfg_node_fail_key(n, "unknown key '%s.%s'", path, name);
	if (k->type == CFG_IGNORED)
		return cfg_node_skip(n);
	if (cfg_node_shape(n) == CFG_NODE_ALIAS)
		return cfg_expect_scalar(n, path, name);
	if (k->hooks && k->hooks->read)
		return k->hooks->read(c, k, n, path);
	return cfg_read_scalar(c, k, n, path);
}

/* Sections other than ours (client:, server:, catnip:, ...) belong to applications. */
static int top_entry(struct cfg_node *n, const char *path, const char *name, void *ctx)
{
	const char *section = find_section(name);

	(void)path;
	if (!section)
		return cfg_node_skip(n);
	return cfg_node_map(n, section, section_entry, ctx);
}

int config_parse_string(struct demi_config *c, const char *yaml, const char *origin)
{
	if (!origin)
		origin = "<string>";
	if (!yaml) {
		fprintf(stderr, "demi: config: %s: no YAML text\n", origin);
		return -EINVAL;
	}
	return cfg_yaml_read_string(yaml, origin, top_entry, c);
}

int config_load(struct demi_config *c, const char *path)
{
	/* An empty CONFIG_PATH= is no file, as an unset one. */
	int rc = path && *path ? cfg_yaml_read_file(path, top_entry, c) : 0;

	if (rc == 0)
		rc = config_apply_env(c);
	if (rc == 0)
		warn_unused(c);
	return rc;
}
