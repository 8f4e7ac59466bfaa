/* Initial sequence numbers per RFC 6528, with SipHash-2-4 as the keyed PRF F. */
#include "tcp_isn.h"

#include <errno.h>
#include <string.h>

#include "../../os/os.h"
#include "../../runtime/clock.h"

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3)                                                                                       \
	do {                                                                                                           \
		v0 += v1;                                                                                              \
		v1 = rotl(v1, 13);                                                                                     \
		v1 ^= v0;                                                                                              \
		v0 = rotl(v0, 32);                                                                                     \
		v2 += v3;                                                                                              \
		v3 = rotl(v3, 16);                                                                                     \
		v3 ^= v2;                                                                                              \
		v0 += v3;                                                                                              \
		v3 = rotl(v3, 21);                                                                                     \
		v3 ^= v0;                                                                                              \
		v2 += v1;                                                                                              \
		v1 = rotl(v1, 17);                                                                                     \
		v1 ^= v2;                                                                                              \
		v2 = rotl(v2, 32);                                                                                     \
	} while (0)

uint64_t tcp_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	/* "somepseudorandomlygeneratedbytes", the initialisation constants of the paper. */
	uint64_t v0 = 0x736f6d6570736575ull ^ k0;
	uint64_t v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0;
	uint64_t v3 = 0x7465646279746573ull ^ k1;
	size_t full = len & ~(size_t)7;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(in + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3); /* c = 2 compression rounds */
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* The last word: the remaining bytes, the length mod 256 in the top byte. */
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3); /* d = 4 finalisation rounds */
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

int tcp_isn_init(struct tcp_isn_secret *s)
{
	return os_random(s->key, sizeof(s->key), true);
}

uint32_t tcp_isn(const struct tcp_isn_secret *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	/* RFC 6528 section 3: F over the connection-id and the key; only the tuple is hashed, so F is fixed per tuple. */
	uint8_t tuple[12];
	memcpy(tuple, &laddr, 4);
	memcpy(tuple + 4, &lport, 2);
	memcpy(tuple + 6, &raddr, 4);
	memcpy(tuple + 10, &rport, 2);
	uint32_t f = (uint32_t)tcp_siphash24(s->key, tuple, sizeof(tuple));
	/* RFC 6528 section 3 (and RFC 9293 section 3.4.1): M, a timer incremented every 4 microseconds. */
	uint32_t m = (uint32_t)(clock_now() / (4 * NSEC_PER_USEC));
	return m + f;
}
