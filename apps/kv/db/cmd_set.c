/* Set commands on a kv_dict of members: SADD SREM SPOP SMEMBERS SCARD SISMEMBER. SPOP is logged as the SREM of
 * what it popped. */
#include <stdlib.h>

#include "kv_db.h"

static void cmd_sadd(struct kv_ctx *x)
{
	struct kv_dent *e = kv_db_find_or_add(x, &x->argv[1], KV_SET);
	if (e == NULL)
		return;
	struct kv_dict *d = kv_obj_of(e)->u.dict;
	long long added = 0;
	for (int j = 2; j < x->argc; j++) {
		bool new;
		if (kv_dict_add(d, x->argv[j].p, x->argv[j].len, &new) == NULL) {
			if (j > 2 && x->log != NULL) { /* what was added, so that the log stays the truth */
				kv_log_argv(x->log, j, x->argv);
				x->logged = true;
				x->dirty = added > 0;
			}
			if (kv_dict_size(d) == 0)
				kv_db_delete_entry(x->db, e);
			kv_reply_oom(x);
			return;
		}
		added += new;
	}
	kv_int(x->out, added);
	x->dirty = added > 0;
}

static void cmd_srem(struct kv_ctx *x)
{
	kv_db_remove_members(x, KV_SET, false);
}

static void cmd_spop(struct kv_ctx *x)
{
	if (x->argc > 3) {
		kv_reply_err(x, kv_err_syntax);
		return;
	}
	bool has_count = x->argc == 3;
	long long count = 1;
	if (has_count) {
		if (!kv_arg_ll(&x->argv[2], &count) || count < 0) {
			kv_reply_err(x, "ERR value is out of range, must be positive");
			return;
		}
	}
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_SET, &wrong);
	if (wrong)
		return;
	if (e == NULL || count == 0) {
		if (has_count)
			kv_array(x->out, 0);
		else
			kv_out_null(x->out);
		return;
	}
	struct kv_dict *d = kv_obj_of(e)->u.dict;
	size_t n = (unsigned long long)count < kv_dict_size(d) ? (size_t)count : kv_dict_size(d);
	if (has_count)
		kv_array(x->out, (long long)n);
	if (x->log != NULL) {
		kv_log_begin(x->log, (int)n + 2);
		kv_log_arg(x->log, "SREM", 4);
		kv_log_arg(x->log, x->argv[1].p, x->argv[1].len);
		x->logged = true;
	}
	for (size_t i = 0; i < n; i++) {
		struct kv_dent *m = kv_dict_random(d, kv_db_rand_cb, x->db);
		kv_bulk(x->out, m->key, m->klen);
		if (x->log != NULL)
			kv_log_arg(x->log, m->key, m->klen);
		free(kv_dict_unlink(d, m->key, m->klen));
	}
	x->dirty = true;
	if (kv_dict_size(d) == 0)
		kv_db_delete_entry(x->db, e);
}

static void cmd_smembers(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_SET, &wrong);
	if (wrong)
		return;
	if (e == NULL) {
		kv_array(x->out, 0);
		return;
	}
	struct kv_dict *d = kv_obj_of(e)->u.dict;
	kv_array(x->out, (long long)kv_dict_size(d));
	struct kv_dict_iter it;
	kv_dict_iter_init(&it, d);
	for (struct kv_dent *m; (m = kv_dict_next(&it)) != NULL && !x->out->overflow;)
		kv_bulk(x->out, m->key, m->klen);
}

static void cmd_scard(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_SET, &wrong);
	if (!wrong)
		kv_int(x->out, e != NULL ? (long long)kv_dict_size(kv_obj_of(e)->u.dict) : 0);
}

static void cmd_sismember(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_SET, &wrong);
	if (!wrong)
		kv_int(x->out, e != NULL && kv_dict_find(kv_obj_of(e)->u.dict, x->argv[2].p, x->argv[2].len) != NULL);
}

const struct kv_cmd_def kv_cmds_set[] = {
	{"sadd", -3, KV_CMD_WRITE, cmd_sadd},
	{"srem", -3, KV_CMD_WRITE, cmd_srem},
	{"spop", -2, KV_CMD_WRITE, cmd_spop},
	{"smembers", 2, 0, cmd_smembers},
	{"scard", 2, 0, cmd_scard},
	{"sismember", 3, 0, cmd_sismember},
	{NULL, 0, 0, NULL},
};
