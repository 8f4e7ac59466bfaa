/*
 * An incremental RESP2 reply reader: bytes go in as they arrive (any split, many replies per call), and each
 * complete top-level reply comes out as a summary (its type, its first line, a bulk string's length), the
 * payload itself skipped. Nested arrays up to REPLY_DEPTH levels. Fixed memory, no allocation.
 */
#ifndef KVBENCH_REPLY_H
#define KVBENCH_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define REPLY_DEPTH 8
#define REPLY_LINE 128 /* the first bytes of a status or error line that are kept; the rest is skipped */

struct reply {
	char type;              /* '+', '-', ':', '$' or '*' */
	int64_t len;            /* '$': the bulk's length, -1 for nil; '*': the element count; ':': the integer */
	char line[REPLY_LINE];  /* '+' and '-': the text, NUL-terminated, cut at REPLY_LINE - 1 bytes */
};

struct reply_reader {
	int state;
	char elem;                 /* the type of the element being read */
	struct reply top;          /* the top-level reply being read */
	char line[REPLY_LINE];
	size_t line_len;
	char last;                 /* the line's last byte so far (kept or not): CR before its LF */
	int64_t bulk_left;         /* bytes of a bulk string still to skip, its CRLF included */
	int depth;
	int64_t left[REPLY_DEPTH]; /* elements still to read in each open array */
};

void reply_reader_init(struct reply_reader *r);

/*
 * Reads n bytes; calls done(arg, reply) for each top-level reply completed by them. Returns 0, or -1 on a
 * protocol error (then r->top.line says what, and the reader must be re-initialised before more input).
 * done returns 0 to go on, or non-zero to stop reading: reply_feed returns that value, and the rest of the
 * bytes is not read.
 */
int reply_feed(struct reply_reader *r, const uint8_t *p, size_t n, int (*done)(void *, const struct reply *),
	       void *arg);

#endif /* KVBENCH_REPLY_H */
