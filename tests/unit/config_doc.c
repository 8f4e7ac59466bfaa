/* Prints doc/config.md's key table from the configuration schema, and checks (--check) or rewrites (--write) the doc. */
#include "runtime/config_schema.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEGIN_KEYS "<!-- BEGIN config keys: generated from the schema tables by tests/unit/config_doc.c -->\n"
#define END_KEYS "<!-- END config keys -->\n"

struct text {
	char *s;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)n + 64;
		t->s = realloc(t->s, t->cap);
		if (!t->s)
			exit(2);
	}
}

static void type_col(struct text *t, const struct cfg_key *k)
{
	if (k->hooks && k->hooks->type_doc) {
		put(t, "%s", k->hooks->type_doc);
		return;
	}
	switch (k->type) {
	case CFG_BOOL:
		put(t, "bool");
		break;
	case CFG_UINT:
	case CFG_INT:
		if (k->max == UINT64_MAX)
			put(t, "integer >= %" PRId64, k->min);
		else
			put(t, "integer, %" PRId64 " .. %" PRIu64, k->min, k->max);
		break;
	case CFG_IPV4:
		put(t, "IPv4 address");
		break;
	case CFG_MAC:
		put(t, "MAC `aa:bb:cc:dd:ee:ff`");
		break;
	case CFG_STR:
		put(t, "string, < %zu chars", k->size);
		break;
	case CFG_ENUM:
		for (const char *w = k->words; *w;) {
			size_t n = strcspn(w, "|");
			put(t, "%s`%.*s`", w == k->words ? "" : ", ", (int)n, w);
			w += n + (w[n] == '|');
		}
		break;
	case CFG_CUSTOM:
	case CFG_IGNORED:
		put(t, "see below");
		break;
	}
	if (k->unit)
		put(t, ", %s", k->unit);
}

static void default_col(struct text *t, const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_BOOL:
		put(t, "%s", k->def.u ? "true" : "false");
		break;
	case CFG_UINT:
		put(t, "%" PRIu64, k->def.u);
		break;
	case CFG_INT:
		put(t, "%" PRId64, k->def.i);
		break;
	case CFG_STR:
	case CFG_ENUM:
		if (k->def.s && *k->def.s)
			put(t, "`%s`", k->def.s);
		else
			put(t, "empty");
		break;
	case CFG_IPV4:
	case CFG_MAC:
		put(t, "unset");
		break;
	case CFG_CUSTOM:
	case CFG_IGNORED:
		put(t, "empty");
		break;
	}
}

/* The generated block, markers included. */
static void generate(struct text *t)
{
	put(t, BEGIN_KEYS);
	put(t, "| Key | Type | Default | Environment | Meaning |\n");
	put(t, "|-----|------|---------|-------------|---------|\n");
	for (size_t i = 0; i < cfg_ntables; i++) {
		for (size_t j = 0; j < cfg_tables[i]->n; j++) {
			const struct cfg_key *k = &cfg_tables[i]->keys[j];
			if (k->type == CFG_IGNORED)
				continue;
			if (k->section)
				put(t, "| `%s.%s` | ", k->section, k->name);
			else
				put(t, "| *(none)* | ");
			type_col(t, k);
			put(t, " | ");
			default_col(t, k);
			if (k->env)
				put(t, " | `%s` | ", k->env);
			else
				put(t, " | none | ");
			put(t, "%s%s |\n", k->doc,
			    k->flags & CFG_UNUSED ? " Accepted and checked; when set, loading logs a warning." : "");
		}
	}
	put(t, "\nAccepted and ignored in any shape, so that Demikernel's files load unchanged (its Windows XDP "
	       "tuning):");
	const char *sep = " ";
	for (size_t i = 0; i < cfg_ntables; i++) {
		for (size_t j = 0; j < cfg_tables[i]->n; j++) {
			const struct cfg_key *k = &cfg_tables[i]->keys[j];
			if (k->type == CFG_IGNORED) {
				put(t, "%s`%s.%s`", sep, k->section, k->name);
				sep = ", ";
			}
		}
	}
	put(t, ".\n");
	put(t, END_KEYS);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	struct text t = { 0 };
	char buf[4096];
	size_t n;
	put(&t, "%s", "");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		put(&t, "%.*s", (int)n, buf);
	fclose(f);
	*len = t.len;
	return t.s;
}

/* Finds the doc's block; returns its start and sets *end just past the end marker. */
static char *find_block(char *doc, const char *path, char **end)
{
	char *b = strstr(doc, BEGIN_KEYS);
	char *e = b ? strstr(b, END_KEYS) : NULL;
	if (!b || !e) {
		fprintf(stderr, "%s: no generated key table (the markers %.40s... and %.20s... are missing)\n", path,
			BEGIN_KEYS, END_KEYS);
		exit(1);
	}
	*end = e + strlen(END_KEYS);
	return b;
}

/* Reports the first line where the doc and the schema differ. */
static int compare(const char *path, const char *doc, size_t doc_len, const struct text *gen)
{
	size_t line = 1;
	const char *d = doc, *g = gen->s;

	if (doc_len == gen->len && memcmp(doc, gen->s, doc_len) == 0)
		return 0;
	while (*d && *g) {
		size_t dl = strcspn(d, "\n"), gl = strcspn(g, "\n");
		if (dl != gl || memcmp(d, g, dl) != 0) {
			fprintf(stderr,
				"%s: the key table differs from the schema at line %zu of the table:\n  doc:    %.*s\n"
				"  schema: %.*s\nEdit the key's row in its table (the *_config.c file that declares it), then run "
				"build/tests/unit/config_doc --write doc/config.md\n",
				path, line, (int)dl, d, (int)gl, g);
			return 1;
		}
		d += dl + (d[dl] == '\n');
		g += gl + (g[gl] == '\n');
		line++;
	}
	fprintf(stderr, "%s: the key table and the schema differ in length (from line %zu)\n", path, line);
	return 1;
}

int main(int argc, char **argv)
{
	struct text gen = { 0 };

	generate(&gen);
	if (argc == 1) {
		fwrite(gen.s, 1, gen.len, stdout);
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "--check") != 0 && strcmp(argv[1], "--write") != 0)) {
		fprintf(stderr, "usage: %s [--check|--write doc/config.md]\n", argv[0]);
		return 2;
	}
	size_t len;
	char *doc = slurp(argv[2], &len), *end;
	char *b = find_block(doc, argv[2], &end);
	if (strcmp(argv[1], "--check") == 0) {
		int rc = compare(argv[2], b, (size_t)(end - b), &gen);
		free(doc);
		free(gen.s);
		return rc;
	}
	FILE *f = fopen(argv[2], "wb");
	if (!f) {
		perror(argv[2]);
		return 2;
	}
	fwrite(doc, 1, (size_t)(b - doc), f);
	fwrite(gen.s, 1, gen.len, f);
	fwrite(end, 1, len - (size_t)(end - doc), f);
	free(doc);
	free(gen.s);
	return fclose(f) == 0 ? 0 : 2;
}
