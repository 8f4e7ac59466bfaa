/* Hash commands on a kv_dict of fields (values: struct kv_str): HSET HMSET HGET HGETALL HDEL HLEN HEXISTS. */
#include <stdlib.h>

#include "kv_db.h"

void kv_hash_free_val(struct kv_dent *e) { free(e->v.ptr); }

static void hset_generic(struct kv_ctx *x, bool ok_reply)
{
	if (x->argc % 2 == 1) {
		kv_reply_wrong_arity(x);
		return;
	}
	struct kv_dent *e = kv_db_find_or_add(x, &x->argv[1], KV_HASH);
	if (e == NULL)
		return;
	struct kv_dict *d = kv_obj_of(e)->u.dict;
	long long added = 0;
	for (int j = 2; j < x->argc; j += 2) {
		bool new;
		struct kv_str *v = kv_str_new(x->argv[j + 1].p, x->argv[j + 1].len);
		struct kv_dent *f = v != NULL ? kv_dict_add(d, x->argv[j].p, x->argv[j].len, &new) : NULL;
		if (f == NULL) {
			free(v);
			if (j > 2 && x->log != NULL) { /* what was set, so that the log stays the truth */
				kv_log_argv(x->log, j, x->argv);
				x->logged = true;
				x->dirty = true;
			}
			if (kv_dict_size(d) == 0)
				kv_db_delete_entry(x->db, e);
			kv_reply_oom(x);
			return;
		}
		free(f->v.ptr);
		f->v.ptr = v;
		added += new;
	}
	if (ok_reply)
		kv_reply_ok(x);
	else
		kv_int(x->out, added);
	x->dirty = true;
}

static void cmd_hset(struct kv_ctx *x) { hset_generic(x, false); }
static void cmd_hmset(struct kv_ctx *x) { hset_generic(x, true); }

static void cmd_hget(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_HASH, &wrong);
	if (wrong)
		return;
	struct kv_dent *f = e != NULL ? kv_dict_find(kv_obj_of(e)->u.dict, x->argv[2].p, x->argv[2].len) : NULL;
	if (f == NULL) {
		kv_out_null(x->out);
		return;
	}
	struct kv_str *v = f->v.ptr;
	kv_bulk(x->out, v->p, v->len);
}

static void cmd_hexists(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_HASH, &wrong);
	if (!wrong)
		kv_int(x->out, e != NULL && kv_dict_find(kv_obj_of(e)->u.dict, x->argv[2].p, x->argv[2].len) != NULL);
}

static void cmd_hgetall(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_HASH, &wrong);
	if (wrong)
		return;
	if (e == NULL) {
		kv_array(x->out, 0);
		return;
	}
	struct kv_dict *d = kv_obj_of(e)->u.dict;
	kv_array(x->out, (long long)kv_dict_size(d) * 2);
	struct kv_dict_iter it;
	kv_dict_iter_init(&it, d);
	for (struct kv_dent *f; (f = kv_dict_next(&it)) != NULL && !x->out->overflow;) {
		struct kv_str *v = f->v.ptr;
		kv_bulk(x->out, f->key, f->klen);
		kv_bulk(x->out, v->p, v->len);
	}
}

static void cmd_hdel(struct kv_ctx *x)
{
	kv_db_remove_members(x, KV_HASH, true);
}

static void cmd_hlen(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_HASH, &wrong);
	if (!wrong)
		kv_int(x->out, e != NULL ? (long long)kv_dict_size(kv_obj_of(e)->u.dict) : 0);
}

const struct kv_cmd_def kv_cmds_hash[] = {
	{"hset", -4, KV_CMD_WRITE, cmd_hset},
	{"hmset", -4, KV_CMD_WRITE, cmd_hmset},
	{"hget", 3, 0, cmd_hget},
	{"hexists", 3, 0, cmd_hexists},
	{"hgetall", 2, 0, cmd_hgetall},
	{"hdel", -3, KV_CMD_WRITE, cmd_hdel},
	{"hlen", 2, 0, cmd_hlen},
	{NULL, 0, 0, NULL},
};
