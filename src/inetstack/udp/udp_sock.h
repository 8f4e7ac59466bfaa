/* UDP socket state, shared by udp_in.c (delivery) and udp_socket.c (the queue operations). */
#ifndef DEMI_INETSTACK_UDP_SOCK_H
#define DEMI_INETSTACK_UDP_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../../runtime/queue.h"
#include "udp.h"

#define UDP_RCVQ_LEN 512 /* datagrams queued per socket (power of two) */

/* A received datagram waiting for a pop: its payload and its sender (network order). */
struct udp_dgram {
	struct buf *buf;
	uint8_t *data;
	uint32_t len;
	uint32_t addr;
	uint16_t port;
};

struct udp_sock {
	struct queue q;
	struct inet *in;
	struct udp_sock *hnext; /* port bucket */
	struct list_node link;  /* udp.socks */
	bool bound, connected;
	bool shut_rd, shut_wr; /* demi_shutdown, as Linux: empty pops end with 0 bytes; pushes fail EPIPE */
	uint32_t laddr, faddr;  /* network order; laddr 0: any */
	uint16_t lport, fport;
	uint32_t rq_head, rq_tail, rq_bytes;
	struct list_node readers; /* pops waiting their turn, oldest first */
	int rcvbuf, sndbuf, reuseaddr, keepalive;
	struct linger linger;
	struct udp_dgram rq[UDP_RCVQ_LEN];
};

static inline uint32_t udp_bucket(uint16_t port) { return (uint32_t)(port ^ (port >> 8)) & (UDP_HASH - 1); }

/* The socket bound to port (network order), or NULL. */
static inline struct udp_sock *udp_lookup(const struct udp *u, uint16_t port)
{
	struct udp_sock *s = u->hash[udp_bucket(port)];
	while (s && s->lport != port)
		s = s->hnext;
	return s;
}

#endif
