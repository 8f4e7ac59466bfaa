/* The configuration file's YAML reader (libyaml events): hands the schema core one node at a time. */
#include "config_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define NAME_MAX_LEN 128

/* The reader is the node: positioned on the current event. */
struct cfg_node {
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, owned while have_ev */
	bool have_ev;
	size_t key_line; /* line of the mapping key being read, for "unknown key" */
	const char *origin;
};

static int vfail_at(const struct cfg_node *r, size_t line, const char *fmt, va_list ap)
{
	char msg[384];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "demi: config: %s:%zu: %s\n", r->origin, line, msg);
	return -EINVAL;
}

static int fail_at(const struct cfg_node *r, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(const struct cfg_node *r, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = vfail_at(r, line, fmt, ap);
	va_end(ap);
	return rc;
}

int cfg_node_fail(const struct cfg_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = vfail_at(n, n->ev.start_mark.line + 1, fmt, ap);
	va_end(ap);
	return rc;
}

int cfg_node_fail_key(const struct cfg_node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = vfail_at(n, n->key_line, fmt, ap);
	va_end(ap);
	return rc;
}

static int syntax_error(const struct cfg_node *r)
{
	const yaml_parser_t *p = &r->parser;
	/* A reader error (bad encoding, I/O) has no problem_mark; the reader's position is the best guess. */
	yaml_mark_t m = p->error == YAML_READER_ERROR ? p->mark : p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR || !p->problem)
		return fail_at(r, m.line + 1, "YAML error: out of memory");
	if (p->error == YAML_READER_ERROR)
		return fail_at(r, m.line + 1, "YAML encoding error: %s", p->problem);
	if (p->context)
		return fail_at(r, m.line + 1, "YAML syntax error: %s (%s)", p->problem, p->context);
	return fail_at(r, m.line + 1, "YAML syntax error: %s", p->problem);
}

static int next(struct cfg_node *r)
{
	if (r->have_ev)
		yaml_event_delete(&r->ev);
	r->have_ev = false;
	if (!yaml_parser_parse(&r->parser, &r->ev))
		return syntax_error(r);
	r->have_ev = true;
	return 0;
}

const char *cfg_node_text(const struct cfg_node *n)
{
	return (const char *)n->ev.data.scalar.value;
}

/* `key:` with nothing after it, or ~ / null: the key keeps its current value. */
static bool is_null(const struct cfg_node *r)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (r->ev.type != YAML_SCALAR_EVENT || r->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(cfg_node_text(r), nulls[i]) == 0)
			return true;
	return false;
}

enum cfg_shape cfg_node_shape(const struct cfg_node *n)
{
	switch (n->ev.type) {
	case YAML_ALIAS_EVENT:
		return CFG_NODE_ALIAS;
	case YAML_SEQUENCE_START_EVENT:
		return CFG_NODE_LIST;
	case YAML_MAPPING_START_EVENT:
		return CFG_NODE_MAP;
	default:
		return is_null(n) ? CFG_NODE_NULL : CFG_NODE_SCALAR;
	}
}

/* Consumes the node that starts at the current event, however deeply nested. */
int cfg_node_skip(struct cfg_node *r)
{
	int depth = 0;

	for (;;) {
		yaml_event_type_t t = r->ev.type;
		if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT)
			depth++;
		else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT)
			depth--;
		if (depth == 0)
			return 0;
		int rc = next(r);
		if (rc)
			return rc;
	}
}

static int read_key_name(struct cfg_node *r, const char *path, char *name, size_t size)
{
	if (r->ev.type != YAML_SCALAR_EVENT)
		return cfg_node_fail(r, "%s: keys must be plain strings", path);
	if (r->ev.data.scalar.length >= size)
		return cfg_node_fail(r, "%s: key '%.32s...' is too long", path, cfg_node_text(r));
	memcpy(name, cfg_node_text(r), r->ev.data.scalar.length + 1);
	r->key_line = r->ev.start_mark.line + 1;
	return 0;
}

int cfg_node_map(struct cfg_node *r, const char *path, cfg_entry_fn *fn, void *ctx)
{
	char name[NAME_MAX_LEN];
	int rc;

	if (is_null(r))
		return 0;
	if (r->ev.type != YAML_MAPPING_START_EVENT)
		return cfg_node_fail(r, "%s: expected a mapping", path);
	for (;;) {
		if ((rc = next(r)))
			return rc;
		if (r->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if ((rc = read_key_name(r, path, name, sizeof(name))) || (rc = next(r)))
			return rc;
		if ((rc = fn(r, path, name, ctx)))
			return rc;
	}
}

int cfg_node_list(struct cfg_node *r, cfg_item_fn *fn, void *ctx)
{
	int rc;

	for (;;) {
		if ((rc = next(r)))
			return rc;
		if (r->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if ((rc = fn(r, ctx)))
			return rc;
	}
}

static int read_document(struct cfg_node *r, cfg_entry_fn *top, void *ctx)
{
	int rc;

	if ((rc = next(r))) /* the root node */
		return rc;
	if (r->ev.type != YAML_MAPPING_START_EVENT && !is_null(r))
		return cfg_node_fail(r, "the top level must be a mapping of sections");
	if ((rc = cfg_node_map(r, "top level", top, ctx)))
		return rc;
	return next(r); /* DOCUMENT_END */
}

static int read_stream(struct cfg_node *r, cfg_entry_fn *top, void *ctx)
{
	int rc;

	if ((rc = next(r)) || (rc = next(r))) /* STREAM_START, then a document or STREAM_END */
		return rc;
	if (r->ev.type == YAML_STREAM_END_EVENT)
		return 0; /* an empty file, or only comments */
	if ((rc = read_document(r, top, ctx)) || (rc = next(r)))
		return rc;
	if (r->ev.type != YAML_STREAM_END_EVENT)
		return cfg_node_fail(r, "more than one YAML document");
	return 0;
}

static int reader_run(struct cfg_node *r, cfg_entry_fn *top, void *ctx)
{
	int rc = read_stream(r, top, ctx);

	if (r->have_ev)
		yaml_event_delete(&r->ev);
	yaml_parser_delete(&r->parser);
	return rc;
}

static int reader_init(struct cfg_node *r, const char *origin)
{
	memset(r, 0, sizeof(*r));
	r->origin = origin;
	if (yaml_parser_initialize(&r->parser))
		return 0;
	fprintf(stderr, "demi: config: %s: cannot start the YAML parser: out of memory\n", origin);
	return -EINVAL;
}

int cfg_yaml_read_string(const char *yaml, const char *origin, cfg_entry_fn *top, void *ctx)
{
	struct cfg_node r;

	if (reader_init(&r, origin))
		return -EINVAL;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)yaml, strlen(yaml));
	return reader_run(&r, top, ctx);
}

static int cannot_read(const char *path, int err)
{
	fprintf(stderr, "demi: config: %s: cannot read: %s\n", path, strerror(err));
	return -EINVAL;
}

int cfg_yaml_read_file(const char *path, cfg_entry_fn *top, void *ctx)
{
	struct cfg_node r;
	struct stat st;
	int rc;
	FILE *f = fopen(path, "rb");

	if (!f)
		return cannot_read(path, errno);
	/* fopen accepts a directory; libyaml would then report a vague "input error". */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return cannot_read(path, EISDIR);
	}
	rc = reader_init(&r, path);
	if (rc == 0) {
		yaml_parser_set_input_file(&r.parser, f);
		rc = reader_run(&r, top, ctx);
	}
	fclose(f);
	return rc;
}
