/*
 * The RESP2 request parser (resp.h). It follows redis-server's processMultibulkBuffer and processInlineBuffer
 * (src/networking.c) for what is accepted and for the error texts, and keeps its place inside an unfinished
 * request so that bytes arriving one at a time are scanned once, never again from the request's start.
 */
#include "resp.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_SHRINK (64 * 1024) /* a carry buffer above this is freed once empty */

void resp_init(struct resp *r)
{
	memset(r, 0, sizeof(*r));
	r->bulk_len = -1;
	r->mb_count = -1;
}

void resp_free(struct resp *r)
{
	free(r->buf);
	free(r->off);
	free(r->len);
	free(r->argv);
	resp_init(r);
}

static int reserve(struct resp *r, size_t want)
{
	if (want <= r->bufcap)
		return 0;
	if (want > (size_t)RESP_MAX_QUERY)
		return -ENOMEM;
	size_t cap = r->bufcap ? r->bufcap : 4096;
	while (cap < want)
		cap *= 2;
	char *b = realloc(r->buf, cap);
	if (!b)
		return -ENOMEM;
	r->buf = b;
	r->bufcap = cap;
	return 0;
}

int resp_input(struct resp *r, char *data, size_t n)
{
	if (r->buflen == 0) {
		r->win = data;
		r->winlen = n;
		r->start = 0;
		return 0;
	}
	if (reserve(r, r->buflen + n) != 0)
		return -ENOMEM;
	memcpy(r->buf + r->buflen, data, n);
	r->buflen += n;
	r->win = r->buf;
	r->winlen = r->buflen;
	r->start = 0;
	return 0;
}

int resp_keep(struct resp *r)
{
	size_t tail = r->winlen - r->start;
	if (r->win == r->buf) {
		if (tail > 0 && r->start > 0)
			memmove(r->buf, r->buf + r->start, tail);
	} else {
		if (tail > 0 && reserve(r, tail) != 0)
			return -ENOMEM;
		if (tail > 0)
			memcpy(r->buf, r->win + r->start, tail);
	}
	r->buflen = tail;
	if (tail == 0 && r->bufcap > KEEP_SHRINK) {
		free(r->buf);
		r->buf = NULL;
		r->bufcap = 0;
	}
	/* No room is made ahead for a bulk whose length is announced: a header alone must not cost 512 MB. The
	 * buffer doubles as the bytes arrive. */
	r->win = r->buf;
	r->winlen = r->buflen;
	r->start = 0;
	return 0;
}

const char *resp_error(const struct resp *r)
{
	return r->err ? r->err : "ERR Protocol error";
}

static enum resp_rc fail(struct resp *r, const char *text)
{
	r->err = text;
	r->errors++;
	return RESP_ERROR;
}

/* Redis's string2ll: an optional '-', digits without leading zeros, fits in a long long. */
static bool str2ll(const char *s, size_t n, long long *out)
{
	if (n == 0 || n > 20)
		return false;
	if (n == 1 && s[0] == '0') {
		*out = 0;
		return true;
	}
	bool neg = false;
	size_t i = 0;
	if (s[0] == '-') {
		neg = true;
		if (++i == n)
			return false;
	}
	if (s[i] < '1' || s[i] > '9')
		return false;
	unsigned long long v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (ULLONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return false;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	} else {
		if (v > LLONG_MAX)
			return false;
		*out = (long long)v;
	}
	return true;
}

static int grow_args(struct resp *r)
{
	size_t cap = r->argcap ? r->argcap * 2 : 16;
	size_t *off = realloc(r->off, cap * sizeof(*off));
	if (!off)
		return -ENOMEM;
	r->off = off;
	size_t *len = realloc(r->len, cap * sizeof(*len));
	if (!len)
		return -ENOMEM;
	r->len = len;
	struct kv_arg *argv = realloc(r->argv, cap * sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	r->argv = argv;
	r->argcap = cap;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Redis's sdssplitargs over line[0..n), in place (an argument never gets longer unescaped). A NUL ends the
 * line, as in Redis where the line is a C string. Returns the argument count or -1 (unbalanced quotes).
 */
static long split_inline(struct resp *r, char *line, size_t n)
{
	char *p = line, *end = line + n, *w = line;
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\0') {
			end = line + i;
			break;
		}
	size_t argc = 0;
	for (;;) {
		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		if (argc == r->argcap && grow_args(r) != 0)
			return -2;
		char *a = w;
		bool inq = false, insq = false, done = false;
		while (!done) {
			char c = p < end ? *p : '\0';
			char c1 = p + 1 < end ? p[1] : '\0';
			if (inq) {
				if (c == '\\' && c1 == 'x' && p + 3 < end && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
					*w++ = (char)(hexval(p[2]) * 16 + hexval(p[3]));
					p += 3;
				} else if (c == '\\' && c1 != '\0') {
					p++;
					switch (*p) {
					case 'n': *w++ = '\n'; break;
					case 'r': *w++ = '\r'; break;
					case 't': *w++ = '\t'; break;
					case 'b': *w++ = '\b'; break;
					case 'a': *w++ = '\a'; break;
					default: *w++ = *p; break;
					}
				} else if (c == '"') {
					/* the closing quote must be followed by a space or nothing at all */
					if (c1 != '\0' && !is_space(c1))
						return -1;
					done = true;
				} else if (c == '\0') {
					return -1; /* unterminated quotes */
				} else {
					*w++ = c;
				}
			} else if (insq) {
				if (c == '\\' && c1 == '\'') {
					p++;
					*w++ = '\'';
				} else if (c == '\'') {
					if (c1 != '\0' && !is_space(c1))
						return -1;
					done = true;
				} else if (c == '\0') {
					return -1;
				} else {
					*w++ = c;
				}
			} else {
				switch (c) {
				case ' ': case '\n': case '\r': case '\t': case '\0':
					done = true;
					break;
				case '"':
					inq = true;
					break;
				case '\'':
					insq = true;
					break;
				default:
					*w++ = c;
					break;
				}
			}
			if (p < end)
				p++;
		}
		r->off[argc] = (size_t)(a - line);
		r->len[argc] = (size_t)(w - a);
		argc++;
	}
	return (long)argc;
}

static enum resp_rc finish(struct resp *r, char *base, int *argc, const struct kv_arg **argv)
{
	for (size_t i = 0; i < r->argc; i++) {
		r->argv[i].p = base + r->off[i];
		r->argv[i].len = r->len[i];
	}
	*argc = (int)r->argc;
	*argv = r->argv;
	r->kind = 0;
	r->requests++;
	return RESP_REQUEST;
}

static enum resp_rc inline_request(struct resp *r, int *argc, const struct kv_arg **argv)
{
	char *p = r->win + r->start;
	size_t n = r->winlen - r->start;
	char *nl = memchr(p + r->pos, '\n', n - r->pos);
	if (!nl) {
		if (n > RESP_MAX_INLINE)
			return fail(r, "ERR Protocol error: too big inline request");
		r->pos = n;
		return RESP_MORE;
	}
	size_t linelen = (size_t)(nl - p);
	if (linelen > RESP_MAX_INLINE)
		return fail(r, "ERR Protocol error: too big inline request");
	r->start += linelen + 1;
	if (linelen > 0 && p[linelen - 1] == '\r')
		linelen--;
	long k = split_inline(r, p, linelen);
	if (k == -1)
		return fail(r, "ERR Protocol error: unbalanced quotes in request");
	if (k < 0)
		return fail(r, "ERR out of memory");
	r->argc = (size_t)k;
	if (k == 0) {
		r->kind = 0;
		return RESP_MORE; /* a blank line: the caller loops */
	}
	return finish(r, p, argc, argv);
}

/* Finds the "\r\n" that ends the header line at p + r->pos: its '\r', or NULL when the line is unfinished. */
static char *header_end(struct resp *r, char *p, size_t n)
{
	size_t from = r->scan > r->pos ? r->scan : r->pos;
	char *cr = memchr(p + from, '\r', n - from);
	if (!cr) {
		r->scan = n;
		return NULL;
	}
	if (cr + 1 >= p + n) {
		r->scan = (size_t)(cr - p);
		return NULL;
	}
	return cr;
}

static enum resp_rc multibulk_request(struct resp *r, int *argc, const struct kv_arg **argv)
{
	char *p = r->win + r->start;
	size_t n = r->winlen - r->start;
	if (r->mb_count < 0) {
		char *cr = header_end(r, p, n);
		if (!cr) {
			if (n > RESP_MAX_INLINE)
				return fail(r, "ERR Protocol error: too big mbulk count string");
			return RESP_MORE;
		}
		long long ll;
		if (!str2ll(p + 1, (size_t)(cr - p - 1), &ll) || ll > RESP_MAX_MULTIBULK)
			return fail(r, "ERR Protocol error: invalid multibulk length");
		r->pos = (size_t)(cr - p) + 2;
		if (ll <= 0) {
			r->start += r->pos;
			r->kind = 0;
			r->argc = 0;
			return RESP_MORE; /* an empty request: skipped */
		}
		r->mb_count = ll;
		r->bulk_len = -1;
		r->argc = 0;
	}
	while ((long long)r->argc < r->mb_count) {
		if (r->bulk_len < 0) {
			if (r->pos >= n)
				return RESP_MORE;
			if (p[r->pos] != '$') {
				snprintf(r->errbuf, sizeof(r->errbuf), "ERR Protocol error: expected '$', got '%c'",
					p[r->pos]);
				return fail(r, r->errbuf);
			}
			char *cr = header_end(r, p, n);
			if (!cr) {
				if (n - r->pos > RESP_MAX_INLINE)
					return fail(r, "ERR Protocol error: too big bulk count string");
				return RESP_MORE;
			}
			long long ll;
			if (!str2ll(p + r->pos + 1, (size_t)(cr - (p + r->pos) - 1), &ll) || ll < 0 ||
			    ll > RESP_MAX_BULK)
				return fail(r, "ERR Protocol error: invalid bulk length");
			r->pos = (size_t)(cr - p) + 2;
			r->bulk_len = ll;
		}
		if (n - r->pos < (size_t)r->bulk_len + 2)
			return RESP_MORE;
		if (r->argc == r->argcap && grow_args(r) != 0)
			return fail(r, "ERR out of memory");
		r->off[r->argc] = r->pos;
		r->len[r->argc] = (size_t)r->bulk_len;
		r->argc++;
		r->pos += (size_t)r->bulk_len + 2; /* the "\r\n" after the bytes is not checked, as in Redis */
		r->bulk_len = -1;
	}
	r->start += r->pos;
	r->mb_count = -1;
	return finish(r, p, argc, argv);
}

enum resp_rc resp_next(struct resp *r, int *argc, const struct kv_arg **argv)
{
	if (r->err)
		return RESP_ERROR;
	for (;;) {
		if (r->start >= r->winlen)
			return RESP_MORE;
		if (r->kind == 0) {
			r->kind = r->win[r->start] == '*' ? '*' : 'i';
			r->pos = 0;
			r->scan = 0;
			r->argc = 0;
			r->mb_count = -1;
			r->bulk_len = -1;
		}
		size_t before = r->start;
		enum resp_rc rc = r->kind == '*' ? multibulk_request(r, argc, argv) : inline_request(r, argc, argv);
		if (rc != RESP_MORE || r->kind != 0 || r->start == before)
			return rc;
		/* an empty request was skipped: go on */
	}
}
