/* The Internet checksum's bulk sum (RFC 1071), eight bytes at a time. */
#include "inet_cksum.h"

uint64_t cksum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	/* Two 32-bit halves per step into a 64-bit sum: no carry is lost below 2^32 words. */
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* RFC 1071: an odd last byte is padded with a zero byte, in memory order. */
		uint8_t last[2] = { *p, 0 };
		uint16_t w;
		memcpy(&w, last, 2);
		sum += w;
	}
	return sum;
}
