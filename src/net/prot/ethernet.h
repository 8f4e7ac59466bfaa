/* Ethernet II wire format (IEEE 802.3 with an EtherType, RFC 894). */
#ifndef DEMI_INETSTACK_PROT_ETHERNET_H
#define DEMI_INETSTACK_PROT_ETHERNET_H

#include <stdbool.h>
#include <stdint.h>

#define ETH_ADDR_LEN 6
#define ETH_HDR_LEN 14
#define ETH_MIN_FRAME 60 /* without the FCS: shorter frames are padded (RFC 894) */
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806

struct eth_hdr {
	uint8_t dst[ETH_ADDR_LEN];
	uint8_t src[ETH_ADDR_LEN];
	uint16_t type; /* network order */
} __attribute__((packed));

static const uint8_t eth_broadcast[ETH_ADDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Group addresses (broadcast included) have the low bit of the first octet set. */
static inline bool eth_is_group(const uint8_t *a) { return a[0] & 1; }

#endif
