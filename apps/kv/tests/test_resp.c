/* The RESP2 request parser (apps/kv/resp.h): what it accepts, Redis's error texts, and requests cut anywhere. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/* Every request of a stream fed in pieces, written as "argc:arg|arg|...\n" lines; errors as "E:text\n". */
struct collect {
	char *s;
	size_t len, cap;
};

static void add(struct collect *c, const void *p, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->s = realloc(c->s, c->cap);
	}
	memcpy(c->s + c->len, p, n);
	c->len += n;
	c->s[c->len] = '\0';
}

/* Parses data cut into pieces at the offsets in cuts (ascending, ncuts of them); returns what it found. */
static char *parse_cut(const char *data, size_t n, const size_t *cuts, size_t ncuts)
{
	struct resp r;
	resp_init(&r);
	struct collect out = { 0 };
	add(&out, "", 0);
	size_t at = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n;
		char *piece = malloc(to - at + 1); /* its own buffer, freed after each piece: nothing may point into it */
		memcpy(piece, data + at, to - at);
		cr_assert_eq(resp_input(&r, piece, to - at), 0);
		int argc;
		const struct kv_arg *argv;
		enum resp_rc rc;
		while ((rc = resp_next(&r, &argc, &argv)) == RESP_REQUEST) {
			char h[32];
			snprintf(h, sizeof(h), "%d:", argc);
			add(&out, h, strlen(h));
			for (int a = 0; a < argc; a++) {
				add(&out, argv[a].p, argv[a].len);
				add(&out, a + 1 < argc ? "|" : "\n", 1);
			}
		}
		if (rc == RESP_ERROR) {
			add(&out, "E:", 2);
			add(&out, resp_error(&r), strlen(resp_error(&r)));
			add(&out, "\n", 1);
			free(piece);
			break;
		}
		cr_assert_eq(resp_keep(&r), 0);
		memset(piece, '#', to - at);
		free(piece);
		at = to;
	}
	resp_free(&r);
	return out.s;
}

static char *parse_all(const char *data, size_t n)
{
	return parse_cut(data, n, NULL, 0);
}

Test(resp, multibulk_and_inline)
{
	const char in[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
			  "PING\r\n"
			  "set  \"a b\"   'c\\'d' \"\\x41\\n\"\n"
			  "*1\r\n$4\r\nPING\r\n";
	char *got = parse_all(in, sizeof(in) - 1);
	cr_assert_str_eq(got, "3:SET|key|va\r\nl\n1:PING\n4:set|a b|c'd|A\n\n1:PING\n");
	free(got);
}

Test(resp, empty_requests_are_skipped)
{
	const char in[] = "\r\n*0\r\n*-1\r\n   \r\n\nPING\r\n";
	char *got = parse_all(in, sizeof(in) - 1);
	cr_assert_str_eq(got, "1:PING\n");
	free(got);
}

Test(resp, binary_bulk_with_nul_and_crlf)
{
	const char in[] = "*2\r\n$3\r\nGET\r\n$6\r\na\0\r\nb\n\r\n";
	char *got = parse_all(in, sizeof(in) - 1);
	cr_assert_eq(memcmp(got, "2:GET|a\0\r\nb\n\n", 14), 0);
	free(got);
}

static void expect_error(const char *in, size_t n, const char *want)
{
	char *got = parse_all(in, n);
	char *e = strstr(got, "E:");
	cr_assert(e, "no error for %s: got %s", in, got);
	cr_assert_str_eq(e + 2, want);
	free(got);
}

Test(resp, redis_error_texts)
{
	expect_error("*1048577\r\n", 10, "ERR Protocol error: invalid multibulk length\n");
	expect_error("*12x\r\n", 6, "ERR Protocol error: invalid multibulk length\n");
	expect_error("*99999999999999999999999\r\n", 26, "ERR Protocol error: invalid multibulk length\n");
	expect_error("*1\r\n$536870913\r\n", 16, "ERR Protocol error: invalid bulk length\n");
	expect_error("*1\r\n$-1\r\n", 9, "ERR Protocol error: invalid bulk length\n");
	expect_error("*1\r\nx3\r\nabc\r\n", 13, "ERR Protocol error: expected '$', got 'x'\n");
	expect_error("SET \"a b\r\n", 10, "ERR Protocol error: unbalanced quotes in request\n");
	expect_error("SET \"a\"b\r\n", 10, "ERR Protocol error: unbalanced quotes in request\n");
	expect_error("SET 'a\r\n", 8, "ERR Protocol error: unbalanced quotes in request\n");
	/* the replies of the requests before the error come first */
	char *got = parse_all("PING\r\n*x\r\n", 10);
	cr_assert_str_eq(got, "1:PING\nE:ERR Protocol error: invalid multibulk length\n");
	free(got);
}

Test(resp, the_limits_are_redis_limits)
{
	/* 1024*1024 arguments and 512 MB bulks are accepted as headers */
	char *got = parse_all("*1048576\r\n$536870912\r\n", 22);
	cr_assert_str_eq(got, "");
	free(got);
	/* an inline line above 64 KiB without its end: refused once the 64 KiB are there, not at the end */
	size_t n = RESP_MAX_INLINE + 16;
	char *big = malloc(n);
	memset(big, 'a', n);
	size_t cuts[] = { 1000, RESP_MAX_INLINE / 2 };
	got = parse_cut(big, n, cuts, 2);
	cr_assert_str_eq(got, "E:ERR Protocol error: too big inline request\n");
	free(got);
	/* a bulk header line above 64 KiB */
	memcpy(big, "*1\r\n$", 5);
	got = parse_all(big, n);
	cr_assert_str_eq(got, "E:ERR Protocol error: too big bulk count string\n");
	free(got);
	free(big);
}

/* A pipelined stream of every kind of request, parsed whole and then cut in two at every byte boundary, and
 * also fed one byte at a time: the same requests each time. */
Test(resp, pipelined_stream_split_at_every_byte)
{
	static const char in[] = "*3\r\n$3\r\nSET\r\n$8\r\nkey:0001\r\n$10\r\n0123456789\r\n"
				 "PING\r\n"
				 "*2\r\n$3\r\nGET\r\n$8\r\nkey:0001\r\n"
				 "*0\r\n"
				 "\r\n"
				 "set k \"quoted \\\"value\\\"\" 'single'\r\n"
				 "*1\r\n$4\r\nPING\r\n"
				 "*4\r\n$4\r\nMSET\r\n$0\r\n\r\n$1\r\n\r\r\n$2\r\n\r\n\r\n"
				 "INCR counter\n";
	size_t n = sizeof(in) - 1;
	char *whole = parse_all(in, n);
	cr_assert_str_eq(whole, "3:SET|key:0001|0123456789\n1:PING\n2:GET|key:0001\n"
				"4:set|k|quoted \"value\"|single\n1:PING\n4:MSET||\r|\r\n\n2:INCR|counter\n");
	for (size_t cut = 1; cut < n; cut++) {
		char *got = parse_cut(in, n, &cut, 1);
		cr_assert_str_eq(got, whole, "cut at %zu", cut);
		free(got);
	}
	size_t *every = malloc(n * sizeof(*every));
	for (size_t i = 0; i + 1 < n; i++)
		every[i] = i + 1;
	char *got = parse_cut(in, n, every, n - 1);
	cr_assert_str_eq(got, whole);
	free(got);
	free(every);
	free(whole);
}

/* A 1 MB argument in 4 KiB pieces: carried across pops, returned whole. */
Test(resp, big_bulk_across_pops)
{
	size_t vlen = 1000000;
	char hdr[64];
	int h = snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nSET\r\n$%zu\r\n", vlen);
	size_t n = (size_t)h + vlen + 2 + 6;
	char *in = malloc(n);
	memcpy(in, hdr, (size_t)h);
	for (size_t i = 0; i < vlen; i++)
		in[h + i] = (char)('a' + i % 26);
	memcpy(in + h + vlen, "\r\nPING\r\n", 8);
	size_t ncuts = n / 4096;
	size_t *cuts = malloc(ncuts * sizeof(*cuts));
	for (size_t i = 0; i < ncuts; i++)
		cuts[i] = (i + 1) * 4096;
	char *got = parse_cut(in, n, cuts, ncuts);
	cr_assert_eq(strlen(got), 2 + 4 + vlen + 1 + 7);
	cr_assert_eq(memcmp(got, "2:SET|abcdefghijklmnopqrstuvwxyzabc", 35), 0);
	cr_assert_str_eq(got + strlen(got) - 7, "1:PING\n");
	free(got);
	free(cuts);
	free(in);
}

/* Once an error was returned, the parser answers the error again and reads nothing more. */
Test(resp, error_is_final)
{
	struct resp r;
	resp_init(&r);
	char in[] = "*x\r\nPING\r\n";
	resp_input(&r, in, sizeof(in) - 1);
	int argc;
	const struct kv_arg *argv;
	cr_assert_eq(resp_next(&r, &argc, &argv), RESP_ERROR);
	cr_assert_eq(resp_next(&r, &argc, &argv), RESP_ERROR);
	resp_free(&r);
}
