/* TCP (RFC 9293 and the RFCs doc/tcp.md lists): the stack's entry points. */
#ifndef DEMI_INETSTACK_TCP_H
#define DEMI_INETSTACK_TCP_H

#include <stdbool.h>

#include "../../net/netdev.h"
#include "../prot/ipv4.h"

struct inet;
struct queue;
struct queue_ops;
struct demi_config;
struct tcp;

/* Sets up the stack's TCP state from cfg. -errno (-EINVAL: unknown congestion control). */
int tcp_init(struct inet *in, const struct demi_config *cfg);
/* Closes every socket queue still open, through the runtime (pending ops cancelled; FINs go out). */
void tcp_close_all(struct inet *in);
/* Whether a connection still has data or a FIN the peer has not acknowledged (teardown polls until none). */
bool tcp_unfinished(struct inet *in);
/* Resets every connection left (RST to synchronized peers) and frees all TCP state. */
void tcp_fini(struct inet *in);
/* Handles a received segment (p at the TCP header, ih its IPv4 header); consumes p. */
void tcp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted);
/* A new TCP socket queue. -ENOMEM. */
int tcp_socket(struct inet *in, struct queue **out, const struct queue_ops **ops);

#endif
