/*
 * The stack's bottom tier, below every protocol: packet ownership (fresh
 * buffers, copies of buffers the application still holds) and the transmit
 * and loopback queues in struct inet. Protocols include this header to send;
 * they never call the top (inet.c), which calls them.
 */
#ifndef DEMI_INETSTACK_INET_TX_H
#define DEMI_INETSTACK_INET_TX_H

#include <stdint.h>

#include "inet_priv.h"

/* Queues a finished frame for the device; consumes p. 0 or -ENOBUFS (queue full: dropped, counted). */
int inet_tx_enqueue(struct inet *in, struct pkt *p);
/*
 * Hands queued frames to the device (inet.h declares it too, for the
 * libOS); frames the device refused stay queued, moved to buffers of the
 * stack's own when the application still holds theirs.
 */
void inet_tx_flush(struct inet *in);
/* Queues an IPv4 packet to our own address for the next poll; consumes p. 0 or -ENOBUFS. */
int inet_loop_enqueue(struct inet *in, struct pkt *p);
/* Frees what the device never took and what was never looped back (inet_destroy, at the end). */
void inet_tx_drop_all(struct inet *in);

/* A fresh buffer for len bytes at buf_data, with the full headroom in front. -ENOMEM. */
int inet_pkt_alloc(struct inet *in, uint32_t len, struct pkt *out);

/*
 * Makes p's bytes the stack's own before it keeps them past the push that
 * sent them (ARP queue, loopback, a device that refused them): when the
 * application still holds the buffer, or it wraps memory without headroom,
 * the packet moves to a copy. 0, or -ENOMEM (p untouched).
 */
int inet_pkt_own(struct inet *in, struct pkt *p);

static inline void pkt_free(struct inet *in, struct pkt *p) { buf_unref(in->pool, p->buf); }

#endif
