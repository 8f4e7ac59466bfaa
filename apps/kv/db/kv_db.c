/* The key space, value objects, expiry, and kv_exec's dispatch (kv_cmd.h). */
#include "kv_db.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char kv_err_wrongtype[] = "WRONGTYPE Operation against a key holding the wrong kind of value";
const char kv_err_notint[] = "ERR value is not an integer or out of range";
const char kv_err_syntax[] = "ERR syntax error";
const char kv_err_notfloat[] = "ERR value is not a valid float";

/* ---- objects ---- */

struct kv_obj *kv_obj_new(int type)
{
	struct kv_obj *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->type = (uint8_t)type;
	o->exp_idx = KV_NO_TTL;
	switch (type) {
	case KV_LIST:
		o->u.list = calloc(1, sizeof(*o->u.list));
		if (o->u.list == NULL)
			goto fail;
		break;
	case KV_SET:
	case KV_HASH:
		o->u.dict = calloc(1, sizeof(*o->u.dict));
		if (o->u.dict == NULL)
			goto fail;
		break;
	case KV_ZSET:
		o->u.zset = NULL; /* kv_zset_new: see cmd_zset.c */
		break;
	}
	return o;
fail:
	free(o);
	return NULL;
}

struct kv_obj *kv_obj_string(const void *p, size_t len, size_t cap)
{
	if (cap < len)
		cap = len;
	struct kv_obj *o = malloc(sizeof(*o) + cap);
	if (o == NULL)
		return NULL;
	o->type = KV_STRING;
	o->exp_idx = KV_NO_TTL;
	o->expire_ms = 0;
	o->u.s.len = len, o->u.s.cap = cap;
	if (len > 0)
		memcpy(o->data, p, len);
	return o;
}

void kv_obj_free(struct kv_obj *o)
{
	if (o == NULL)
		return;
	switch (o->type) {
	case KV_LIST:
		kv_list_free(o->u.list);
		break;
	case KV_SET:
		kv_dict_clear(o->u.dict, NULL);
		free(o->u.dict);
		break;
	case KV_HASH:
		kv_dict_clear(o->u.dict, kv_hash_free_val);
		free(o->u.dict);
		break;
	case KV_ZSET:
		kv_zset_free(o->u.zset);
		break;
	}
	free(o);
}

struct kv_str *kv_str_new(const void *p, size_t len)
{
	struct kv_str *s = malloc(sizeof(*s) + len);
	if (s == NULL)
		return NULL;
	s->len = (uint32_t)len;
	memcpy(s->p, p, len);
	return s;
}

/* ---- the key space and its expiry index ---- */

uint64_t kv_db_rand(struct kv_db *db)
{
	/* xorshift64* */
	uint64_t x = db->rng;
	x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
	db->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t kv_db_rand_cb(void *db) { return kv_db_rand(db); }

static void exp_remove(struct kv_db *db, struct kv_obj *o)
{
	uint32_t i = o->exp_idx;
	if (i == KV_NO_TTL)
		return;
	struct kv_dent *last = db->exp[--db->nexp];
	db->exp[i] = last;
	kv_obj_of(last)->exp_idx = i;
	o->exp_idx = KV_NO_TTL;
}

void kv_db_set_expire(struct kv_db *db, struct kv_dent *e, uint64_t when)
{
	struct kv_obj *o = kv_obj_of(e);
	if (o->exp_idx == KV_NO_TTL) {
		if (db->nexp == db->exp_cap) {
			size_t cap = db->exp_cap ? db->exp_cap * 2 : 64;
			struct kv_dent **n = realloc(db->exp, cap * sizeof(*n));
			if (n == NULL)
				return; /* no memory for the index: the key keeps no TTL (rare; said by INFO's expires) */
			db->exp = n, db->exp_cap = cap;
		}
		o->exp_idx = (uint32_t)db->nexp;
		db->exp[db->nexp++] = e;
	}
	o->expire_ms = when;
}

bool kv_db_persist(struct kv_db *db, struct kv_dent *e)
{
	struct kv_obj *o = kv_obj_of(e);
	if (o->exp_idx == KV_NO_TTL)
		return false;
	exp_remove(db, o);
	return true;
}

void kv_db_delete_entry(struct kv_db *db, struct kv_dent *e)
{
	struct kv_obj *o = kv_obj_of(e);
	exp_remove(db, o);
	struct kv_dent *u = kv_dict_unlink(&db->keys, e->key, e->klen);
	kv_obj_free(o);
	free(u);
}

bool kv_db_delete(struct kv_db *db, const void *key, size_t len)
{
	struct kv_dent *e = kv_dict_find(&db->keys, key, len);
	if (e == NULL)
		return false;
	kv_db_delete_entry(db, e);
	return true;
}

static void tomb_set(struct kv_db *db, uint64_t h)
{
	size_t bit = h & (KV_TOMB_BITS - 1);
	db->tomb[bit / 64] |= 1ull << (bit % 64);
	db->tomb_any = true;
}

static bool tomb_test(const struct kv_db *db, uint64_t h)
{
	size_t bit = h & (KV_TOMB_BITS - 1);
	return db->tomb[bit / 64] & (1ull << (bit % 64));
}

struct kv_dent *kv_db_find(struct kv_ctx *x, const struct kv_arg *key)
{
	struct kv_dent *e = kv_dict_find(&x->db->keys, key->p, key->len);
	if (e == NULL)
		return NULL;
	struct kv_obj *o = kv_obj_of(e);
	/* nothing expires while the log is replayed: its records were written before their keys expired */
	if (o->exp_idx != KV_NO_TTL && o->expire_ms <= x->now && !x->loading) {
		tomb_set(x->db, e->hash);
		kv_db_delete_entry(x->db, e);
		x->db->expired_keys++;
		return NULL;
	}
	return e;
}

struct kv_dent *kv_db_find_type(struct kv_ctx *x, const struct kv_arg *key, int type, bool *wrong)
{
	*wrong = false;
	struct kv_dent *e = kv_db_find(x, key);
	if (e != NULL && kv_obj_of(e)->type != type) {
		kv_reply_err(x, kv_err_wrongtype);
		*wrong = true;
		return NULL;
	}
	return e;
}

struct kv_dent *kv_db_find_or_add(struct kv_ctx *x, const struct kv_arg *key, int type)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, key, type, &wrong);
	if (e != NULL || wrong)
		return e;
	struct kv_obj *o = kv_obj_new(type);
	if (o == NULL || (e = kv_db_set(x, key, o, false)) == NULL)
		kv_reply_oom(x);
	return e;
}

void kv_db_remove_members(struct kv_ctx *x, int type, bool free_values)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], type, &wrong);
	if (wrong)
		return;
	long long removed = 0;
	if (e != NULL) {
		struct kv_dict *d = kv_obj_of(e)->u.dict;
		for (int j = 2; j < x->argc && kv_dict_size(d) > 0; j++) {
			struct kv_dent *m = kv_dict_unlink(d, x->argv[j].p, x->argv[j].len);
			if (m != NULL) {
				if (free_values)
					free(m->v.ptr);
				free(m);
				removed++;
			}
		}
		if (kv_dict_size(d) == 0)
			kv_db_delete_entry(x->db, e);
	}
	kv_int(x->out, removed);
	x->dirty = removed > 0;
}

struct kv_dent *kv_db_set(struct kv_ctx *x, const struct kv_arg *key, struct kv_obj *obj, bool keepttl)
{
	bool added;
	struct kv_dent *e = kv_dict_add(&x->db->keys, key->p, key->len, &added);
	if (e == NULL) {
		kv_obj_free(obj);
		return NULL;
	}
	if (added && x->log != NULL && !x->loading && tomb_test(x->db, e->hash)) {
		/* the key expired here; the replay still has it: make the replay drop it too before this write */
		kv_log_begin(x->log, 2);
		kv_log_arg(x->log, "DEL", 3);
		kv_log_arg(x->log, key->p, key->len);
		x->dirty = true;
	}
	if (!added) {
		struct kv_obj *old = kv_obj_of(e);
		if (keepttl && old->exp_idx != KV_NO_TTL) {
			obj->exp_idx = old->exp_idx, obj->expire_ms = old->expire_ms;
			old->exp_idx = KV_NO_TTL; /* the index slot now belongs to obj (same entry) */
		} else {
			exp_remove(x->db, old);
		}
		kv_obj_free(old);
	}
	e->v.ptr = obj;
	return e;
}

static void free_key_val(struct kv_dent *e) { kv_obj_free(kv_obj_of(e)); }

void kv_db_flush(struct kv_db *db)
{
	kv_dict_clear(&db->keys, free_key_val);
	db->nexp = 0;
	memset(db->tomb, 0, sizeof(db->tomb));
	db->tomb_any = false;
}

size_t kv_db_size(const struct kv_db *db) { return kv_dict_size(&db->keys); }

size_t kv_db_expire_cycle(struct kv_db *db, uint64_t now_ms, size_t budget)
{
	/* a cursor walks the index of keys with a TTL, budget keys a call, so that every expired key is found
	 * within one pass (nexp / budget calls), not left to chance as random samples would */
	size_t removed = 0;
	for (size_t i = 0; i < budget && db->nexp > 0; i++) {
		if (db->exp_cursor >= db->nexp)
			db->exp_cursor = 0;
		struct kv_dent *e = db->exp[db->exp_cursor];
		if (kv_obj_of(e)->expire_ms <= now_ms) {
			tomb_set(db, e->hash);
			kv_db_delete_entry(db, e); /* the last key moves into this slot: look at it next */
			removed++;
		} else {
			db->exp_cursor++;
		}
	}
	db->expired_keys += removed;
	/* the cycle is also when an idle server finishes a rehash of the key space (1,000 buckets: tens of us) */
	kv_dict_rehash_step(&db->keys, 1000);
	return removed;
}

/* ---- replies and arguments ---- */

void kv_reply_ok(struct kv_ctx *x) { kv_out_put(x->out, "+OK\r\n", 5); }
void kv_reply_err(struct kv_ctx *x, const char *msg) { kv_out_error(x->out, msg); }
void kv_reply_oom(struct kv_ctx *x) { kv_out_error(x->out, "OOM command not allowed when used memory > 'maxmemory'."); }

void kv_reply_errf(struct kv_ctx *x, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* an error is one line: Redis maps CR and LF in it to spaces */
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	kv_out_error(x->out, buf);
}

void kv_reply_wrong_arity(struct kv_ctx *x)
{
	kv_reply_errf(x, "ERR wrong number of arguments for '%s' command", x->cmd->name);
}

/* As Redis 7.0 in RESP2: %.17g, inf and -inf. */
int kv_fmt_double(char *buf, size_t size, double d)
{
	if (isinf(d))
		return snprintf(buf, size, "%s", d > 0 ? "inf" : "-inf");
	return snprintf(buf, size, "%.17g", d);
}

void kv_reply_double(struct kv_out *o, double d)
{
	char buf[64];
	int n = kv_fmt_double(buf, sizeof(buf), d);
	kv_bulk(o, buf, (size_t)n);
}

bool kv_arg_ll(const struct kv_arg *a, long long *v)
{
	const char *p = a->p;
	size_t n = a->len;
	if (n == 0 || n > 20)
		return false;
	if (n == 1 && p[0] == '0') {
		*v = 0;
		return true;
	}
	bool neg = false;
	size_t i = 0;
	if (p[0] == '-') {
		neg = true;
		if (++i == n)
			return false;
	}
	if (p[i] < '1' || p[i] > '9')
		return false;
	unsigned long long u = 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		unsigned d = (unsigned)(p[i] - '0');
		if (u > (~0ull - d) / 10)
			return false;
		u = u * 10 + d;
	}
	if (neg) {
		if (u > (unsigned long long)LLONG_MAX + 1)
			return false;
		*v = (long long)(0 - u);
	} else {
		if (u > (unsigned long long)LLONG_MAX)
			return false;
		*v = (long long)u;
	}
	return true;
}

bool kv_arg_double(const struct kv_arg *a, double *v)
{
	char buf[256];
	if (a->len == 0 || a->len >= sizeof(buf))
		return false;
	memcpy(buf, a->p, a->len);
	buf[a->len] = '\0';
	if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n' || buf[0] == '\r' || buf[0] == '\v' || buf[0] == '\f')
		return false;
	char *end;
	errno = 0;
	double d = strtod(buf, &end);
	if ((size_t)(end - buf) != a->len || (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || fpclassify(d) == FP_ZERO)) ||
		isnan(d))
		return false;
	*v = d;
	return true;
}

bool kv_arg_is(const struct kv_arg *a, const char *s)
{
	size_t n = strlen(s);
	return a->len == n && strncasecmp(a->p, s, n) == 0;
}

void kv_log_begin(struct kv_out *o, int argc) { kv_array(o, argc); }
void kv_log_arg(struct kv_out *o, const void *p, size_t len) { kv_bulk(o, p, len); }
void kv_log_ll(struct kv_out *o, long long v)
{
	char buf[24];
	kv_bulk(o, buf, kv_fmt_ll(buf, v));
}

void kv_log_argv(struct kv_out *o, int argc, const struct kv_arg *argv)
{
	kv_log_begin(o, argc);
	for (int i = 0; i < argc; i++)
		kv_log_arg(o, argv[i].p, argv[i].len);
}

/* ---- the command table ---- */

#define CMD_NAME_MAX 32
#define CMD_HASH_SIZE 256

static unsigned cmd_slot(const char *lower, size_t len)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)lower[i]) * 16777619u;
	return h & (CMD_HASH_SIZE - 1);
}

static void cmd_register(struct kv_db *db, const struct kv_cmd_def *defs)
{
	for (const struct kv_cmd_def *d = defs; d->name != NULL; d++) {
		unsigned i = cmd_slot(d->name, strlen(d->name));
		while (db->cmd_hash[i] != NULL)
			i = (i + 1) & (CMD_HASH_SIZE - 1);
		db->cmd_hash[i] = d;
	}
}

static const struct kv_cmd_def *cmd_lookup(const struct kv_db *db, const struct kv_arg *name)
{
	char lower[CMD_NAME_MAX];
	if (name->len == 0 || name->len >= CMD_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < name->len; i++) {
		char ch = name->p[i];
		lower[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
	}
	for (unsigned i = cmd_slot(lower, name->len);; i = (i + 1) & (CMD_HASH_SIZE - 1)) {
		const struct kv_cmd_def *d = db->cmd_hash[i];
		if (d == NULL)
			return NULL;
		if (strlen(d->name) == name->len && memcmp(d->name, lower, name->len) == 0)
			return d;
	}
}

struct kv_db *kv_db_create(void)
{
	struct kv_db *db = calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	kv_dict_init(&db->keys);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	db->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)db;
	if (db->rng == 0)
		db->rng = 88172645463325252ull;
	static bool seeded;
	if (!seeded) {
		kv_hash_seed(kv_db_rand(db));
		seeded = true;
	}
	const struct kv_cmd_def *tables[] = {kv_cmds_string, kv_cmds_keys, kv_cmds_list, kv_cmds_set, kv_cmds_hash,
		kv_cmds_zset, kv_cmds_server};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		cmd_register(db, tables[i]);
	return db;
}

void kv_db_destroy(struct kv_db *db)
{
	if (db == NULL)
		return;
	kv_db_flush(db);
	free(db->exp);
	free(db);
}

static void reply_unknown(struct kv_ctx *x)
{
	/* as Redis 7.0: the name and the first arguments, each cut at a NUL, together about 128 bytes */
	char args[512];
	size_t n = 0;
	args[0] = '\0';
	for (int i = 1; i < x->argc && n < 128; i++) {
		int room = 128 - (int)n;
		size_t len = strnlen(x->argv[i].p, x->argv[i].len);
		n += (size_t)snprintf(args + n, sizeof(args) - n, "'%.*s' ", (int)len < room ? (int)len : room,
			x->argv[i].p);
	}
	size_t nl = strnlen(x->argv[0].p, x->argv[0].len);
	kv_reply_errf(x, "ERR unknown command '%.*s', with args beginning with: %s", (int)(nl < 128 ? nl : 128),
		x->argv[0].p, args);
}

int kv_exec(struct kv_db *db, struct kv_client *c, int argc, const struct kv_arg *argv, uint64_t now_ms,
	struct kv_out *out, struct kv_out *log)
{
	struct kv_ctx x = {.db = db, .c = c, .argc = argc, .argv = argv, .now = now_ms, .out = out, .log = log,
		.loading = c != NULL && c->loading};
	if (argc < 1)
		return 0;
	x.cmd = cmd_lookup(db, &argv[0]);
	if (x.cmd == NULL) {
		reply_unknown(&x);
		return 0;
	}
	if ((x.cmd->arity > 0 && argc != x.cmd->arity) || (x.cmd->arity < 0 && argc < -x.cmd->arity)) {
		kv_reply_wrong_arity(&x);
		return 0;
	}
	x.cmd->fn(&x);
	int flags = 0;
	if (c != NULL && c->quit)
		flags |= KV_CMD_CLOSE;
	if (x.dirty) {
		flags |= KV_CMD_WRITE;
		if (!x.logged && log != NULL)
			kv_log_argv(log, argc, argv);
	}
	return flags;
}
