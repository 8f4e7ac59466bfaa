/* UDP wire format (RFC 768). */
#ifndef DEMI_INETSTACK_PROT_UDP_H
#define DEMI_INETSTACK_PROT_UDP_H

#include <stdint.h>

#define UDP_HDR_LEN 8
#define UDP_MAX_PAYLOAD 65507 /* 65535 - 20 (IPv4) - 8 (UDP) */

struct udp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint16_t len;
	uint16_t sum;
} __attribute__((packed));

#endif
