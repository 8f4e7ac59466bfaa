/*
 * Software completion of checksums that a Linux sender left to offload.
 * A frame the kernel built with CHECKSUM_PARTIAL (veth and most NICs offer
 * transmit checksum offload) reaches a packet socket on the peer before any
 * hardware filled the checksum: the field holds only the pseudo-header sum,
 * and the ring slot says TP_STATUS_CSUMNOTREADY. The stack would drop such a
 * datagram as corrupt, so the device finishes the sum before handing it on.
 */
#include "afpacket.h"

#include <netinet/in.h>
#include <string.h>

#include "../../inetstack/inet_cksum.h"
#include "../../net/prot/ethernet.h"
#include "../../net/prot/ipv4.h"

int afp_csum_fixup(uint8_t *frame, uint32_t len)
{
	if (len < ETH_HDR_LEN + IPV4_HDR_LEN || (frame[12] << 8 | frame[13]) != ETH_TYPE_IPV4)
		return 0;
	uint8_t *ip = frame + ETH_HDR_LEN;
	uint32_t ihl = (ip[0] & 0x0f) * 4u;
	uint32_t tot = (uint32_t)ip[2] << 8 | ip[3];
	uint16_t frag = (uint16_t)(ip[6] << 8 | ip[7]);
	/* Offload never applies to a fragment: its checksum covers the whole datagram. */
	if ((ip[0] >> 4) != 4 || ihl < IPV4_HDR_LEN || tot < ihl || ETH_HDR_LEN + tot > len ||
	    (frag & (IPV4_MF | IPV4_OFFMASK)))
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
	uint32_t src, dst;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	uint16_t c = cksum_finish(cksum_add(cksum_pseudo(src, dst, proto, (uint16_t)l4len), l4, l4len));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
	memcpy(l4 + off, &c, 2); /* the sum is in memory order already (inet_cksum.h) */
	return 1;
}
