/*
 * Inside the data set: the value objects, the key space with its expiry index, and what every command handler
 * is given. Private to apps/kv/db/ (kv_cmd.h is the interface).
 */
#ifndef KV_DB_H
#define KV_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kv_cmd.h"
#include "kv_dict.h"

#define KV_MAX_STRING (512u * 1024 * 1024) /* proto-max-bulk-len: the largest string a value may grow to */

enum kv_type { KV_STRING, KV_LIST, KV_SET, KV_HASH, KV_ZSET };

#define KV_NO_TTL UINT32_MAX
#define KV_TOMB_BITS 65536

/* A short immutable byte string: list elements and hash values. */
struct kv_str {
	uint32_t len;
	char p[];
};

/* A list: a ring of element pointers, so that both ends are O(1) and an index is O(1) (LRANGE/LINDEX). */
struct kv_list {
	struct kv_str **ring;
	size_t cap; /* a power of two */
	size_t head, len;
};

struct zsl_node;
struct kv_zset {
	struct kv_dict members; /* member -> its skiplist node (v.ptr) */
	struct zsl_node *head, *tail;
	size_t len;
	int level;
};

/* The value of a key. A string keeps its bytes inline (one allocation per key). */
struct kv_obj {
	uint8_t type;
	uint32_t exp_idx;   /* index in kv_db.exp, or KV_NO_TTL */
	uint64_t expire_ms; /* absolute, valid when exp_idx != KV_NO_TTL */
	union {
		struct {
			size_t len, cap;
		} s;
		struct kv_list *list;
		struct kv_dict *dict; /* set (keys only) or hash (v.ptr: struct kv_str *) */
		struct kv_zset *zset;
	} u;
	char data[]; /* KV_STRING: u.s.cap bytes */
};

struct kv_cmd_def;

struct kv_db {
	struct kv_dict keys; /* key -> struct kv_obj * (v.ptr) */
	/* every key that has a time to live, for the active expiry's sampling (swap-remove, O(1)) */
	struct kv_dent **exp;
	size_t nexp, exp_cap, exp_cursor;
	uint64_t rng;
	uint64_t expired_keys, keyspace_hits, keyspace_misses;
	/* Keys (by hash) that expired and were removed since the last FLUSHALL. A replay keeps such a key (nothing
	 * expires while loading), so a write that creates one of them anew logs a DEL of it first; a false
	 * positive costs one needless DEL record. */
	uint64_t tomb[KV_TOMB_BITS / 64];
	bool tomb_any;
	const struct kv_cmd_def *cmd_hash[256]; /* command lookup, open addressing */
};

/* One command being run. */
struct kv_ctx {
	struct kv_db *db;
	struct kv_client *c;
	int argc;
	const struct kv_arg *argv;
	uint64_t now;
	struct kv_out *out, *log;
	const struct kv_cmd_def *cmd;
	bool dirty;  /* the data set changed: log argv as is unless logged */
	bool logged; /* the handler wrote its own (rewritten) log record */
	bool loading;
};

struct kv_cmd_def {
	const char *name; /* lower case */
	int arity;        /* > 0: exactly; < 0: at least -arity (argv[0] counted) */
	unsigned flags;   /* KV_CMD_WRITE: may change the data set */
	void (*fn)(struct kv_ctx *x);
};

/* The command tables of each family, ended by a NULL name. */
extern const struct kv_cmd_def kv_cmds_string[], kv_cmds_keys[], kv_cmds_list[], kv_cmds_set[], kv_cmds_hash[],
	kv_cmds_zset[], kv_cmds_server[];

/* Key space. Lookups expire lazily (not while loading). */
struct kv_dent *kv_db_find(struct kv_ctx *x, const struct kv_arg *key);
/* The key's object when it has type type; NULL when absent, or when of another type (WRONGTYPE is then
 * replied and *wrong set). */
struct kv_dent *kv_db_find_type(struct kv_ctx *x, const struct kv_arg *key, int type, bool *wrong);
/* The key's object of type type, created empty when absent (what a push or an add writes to); NULL when of
 * another type (WRONGTYPE replied) or when memory runs out (the error replied). */
struct kv_dent *kv_db_find_or_add(struct kv_ctx *x, const struct kv_arg *key, int type);
/* HDEL and SREM: removes the members argv[2..] from the key's dict-backed object of type type (their values
 * freed too when free_values), deletes the key once it is empty, and replies with how many were removed. */
void kv_db_remove_members(struct kv_ctx *x, int type, bool free_values);
/* Redis's index range over len elements: negative indices count from the end, the range is clipped; false when
 * it holds nothing. */
static inline bool kv_range(long long *start, long long *end, long long len)
{
	if (*start < 0)
		*start += len;
	if (*end < 0)
		*end += len;
	if (*start < 0)
		*start = 0;
	if (*start > *end || *start >= len)
		return false;
	if (*end >= len)
		*end = len - 1;
	return true;
}
/* Sets key to obj (a fresh object without TTL): an old value is freed, and its TTL kept when keepttl. NULL when
 * memory runs out (obj is then freed). */
struct kv_dent *kv_db_set(struct kv_ctx *x, const struct kv_arg *key, struct kv_obj *obj, bool keepttl);
bool kv_db_delete(struct kv_db *db, const void *key, size_t len);
void kv_db_delete_entry(struct kv_db *db, struct kv_dent *e);
void kv_db_set_expire(struct kv_db *db, struct kv_dent *e, uint64_t when);
bool kv_db_persist(struct kv_db *db, struct kv_dent *e);
void kv_db_flush(struct kv_db *db);
uint64_t kv_db_rand(struct kv_db *db);
uint64_t kv_db_rand_cb(void *db);

/* Objects */
struct kv_obj *kv_obj_new(int type);
struct kv_obj *kv_obj_string(const void *p, size_t len, size_t cap);
void kv_obj_free(struct kv_obj *o);
struct kv_str *kv_str_new(const void *p, size_t len);
static inline struct kv_obj *kv_obj_of(struct kv_dent *e) { return (struct kv_obj *)e->v.ptr; }

/* Fast RESP writers (kv_out.h's, without snprintf: a reply header costs a few ns, not a printf). */
static inline size_t kv_fmt_ll(char *buf, long long v)
{
	char tmp[24];
	size_t n = 0, len = 0;
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[len++] = '-';
	while (n > 0)
		buf[len++] = tmp[--n];
	return len;
}

static inline void kv_hdr(struct kv_out *o, char c, long long v)
{
	if (!kv_out_room(o, 24))
		return;
	char *p = o->p;
	*p++ = c;
	p += kv_fmt_ll(p, v);
	p[0] = '\r', p[1] = '\n';
	o->p = p + 2;
}

static inline void kv_int(struct kv_out *o, long long v) { kv_hdr(o, ':', v); }
static inline void kv_array(struct kv_out *o, long long n) { kv_hdr(o, '*', n); }

static inline void kv_bulk(struct kv_out *o, const void *data, size_t len)
{
	if (!o->overflow && (size_t)(o->end - o->p) >= len + 26) { /* the whole bulk fits: one pass */
		char *p = o->p;
		*p++ = '$';
		p += kv_fmt_ll(p, (long long)len);
		p[0] = '\r', p[1] = '\n';
		memcpy(p + 2, data, len);
		p += 2 + len;
		p[0] = '\r', p[1] = '\n';
		o->p = p + 2;
		return;
	}
	kv_hdr(o, '$', (long long)len);
	kv_out_put(o, data, len);
	kv_out_put(o, "\r\n", 2);
}

/* Replies and arguments */
void kv_reply_ok(struct kv_ctx *x);
void kv_reply_err(struct kv_ctx *x, const char *msg);
void kv_reply_errf(struct kv_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kv_reply_oom(struct kv_ctx *x);
void kv_reply_wrong_arity(struct kv_ctx *x);
void kv_reply_double(struct kv_out *o, double d);
int kv_fmt_double(char *buf, size_t size, double d);
extern const char kv_err_wrongtype[], kv_err_notint[], kv_err_syntax[], kv_err_notfloat[];
bool kv_arg_ll(const struct kv_arg *a, long long *v); /* strict, as Redis's string2ll */
bool kv_arg_double(const struct kv_arg *a, double *v);
bool kv_arg_is(const struct kv_arg *a, const char *s); /* case-insensitive */
/* The whole argument vector, as a RESP multi-bulk, to o. */
void kv_log_argv(struct kv_out *o, int argc, const struct kv_arg *argv);
void kv_log_begin(struct kv_out *o, int argc);
void kv_log_arg(struct kv_out *o, const void *p, size_t len);
void kv_log_ll(struct kv_out *o, long long v);

/* Type specific frees, for kv_obj_free. */
void kv_list_free(struct kv_list *l);
void kv_zset_free(struct kv_zset *z);
void kv_hash_free_val(struct kv_dent *e);

#endif
