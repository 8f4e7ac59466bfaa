/* The RESP2 reply reader (reply.h). */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R_TYPE, R_LINE, R_BULK };

void reply_reader_init(struct reply_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->state = R_TYPE;
}

static int proto_error(struct reply_reader *r, const char *what)
{
	r->top.type = '!';
	snprintf(r->top.line, sizeof(r->top.line), "protocol error: %s", what);
	return -1;
}

/* A decimal integer, optionally negative, the whole of s. */
static int parse_int(const char *s, int64_t *out)
{
	char *end;
	if (!*s)
		return -1;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* One element is complete: closes the arrays it completes; 1 when the top-level reply is done. */
static int element_done(struct reply_reader *r)
{
	while (r->depth > 0) {
		if (--r->left[r->depth - 1] > 0)
			return 0;
		r->depth--;
	}
	return 1;
}

/* The line of the current element is complete (in r->line, CRLF stripped): 1 when the reply is done. */
static int line_done(struct reply_reader *r, char type)
{
	int64_t v = 0;
	int top = r->depth == 0;
	if (top) {
		r->top.type = type;
		r->top.len = 0;
		r->top.line[0] = '\0';
	}
	switch (type) {
	case '+':
	case '-':
		if (top)
			memcpy(r->top.line, r->line, r->line_len + 1);
		return element_done(r);
	case ':':
		if (parse_int(r->line, &v) < 0)
			return proto_error(r, "bad integer");
		if (top)
			r->top.len = v;
		return element_done(r);
	case '$':
		if (parse_int(r->line, &v) < 0 || v < -1 || v > (512ll << 20))
			return proto_error(r, "bad bulk length");
		if (top)
			r->top.len = v;
		if (v == -1)
			return element_done(r);
		r->bulk_left = v + 2;
		r->state = R_BULK;
		return 0;
	case '*':
		if (parse_int(r->line, &v) < 0 || v < -1)
			return proto_error(r, "bad array length");
		if (top)
			r->top.len = v;
		if (v <= 0)
			return element_done(r);
		if (r->depth == REPLY_DEPTH)
			return proto_error(r, "arrays nested too deep");
		r->left[r->depth++] = v;
		return 0;
	}
	return proto_error(r, "bad type");
}

int reply_feed(struct reply_reader *r, const uint8_t *p, size_t n, int (*done)(void *, const struct reply *),
	       void *arg)
{
	size_t i = 0;
	while (i < n) {
		int complete = 0;
		switch (r->state) {
		case R_TYPE: {
			char t = (char)p[i++];
			if (!strchr("+-:$*", t) || t == '\0')
				return proto_error(r, "unexpected byte where a reply starts");
			r->line_len = 0;
			r->line[0] = '\0';
			r->last = '\0';
			r->state = R_LINE;
			r->elem = t;
			break;
		}
		case R_LINE: {
			const uint8_t *nl = memchr(p + i, '\n', n - i);
			size_t take = (nl ? (size_t)(nl - (p + i)) : n - i);
			size_t room = sizeof(r->line) - 1 - r->line_len;
			memcpy(r->line + r->line_len, p + i, take < room ? take : room);
			r->line_len += take < room ? take : room;
			r->line[r->line_len] = '\0';
			if (take)
				r->last = (char)p[i + take - 1];
			i += take;
			if (!nl)
				break;
			i++; /* the '\n' */
			if (r->last != '\r')
				return proto_error(r, "a line without CRLF");
			if (r->line_len && r->line[r->line_len - 1] == '\r')
				r->line[--r->line_len] = '\0';
			r->state = R_TYPE;
			complete = line_done(r, r->elem);
			if (complete < 0)
				return -1;
			break;
		}
		case R_BULK: {
			/* The payload is skipped; its CRLF is checked. */
			size_t take = n - i;
			if ((int64_t)take > r->bulk_left)
				take = (size_t)r->bulk_left;
			int64_t cr = r->bulk_left - 2, lf = r->bulk_left - 1; /* their offsets in this chunk */
			if ((cr >= 0 && cr < (int64_t)take && p[i + (size_t)cr] != '\r') ||
			    (lf >= 0 && lf < (int64_t)take && p[i + (size_t)lf] != '\n'))
				return proto_error(r, "a bulk string without its CRLF");
			r->bulk_left -= (int64_t)take;
			i += take;
			if (r->bulk_left == 0) {
				r->state = R_TYPE;
				complete = element_done(r);
			}
			break;
		}
		}
		if (complete) {
			int stop = done(arg, &r->top);
			if (stop)
				return stop;
		}
	}
	return 0;
}
