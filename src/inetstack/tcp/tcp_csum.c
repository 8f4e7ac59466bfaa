/* The TCP checksum over the IPv4 pseudo-header (RFC 9293 section 3.1). */
#include "tcp_csum.h"

#include "../inet_cksum.h"
#include "../../net/prot/ipv4.h"
#include "../../net/prot/tcp.h"

uint16_t tcp_cksum(uint32_t src, uint32_t dst, const void *seg, size_t len)
{
	return cksum_finish(cksum_add(cksum_pseudo(src, dst, IPV4_PROTO_TCP, (uint16_t)len), seg, len));
}

uint16_t tcp_cksum2(uint32_t src, uint32_t dst, const void *hdr, size_t hlen, const void *data, size_t dlen)
{
	/* hlen is even, so the data starts at an even offset as cksum_add requires. */
	uint64_t sum = cksum_pseudo(src, dst, IPV4_PROTO_TCP, (uint16_t)(hlen + dlen));
	sum = cksum_add(sum, hdr, hlen);
	return cksum_finish(cksum_add(sum, data, dlen));
}

bool tcp_cksum_ok(uint32_t src, uint32_t dst, const void *seg, size_t len)
{
	return cksum_fold(cksum_add(cksum_pseudo(src, dst, IPV4_PROTO_TCP, (uint16_t)len), seg, len)) == 0xffff;
}

uint16_t tcp_cksum_pseudo(uint32_t src, uint32_t dst, size_t len)
{
	return cksum_fold(cksum_pseudo(src, dst, IPV4_PROTO_TCP, (uint16_t)len));
}
