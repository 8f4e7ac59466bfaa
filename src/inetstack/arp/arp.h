/*
 * ARP (RFC 826): a cache of IPv4 to Ethernet address mappings with a TTL,
 * static entries from the configuration's arp_table, requests retried
 * arp_request_retries times every arp_request_timeout, and a bounded queue of
 * packets waiting for a resolution that is sent when the reply arrives.
 *
 * Neighbour limits, after Linux's (net/core/neighbour.c): unresolved entries
 * (INCOMPLETE, FAILED) are capped at ARP_UNRES_MAX and evict each other,
 * oldest first, never a resolved entry in use; resolved entries go least
 * recently used first. Requests are rate-limited per address (one per
 * arp_request_timeout, and none for ARP_FAILED_HOLD_NS after a failure) and in
 * total (a token bucket of ARP_REQ_BURST at ARP_REQ_RATE a second). A packet
 * that answers unsolicited input (a SYN-ACK, a cookie, a RST) to an unresolved
 * address costs at most ARP_REPLY_TRIES requests, only from the bucket's upper
 * half, and is dropped (counted) when the address does not answer: a flood of
 * spoofed SYNs cannot take the cache or the request budget from real peers.
 */
#ifndef DEMI_INETSTACK_ARP_H
#define DEMI_INETSTACK_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/timer.h"
#include "../../net/netdev.h"

struct inet;
struct demi_config;

#define ARP_ENTRIES 256      /* cache size; least recently refreshed dynamic entry evicted */
#define ARP_BUCKETS 256      /* power of two */
#define ARP_PENDING_MAX 512  /* packets parked across all resolutions */
#define ARP_PENDING_PER_ENTRY 64 /* per address: room for a 64 KiB datagram's 45 fragments */
#define ARP_UNRES_MAX 64     /* unresolved entries at once (Linux's gc_thresh for them: a quarter of the cache) */
#define ARP_REQ_RATE 256     /* requests a second, all addresses together */
#define ARP_REQ_BURST 128    /* the bucket; replies to unsolicited input use only its upper half */
#define ARP_REPLY_TRIES 2    /* requests for an address only a reply to a SYN or a RST needs */
#define ARP_FAILED_HOLD_NS (1000ull * 1000000ull) /* after a failed resolution: no request, packets dropped */
#define ARP_IN_USE_NS (1000ull * 1000000ull)      /* a resolved entry sent through within this is in use */

/* The order matters: >= ARP_REACHABLE is resolved; INCOMPLETE and FAILED are unresolved. */
enum arp_state { ARP_FREE, ARP_INCOMPLETE, ARP_FAILED, ARP_REACHABLE, ARP_STATIC };

struct arp_entry {
	uint32_t ip; /* network order */
	uint8_t mac[6];
	uint8_t state; /* enum arp_state */
	uint8_t tries; /* requests sent while INCOMPLETE, or probes of a stale REACHABLE entry */
	uint8_t weak;  /* INCOMPLETE only for replies to unsolicited input: ARP_REPLY_TRIES, one packet parked */
	uint8_t stale; /* REACHABLE past its TTL but in use: the next send probes it (Linux's STALE) */
	uint8_t touched; /* sent through outside a poll since `used` was last brought up to date (no clock read) */
	uint64_t used; /* resolved: the last send through it; unresolved: when it was created (LRU and in-use) */
	int32_t hnext; /* next entry in the bucket, -1 */
	int32_t qhead, qtail; /* parked packets (indices into arp.pend), -1 */
	uint32_t qlen;
	struct timer timer; /* INCOMPLETE: next retry; REACHABLE: expiry */
	struct inet *in;
};

struct arp_pending {
	struct pkt pkt; /* an IPv4 packet, without its Ethernet header */
	int32_t next;
};

struct arp {
	struct arp_entry entries[ARP_ENTRIES];
	int32_t buckets[ARP_BUCKETS];
	struct arp_pending pend[ARP_PENDING_MAX];
	int32_t pend_free;
	uint32_t pend_used;
	struct arp_entry *last; /* the last entry used to send: most sends hit it */
	uint64_t ttl_ns, retry_ns;
	uint32_t retries;
	uint32_t nunres;       /* INCOMPLETE and FAILED entries */
	uint64_t credit_ns;    /* the request bucket, in time: each request costs NSEC_PER_SEC / ARP_REQ_RATE */
	uint64_t credit_at;    /* when credit_ns was last topped up */
};

/* Sets the cache up with cfg's static entries and timings. */
void arp_init(struct inet *in, const struct demi_config *cfg);
/* Disarms every timer and drops parked packets. */
void arp_fini(struct inet *in);

/* Handles a received ARP packet (p at the ARP header); consumes p. */
void arp_input(struct inet *in, struct pkt *p);

/*
 * Sends an IPv4 packet (p at its header) to next_hop: at once when its address
 * is known, else parked until a reply arrives (a request is sent, within the
 * limits above). Consumes p. 0 or -errno, the packet dropped and counted:
 * -ENOBUFS (queue or cache full), -EHOSTUNREACH (the address failed to
 * resolve within ARP_FAILED_HOLD_NS, or a reply that the limits refuse).
 */
int arp_output(struct inet *in, struct pkt *p, uint32_t next_hop);

/* Broadcasts a gratuitous ARP announcing our address (RFC 5227 section 2.3). 0 or -errno. */
int arp_announce(struct inet *in);

/* Copies the cached address of ip (network order) into mac; 0, or -ENOENT when not resolved. */
int arp_lookup(const struct inet *in, uint32_t ip, uint8_t *mac);

/* Internal to arp/: the entry for ip or NULL, and sending a request or reply. */
struct arp_entry *arp_find(struct arp *a, uint32_t ip);
int arp_send(struct inet *in, uint16_t oper, const uint8_t *tha, uint32_t tpa, const uint8_t *eth_dst);
/* Takes a request from the total budget; reply: only from its upper half. false: rate-limited (counted). */
bool arp_request_budget(struct inet *in, bool reply);

#endif
