/*
 * The inetstack: Ethernet, ARP, IPv4, ICMP and UDP (TCP in its own issue) in
 * user space, one instance per libOS instance (per thread), driven over a
 * struct netdev. A device libOS creates one with inet_create, calls
 * inet_poll from its fast-path coroutine, and hands socket creation to
 * inet_socket. All state lives in struct inet: no file-scope statics, so each
 * thread runs its own stack.
 */
#ifndef DEMI_INETSTACK_INET_H
#define DEMI_INETSTACK_INET_H

#include <stdint.h>

struct rt;
struct netdev;
struct queue;
struct queue_ops;
struct demi_config;
struct inet;

/*
 * Creates a stack on dev for the runtime rt, with our address, MAC, ARP and
 * MTU settings from cfg (local_ipv4_addr is required: -EINVAL and a log line
 * without it). Sends a gratuitous ARP. -errno.
 */
int inet_create(struct rt *rt, struct netdev *dev, const struct demi_config *cfg, struct inet **out);
/* Closes every socket the stack owns and frees it; the device is the caller's. */
void inet_destroy(struct inet *in);

/*
 * Receives a burst from the device and runs it through the stack, then
 * transmits what is queued. Called by the libOS's fast-path coroutine every
 * round. Returns how many frames were handled (0: idle).
 */
int inet_poll(struct inet *in);
/*
 * inet_poll without the transmit at the end: what the stack sends while
 * receiving (ACKs, ARP and ICMP answers) stays queued, so that the
 * application's next send takes it to the device in the same burst, or
 * inet_tx_flush does. For a libOS that spins (catnip); one that may sleep
 * between polls must flush before it sleeps.
 */
int inet_poll_rx(struct inet *in);
/* Hands queued frames to the device. */
void inet_tx_flush(struct inet *in);

/* Creates a socket queue: SOCK_DGRAM now; SOCK_STREAM answers -ENOTSUP until TCP lands. */
int inet_socket(struct inet *in, int type, struct queue **out, const struct queue_ops **ops);

struct demi_netstats;
/* Copies the counters of this thread's stack and of its device into out. -ENOTSUP when the thread runs no stack. */
int inet_stats_read(struct demi_netstats *out);
/* Writes the counters to the log at info level (inet_destroy does; a libOS may at process exit too). */
void inet_stats_log(const struct inet *in);

#endif
