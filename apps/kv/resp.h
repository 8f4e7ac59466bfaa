/*
 * The RESP2 request parser of demi-kv: incremental (a request may arrive split across any number of pops, and
 * one pop may hold many requests), multi-bulk and inline commands, Redis's limits and error texts.
 *
 * Use, per connection:
 *	resp_input(r, data, n);                   // the bytes of one pop (written to: inline unescaping)
 *	while ((rc = resp_next(r, &argc, &argv)) == RESP_REQUEST)
 *		run(argc, argv);                   // argv points into data or r's own buffer
 *	if (rc == RESP_ERROR) reply resp_error(r), then close
 *	else resp_keep(r) (RESP_MORE)           // copies the unfinished tail; data may go after this
 * The arguments of a request stay valid until the next resp_next, resp_keep or resp_input.
 */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "kv_cmd.h"

#define RESP_MAX_MULTIBULK (1024 * 1024)        /* arguments per request (Redis's limit) */
#define RESP_MAX_BULK (512ll * 1024 * 1024)     /* bytes per argument (proto-max-bulk-len) */
#define RESP_MAX_INLINE (64 * 1024)             /* an inline request's line, or a header line */
#define RESP_MAX_QUERY (1024ll * 1024 * 1024)   /* bytes of one unfinished request held (client-query-buffer-limit) */

enum resp_rc {
	RESP_REQUEST, /* a whole request: argc >= 1 arguments in argv */
	RESP_MORE,    /* every whole request was returned; call resp_keep, then resp_input with more bytes */
	RESP_ERROR,   /* a protocol error: reply with resp_error() ("ERR Protocol error: ...") and close */
};

struct resp {
	/* the bytes being parsed: the caller's (one pop) or buf */
	char *win;
	size_t winlen;
	size_t start; /* where the unfinished request begins in win */
	/* the unfinished request carried across pops (its first byte at buf[0]) */
	char *buf;
	size_t buflen, bufcap;
	/* where parsing resumes, relative to start */
	size_t pos;
	size_t scan;         /* where the search for the current header line's end resumes */
	int kind;            /* 0: none yet, '*': multi-bulk, 'i': inline */
	long long mb_count;  /* multi-bulk: arguments announced */
	long long bulk_len;  /* -1: the next thing is a "$N" header; else the bulk whose bytes are awaited */
	size_t argc;         /* arguments complete so far */
	size_t argcap;
	size_t *off, *len;   /* argument offsets (from start) and lengths */
	struct kv_arg *argv; /* built when a request is complete */
	const char *err;
	char errbuf[64];
	uint64_t requests, errors;
};

void resp_init(struct resp *r);
void resp_free(struct resp *r);

/* Sets the bytes to parse next: when a request was carried over (resp_keep), they are appended to it (copied);
 * otherwise they are parsed in place. Returns 0, or -ENOMEM. */
int resp_input(struct resp *r, char *data, size_t n);

/* The next whole request; see enum resp_rc. Empty requests ("*0", blank inline lines) are skipped, as Redis
 * does. After RESP_ERROR every later call answers RESP_ERROR. */
enum resp_rc resp_next(struct resp *r, int *argc, const struct kv_arg **argv);

/* Copies the unfinished tail out of the caller's bytes (after RESP_MORE). Returns 0, or -ENOMEM (also when the
 * tail is above RESP_MAX_QUERY: the caller closes the connection). */
int resp_keep(struct resp *r);

/* The error text of RESP_ERROR, without "-" and "\r\n", e.g. "ERR Protocol error: invalid bulk length". */
const char *resp_error(const struct resp *r);

/* Bytes of an unfinished request held by the parser (for INFO / the output-limit accounting). */
static inline size_t resp_pending(const struct resp *r)
{
	return r->buflen;
}

#endif
