/* Initial sequence numbers (RFC 6528) and the keyed hash behind them (SipHash-2-4). */
#ifndef DEMI_INETSTACK_TCP_ISN_H
#define DEMI_INETSTACK_TCP_ISN_H

#include <stddef.h>
#include <stdint.h>

/* The secret key of RFC 6528 section 3, one per stack (state in structs, not statics). */
struct tcp_isn_secret {
	uint8_t key[16];
};

/*
 * Reads a fresh 128-bit key from getrandom() (blocking only until the
 * kernel's pool is first initialised, retried on EINTR). Returns 0, or
 * -errno from getrandom (-EIO when it returns short).
 */
int tcp_isn_init(struct tcp_isn_secret *s);

/*
 * RFC 6528 section 3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a timer ticking every 4 microseconds (from clock_now(), so the
 * virtual clock in tests), F SipHash-2-4 over the 4-tuple. Addresses and
 * ports in network order, as they sit in the headers. Successive ISNs for one
 * tuple advance with time (RFC 9293 section 3.4.1); those of different tuples
 * are unrelated to an observer without the key.
 */
uint32_t tcp_isn(const struct tcp_isn_secret *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012) of len bytes with a 16-byte key:
 * the PRF for ISNs and, later, SYN cookies. Returns the 64-bit tag as the
 * reference implementation's little-endian output read as a number.
 */
uint64_t tcp_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
