/* Ethernet II: receive demultiplexing and transmit framing. */
#ifndef DEMI_INETSTACK_ETH_H
#define DEMI_INETSTACK_ETH_H

#include <stdint.h>

#include "../../net/netdev.h"

struct inet;

/* Handles a received frame (starting at its Ethernet header); the reference on p passes to the stack. */
void eth_input(struct inet *in, struct pkt *p);

/*
 * Prepends an Ethernet header for dst and queues the frame for the device,
 * padded to the 60-byte minimum. Consumes the reference on p in every case.
 * 0, or -ENOBUFS (no headroom, or the transmit queue is full: counted).
 */
int eth_output(struct inet *in, struct pkt *p, const uint8_t *dst, uint16_t type);

#endif
