/* IPv4 wire format (RFC 791 section 3.1). */
#ifndef DEMI_INETSTACK_PROT_IPV4_H
#define DEMI_INETSTACK_PROT_IPV4_H

#include <stdint.h>

#define IPV4_HDR_LEN 20      /* without options */
#define IPV4_MAX_HDR_LEN 60
#define IPV4_MAX_LEN 65535
#define IPV4_DF 0x4000
#define IPV4_MF 0x2000
#define IPV4_OFFMASK 0x1fff
#define IPV4_DEFAULT_TTL 64  /* RFC 1700, as Linux */
#define IPV4_PROTO_ICMP 1
#define IPV4_PROTO_TCP 6
#define IPV4_PROTO_UDP 17
#define IPV4_BROADCAST 0xffffffffu

struct ipv4_hdr {
	uint8_t vhl;   /* version << 4 | IHL (32-bit words) */
	uint8_t tos;
	uint16_t len;  /* total length */
	uint16_t id;
	uint16_t off;  /* flags and fragment offset (8-byte units) */
	uint8_t ttl;
	uint8_t proto;
	uint16_t sum;
	uint32_t src;
	uint32_t dst;
} __attribute__((packed));

#endif
