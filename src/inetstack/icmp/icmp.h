/* ICMP (RFC 792, RFC 1122 section 3.2.2): echo replies and rate-limited error messages. */
#ifndef DEMI_INETSTACK_ICMP_H
#define DEMI_INETSTACK_ICMP_H

#include <stdint.h>

#include "../../net/netdev.h"
#include "../../net/prot/ipv4.h"

struct inet;

#define ICMP_RATE_BURST 10             /* errors sent back to back at most */
#define ICMP_RATE_INTERVAL_NS 10000000 /* then one per 10 ms, as a token bucket */
#define ICMP_ERR_MAX_LEN 576           /* RFC 1122 3.2.2: an error datagram stays within 576 bytes */

struct icmp {
	uint32_t tokens;
	uint64_t refill_at; /* clock_now() when the next token is due */
};

void icmp_init(struct inet *in);

/* Handles a received ICMP message (p at the ICMP header, ih its datagram's header); consumes p. */
void icmp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih);

/*
 * Sends an error of type/code about the datagram whose header is ih, quoting
 * the header and as much of its data (avail bytes from ih) as fits in 576
 * bytes (RFC 1122 3.2.2). Suppressed for broadcast and non-initial fragments,
 * and by the rate limit. ih stays the caller's.
 */
void icmp_error(struct inet *in, uint8_t type, uint8_t code, const struct ipv4_hdr *ih, uint32_t avail);

#endif
