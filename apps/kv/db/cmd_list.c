/* List commands on a ring of element pointers: LPUSH RPUSH LPOP RPOP LRANGE LLEN LINDEX. Both ends are O(1)
 * amortized and an index O(1), so LRANGE is linear in what it returns wherever the range starts. */
#include <stdlib.h>
#include <string.h>

#include "kv_db.h"

#define LIST_MIN 8

static inline struct kv_str **list_at(struct kv_list *l, size_t i) { return &l->ring[(l->head + i) & (l->cap - 1)]; }

static bool list_grow(struct kv_list *l)
{
	size_t cap = l->cap ? l->cap * 2 : LIST_MIN;
	struct kv_str **ring = malloc(cap * sizeof(*ring));
	if (ring == NULL)
		return false;
	for (size_t i = 0; i < l->len; i++)
		ring[i] = *list_at(l, i);
	free(l->ring);
	l->ring = ring, l->cap = cap, l->head = 0;
	return true;
}

/* After pops: a ring less than a quarter full halves (never below LIST_MIN). */
static void list_shrink(struct kv_list *l)
{
	if (l->cap <= LIST_MIN || l->len * 4 >= l->cap)
		return;
	size_t cap = l->cap / 2;
	struct kv_str **ring = malloc(cap * sizeof(*ring));
	if (ring == NULL)
		return;
	for (size_t i = 0; i < l->len; i++)
		ring[i] = *list_at(l, i);
	free(l->ring);
	l->ring = ring, l->cap = cap, l->head = 0;
}

void kv_list_free(struct kv_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->len; i++)
		free(*list_at(l, i));
	free(l->ring);
	free(l);
}

static void push_generic(struct kv_ctx *x, bool left)
{
	struct kv_dent *e = kv_db_find_or_add(x, &x->argv[1], KV_LIST);
	if (e == NULL)
		return;
	struct kv_list *l = kv_obj_of(e)->u.list;
	int j;
	for (j = 2; j < x->argc; j++) {
		struct kv_str *s = kv_str_new(x->argv[j].p, x->argv[j].len);
		if (s == NULL || (l->len == l->cap && !list_grow(l))) {
			free(s);
			break;
		}
		if (left) {
			l->head = (l->head - 1) & (l->cap - 1);
			l->ring[l->head] = s;
		} else {
			*list_at(l, l->len) = s;
		}
		l->len++;
	}
	if (j < x->argc) {
		/* out of memory part way: log what was pushed, so that the log stays the truth */
		if (j > 2 && x->log != NULL) {
			kv_log_argv(x->log, j, x->argv);
			x->logged = true;
			x->dirty = true;
		}
		if (l->len == 0)
			kv_db_delete_entry(x->db, e);
		kv_reply_oom(x);
		return;
	}
	kv_int(x->out, (long long)l->len);
	x->dirty = true;
}

static void cmd_lpush(struct kv_ctx *x) { push_generic(x, true); }
static void cmd_rpush(struct kv_ctx *x) { push_generic(x, false); }

static struct kv_str *pop_one(struct kv_list *l, bool left)
{
	struct kv_str *s;
	if (left) {
		s = l->ring[l->head];
		l->head = (l->head + 1) & (l->cap - 1);
	} else {
		s = *list_at(l, l->len - 1);
	}
	l->len--;
	return s;
}

static void pop_generic(struct kv_ctx *x, bool left)
{
	long long count = 1;
	bool has_count = x->argc == 3;
	if (x->argc > 3) {
		kv_reply_wrong_arity(x);
		return;
	}
	if (has_count) {
		if (!kv_arg_ll(&x->argv[2], &count) || count < 0) {
			kv_reply_err(x, "ERR value is out of range, must be positive");
			return;
		}
	}
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_LIST, &wrong);
	if (wrong)
		return;
	if (e == NULL) {
		if (has_count)
			kv_out_null_array(x->out);
		else
			kv_out_null(x->out);
		return;
	}
	struct kv_list *l = kv_obj_of(e)->u.list;
	if (has_count) {
		size_t n = (unsigned long long)count < l->len ? (size_t)count : l->len;
		kv_array(x->out, (long long)n);
		for (size_t i = 0; i < n; i++) {
			struct kv_str *s = pop_one(l, left);
			kv_bulk(x->out, s->p, s->len);
			free(s);
		}
		x->dirty = n > 0;
	} else {
		struct kv_str *s = pop_one(l, left);
		kv_bulk(x->out, s->p, s->len);
		free(s);
		x->dirty = true;
	}
	if (l->len == 0)
		kv_db_delete_entry(x->db, e);
	else
		list_shrink(l);
}

static void cmd_lpop(struct kv_ctx *x) { pop_generic(x, true); }
static void cmd_rpop(struct kv_ctx *x) { pop_generic(x, false); }

static void cmd_llen(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_LIST, &wrong);
	if (!wrong)
		kv_int(x->out, e != NULL ? (long long)kv_obj_of(e)->u.list->len : 0);
}

static void cmd_lindex(struct kv_ctx *x)
{
	long long i;
	if (!kv_arg_ll(&x->argv[2], &i)) {
		kv_reply_err(x, kv_err_notint);
		return;
	}
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_LIST, &wrong);
	if (wrong)
		return;
	if (e == NULL) {
		kv_out_null(x->out);
		return;
	}
	struct kv_list *l = kv_obj_of(e)->u.list;
	if (i < 0)
		i += (long long)l->len;
	if (i < 0 || i >= (long long)l->len) {
		kv_out_null(x->out);
		return;
	}
	struct kv_str *s = *list_at(l, (size_t)i);
	kv_bulk(x->out, s->p, s->len);
}

static void cmd_lrange(struct kv_ctx *x)
{
	long long start, end;
	if (!kv_arg_ll(&x->argv[2], &start) || !kv_arg_ll(&x->argv[3], &end)) {
		kv_reply_err(x, kv_err_notint);
		return;
	}
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_LIST, &wrong);
	if (wrong)
		return;
	if (e == NULL) {
		kv_array(x->out, 0);
		return;
	}
	struct kv_list *l = kv_obj_of(e)->u.list;
	long long len = (long long)l->len;
	if (!kv_range(&start, &end, len)) {
		kv_array(x->out, 0);
		return;
	}
	kv_array(x->out, end - start + 1);
	for (long long i = start; i <= end && !x->out->overflow; i++) {
		struct kv_str *s = *list_at(l, (size_t)i);
		kv_bulk(x->out, s->p, s->len);
	}
}

const struct kv_cmd_def kv_cmds_list[] = {
	{"lpush", -3, KV_CMD_WRITE, cmd_lpush},
	{"rpush", -3, KV_CMD_WRITE, cmd_rpush},
	{"lpop", -2, KV_CMD_WRITE, cmd_lpop},
	{"rpop", -2, KV_CMD_WRITE, cmd_rpop},
	{"llen", 2, 0, cmd_llen},
	{"lindex", 3, 0, cmd_lindex},
	{"lrange", 4, 0, cmd_lrange},
	{NULL, 0, 0, NULL},
};
