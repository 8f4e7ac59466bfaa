/* Sorted sets: a skiplist ordered by (score, member) with spans (rank in O(log n), as Redis's zskiplist) and a
 * kv_dict from member to node. ZADD ZPOPMIN ZRANGE ZSCORE ZCARD ZREM. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv_db.h"

#define ZSL_MAX_LEVEL 32

struct zsl_node {
	double score; /* first: the tests read a member's score through its dict entry */
	const char *ele; /* the member's bytes, owned by its dict entry */
	uint32_t elen;
	struct zsl_node *backward;
	struct zsl_level {
		struct zsl_node *forward;
		size_t span;
	} level[];
};

static struct zsl_node *node_new(int level, double score, const char *ele, uint32_t elen)
{
	struct zsl_node *n = calloc(1, sizeof(*n) + (size_t)level * sizeof(struct zsl_level));
	if (n != NULL)
		n->score = score, n->ele = ele, n->elen = elen;
	return n;
}

static struct kv_zset *zset_new(void)
{
	struct kv_zset *z = calloc(1, sizeof(*z));
	if (z == NULL)
		return NULL;
	z->head = node_new(ZSL_MAX_LEVEL, 0, NULL, 0);
	if (z->head == NULL) {
		free(z);
		return NULL;
	}
	z->level = 1;
	kv_dict_init(&z->members);
	return z;
}

void kv_zset_free(struct kv_zset *z)
{
	if (z == NULL)
		return;
	struct zsl_node *n = z->head->level[0].forward;
	while (n != NULL) {
		struct zsl_node *next = n->level[0].forward;
		free(n);
		n = next;
	}
	free(z->head);
	kv_dict_clear(&z->members, NULL);
	free(z);
}

/* (score, member) order; members compare as bytes, a prefix first. */
static int cmp(double s1, const char *e1, uint32_t l1, double s2, const char *e2, uint32_t l2)
{
	if (s1 != s2)
		return s1 < s2 ? -1 : 1;
	int c = memcmp(e1, e2, l1 < l2 ? l1 : l2);
	if (c != 0)
		return c;
	return l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
}

static int random_level(struct kv_db *db)
{
	int level = 1;
	while (level < ZSL_MAX_LEVEL && (kv_db_rand(db) & 3) == 0) /* p = 1/4 */
		level++;
	return level;
}

static struct zsl_node *zsl_insert(struct kv_db *db, struct kv_zset *z, double score, const char *ele, uint32_t elen)
{
	struct zsl_node *update[ZSL_MAX_LEVEL], *x = z->head;
	size_t rank[ZSL_MAX_LEVEL];
	for (int i = z->level - 1; i >= 0; i--) {
		rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
		while (x->level[i].forward != NULL &&
			cmp(x->level[i].forward->score, x->level[i].forward->ele, x->level[i].forward->elen, score, ele,
				elen) < 0) {
			rank[i] += x->level[i].span;
			x = x->level[i].forward;
		}
		update[i] = x;
	}
	int level = random_level(db);
	struct zsl_node *n = node_new(level, score, ele, elen);
	if (n == NULL)
		return NULL;
	if (level > z->level) {
		for (int i = z->level; i < level; i++) {
			rank[i] = 0;
			update[i] = z->head;
			update[i]->level[i].span = z->len;
		}
		z->level = level;
	}
	for (int i = 0; i < level; i++) {
		n->level[i].forward = update[i]->level[i].forward;
		update[i]->level[i].forward = n;
		n->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
		update[i]->level[i].span = (rank[0] - rank[i]) + 1;
	}
	for (int i = level; i < z->level; i++)
		update[i]->level[i].span++;
	n->backward = update[0] == z->head ? NULL : update[0];
	if (n->level[0].forward != NULL)
		n->level[0].forward->backward = n;
	else
		z->tail = n;
	z->len++;
	return n;
}

/* Unlinks node n (found by its score and member) and frees it. */
static void zsl_delete(struct kv_zset *z, struct zsl_node *n)
{
	struct zsl_node *update[ZSL_MAX_LEVEL], *x = z->head;
	for (int i = z->level - 1; i >= 0; i--) {
		while (x->level[i].forward != NULL && x->level[i].forward != n &&
			cmp(x->level[i].forward->score, x->level[i].forward->ele, x->level[i].forward->elen, n->score,
				n->ele, n->elen) < 0)
			x = x->level[i].forward;
		update[i] = x;
	}
	for (int i = 0; i < z->level; i++) {
		if (update[i]->level[i].forward == n) {
			update[i]->level[i].span += n->level[i].span - 1;
			update[i]->level[i].forward = n->level[i].forward;
		} else {
			update[i]->level[i].span--;
		}
	}
	if (n->level[0].forward != NULL)
		n->level[0].forward->backward = n->backward;
	else
		z->tail = n->backward;
	while (z->level > 1 && z->head->level[z->level - 1].forward == NULL)
		z->level--;
	z->len--;
	free(n);
}

/* The node at rank r (0-based), in O(log n). */
static struct zsl_node *zsl_at(struct kv_zset *z, size_t r)
{
	struct zsl_node *x = z->head;
	size_t traversed = 0;
	r++; /* spans count from the head */
	for (int i = z->level - 1; i >= 0; i--) {
		while (x->level[i].forward != NULL && traversed + x->level[i].span <= r) {
			traversed += x->level[i].span;
			x = x->level[i].forward;
		}
		if (traversed == r)
			return x;
	}
	return NULL;
}

/* Removes member (its dict entry and its node). */
static void zset_remove(struct kv_zset *z, struct kv_dent *m)
{
	zsl_delete(z, m->v.ptr);
	free(kv_dict_unlink(&z->members, m->key, m->klen));
}

enum { Z_NX = 1, Z_XX = 2, Z_GT = 4, Z_LT = 8, Z_CH = 16, Z_INCR = 32 };

static void cmd_zadd(struct kv_ctx *x)
{
	int flags = 0, si = 2;
	for (; si < x->argc; si++) {
		const struct kv_arg *o = &x->argv[si];
		int f = kv_arg_is(o, "nx") ? Z_NX : kv_arg_is(o, "xx") ? Z_XX : kv_arg_is(o, "gt") ? Z_GT :
			kv_arg_is(o, "lt") ? Z_LT : kv_arg_is(o, "ch") ? Z_CH : kv_arg_is(o, "incr") ? Z_INCR : 0;
		if (f == 0)
			break;
		flags |= f;
	}
	int elements = x->argc - si;
	if (elements == 0 || elements % 2 != 0) {
		kv_reply_err(x, kv_err_syntax);
		return;
	}
	elements /= 2;
	if ((flags & Z_NX) && (flags & Z_XX)) {
		kv_reply_err(x, "ERR XX and NX options at the same time are not compatible");
		return;
	}
	if (((flags & Z_GT) && (flags & Z_NX)) || ((flags & Z_LT) && (flags & Z_NX)) || ((flags & Z_GT) && (flags & Z_LT))) {
		kv_reply_err(x, "ERR GT, LT, and/or NX options at the same time are not compatible");
		return;
	}
	if ((flags & Z_INCR) && elements > 1) {
		kv_reply_err(x, "ERR INCR option supports a single increment-element pair");
		return;
	}
	for (int j = 0; j < elements; j++) {
		double d;
		if (!kv_arg_double(&x->argv[si + 2 * j], &d)) {
			kv_reply_err(x, kv_err_notfloat);
			return;
		}
	}
	bool wrong;
	const struct kv_arg *key = &x->argv[1];
	struct kv_dent *e = kv_db_find_type(x, key, KV_ZSET, &wrong);
	if (wrong)
		return;
	long long added = 0, updated = 0, processed = 0;
	double score = 0;
	if (e == NULL && !(flags & Z_XX)) {
		struct kv_obj *o = kv_obj_new(KV_ZSET);
		if (o != NULL && (o->u.zset = zset_new()) == NULL) {
			kv_obj_free(o);
			o = NULL;
		}
		if (o == NULL || (e = kv_db_set(x, key, o, false)) == NULL) {
			kv_reply_oom(x);
			return;
		}
	}
	for (int j = 0; e != NULL && j < elements; j++) {
		struct kv_zset *z = kv_obj_of(e)->u.zset;
		const struct kv_arg *mem = &x->argv[si + 2 * j + 1];
		kv_arg_double(&x->argv[si + 2 * j], &score);
		struct kv_dent *m = kv_dict_find(&z->members, mem->p, mem->len);
		if (m != NULL) {
			struct zsl_node *n = m->v.ptr;
			if (flags & Z_NX)
				continue;
			double cur = n->score;
			if (flags & Z_INCR) {
				score += cur;
				if (isnan(score)) {
					kv_reply_err(x, "ERR resulting score is not a number (NaN)");
					goto out; /* the pairs before were applied: logged below */
				}
			}
			if (((flags & Z_GT) && score <= cur) || ((flags & Z_LT) && score >= cur))
				continue;
			processed++;
			if (score != cur) {
				const char *ele = n->ele;
				uint32_t elen = n->elen;
				zsl_delete(z, n);
				struct zsl_node *nn = zsl_insert(x->db, z, score, ele, elen);
				if (nn == NULL) { /* the member is gone with its old score: drop it from the index too */
					free(kv_dict_unlink(&z->members, mem->p, mem->len));
					kv_reply_oom(x);
					x->dirty = true;
					goto out;
				}
				m->v.ptr = nn;
				updated++;
			}
		} else {
			if (flags & Z_XX)
				continue;
			bool new;
			m = kv_dict_add(&z->members, mem->p, mem->len, &new);
			struct zsl_node *nn = m != NULL ? zsl_insert(x->db, z, score, m->key, m->klen) : NULL;
			if (nn == NULL) {
				if (m != NULL)
					free(kv_dict_unlink(&z->members, mem->p, mem->len));
				kv_reply_oom(x);
				goto out;
			}
			m->v.ptr = nn;
			added++, processed++;
		}
	}
	if (flags & Z_INCR) {
		if (processed > 0)
			kv_reply_double(x->out, score);
		else
			kv_out_null(x->out);
	} else {
		kv_int(x->out, (flags & Z_CH) ? added + updated : added);
	}
out:
	if (added + updated > 0)
		x->dirty = true;
	if (e != NULL && kv_obj_of(e)->u.zset->len == 0)
		kv_db_delete_entry(x->db, e);
}

static void cmd_zpopmin(struct kv_ctx *x)
{
	if (x->argc > 3) {
		kv_reply_err(x, kv_err_syntax);
		return;
	}
	long long count = 1;
	if (x->argc == 3) {
		if (!kv_arg_ll(&x->argv[2], &count) || count < 0) {
			kv_reply_err(x, "ERR value is out of range, must be positive");
			return;
		}
	}
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_ZSET, &wrong);
	if (wrong)
		return;
	if (e == NULL || count == 0) {
		kv_array(x->out, 0);
		return;
	}
	struct kv_zset *z = kv_obj_of(e)->u.zset;
	size_t n = (unsigned long long)count < z->len ? (size_t)count : z->len;
	kv_array(x->out, (long long)n * 2);
	for (size_t i = 0; i < n; i++) {
		struct zsl_node *first = z->head->level[0].forward;
		kv_bulk(x->out, first->ele, first->elen);
		kv_reply_double(x->out, first->score);
		struct kv_dent *m = kv_dict_find(&z->members, first->ele, first->elen);
		zset_remove(z, m);
	}
	x->dirty = true;
	if (z->len == 0)
		kv_db_delete_entry(x->db, e);
}

static void cmd_zrange(struct kv_ctx *x)
{
	long long start, end;
	bool withscores = false, rev = false;
	for (int j = 4; j < x->argc; j++) {
		if (kv_arg_is(&x->argv[j], "withscores")) {
			withscores = true;
		} else if (kv_arg_is(&x->argv[j], "rev")) {
			rev = true;
		} else {
			kv_reply_err(x, kv_err_syntax);
			return;
		}
	}
	if (!kv_arg_ll(&x->argv[2], &start) || !kv_arg_ll(&x->argv[3], &end)) {
		kv_reply_err(x, kv_err_notint);
		return;
	}
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_ZSET, &wrong);
	if (wrong)
		return;
	if (e == NULL) {
		kv_array(x->out, 0);
		return;
	}
	struct kv_zset *z = kv_obj_of(e)->u.zset;
	long long len = (long long)z->len;
	if (!kv_range(&start, &end, len)) {
		kv_array(x->out, 0);
		return;
	}
	long long n = end - start + 1;
	kv_array(x->out, withscores ? n * 2 : n);
	struct zsl_node *node = zsl_at(z, rev ? (size_t)(len - 1 - start) : (size_t)start);
	for (long long i = 0; i < n && node != NULL && !x->out->overflow; i++) {
		kv_bulk(x->out, node->ele, node->elen);
		if (withscores)
			kv_reply_double(x->out, node->score);
		node = rev ? node->backward : node->level[0].forward;
	}
}

static void cmd_zscore(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_ZSET, &wrong);
	if (wrong)
		return;
	struct kv_dent *m = e != NULL ? kv_dict_find(&kv_obj_of(e)->u.zset->members, x->argv[2].p, x->argv[2].len) : NULL;
	if (m == NULL)
		kv_out_null(x->out);
	else
		kv_reply_double(x->out, ((struct zsl_node *)m->v.ptr)->score);
}

static void cmd_zcard(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_ZSET, &wrong);
	if (!wrong)
		kv_int(x->out, e != NULL ? (long long)kv_obj_of(e)->u.zset->len : 0);
}

static void cmd_zrem(struct kv_ctx *x)
{
	bool wrong;
	struct kv_dent *e = kv_db_find_type(x, &x->argv[1], KV_ZSET, &wrong);
	if (wrong)
		return;
	long long removed = 0;
	if (e != NULL) {
		struct kv_zset *z = kv_obj_of(e)->u.zset;
		for (int j = 2; j < x->argc && z->len > 0; j++) {
			struct kv_dent *m = kv_dict_find(&z->members, x->argv[j].p, x->argv[j].len);
			if (m != NULL) {
				zset_remove(z, m);
				removed++;
			}
		}
		if (z->len == 0)
			kv_db_delete_entry(x->db, e);
	}
	kv_int(x->out, removed);
	x->dirty = removed > 0;
}

const struct kv_cmd_def kv_cmds_zset[] = {
	{"zadd", -4, KV_CMD_WRITE, cmd_zadd},
	{"zpopmin", -2, KV_CMD_WRITE, cmd_zpopmin},
	{"zrange", -4, 0, cmd_zrange},
	{"zscore", 3, 0, cmd_zscore},
	{"zcard", 2, 0, cmd_zcard},
	{"zrem", -3, KV_CMD_WRITE, cmd_zrem},
	{NULL, 0, 0, NULL},
};
