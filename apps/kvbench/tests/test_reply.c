/* demi-kvbench's parts: the RESP2 reply reader (reply.h), whole and cut anywhere, and the histogram (hist.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hist.h"
#include "reply.h"

/* What the reader found, one "type len line" entry per reply, appended to a fixed buffer. */
struct seen {
	char s[4096];
	size_t len;
	int n;
};

static int collect(void *arg, const struct reply *r)
{
	struct seen *c = arg;
	c->len += (size_t)snprintf(c->s + c->len, sizeof(c->s) - c->len, "%c %lld %s|", r->type, (long long)r->len,
				   r->line);
	c->n++;
	return 0;
}

static const char stream[] = "+OK\r\n"
			     "$5\r\nhello\r\n"
			     "$-1\r\n"
			     "-ERR unknown command 'FOO'\r\n"
			     ":42\r\n"
			     "$0\r\n\r\n"
			     "*2\r\n$1\r\na\r\n*2\r\n:1\r\n$3\r\nb\r\n\r\n"
			     "*0\r\n"
			     "*-1\r\n"
			     "$10\r\n\r\n\r\n\r\n\r\n\r\n\r\n"; /* a bulk string that holds CRLFs */
static const char want[] = "+ 0 OK|$ 5 |$ -1 |- 0 ERR unknown command 'FOO'|: 42 |$ 0 |* 2 |* 0 |* -1 |$ 10 |";

Test(reply, whole_stream)
{
	struct reply_reader r;
	struct seen c = { 0 };
	reply_reader_init(&r);
	cr_assert_eq(reply_feed(&r, (const uint8_t *)stream, sizeof(stream) - 1, collect, &c), 0);
	cr_assert_str_eq(c.s, want);
	cr_assert_eq(c.n, 10);
}

Test(reply, cut_at_every_pair_of_offsets)
{
	size_t n = sizeof(stream) - 1;
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			struct reply_reader r;
			struct seen c = { 0 };
			reply_reader_init(&r);
			cr_assert_eq(reply_feed(&r, (const uint8_t *)stream, a, collect, &c), 0);
			cr_assert_eq(reply_feed(&r, (const uint8_t *)stream + a, b - a, collect, &c), 0);
			cr_assert_eq(reply_feed(&r, (const uint8_t *)stream + b, n - b, collect, &c), 0);
			cr_assert_str_eq(c.s, want, "cut at %zu and %zu", a, b);
		}
	}
}

Test(reply, byte_by_byte)
{
	struct reply_reader r;
	struct seen c = { 0 };
	reply_reader_init(&r);
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		cr_assert_eq(reply_feed(&r, (const uint8_t *)stream + i, 1, collect, &c), 0);
	cr_assert_str_eq(c.s, want);
}

static void expect_error(const char *bad, const char *what)
{
	struct reply_reader r;
	struct seen c = { 0 };
	reply_reader_init(&r);
	cr_assert_eq(reply_feed(&r, (const uint8_t *)bad, strlen(bad), collect, &c), -1, "%s", bad);
	cr_assert(strstr(r.top.line, what), "'%s' gives '%s', want '%s'", bad, r.top.line, what);
}

Test(reply, garbage_is_an_error_not_a_crash)
{
	expect_error("HTTP/1.1 400 Bad Request\r\n", "where a reply starts");
	expect_error("+OK\n", "CRLF");
	expect_error("$abc\r\n", "bulk length");
	expect_error("$-2\r\n", "bulk length");
	expect_error("$3\r\nabcXY", "CRLF");
	expect_error(":1x\r\n", "integer");
	expect_error("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n", "nested");
	/* A long error line is cut, not overflowed, and the reply still completes. */
	char big[600] = "-";
	memset(big + 1, 'x', 500);
	strcpy(big + 501, "\r\n");
	struct reply_reader r;
	struct seen c = { 0 };
	reply_reader_init(&r);
	cr_assert_eq(reply_feed(&r, (const uint8_t *)big, strlen(big), collect, &c), 0);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(strlen(r.top.line), REPLY_LINE - 1);
}

static int stop_after_first(void *arg, const struct reply *r)
{
	(void)r;
	++*(int *)arg;
	return 7;
}

Test(reply, done_can_stop_the_feed)
{
	struct reply_reader r;
	int n = 0;
	reply_reader_init(&r);
	cr_assert_eq(reply_feed(&r, (const uint8_t *)"+OK\r\n+OK\r\n", 10, stop_after_first, &n), 7);
	cr_assert_eq(n, 1);
}

Test(hist, buckets_are_ordered_and_within_one_128th)
{
	for (unsigned i = 0; i + 1 < HIST_BUCKETS; i++) {
		cr_assert_lt(hist_low(i), hist_low(i + 1), "bucket %u", i);
		cr_assert_eq(hist_index(hist_low(i)), i, "bucket %u", i);
		cr_assert_eq(hist_index(hist_low(i + 1) - 1), i, "bucket %u", i);
		if (i >= HIST_LINEAR)
			cr_assert_leq((hist_high(i) - hist_low(i)) * 128, hist_low(i), "bucket %u", i);
	}
	cr_assert_eq(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

Test(hist, quantiles_are_never_below_and_close_to_the_truth)
{
	static struct hist h;
	hist_reset(&h);
	/* 1,000 to 1,000,000 ns in steps of 1,000: the k-th smallest is k * 1,000. */
	for (uint64_t v = 1000; v <= 1000000; v += 1000)
		hist_add(&h, v);
	const double qs[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t truth = (uint64_t)(qs[i] * 1000 + 0.5) * 1000, got = hist_quantile(&h, qs[i]);
		cr_assert_geq(got, truth, "q %g", qs[i]);
		cr_assert_leq((double)got, (double)truth * (1 + 1.0 / 128), "q %g: %llu for %llu", qs[i],
			      (unsigned long long)got, (unsigned long long)truth);
	}
	cr_assert_eq(h.max, 1000000);
	cr_assert_eq(h.count, 1000);
	cr_assert_eq(hist_quantile(&h, 1.0), 1000000);
}
