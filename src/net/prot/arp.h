/* ARP wire format for IPv4 over Ethernet (RFC 826). */
#ifndef DEMI_INETSTACK_PROT_ARP_H
#define DEMI_INETSTACK_PROT_ARP_H

#include <stdint.h>

#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
#define ARP_PKT_LEN 28

struct arp_pkt {
	uint16_t htype; /* ar$hrd */
	uint16_t ptype; /* ar$pro */
	uint8_t hlen;   /* ar$hln */
	uint8_t plen;   /* ar$pln */
	uint16_t oper;  /* ar$op */
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
} __attribute__((packed));

#endif
