/* The TCP checksum over the IPv4 pseudo-header (RFC 9293 section 3.1), built on inet_cksum.h. */
#ifndef DEMI_INETSTACK_TCP_CSUM_H
#define DEMI_INETSTACK_TCP_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The checksum field's value for a segment (header, options and data: len
 * bytes at seg, contiguous) from src to dst (network order); the segment's sum
 * field must be zero. Unlike UDP, a computed zero is sent as zero (RFC 9293
 * section 3.1: TCP's checksum is never optional).
 */
uint16_t tcp_cksum(uint32_t src, uint32_t dst, const void *seg, size_t len);

/* The same over a header of hlen bytes (a multiple of 4) and dlen bytes of data apart from it. */
uint16_t tcp_cksum2(uint32_t src, uint32_t dst, const void *hdr, size_t hlen, const void *data, size_t dlen);

/* True when a received segment's checksum (the sum field as received) is right: the sum over all of it folds to 0xffff. */
bool tcp_cksum_ok(uint32_t src, uint32_t dst, const void *seg, size_t len);

/*
 * The value to put in the sum field for checksum offload: the folded
 * pseudo-header sum, not complemented, as DPDK and Linux expect of a device
 * that completes the checksum over the segment.
 */
uint16_t tcp_cksum_pseudo(uint32_t src, uint32_t dst, size_t len);

#endif
