/*
 * Where a command's reply goes: RESP2 appended to a chunk of memory that the server owns (a Demi buffer, so
 * that the reply is pushed without a copy). When a chunk is full, more() gives a fresh one; it fails when the
 * client's output limit is reached, after which everything else written is dropped (overflow) and the server
 * closes the client, as Redis does.
 */
#ifndef KV_OUT_H
#define KV_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KV_OUT_MIN 64 /* room more() always gives at least: any header or integer fits */

struct kv_out {
	char *p;   /* next byte to write */
	char *end; /* end of the current chunk */
	/* Makes room for at least KV_OUT_MIN bytes: sets p and end to a fresh chunk. Returns 0, or -1 when no more
	 * output is allowed (overflow is then set and later writes are dropped). */
	int (*more)(struct kv_out *o);
	void *owner; /* the server's (or a test's) context */
	bool overflow;
};

/* Makes room for at least n (<= KV_OUT_MIN) bytes at p; false once overflowed. */
static inline bool kv_out_room(struct kv_out *o, size_t n)
{
	if (o->overflow)
		return false;
	if ((size_t)(o->end - o->p) >= n)
		return true;
	return o->more(o) == 0 && !o->overflow;
}

/* Any number of bytes, across chunks. */
static inline void kv_out_put(struct kv_out *o, const void *data, size_t len)
{
	const char *d = (const char *)data;
	while (len > 0) {
		if (o->p == o->end && !kv_out_room(o, 1))
			return;
		if (o->overflow)
			return;
		size_t n = (size_t)(o->end - o->p);
		if (n > len)
			n = len;
		memcpy(o->p, d, n);
		o->p += n, d += n, len -= n;
	}
}

/* "<c><n>\r\n": the header of integers, bulks and arrays. */
static inline void kv_out_hdr(struct kv_out *o, char c, long long n)
{
	if (kv_out_room(o, 24))
		o->p += snprintf(o->p, 24, "%c%lld\r\n", c, n);
}

static inline void kv_out_simple(struct kv_out *o, const char *s) /* "+s\r\n" */
{
	kv_out_put(o, "+", 1), kv_out_put(o, s, strlen(s)), kv_out_put(o, "\r\n", 2);
}
static inline void kv_out_error(struct kv_out *o, const char *s) /* "-s\r\n": s starts with ERR, WRONGTYPE... */
{
	kv_out_put(o, "-", 1), kv_out_put(o, s, strlen(s)), kv_out_put(o, "\r\n", 2);
}
static inline void kv_out_int(struct kv_out *o, long long n) { kv_out_hdr(o, ':', n); }
static inline void kv_out_array(struct kv_out *o, long long n) { kv_out_hdr(o, '*', n); }
static inline void kv_out_null(struct kv_out *o) { kv_out_put(o, "$-1\r\n", 5); }
static inline void kv_out_null_array(struct kv_out *o) { kv_out_put(o, "*-1\r\n", 5); }
static inline void kv_out_bulk(struct kv_out *o, const void *data, size_t len)
{
	kv_out_hdr(o, '$', (long long)len), kv_out_put(o, data, len), kv_out_put(o, "\r\n", 2);
}

#endif
