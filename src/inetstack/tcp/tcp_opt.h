/* TCP options: parsing a received segment's, writing a SYN's, SYN-ACK's or data segment's (RFC 9293, RFC 7323, RFC 2018). */
#ifndef DEMI_INETSTACK_TCP_OPT_H
#define DEMI_INETSTACK_TCP_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_SACK_MAX_BLOCKS 4 /* RFC 2018 section 3: 4 fit in 40 bytes, 3 next to a timestamp */

/* Which options a struct tcp_opts holds. */
#define TCP_OPTF_MSS 0x01
#define TCP_OPTF_WSCALE 0x02
#define TCP_OPTF_SACK_PERMITTED 0x04
#define TCP_OPTF_TIMESTAMP 0x08
#define TCP_OPTF_SACK 0x10

/* One SACK block (RFC 2018 section 3): left edge, and right edge, the first sequence number past the block. */
struct tcp_sack_block {
	uint32_t start;
	uint32_t end;
};

/* Options of one segment, numbers in host order; a field is meaningful only when its TCP_OPTF_ bit is set. */
struct tcp_opts {
	uint32_t flags; /* TCP_OPTF_* */
	uint16_t mss;
	uint8_t wscale; /* shift count, at most TCP_MAX_WINSHIFT */
	uint8_t nsack;  /* SACK blocks held, 1 to TCP_SACK_MAX_BLOCKS with TCP_OPTF_SACK */
	uint32_t ts_val;
	uint32_t ts_ecr;
	struct tcp_sack_block sack[TCP_SACK_MAX_BLOCKS];
};

/*
 * Parses len bytes of options (what follows the fixed 20-byte header, up to
 * the data offset) into *o, which is cleared first. Reads nothing outside
 * [opt, opt + len). Unknown kinds with a length are skipped (RFC 9293 section
 * 3.1, MUST-6); EOL ends the list. A window scale above 14 is taken as 14
 * (RFC 7323 section 2.3). A repeated option: the last one counts. SACK blocks
 * past TCP_SACK_MAX_BLOCKS cannot occur (they would not fit in 40 bytes).
 * The parser does not judge where an option may appear (MSS, window scale and
 * SACK-permitted count only on a SYN, RFC 9293 section 3.7.1, RFC 7323
 * section 2.2, RFC 2018 section 2): the caller ignores them elsewhere.
 * An illegal option length (RFC 9293 section 3.1, MUST-7: below 2, or
 * running past the end) ends the parse, keeping the options read before it;
 * a known kind with the wrong length is ignored alone. Both as Linux's
 * tcp_parse_options, which processes such a segment with what it read.
 * Returns 0, or -EINVAL (o cleared) only for len over 40.
 */
int tcp_opt_parse(const uint8_t *opt, size_t len, struct tcp_opts *o);

/*
 * Writes the options o->flags names into buf (cap bytes), aligned as Linux
 * and FreeBSD lay them out, every group padded with NOPs to 4 bytes:
 *   MSS (4) | SACK-permitted + timestamp (12), or NOP NOP timestamp (12),
 *   or NOP NOP SACK-permitted (4) | NOP window scale (4) | NOP NOP SACK (4 + 8n).
 * For a SYN or SYN-ACK set MSS, WSCALE, SACK_PERMITTED, TIMESTAMP as
 * negotiated; for a data segment TIMESTAMP and SACK. SACK blocks that do not
 * fit in 40 bytes are left out (RFC 2018 section 3: the first block is the
 * most recent one). Returns the bytes written (a multiple of 4, at most 40),
 * -EINVAL for a window scale over 14 or TCP_OPTF_SACK with nsack 0 or over
 * TCP_SACK_MAX_BLOCKS, -ENOSPC when cap is too small (buf then untouched).
 */
int tcp_opt_write(uint8_t *buf, size_t cap, const struct tcp_opts *o);

#endif
