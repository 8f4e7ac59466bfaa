/* String commands: SET GET INCR DECR INCRBY DECRBY MSET MGET APPEND STRLEN. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_db.h"

enum {
	SET_NX = 1 << 0,
	SET_XX = 1 << 1,
	SET_GET = 1 << 2,
	SET_KEEPTTL = 1 << 3,
	SET_EX = 1 << 4,
	SET_PX = 1 << 5,
	SET_EXAT = 1 << 6,
	SET_PXAT = 1 << 7,
};
#define SET_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* A string key's value; NULL when absent or of another type (WRONGTYPE replied, *wrong set). */
static struct kv_dent *find_string(struct kv_ctx *x, const struct kv_arg *key, bool *wrong)
{
	return kv_db_find_type(x, key, KV_STRING, wrong);
}

static void reply_value(struct kv_ctx *x, struct kv_dent *e)
{
	if (e == NULL)
		kv_out_null(x->out);
	else
		kv_bulk(x->out, kv_obj_of(e)->data, kv_obj_of(e)->u.s.len);
}

static void cmd_get(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = find_string(x, &x->argv[1], &wrong);
	if (wrong)
		return;
	if (e == NULL)
		x->db->keyspace_misses++;
	else
		x->db->keyspace_hits++;
	reply_value(x, e);
}

/* An expire argument to absolute milliseconds, as Redis 7.0's getExpireMillisecondsOrReply. */
static bool expire_arg(struct kv_ctx *x, const struct kv_arg *a, int unit_flags, uint64_t *when)
{
	long long ms;
	if (!kv_arg_ll(a, &ms)) {
		kv_reply_err(x, kv_err_notint);
		return false;
	}
	bool seconds = unit_flags & (SET_EX | SET_EXAT);
	if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000))
		goto invalid;
	if (seconds)
		ms *= 1000;
	if (unit_flags & (SET_EX | SET_PX)) {
		if (ms > LLONG_MAX - (long long)x->now)
			goto invalid;
		ms += (long long)x->now;
	}
	*when = (uint64_t)ms;
	return true;
invalid:
	kv_reply_errf(x, "ERR invalid expire time in '%s' command", x->cmd->name);
	return false;
}

static void cmd_set(struct kv_ctx *x)
{
	int flags = 0;
	const struct kv_arg *expire = NULL;
	for (int j = 3; j < x->argc; j++) {
		const struct kv_arg *o = &x->argv[j];
		bool has_next = j + 1 < x->argc;
		if (kv_arg_is(o, "nx") && !(flags & SET_XX)) {
			flags |= SET_NX;
		} else if (kv_arg_is(o, "xx") && !(flags & SET_NX)) {
			flags |= SET_XX;
		} else if (kv_arg_is(o, "get")) {
			flags |= SET_GET;
		} else if (kv_arg_is(o, "keepttl") && !(flags & SET_EXPIRE)) {
			flags |= SET_KEEPTTL;
		} else if (has_next && !(flags & (SET_KEEPTTL | SET_EXPIRE)) &&
			(kv_arg_is(o, "ex") || kv_arg_is(o, "px") || kv_arg_is(o, "exat") || kv_arg_is(o, "pxat"))) {
			flags |= kv_arg_is(o, "ex") ? SET_EX : kv_arg_is(o, "px") ? SET_PX : kv_arg_is(o, "exat") ? SET_EXAT : SET_PXAT;
			expire = &x->argv[++j];
		} else {
			kv_reply_err(x, kv_err_syntax);
			return;
		}
	}
	uint64_t when = 0;
	if (expire != NULL && !expire_arg(x, expire, flags & SET_EXPIRE, &when))
		return;
	const struct kv_arg *key = &x->argv[1], *val = &x->argv[2];
	if (val->len > KV_MAX_STRING) {
		kv_reply_err(x, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
		return;
	}
	struct kv_dent *e = kv_db_find(x, key);
	if (flags & SET_GET) {
		if (e != NULL && kv_obj_of(e)->type != KV_STRING) {
			kv_reply_err(x, kv_err_wrongtype);
			return;
		}
		reply_value(x, e);
	}
	if (((flags & SET_NX) && e != NULL) || ((flags & SET_XX) && e == NULL)) {
		if (!(flags & SET_GET))
			kv_out_null(x->out);
		return;
	}
	if (expire != NULL && when <= x->now && !x->loading) {
		/* an absolute time already past: the key is gone at once (logged as its DEL) */
		if (e != NULL) {
			kv_db_delete_entry(x->db, e);
			x->dirty = true;
			x->logged = x->log != NULL;
			if (x->log != NULL) {
				kv_log_begin(x->log, 2);
				kv_log_arg(x->log, "DEL", 3);
				kv_log_arg(x->log, key->p, key->len);
			}
		}
		if (!(flags & SET_GET))
			kv_reply_ok(x);
		return;
	}
	struct kv_obj *cur = e != NULL ? kv_obj_of(e) : NULL;
	if (cur != NULL && cur->type == KV_STRING && cur->u.s.cap >= val->len && cur->u.s.cap <= 2 * val->len + 64) {
		/* overwrite in place: no allocation for a SET of a value about as long as the one it replaces */
		memcpy(cur->data, val->p, val->len);
		cur->u.s.len = val->len;
		if (!(flags & SET_KEEPTTL))
			kv_db_persist(x->db, e);
	} else if ((cur = kv_obj_string(val->p, val->len, val->len)) == NULL ||
		(e = kv_db_set(x, key, cur, flags & SET_KEEPTTL)) == NULL) {
		if (!(flags & SET_GET))
			kv_reply_oom(x);
		return;
	}
	if (expire != NULL)
		kv_db_set_expire(x->db, e, when);
	if (!(flags & SET_GET))
		kv_reply_ok(x);
	x->dirty = true;
	/* the log: SET key value [PXAT abs | KEEPTTL], so that a replay at any later time gives the same key */
	if (x->log != NULL && (flags & (SET_NX | SET_XX | SET_GET | SET_EXPIRE)) != 0) {
		kv_log_begin(x->log, expire != NULL || (flags & SET_KEEPTTL) ? (expire != NULL ? 5 : 4) : 3);
		kv_log_arg(x->log, "SET", 3);
		kv_log_arg(x->log, key->p, key->len);
		kv_log_arg(x->log, val->p, val->len);
		if (expire != NULL) {
			kv_log_arg(x->log, "PXAT", 4);
			kv_log_ll(x->log, (long long)when);
		} else if (flags & SET_KEEPTTL) {
			kv_log_arg(x->log, "KEEPTTL", 7);
		}
		x->logged = true;
	}
}

static void cmd_mset(struct kv_ctx *x)
{
	if (x->argc % 2 == 0) {
		kv_reply_wrong_arity(x);
		return;
	}
	for (int j = 1; j < x->argc; j += 2) {
		if (x->argv[j + 1].len > KV_MAX_STRING) {
			kv_reply_err(x, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
			return;
		}
	}
	for (int j = 1; j < x->argc; j += 2) {
		struct kv_obj *o = kv_obj_string(x->argv[j + 1].p, x->argv[j + 1].len, x->argv[j + 1].len);
		if (o == NULL || kv_db_set(x, &x->argv[j], o, false) == NULL) {
			/* what was set is logged as a shorter MSET: the log stays the truth */
			if (j > 1 && x->log != NULL) {
				kv_log_argv(x->log, j, x->argv);
				x->logged = true;
			}
			kv_reply_oom(x);
			return;
		}
		x->dirty = true;
	}
	kv_reply_ok(x);
}

static void cmd_mget(struct kv_ctx *x)
{
	kv_array(x->out, x->argc - 1);
	for (int j = 1; j < x->argc; j++) {
		struct kv_dent *e = kv_db_find(x, &x->argv[j]);
		if (e == NULL || kv_obj_of(e)->type != KV_STRING) {
			x->db->keyspace_misses++;
			kv_out_null(x->out);
		} else {
			x->db->keyspace_hits++;
			reply_value(x, e);
		}
	}
}

static void cmd_strlen(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = find_string(x, &x->argv[1], &wrong);
	if (!wrong)
		kv_int(x->out, e != NULL ? (long long)kv_obj_of(e)->u.s.len : 0);
}

/* Grows a string value to hold at least need bytes (greedily, as sds does), keeping its TTL. */
static struct kv_obj *string_reserve(struct kv_dent *e, size_t need)
{
	struct kv_obj *o = kv_obj_of(e);
	if (o->u.s.cap >= need)
		return o;
	size_t cap = need < 1024 * 1024 ? need * 2 : need + 1024 * 1024;
	struct kv_obj *n = realloc(o, sizeof(*o) + cap);
	if (n == NULL)
		return NULL;
	n->u.s.cap = cap;
	e->v.ptr = n;
	return n;
}

static void cmd_append(struct kv_ctx *x)
{
	bool wrong;
	const struct kv_arg *key = &x->argv[1], *val = &x->argv[2];
	struct kv_dent *e = find_string(x, key, &wrong);
	if (wrong)
		return;
	if (e == NULL) {
		struct kv_obj *o = kv_obj_string(val->p, val->len, val->len);
		if (o == NULL || (e = kv_db_set(x, key, o, false)) == NULL) {
			kv_reply_oom(x);
			return;
		}
		kv_int(x->out, (long long)val->len);
		x->dirty = true;
		return;
	}
	struct kv_obj *o = kv_obj_of(e);
	if (o->u.s.len + val->len > KV_MAX_STRING) {
		kv_reply_err(x, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
		return;
	}
	if ((o = string_reserve(e, o->u.s.len + val->len)) == NULL) {
		kv_reply_oom(x);
		return;
	}
	memcpy(o->data + o->u.s.len, val->p, val->len);
	o->u.s.len += val->len;
	kv_int(x->out, (long long)o->u.s.len);
	x->dirty = val->len > 0;
}

static void incr_by(struct kv_ctx *x, long long by)
{
	bool wrong;
	const struct kv_arg *key = &x->argv[1];
	struct kv_dent *e = find_string(x, key, &wrong);
	if (wrong)
		return;
	long long v = 0;
	if (e != NULL) {
		struct kv_arg cur = {kv_obj_of(e)->data, kv_obj_of(e)->u.s.len};
		if (!kv_arg_ll(&cur, &v)) {
			kv_reply_err(x, kv_err_notint);
			return;
		}
	}
	if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
		kv_reply_err(x, "ERR increment or decrement would overflow");
		return;
	}
	v += by;
	char buf[24];
	int n = (int)kv_fmt_ll(buf, v);
	if (e == NULL) {
		struct kv_obj *o = kv_obj_string(buf, (size_t)n, 20);
		if (o == NULL || kv_db_set(x, key, o, false) == NULL) {
			kv_reply_oom(x);
			return;
		}
	} else {
		struct kv_obj *o = string_reserve(e, 20); /* in place: INCR allocates once per key */
		if (o == NULL) {
			kv_reply_oom(x);
			return;
		}
		memcpy(o->data, buf, (size_t)n);
		o->u.s.len = (size_t)n;
	}
	kv_int(x->out, v);
	x->dirty = true;
}

static void cmd_incr(struct kv_ctx *x) { incr_by(x, 1); }
static void cmd_decr(struct kv_ctx *x) { incr_by(x, -1); }

static void cmd_incrby(struct kv_ctx *x)
{
	long long by;
	if (!kv_arg_ll(&x->argv[2], &by)) {
		kv_reply_err(x, kv_err_notint);
		return;
	}
	incr_by(x, by);
}

static void cmd_decrby(struct kv_ctx *x)
{
	long long by;
	if (!kv_arg_ll(&x->argv[2], &by)) {
		kv_reply_err(x, kv_err_notint);
		return;
	}
	if (by == LLONG_MIN) {
		kv_reply_err(x, "ERR decrement would overflow");
		return;
	}
	incr_by(x, -by);
}

const struct kv_cmd_def kv_cmds_string[] = {
	{"get", 2, 0, cmd_get},
	{"set", -3, KV_CMD_WRITE, cmd_set},
	{"mset", -3, KV_CMD_WRITE, cmd_mset},
	{"mget", -2, 0, cmd_mget},
	{"strlen", 2, 0, cmd_strlen},
	{"append", 3, KV_CMD_WRITE, cmd_append},
	{"incr", 2, KV_CMD_WRITE, cmd_incr},
	{"decr", 2, KV_CMD_WRITE, cmd_decr},
	{"incrby", 3, KV_CMD_WRITE, cmd_incrby},
	{"decrby", 3, KV_CMD_WRITE, cmd_decrby},
	{NULL, 0, 0, NULL},
};
