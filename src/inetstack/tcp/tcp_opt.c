/*
 * TCP options: parse (bounds-checked, RFC 9293 section 3.1 MUST-6/7, as
 * Linux's tcp_parse_options) and write (NOP-aligned).
 */
#include "tcp_opt.h"

#include <errno.h>
#include <string.h>

#include "../../net/prot/tcp.h"

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int parse_one(const uint8_t *p, uint8_t olen, struct tcp_opts *o)
{
	switch (p[0]) {
	case TCPOPT_MSS: /* RFC 9293 section 3.2: kind 2, length 4, 16-bit MSS */
		if (olen != TCPOLEN_MSS)
			return 0; /* a wrong length for its kind: ignored, as Linux */
		o->mss = get16(p + 2);
		o->flags |= TCP_OPTF_MSS;
		return 0;
	case TCPOPT_WSCALE: /* RFC 7323 section 2.2 */
		if (olen != TCPOLEN_WSCALE)
			return 0; /* a wrong length for its kind: ignored, as Linux */
		/* RFC 7323 section 2.3: a shift over 14 is taken as 14. */
		o->wscale = p[2] > TCP_MAX_WINSHIFT ? TCP_MAX_WINSHIFT : p[2];
		o->flags |= TCP_OPTF_WSCALE;
		return 0;
	case TCPOPT_SACK_PERMITTED: /* RFC 2018 section 2 */
		if (olen != TCPOLEN_SACK_PERMITTED)
			return 0; /* a wrong length for its kind: ignored, as Linux */
		o->flags |= TCP_OPTF_SACK_PERMITTED;
		return 0;
	case TCPOPT_SACK: /* RFC 2018 section 3: at least one 8-byte block */
		if (olen < 2 + TCPOLEN_SACK_BLOCK || (olen - 2) % TCPOLEN_SACK_BLOCK != 0)
			return 0; /* a wrong length for its kind: ignored, as Linux */
		o->nsack = 0;
		for (unsigned i = 2; i < olen && o->nsack < TCP_SACK_MAX_BLOCKS; i += TCPOLEN_SACK_BLOCK) {
			o->sack[o->nsack].start = get32(p + i);
			o->sack[o->nsack].end = get32(p + i + 4);
			o->nsack++;
		}
		o->flags |= TCP_OPTF_SACK;
		return 0;
	case TCPOPT_TIMESTAMP: /* RFC 7323 section 3.2 */
		if (olen != TCPOLEN_TIMESTAMP)
			return 0; /* a wrong length for its kind: ignored, as Linux */
		o->ts_val = get32(p + 2);
		o->ts_ecr = get32(p + 6);
		o->flags |= TCP_OPTF_TIMESTAMP;
		return 0;
	default: /* RFC 9293 section 3.1, MUST-6: ignore what we do not implement */
		return 0;
	}
}

int tcp_opt_parse(const uint8_t *opt, size_t len, struct tcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (len > TCP_MAX_OPT_LEN)
		return -EINVAL;
	size_t i = 0;
	while (i < len) {
		uint8_t kind = opt[i];
		if (kind == TCPOPT_EOL) /* RFC 9293 section 3.1: the rest is padding */
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		/*
		 * RFC 9293 section 3.1, MUST-7: an illegal length (below 2, or
		 * past the header) ends the parse. The options read before it
		 * stand and the segment is processed (Linux's tcp_parse_options
		 * does the same: it returns and the segment goes on). A known
		 * option with the wrong length for its kind is ignored alone.
		 */
		if (len - i < 2)
			break;
		uint8_t olen = opt[i + 1];
		if (olen < 2 || olen > len - i)
			break;
		parse_one(opt + i, olen, o);
		i += olen;
	}
	return 0;
}

int tcp_opt_write(uint8_t *buf, size_t cap, const struct tcp_opts *o)
{
	uint8_t b[TCP_MAX_OPT_LEN];
	size_t n = 0;
	uint32_t f = o->flags;

	if ((f & TCP_OPTF_WSCALE) && o->wscale > TCP_MAX_WINSHIFT)
		return -EINVAL;
	if ((f & TCP_OPTF_SACK) && (o->nsack == 0 || o->nsack > TCP_SACK_MAX_BLOCKS))
		return -EINVAL;

	/* MSS, timestamp and window scale take at most 20 bytes; SACK blocks are trimmed to what is left. */
	if (f & TCP_OPTF_MSS) {
		b[n++] = TCPOPT_MSS;
		b[n++] = TCPOLEN_MSS;
		put16(b + n, o->mss);
		n += 2;
	}
	if (f & TCP_OPTF_TIMESTAMP) {
		/* RFC 7323 appendix A: the timestamp 4-byte aligned behind two NOPs, or behind SACK-permitted on a SYN. */
		if (f & TCP_OPTF_SACK_PERMITTED) {
			b[n++] = TCPOPT_SACK_PERMITTED;
			b[n++] = TCPOLEN_SACK_PERMITTED;
		} else {
			b[n++] = TCPOPT_NOP;
			b[n++] = TCPOPT_NOP;
		}
		b[n++] = TCPOPT_TIMESTAMP;
		b[n++] = TCPOLEN_TIMESTAMP;
		put32(b + n, o->ts_val);
		put32(b + n + 4, o->ts_ecr);
		n += 8;
	} else if (f & TCP_OPTF_SACK_PERMITTED) {
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_SACK_PERMITTED;
		b[n++] = TCPOLEN_SACK_PERMITTED;
	}
	if (f & TCP_OPTF_WSCALE) {
		b[n++] = TCPOPT_NOP;
		b[n++] = TCPOPT_WSCALE;
		b[n++] = TCPOLEN_WSCALE;
		b[n++] = o->wscale;
	}
	if (f & TCP_OPTF_SACK) {
		/* RFC 2018 section 3: as many blocks as fit, the first (most recent) ones. */
		size_t room = sizeof(b) - n;
		unsigned nb = o->nsack;
		if (room < 4 + TCPOLEN_SACK_BLOCK)
			nb = 0;
		else if (nb > (room - 4) / TCPOLEN_SACK_BLOCK)
			nb = (unsigned)((room - 4) / TCPOLEN_SACK_BLOCK);
		if (nb > 0) {
			b[n++] = TCPOPT_NOP;
			b[n++] = TCPOPT_NOP;
			b[n++] = TCPOPT_SACK;
			b[n++] = (uint8_t)(2 + nb * TCPOLEN_SACK_BLOCK);
			for (unsigned i = 0; i < nb; i++) {
				put32(b + n, o->sack[i].start);
				put32(b + n + 4, o->sack[i].end);
				n += TCPOLEN_SACK_BLOCK;
			}
		}
	}
	/* RFC 9293 section 3.1: the header ends on a 32-bit boundary; every group above is already a multiple of 4. */
	while (n % 4)
		b[n++] = TCPOPT_EOL;
	if (n > cap)
		return -ENOSPC;
	memcpy(buf, b, n);
	return (int)n;
}
