/* The configuration schema: how a subsystem declares its keys, and the nodes the YAML reader hands the core. */
#ifndef DEMI_RUNTIME_CONFIG_SCHEMA_H
#define DEMI_RUNTIME_CONFIG_SCHEMA_H

#include "config.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Each subsystem declares its keys once, in a table of its own (sysctl-style:
 * config_runtime.c, inetstack/inet_config.c, inetstack/tcp/tcp_config.c,
 * libos/catpowder/catpowder_config.c, libos/catnip/catnip_config.c,
 * queues/storage/storage_config.c, queues/catmem/catmem_config.c), and
 * config.c lists the tables. One row gives the key's YAML path, environment
 * name, type, range, default and the line doc/config.md shows for it:
 * defaults, parsing, environment overrides, range checks, error messages and
 * the documentation all come from that row (tests/unit/config_doc.c checks
 * doc/config.md against it). Adding a key is adding a row and a field of
 * struct demi_config.
 */

enum cfg_type {
	CFG_BOOL,    /* bool */
	CFG_UINT,    /* uint32_t or uint64_t, by the field's size; decimal, in [min, max] */
	CFG_INT,     /* int; decimal, in [min, max] */
	CFG_IPV4,    /* struct in_addr, and its has_ flag (has_off) */
	CFG_MAC,     /* uint8_t[6] "aa:bb:cc:dd:ee:ff", and its has_ flag (has_off) */
	CFG_STR,     /* char[], shorter than the field */
	CFG_ENUM,    /* char[], one of the '|'-separated `words` */
	CFG_CUSTOM,  /* the hooks read and store it; zero by default */
	CFG_IGNORED, /* a Demikernel key with no meaning on Demi: accepted in any shape, skipped */
};

/* The key is accepted and checked but nothing reads it: config_load warns when it is set. */
#define CFG_UNUSED 1u

struct cfg_key;
struct cfg_node;

/* What a key of a structured or unusual type adds to its type's handling. */
struct cfg_hooks {
	const char *type_doc; /* the Type column of doc/config.md; NULL: the type's */
	/* A value written as text (the environment, or a single value in the file); NULL: the type's parser.
	 * Returns 0, or -EINVAL with the reason in `why`. */
	int (*set)(struct demi_config *c, const struct cfg_key *k, const char *s, char *why, size_t len);
	/* The key's node in the file, whatever its shape but an alias; must consume it (cfg_read_scalar
	 * does for a single value). `path` is the section. Returns 0 or -EINVAL (after cfg_node_fail). */
	int (*read)(struct demi_config *c, const struct cfg_key *k, struct cfg_node *n, const char *path);
};

struct cfg_key {
	const char *section; /* YAML section; NULL: environment only */
	const char *name;    /* key in the section */
	const char *env;     /* environment override; NULL: none */
	enum cfg_type type;
	unsigned flags;      /* CFG_UNUSED */
	size_t off;          /* the field in struct demi_config */
	size_t size;         /* its size: bounds strings, picks the integer width */
	size_t has_off;      /* CFG_IPV4, CFG_MAC: the has_ flag */
	int64_t min;         /* CFG_UINT, CFG_INT: accepted range, inclusive */
	uint64_t max;
	const char *words;   /* CFG_ENUM */
	union {
		uint64_t u;      /* CFG_BOOL (0, 1), CFG_UINT */
		int64_t i;       /* CFG_INT */
		const char *s;   /* CFG_STR, CFG_ENUM; NULL: empty */
	} def;               /* the default; addresses and CFG_CUSTOM start zeroed (unset, empty) */
	const struct cfg_hooks *hooks;
	const char *unit;    /* for the doc: "ms", "bytes", ... */
	const char *doc;     /* one line for doc/config.md: what the key does; for CFG_UNUSED, what happens */
};

/* One subsystem's keys. */
struct cfg_table {
	const char *owner; /* the subsystem that reads the keys */
	const struct cfg_key *keys;
	size_t n;
};

#define CFG_TABLE(own, arr) { .owner = (own), .keys = (arr), .n = sizeof(arr) / sizeof((arr)[0]) }

/* The registered tables, in doc/config.md's order (config.c). */
extern const struct cfg_table *const cfg_tables[];
extern const size_t cfg_ntables;

extern const struct cfg_table cfg_runtime_table;
extern const struct cfg_table cfg_inet_table;
extern const struct cfg_table cfg_catpowder_table;
extern const struct cfg_table cfg_catnip_table;
extern const struct cfg_table cfg_tcp_table;
extern const struct cfg_table cfg_storage_table;
extern const struct cfg_table cfg_catmem_table;

/* ---- Rows ---- */

#define CFG_FIELD(f) .off = offsetof(struct demi_config, f), .size = sizeof(((struct demi_config *)0)->f)

#define CFG_BOOL_KEY(sec, nm, ev, f, dflt, text)                                                          \
	{ .section = (sec), .name = (nm), .env = (ev), .type = CFG_BOOL, CFG_FIELD(f), .def.u = (dflt),   \
	  .doc = (text) }
#define CFG_UINT_KEY(sec, nm, ev, f, dflt, lo, hi, un, text)                                              \
	{ .section = (sec), .name = (nm), .env = (ev), .type = CFG_UINT, CFG_FIELD(f), .min = (lo),        \
	  .max = (hi), .def.u = (dflt), .unit = (un), .doc = (text) }
#define CFG_INT_KEY(sec, nm, ev, f, dflt, lo, hi, un, text)                                               \
	{ .section = (sec), .name = (nm), .env = (ev), .type = CFG_INT, CFG_FIELD(f), .min = (lo),         \
	  .max = (hi), .def.i = (dflt), .unit = (un), .doc = (text) }
#define CFG_STR_KEY(sec, nm, ev, f, dflt, text)                                                           \
	{ .section = (sec), .name = (nm), .env = (ev), .type = CFG_STR, CFG_FIELD(f), .def.s = (dflt),    \
	  .doc = (text) }
#define CFG_ENUM_KEY(sec, nm, ev, f, wds, dflt, text)                                                     \
	{ .section = (sec), .name = (nm), .env = (ev), .type = CFG_ENUM, CFG_FIELD(f), .words = (wds),    \
	  .def.s = (dflt), .doc = (text) }
#define CFG_ADDR_KEY(sec, nm, ev, ty, f, has, text)                                                       \
	{ .section = (sec), .name = (nm), .env = (ev), .type = (ty), CFG_FIELD(f),                        \
	  .has_off = offsetof(struct demi_config, has), .doc = (text) }
#define CFG_IGNORED_KEY(sec, nm) { .section = (sec), .name = (nm), .type = CFG_IGNORED }

/* ---- Value parsers, shared by the core and the hooks ---- */

/* Each returns 0, or -EINVAL with the reason (the same words as every other key's) in `why`. */
int cfg_parse_bool(const char *s, bool *out, char *why, size_t len);
int cfg_parse_uint(const char *s, int64_t min, uint64_t max, uint64_t *out, char *why, size_t len);
int cfg_parse_ipv4(const char *s, struct in_addr *out, char *why, size_t len);
int cfg_parse_mac(const char *s, uint8_t mac[6], char *why, size_t len);
/* Copies n bytes of s into dst[size], refusing what does not fit with its terminator. */
int cfg_copy_str(char *dst, size_t size, const char *s, size_t n, char *why, size_t len);

/* ---- Nodes: the YAML reader's side (config_yaml.c) ---- */

/*
 * A node is the reader positioned on one value of the file; it is read in
 * file order and is valid only inside the callback that received it. Every
 * callback consumes its node: it reads it (text, or each entry or item) or
 * skips it.
 */
enum cfg_shape {
	CFG_NODE_NULL,   /* `key:` with nothing, ~ or null (plain, not quoted) */
	CFG_NODE_SCALAR, /* a single value */
	CFG_NODE_LIST,
	CFG_NODE_MAP,
	CFG_NODE_ALIAS,  /* *name */
};

typedef int cfg_entry_fn(struct cfg_node *value, const char *path, const char *key, void *ctx);
typedef int cfg_item_fn(struct cfg_node *item, void *ctx);

enum cfg_shape cfg_node_shape(const struct cfg_node *n);
/* The text of a single value (CFG_NODE_SCALAR or CFG_NODE_NULL). */
const char *cfg_node_text(const struct cfg_node *n);
/* Calls fn for each entry of a mapping, with the reader on the entry's value. A null node is an empty
 * mapping; any other shape fails with "<path>: expected a mapping". Returns 0 or fn's error. */
int cfg_node_map(struct cfg_node *n, const char *path, cfg_entry_fn *fn, void *ctx);
/* Calls fn for each item of a list (the caller has checked the shape). Returns 0 or fn's error. */
int cfg_node_list(struct cfg_node *n, cfg_item_fn *fn, void *ctx);
int cfg_node_skip(struct cfg_node *n);
/* Prints "demi: config: <origin>:<line>: <message>" for the node's line (or the line of the key whose
 * value it is, _key) and returns -EINVAL. */
int cfg_node_fail(const struct cfg_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cfg_node_fail_key(const struct cfg_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Reads one YAML document from text or a file and calls `top` for each entry
 * of its top-level mapping (path "top level"). An empty stream reads nothing.
 * Returns 0 or -EINVAL after printing one line on stderr (syntax errors, a
 * top level that is not a mapping, more than one document, an unreadable file,
 * or what a callback refused).
 */
int cfg_yaml_read_string(const char *yaml, const char *origin, cfg_entry_fn *top, void *ctx);
int cfg_yaml_read_file(const char *path, cfg_entry_fn *top, void *ctx);

/* ---- The core's side, for hooks ---- */

/* Reads the node as the key's single value (null keeps the current one), as keys without hooks are. */
int cfg_read_scalar(struct demi_config *c, const struct cfg_key *k, struct cfg_node *n, const char *path);
/* Refuses aliases, lists and mappings with the messages every key gives; 0 for a single value. */
int cfg_expect_scalar(const struct cfg_node *n, const char *path, const char *name);
/* Reports a value the parsers refused: "<path>.<name>: <why>, got '<text>'". */
int cfg_bad_value(const struct cfg_node *n, const char *path, const char *name, const char *why);

#endif
