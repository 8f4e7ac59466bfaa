/*
 * The inetstack: Ethernet, ARP, IPv4, ICMP, UDP and TCP in user space, one
 * instance per libOS instance (per thread), driven over a struct netdev
 * (src/net/netdev.h). A device libOS (through src/libos/inet_libos.c)
 * creates one with inet_create, calls inet_poll from its fast-path poller,
 * and hands socket creation to inet_socket. All state lives in struct inet:
 * no file-scope statics, so each thread runs its own stack.
 */
#ifndef DEMI_INETSTACK_INET_H
#define DEMI_INETSTACK_INET_H

#include <stdint.h>

#include "inet_port.h" /* struct inet_ports, inet_set_ports: set by the libOS after inet_create */

struct rt;
struct netdev;
struct queue;
struct queue_ops;
struct demi_config;
struct inet;

/*
 * Whether cfg can run a stack: it names our address (local_ipv4_addr, not
 * 0.0.0.0). 0, or -EINVAL and a log line that starts with `who`. A device
 * libOS asks before it opens its device; inet_create asks too.
 */
int inet_config_check(const struct demi_config *cfg, const char *who);
/*
 * Creates a stack on dev for the runtime rt, with our address, MAC, ARP and
 * MTU settings from cfg (inet_config_check). Sends a gratuitous ARP. -errno.
 */
int inet_create(struct rt *rt, struct netdev *dev, const struct demi_config *cfg, struct inet **out);
/* Closes every socket the stack owns and frees it; the device is the caller's. */
void inet_destroy(struct inet *in);

/*
 * Receives a burst from the device and runs it through the stack, then
 * transmits what is queued. Called by the libOS's fast-path poller every
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

/* Creates a socket queue: SOCK_STREAM (TCP) or SOCK_DGRAM (UDP); another type: -ENOTSUP. */
int inet_socket(struct inet *in, int type, struct queue **out, const struct queue_ops **ops);

struct demi_netstats;
/* Copies the counters of this thread's stack and of its device into out. -ENOTSUP when the thread runs no stack. */
int inet_stats_read(struct demi_netstats *out);
/* Writes the counters to the log at info level (inet_destroy does; a libOS may at process exit too). */
void inet_stats_log(const struct inet *in);

#endif
