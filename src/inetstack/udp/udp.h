/* UDP (RFC 768, RFC 1122 section 4.1): input demultiplexing, output, and the socket queues. */
#ifndef DEMI_INETSTACK_UDP_H
#define DEMI_INETSTACK_UDP_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/list.h"
#include "../../net/netdev.h"
#include "../../net/prot/ipv4.h"

struct inet;
struct queue;
struct queue_ops;
struct udp_sock;

#define UDP_HASH 256 /* port buckets, power of two */
#define UDP_EPHEMERAL_FIRST 49152 /* RFC 6335 section 6 */
#define UDP_EPHEMERAL_LAST 65535
#define UDP_RCVQ_MAX 1024 /* datagrams queued per socket */
#define UDP_RCVBUF_DEFAULT (1u << 20) /* bytes queued per socket (SO_RCVBUF) */

struct udp {
	struct udp_sock *hash[UDP_HASH];
	struct list_node socks; /* every socket of the stack */
	uint32_t next_ephemeral;
};

void udp_init(struct inet *in);
/* Closes every socket still open (through the runtime, so pending ops are cancelled). */
void udp_fini(struct inet *in);

/* Handles a received datagram (p at the UDP header, ih its IPv4 header); consumes p. */
void udp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted);

/* Prepends a UDP header to the payload p and sends it from sport to daddr:dport (network order). Consumes p. */
int udp_output(struct inet *in, struct pkt *p, uint16_t sport, uint32_t daddr, uint16_t dport);

/* A new, unbound UDP socket queue. -ENOMEM. */
int udp_socket(struct inet *in, struct queue **out, const struct queue_ops **ops);

extern const struct queue_ops udp_queue_ops;

#endif
