/* ICMP wire format (RFC 792). */
#ifndef DEMI_INETSTACK_PROT_ICMP_H
#define DEMI_INETSTACK_PROT_ICMP_H

#include <stdint.h>

#define ICMP_HDR_LEN 8
#define ICMP_ECHO_REPLY 0
#define ICMP_UNREACH 3
#define ICMP_UNREACH_PROTOCOL 2
#define ICMP_UNREACH_PORT 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_TIMX_REASS 1

struct icmp_hdr {
	uint8_t type;
	uint8_t code;
	uint16_t sum;
	uint16_t id;  /* echo: identifier; errors: unused */
	uint16_t seq; /* echo: sequence number; errors: unused */
} __attribute__((packed));

#endif
