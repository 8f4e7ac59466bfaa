/*
 * IPv4 (RFC 791, host requirements of RFC 1122 section 3): input validation
 * and demultiplexing, output with routing to ARP, the loopback queue or
 * broadcast, fragmentation of large datagrams, and reassembly (RFC 815's
 * hole descriptors) with bounded memory and a timeout.
 */
#ifndef DEMI_INETSTACK_IPV4_H
#define DEMI_INETSTACK_IPV4_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/timer.h"
#include "../../net/netdev.h"
#include "../../net/prot/ipv4.h"

struct inet;

#define IPV4_REASS_MAX 16     /* datagrams in reassembly at once: at most 16 x 64 KiB buffered */
#define IPV4_REASS_HOLES 32   /* holes per datagram; more and it is dropped */
#define IPV4_REASS_TIMEOUT_NS (30ull * 1000000000ull) /* as Linux; RFC 1122 3.3.2 suggests 60 to 120 s */

struct ipv4_hole {
	uint32_t first, last; /* RFC 815: hole.first, hole.last + 1 (bytes of payload) */
};

struct ipv4_reass_ctx {
	bool used;
	bool have_first; /* the offset-0 fragment arrived: hdr holds its header */
	uint8_t proto;
	uint8_t hlen;
	uint16_t id;
	uint32_t src, dst;
	uint32_t total;  /* payload length once the last fragment arrived, else 0 */
	uint32_t nholes;
	struct ipv4_hole holes[IPV4_REASS_HOLES];
	struct buf *buf; /* payload at buf_data(buf), header copied in front at completion */
	uint8_t hdr[IPV4_MAX_HDR_LEN];
	struct timer timer;
	struct inet *in;
};

struct ipv4_reass {
	struct ipv4_reass_ctx ctx[IPV4_REASS_MAX];
	uint32_t nused;
};

/* Handles a received packet at its IPv4 header; consumes p. trusted: looped back, checksums not checked. */
void ipv4_input(struct inet *in, struct pkt *p, bool trusted);

/* Hands a whole datagram (p at its payload, ih its header) to ICMP or UDP; consumes p. */
void ipv4_deliver(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted);

/*
 * Sends p (the transport header and payload) to dst from our address:
 * prepends the IPv4 header, or fragments when it exceeds the MTU. Consumes p.
 * 0 or -errno (-EMSGSIZE: over 65535 bytes with the header).
 */
int ipv4_output(struct inet *in, struct pkt *p, uint8_t proto, uint32_t dst);

/*
 * The next hop for dst: dst itself when it is on the link (inside
 * local_ipv4_addr/ipv4_prefix_len, or no prefix configured), else the
 * default gateway. 0, or -ENETUNREACH: off the subnet and no gateway.
 */
int ipv4_next_hop(struct inet *in, uint32_t dst, uint32_t *hop);

/*
 * Routes a finished IPv4 packet: loopback, broadcast, or ARP for its next hop
 * (ipv4_next_hop). Consumes p. -ENETUNREACH: no route (counted in
 * neigh.drop_no_route, said once at warn level).
 */
int ipv4_route(struct inet *in, struct pkt *p, uint32_t dst);

/* ipv4_frag.c: sends p in fragments of at most the MTU (RFC 791 section 3.2). Consumes p. */
int ipv4_fragment(struct inet *in, struct pkt *p, uint8_t proto, uint32_t dst);

/* ipv4_reass.c: a fragment (p at its header, ih == p->data); consumes p. */
void ipv4_reass_input(struct inet *in, struct pkt *p, bool trusted);
/* Frees every reassembly in progress. */
void ipv4_reass_fini(struct inet *in);

/* Fills a 20-byte header at h. */
void ipv4_fill_hdr(struct inet *in, struct ipv4_hdr *h, uint8_t proto, uint32_t dst, uint16_t len, uint16_t id,
		   uint16_t off);

#endif
