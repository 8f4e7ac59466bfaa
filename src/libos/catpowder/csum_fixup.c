/*
 * Software completion of checksums that a Linux sender left to offload.
 * A frame the kernel built with CHECKSUM_PARTIAL (veth and most NICs offer
 * transmit checksum offload) reaches a packet socket on the peer before any
 * hardware filled the checksum: the field holds only the pseudo-header sum,
 * and the ring slot says TP_STATUS_CSUMNOTREADY. The stack would drop such a
 * datagram as corrupt, so the device finishes the sum before handing it on.
 */
#include "afpacket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define ETH_HDR 14
#define ETHERTYPE_IPV4 0x0800

static uint32_t sum16(const uint8_t *p, uint32_t len, uint32_t acc)
{
	for (; len >= 2; p += 2, len -= 2)
		acc += (uint32_t)p[0] << 8 | p[1];
	if (len)
		acc += (uint32_t)p[0] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

int afp_csum_fixup(uint8_t *frame, uint32_t len)
{
	if (len < ETH_HDR + 20 || (frame[12] << 8 | frame[13]) != ETHERTYPE_IPV4)
		return 0;
	uint8_t *ip = frame + ETH_HDR;
	uint32_t ihl = (ip[0] & 0x0f) * 4u;
	uint32_t tot = (uint32_t)ip[2] << 8 | ip[3];
	uint16_t frag = (uint16_t)(ip[6] << 8 | ip[7]);
	/* Offload never applies to a fragment: its checksum covers the whole datagram. */
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || ETH_HDR + tot > len || (frag & 0x3fff))
		return 0;
	uint8_t proto = ip[9];
	uint32_t l4len = tot - ihl;
	uint32_t off;
	if (proto == IPPROTO_UDP && l4len >= 8)
		off = 6;
	else if (proto == IPPROTO_TCP && l4len >= 20)
		off = 16;
	else
		return 0;
	uint8_t *l4 = ip + ihl;
	l4[off] = l4[off + 1] = 0;
	/* RFC 768 / RFC 793 pseudo-header: source, destination, zero, protocol, length. */
	uint32_t acc = sum16(ip + 12, 8, 0) + proto + l4len;
	uint16_t c = fold(sum16(l4, l4len, acc));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
	l4[off] = (uint8_t)(c >> 8);
	l4[off + 1] = (uint8_t)c;
	return 1;
}
