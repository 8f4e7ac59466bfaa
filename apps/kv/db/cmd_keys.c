/* Key space commands: DEL UNLINK EXISTS EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL PERSIST TYPE DBSIZE FLUSHALL
 * FLUSHDB. */
#include <limits.h>
#include <stdio.h>

#include "kv_db.h"

static void cmd_del(struct kv_ctx *x)
{
	long long n = 0;
	for (int j = 1; j < x->argc; j++) {
		struct kv_dent *e = kv_db_find(x, &x->argv[j]);
		if (e != NULL) {
			kv_db_delete_entry(x->db, e);
			n++;
		}
	}
	kv_int(x->out, n);
	x->dirty = n > 0;
}

static void cmd_exists(struct kv_ctx *x)
{
	long long n = 0;
	for (int j = 1; j < x->argc; j++)
		n += kv_db_find(x, &x->argv[j]) != NULL;
	kv_int(x->out, n);
}

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, as Redis 7.0's expireGenericCommand; logged as PEXPIREAT (or DEL when
 * the time is already past). */
static void expire_generic(struct kv_ctx *x, long long base, bool seconds)
{
	int flags = 0;
	for (int j = 3; j < x->argc; j++) {
		const struct kv_arg *o = &x->argv[j];
		if (kv_arg_is(o, "nx"))
			flags |= EXP_NX;
		else if (kv_arg_is(o, "xx"))
			flags |= EXP_XX;
		else if (kv_arg_is(o, "gt"))
			flags |= EXP_GT;
		else if (kv_arg_is(o, "lt"))
			flags |= EXP_LT;
		else {
			kv_reply_errf(x, "ERR Unsupported option %.*s", (int)o->len, o->p);
			return;
		}
	}
	if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
		kv_reply_err(x, "ERR NX and XX, GT or LT options at the same time are not compatible");
		return;
	}
	if ((flags & EXP_GT) && (flags & EXP_LT)) {
		kv_reply_err(x, "ERR GT and LT options at the same time are not compatible");
		return;
	}
	long long when;
	if (!kv_arg_ll(&x->argv[2], &when)) {
		kv_reply_err(x, kv_err_notint);
		return;
	}
	if (seconds) {
		if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
			goto invalid;
		when *= 1000;
	}
	if (when > LLONG_MAX - base)
		goto invalid;
	when += base;
	struct kv_dent *e = kv_db_find(x, &x->argv[1]);
	if (e == NULL) {
		kv_int(x->out, 0);
		return;
	}
	struct kv_obj *o = kv_obj_of(e);
	bool has = o->exp_idx != KV_NO_TTL;
	long long cur = has ? (long long)o->expire_ms : -1;
	if (((flags & EXP_NX) && has) || ((flags & EXP_XX) && !has) || ((flags & EXP_GT) && (!has || when <= cur)) ||
		((flags & EXP_LT) && has && when >= cur)) {
		kv_int(x->out, 0);
		return;
	}
	x->dirty = true;
	x->logged = x->log != NULL;
	if (when <= (long long)x->now && !x->loading) {
		if (x->log != NULL) {
			kv_log_begin(x->log, 2);
			kv_log_arg(x->log, "DEL", 3);
			kv_log_arg(x->log, x->argv[1].p, x->argv[1].len);
		}
		kv_db_delete_entry(x->db, e);
		kv_int(x->out, 1);
		return;
	}
	/* a time before the clock's epoch (only while loading) is kept as 0: expired at once after the load */
	kv_db_set_expire(x->db, e, when < 0 ? 0 : (uint64_t)when);
	if (x->log != NULL) {
		kv_log_begin(x->log, 3);
		kv_log_arg(x->log, "PEXPIREAT", 9);
		kv_log_arg(x->log, x->argv[1].p, x->argv[1].len);
		kv_log_ll(x->log, when);
	}
	kv_int(x->out, 1);
	return;
invalid:
	kv_reply_errf(x, "ERR invalid expire time in '%s' command", x->cmd->name);
}

static void cmd_expire(struct kv_ctx *x) { expire_generic(x, (long long)x->now, true); }
static void cmd_pexpire(struct kv_ctx *x) { expire_generic(x, (long long)x->now, false); }
static void cmd_expireat(struct kv_ctx *x) { expire_generic(x, 0, true); }
static void cmd_pexpireat(struct kv_ctx *x) { expire_generic(x, 0, false); }

static void ttl_generic(struct kv_ctx *x, bool ms)
{
	struct kv_dent *e = kv_db_find(x, &x->argv[1]);
	if (e == NULL) {
		kv_int(x->out, -2);
		return;
	}
	struct kv_obj *o = kv_obj_of(e);
	if (o->exp_idx == KV_NO_TTL) {
		kv_int(x->out, -1);
		return;
	}
	long long ttl = (long long)o->expire_ms - (long long)x->now;
	if (ttl < 0)
		ttl = 0;
	kv_int(x->out, ms ? ttl : (ttl + 500) / 1000);
}

static void cmd_ttl(struct kv_ctx *x) { ttl_generic(x, false); }
static void cmd_pttl(struct kv_ctx *x) { ttl_generic(x, true); }

static void cmd_persist(struct kv_ctx *x)
{
	struct kv_dent *e = kv_db_find(x, &x->argv[1]);
	bool done = e != NULL && kv_db_persist(x->db, e);
	kv_int(x->out, done);
	x->dirty = done;
}

static void cmd_type(struct kv_ctx *x)
{
	static const char *const names[] = {"string", "list", "set", "hash", "zset"};
	struct kv_dent *e = kv_db_find(x, &x->argv[1]);
	kv_out_simple(x->out, e == NULL ? "none" : names[kv_obj_of(e)->type]);
}

static void cmd_dbsize(struct kv_ctx *x) { kv_int(x->out, (long long)kv_db_size(x->db)); }

static void cmd_flushall(struct kv_ctx *x)
{
	if (x->argc > 2 || (x->argc == 2 && !kv_arg_is(&x->argv[1], "sync") && !kv_arg_is(&x->argv[1], "async"))) {
		kv_reply_err(x, kv_err_syntax);
		return;
	}
	x->dirty = kv_db_size(x->db) > 0;
	kv_db_flush(x->db);
	kv_reply_ok(x);
}

const struct kv_cmd_def kv_cmds_keys[] = {
	{"del", -2, KV_CMD_WRITE, cmd_del},
	{"unlink", -2, KV_CMD_WRITE, cmd_del},
	{"exists", -2, 0, cmd_exists},
	{"expire", -3, KV_CMD_WRITE, cmd_expire},
	{"pexpire", -3, KV_CMD_WRITE, cmd_pexpire},
	{"expireat", -3, KV_CMD_WRITE, cmd_expireat},
	{"pexpireat", -3, KV_CMD_WRITE, cmd_pexpireat},
	{"ttl", 2, 0, cmd_ttl},
	{"pttl", 2, 0, cmd_pttl},
	{"persist", 2, KV_CMD_WRITE, cmd_persist},
	{"type", 2, 0, cmd_type},
	{"dbsize", 1, 0, cmd_dbsize},
	{"flushall", -1, KV_CMD_WRITE, cmd_flushall},
	{"flushdb", -1, KV_CMD_WRITE, cmd_flushall},
	{NULL, 0, 0, NULL},
};
