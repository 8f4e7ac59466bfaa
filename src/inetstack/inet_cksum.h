/*
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 * Sums are kept in host order over words read in memory order: the one's
 * complement sum is byte-order independent (RFC 1071 section 2(B)), so the
 * folded result is stored into the header as it is, with no byte swap.
 */
#ifndef DEMI_INETSTACK_INET_CKSUM_H
#define DEMI_INETSTACK_INET_CKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Adds len bytes at data (any alignment) to a running 64-bit sum; data must start at an even offset of the message. */
uint64_t cksum_add(uint64_t sum, const void *data, size_t len);

/* Folds a running sum to 16 bits (end-around carry). */
static inline uint16_t cksum_fold(uint64_t sum)
{
	uint32_t lo = (uint32_t)sum, hi = (uint32_t)(sum >> 32);
	lo += hi;
	lo += lo < hi; /* the carry out of bit 31 comes back in at bit 0 */
	uint16_t l16 = (uint16_t)lo, h16 = (uint16_t)(lo >> 16);
	l16 = (uint16_t)(l16 + h16);
	l16 = (uint16_t)(l16 + (l16 < h16));
	return l16;
}

/* The checksum field's value for a message whose running sum is `sum` (field zero while summing). */
static inline uint16_t cksum_finish(uint64_t sum) { return (uint16_t)~cksum_fold(sum); }

/* The IPv4 header checksum over hlen bytes (a multiple of 4); 0 over a header with a correct checksum. */
static inline uint16_t cksum_ipv4_hdr(const void *hdr, size_t hlen)
{
	const uint8_t *p = hdr;
	uint32_t w[5];
	memcpy(w, p, 20); /* the fixed part, unrolled: options are rare */
	uint64_t sum = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	for (size_t i = 20; i < hlen; i += 4) {
		uint32_t o;
		memcpy(&o, p + i, 4);
		sum += o;
	}
	return cksum_finish(sum);
}

/* The pseudo-header sum of UDP and TCP (RFC 768, RFC 793 section 3.1); addresses in network order. */
static inline uint64_t cksum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	/* htons() of proto and len, in host order words: the sum is byte-order independent. */
	return (uint64_t)src + dst + __builtin_bswap16((uint16_t)proto) + __builtin_bswap16(len);
}

/*
 * RFC 1624 equation 3: the new checksum of a message whose 16-bit word `old`
 * (as stored) became `new`: HC' = ~(~HC + ~m + m').
 */
static inline uint16_t cksum_adjust(uint16_t hc, uint16_t old, uint16_t new_)
{
	uint32_t s = (uint16_t)~hc + (uint32_t)(uint16_t)~old + new_;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#endif
