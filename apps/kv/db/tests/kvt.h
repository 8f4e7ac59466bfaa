/*
 * What the data set's tests share: a malloc-backed kv_out (grown in small steps, so that replies cross chunk
 * ends, with an optional limit for the overflow path), a command-line splitter ("SET a \"b c\"", \xHH escapes),
 * a RESP reader to replay the log into a fresh data set, and a canonical dump of a data set to compare two.
 */
#ifndef KVT_H
#define KVT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_cmd.h"
#include "kv_db.h"

#define KVT_STEP 64 /* bytes each more() adds: small, so that replies cross chunk ends */

struct kvt_buf {
	struct kv_out o;
	char *base;
	size_t cap, limit; /* limit: 0 for none */
	size_t mores;
};

static inline int kvt_more(struct kv_out *o)
{
	struct kvt_buf *b = (struct kvt_buf *)o->owner;
	size_t used = b->base != NULL ? (size_t)(o->p - b->base) : 0;
	b->mores++;
	if (b->limit != 0 && b->cap + KVT_STEP > b->limit) {
		o->overflow = true;
		return -1;
	}
	char *n = realloc(b->base, b->cap + KVT_STEP + 1);
	cr_assert_not_null(n);
	b->base = n, b->cap += KVT_STEP;
	o->p = n + used, o->end = n + b->cap;
	return 0;
}

static inline void kvt_buf_init(struct kvt_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->o.more = kvt_more, b->o.owner = b, b->limit = limit;
}

static inline void kvt_buf_reset(struct kvt_buf *b)
{
	if (b->base != NULL)
		b->o.p = b->base;
	b->o.overflow = false;
}

static inline size_t kvt_buf_len(const struct kvt_buf *b) { return b->base != NULL ? (size_t)(b->o.p - b->base) : 0; }

static inline const char *kvt_buf_str(struct kvt_buf *b)
{
	if (b->base == NULL)
		return "";
	*b->o.p = '\0'; /* cap + 1 bytes are allocated */
	return b->base;
}

static inline void kvt_buf_free(struct kvt_buf *b) { free(b->base); }

/* A line to argv: words split on spaces, "..." quotes a word, \xHH \r \n \" \\ escape inside quotes. */
static inline int kvt_split(const char *line, struct kv_arg *argv, int max, char *store)
{
	int argc = 0;
	const char *s = line;
	char *w = store;
	while (*s != '\0') {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		cr_assert(argc < max);
		argv[argc].p = w;
		if (*s == '"') {
			s++;
			while (*s != '"') {
				cr_assert(*s != '\0', "unterminated quote in %s", line);
				if (*s == '\\') {
					s++;
					if (*s == 'x') {
						char hex[3] = {s[1], s[2], 0};
						*w++ = (char)strtol(hex, NULL, 16);
						s += 3;
						continue;
					}
					*w++ = *s == 'r' ? '\r' : *s == 'n' ? '\n' : *s;
					s++;
					continue;
				}
				*w++ = *s++;
			}
			s++;
		} else {
			while (*s != ' ' && *s != '\0')
				*w++ = *s++;
		}
		argv[argc].len = (size_t)(w - argv[argc].p);
		argc++;
	}
	return argc;
}

struct kvt {
	struct kv_db *db;
	struct kv_client c;
	struct kv_server_info info;
	uint64_t now;
	struct kvt_buf out, log;
	int flags; /* of the last command */
};

static inline void kvt_init(struct kvt *t)
{
	memset(t, 0, sizeof(*t));
	t->db = kv_db_create();
	cr_assert_not_null(t->db);
	t->info.version = "7.0.0-demi";
	t->info.libos = "catnap";
	t->info.tcp_port = 6379;
	t->info.appendfsync = "everysec";
	t->c.id = 7;
	t->c.resp = 2;
	t->c.info = &t->info;
	t->now = 1000000000000ull;
	kvt_buf_init(&t->out, 0);
	kvt_buf_init(&t->log, 0);
}

static inline void kvt_fini(struct kvt *t)
{
	kv_db_destroy(t->db);
	kvt_buf_free(&t->out);
	kvt_buf_free(&t->log);
}

/* Runs one command line; returns its reply (valid until the next call). The log accumulates. */
static inline const char *kvt_run(struct kvt *t, const char *line)
{
	struct kv_arg argv[256];
	char *store = malloc(strlen(line) + 1);
	int argc = kvt_split(line, argv, 256, store);
	kvt_buf_reset(&t->out);
	size_t log_before = kvt_buf_len(&t->log);
	t->flags = kv_exec(t->db, &t->c, argc, argv, t->now, &t->out.o, &t->log.o);
	free(store);
	/* a command that logs says it wrote, and the other way round */
	cr_assert_eq((t->flags & KV_CMD_WRITE) != 0, kvt_buf_len(&t->log) != log_before, "%s: flags %d, log %zu -> %zu",
		line, t->flags, log_before, kvt_buf_len(&t->log));
	return kvt_buf_str(&t->out);
}

#define kvt_expect(t, line, reply) cr_expect_str_eq(kvt_run((t), (line)), (reply), "%s", (line))

/* RESP multi-bulk records to argv, one record at a time; returns argc, 0 at the end. */
static inline int kvt_resp_next(const char **pp, const char *end, struct kv_arg *argv, int max)
{
	const char *p = *pp;
	if (p >= end)
		return 0;
	cr_assert_eq(*p, '*', "log record does not start with *: %.20s", p);
	char *e;
	long n = strtol(p + 1, &e, 10);
	cr_assert(n > 0 && n <= max && e[0] == '\r' && e[1] == '\n');
	p = e + 2;
	for (long i = 0; i < n; i++) {
		cr_assert_eq(*p, '$');
		long len = strtol(p + 1, &e, 10);
		cr_assert(len >= 0 && e[0] == '\r' && e[1] == '\n');
		argv[i].p = e + 2, argv[i].len = (size_t)len;
		p = e + 2 + len;
		cr_assert(p[0] == '\r' && p[1] == '\n');
		p += 2;
	}
	*pp = p;
	return (int)n;
}

/* ---- a canonical dump of a data set: one line per key, sorted; members sorted ---- */

static inline int kvt_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

struct kvt_lines {
	char **v;
	size_t n, cap;
};

static inline void kvt_lines_add(struct kvt_lines *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

/* bytes, escaped so that a dump line is text */
static inline void kvt_esc(FILE *f, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == ' ' || ch == ',')
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

static inline char *kvt_join_sorted(struct kvt_lines *l, const char *sep)
{
	if (l->n > 0)
		qsort(l->v, l->n, sizeof(*l->v), kvt_cmp_str);
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	for (size_t i = 0; i < l->n; i++) {
		fprintf(f, "%s%s", i ? sep : "", l->v[i]);
		free(l->v[i]);
	}
	fclose(f);
	free(l->v);
	l->v = NULL, l->n = l->cap = 0;
	return out;
}

/* Keys past their expiry at now are left out: one side may have dropped them lazily already. */
static inline char *kvt_dump(struct kv_db *db, uint64_t now)
{
	struct kvt_lines keys = {0};
	struct kv_dict_iter it;
	kv_dict_iter_init(&it, &db->keys);
	for (struct kv_dent *e; (e = kv_dict_next(&it)) != NULL;) {
		struct kv_obj *o = kv_obj_of(e);
		if (o->exp_idx != KV_NO_TTL && o->expire_ms <= now)
			continue;
		char *line = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&line, &size);
		kvt_esc(f, e->key, e->klen);
		fprintf(f, " type=%d ttl=%lld ", o->type, o->exp_idx == KV_NO_TTL ? -1LL : (long long)o->expire_ms);
		if (o->type == KV_STRING) {
			kvt_esc(f, o->data, o->u.s.len);
		} else if (o->type == KV_LIST) {
			struct kv_list *l = o->u.list;
			for (size_t i = 0; i < l->len; i++) {
				struct kv_str *s = l->ring[(l->head + i) & (l->cap - 1)];
				kvt_esc(f, s->p, s->len);
				fputc(',', f);
			}
		} else {
			struct kvt_lines m = {0};
			struct kv_dict *d = o->type == KV_ZSET ? &o->u.zset->members : o->u.dict;
			struct kv_dict_iter mi;
			kv_dict_iter_init(&mi, d);
			for (struct kv_dent *me; (me = kv_dict_next(&mi)) != NULL;) {
				char *ml = NULL;
				size_t ms = 0;
				FILE *mf = open_memstream(&ml, &ms);
				kvt_esc(mf, me->key, me->klen);
				if (o->type == KV_HASH) {
					struct kv_str *v = me->v.ptr;
					fputc('=', mf);
					kvt_esc(mf, v->p, v->len);
				} else if (o->type == KV_ZSET) {
					fprintf(mf, "=%.17g", *(double *)me->v.ptr); /* the node starts with its score */
				}
				fclose(mf);
				kvt_lines_add(&m, ml);
			}
			char *members = kvt_join_sorted(&m, ",");
			fputs(members != NULL ? members : "", f);
			free(members);
		}
		fclose(f);
		kvt_lines_add(&keys, line);
	}
	return kvt_join_sorted(&keys, "\n");
}

/* Replays t's log into a fresh data set (as the server's replay: loading) and compares the two data sets. */
static inline void kvt_check_replay(struct kvt *t)
{
	struct kv_db *db = kv_db_create();
	struct kv_client c = {.id = 1, .resp = 2, .loading = true};
	struct kvt_buf out;
	kvt_buf_init(&out, 0);
	const char *p = t->log.base, *end = p + kvt_buf_len(&t->log);
	struct kv_arg argv[1024];
	int argc;
	size_t records = 0;
	while (p != NULL && (argc = kvt_resp_next(&p, end, argv, 1024)) > 0) {
		kvt_buf_reset(&out);
		kv_exec(db, &c, argc, argv, t->now, &out.o, NULL);
		const char *r = kvt_buf_str(&out);
		cr_assert_neq(r[0], '-', "replayed record %zu failed: %s", records, r);
		records++;
	}
	char *a = kvt_dump(t->db, t->now), *b = kvt_dump(db, t->now);
	cr_expect_str_eq(b, a, "the replay of %zu records differs", records);
	free(a), free(b);
	kvt_buf_free(&out);
	kv_db_destroy(db);
}

#endif
