/* The Internet checksum's bulk sum (RFC 1071), 64-bit words with carries, 32 bytes per step. */
#include "inet_cksum.h"

/* One's complement addition of 64-bit words: the carry out of bit 63 comes back in at bit 0. */
static inline uint64_t add_eac(uint64_t a, uint64_t b)
{
	uint64_t r;
	r = a + b;
	return r + (r < b);
}

uint64_t cksum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	/* 64-bit words, 32 bytes per step: an add and an add-with-carry per word on x86-64. */
	while (len >= 32) {
		uint64_t w0, w1, w2, w3;
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		sum = add_eac(sum, w0);
		sum = add_eac(sum, w1);
		sum = add_eac(sum, w2);
		sum = add_eac(sum, w3);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		sum = add_eac(sum, w);
		p += 8;
		len -= 8;
	}
	/* The tail: at most 7 bytes. */
	uint64_t tail = 0;
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		tail += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		tail += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* RFC 1071: an odd last byte is padded with a zero byte, in memory order. */
		uint8_t last[2] = { *p, 0 };
		uint16_t w;
		memcpy(&w, last, 2);
		tail += w;
	}
	return add_eac(sum, tail);
}
