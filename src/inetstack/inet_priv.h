/*
 * The stack's private state: struct inet, which holds every protocol's
 * state, the transmit and loopback queues and the counters. Nothing of the
 * stack lives in file-scope variables, so each thread runs its own stack.
 */
#ifndef DEMI_INETSTACK_INET_PRIV_H
#define DEMI_INETSTACK_INET_PRIV_H

#include <demi/netstats.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "../runtime/clock.h"
#include "../runtime/log.h"
#include "../runtime/rt.h"
#include "arp/arp.h"
#include "icmp/icmp.h"
#include "inet_port.h"
#include "ipv4/ipv4.h"
#include "../net/netdev.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

#define INET_TXQ 1024  /* frames waiting for the device (power of two) */
#define INET_LOOPQ 256 /* packets to our own address waiting for the next poll (power of two) */
#define INET_RX_BURST 32

/*
 * Counts a dropped frame, packet or datagram in counter `ctr` (a drop_* field
 * of struct demi_netstats) and, at DEMI_LOG=debug, logs the first drop of each
 * class in this stack (later ones only count: demi_netstats, or the counters
 * logged at teardown). Off, it costs the level test, one predictable branch.
 */
#define INET_DROP(ctr, what)                                                   \
	do {                                                                   \
		(ctr)++;                                                       \
		if (__builtin_expect(LOG_DEBUG <= log_threshold, 0) && (ctr) == 1) \
			log_emit(LOG_DEBUG, __FILE__, __LINE__,                \
				 "inet: first drop: %s (later ones are only counted)", what); \
	} while (0)

struct inet {
	struct rt *rt;
	struct netdev *dev;
	struct buf_pool *pool; /* the runtime's: frames, copies and popped payloads */
	uint32_t addr;         /* ours, network order */
	uint32_t netmask;      /* the local subnet's, network order; 0: every address is on the link */
	uint32_t gateway;      /* the default gateway, network order; 0: none */
	bool warned_no_route;  /* the "no gateway" warning was logged */
	uint8_t mac[6];
	uint32_t mtu;          /* IP MTU */
	uint32_t caps;         /* the device's enum netdev_caps */
	uint16_t ip_id;
	bool in_poll;          /* inside inet_poll: transmit once at the end of the burst */
	uint64_t now;          /* clock_now() at the start of this poll: one clock read per burst */
	uint64_t npolls;       /* inet_poll calls so far */
	uint64_t push_mark;    /* npolls at the last TCP push (see ts_push) */
	int (*poll)(struct inet *in); /* inet_poll, for a socket op that must take in what arrived first (ts_push) */
	uint32_t tx_head, tx_tail;
	uint32_t loop_head, loop_tail;
	struct pkt txq[INET_TXQ];
	struct pkt loopq[INET_LOOPQ];
	struct inet_ports ports; /* the ephemeral ports TCP and UDP may pick (inet_port.h) */
	struct demi_netstats st;
	struct arp arp;
	struct ipv4_reass reass;
	struct icmp icmp;
	struct udp udp;
	struct tcp tcp;
};

/* The network-order mask of a prefix length (0..32); 0 for 0. */
static inline uint32_t inet_prefix_mask(uint32_t len)
{
	return len == 0 ? 0 : htonl(len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len));
}

/* Is a (network order) the local subnet's broadcast address? None without a prefix, nor on a /31 or /32 (RFC 3021). */
static inline bool inet_subnet_bcast(const struct inet *in, uint32_t a)
{
	return in->netmask && ntohl(~in->netmask) >= 3 && a == (in->addr | ~in->netmask);
}

/* The time for protocol bookkeeping: the poll's when inside one, else the clock. */
static inline uint64_t inet_now(const struct inet *in) { return in->in_poll ? in->now : clock_now(); }

/* An AF_INET address from an address and port in network order (names, accept results, senders). */
static inline struct sockaddr_in inet_sockaddr(uint32_t addr, uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = addr };
}

/* The stack this thread created last (demi_netstats reads it); NULL when none. */
extern __thread struct inet *inet_current;

#endif
