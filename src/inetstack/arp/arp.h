/*
 * ARP (RFC 826): a cache of IPv4 to Ethernet address mappings with a TTL,
 * static entries from the configuration's arp_table, requests retried
 * arp_request_retries times every arp_request_timeout, and a bounded queue of
 * packets waiting for a resolution that is sent when the reply arrives.
 */
#ifndef DEMI_INETSTACK_ARP_H
#define DEMI_INETSTACK_ARP_H

#include <stdint.h>

#include "../../runtime/timer.h"
#include "../../net/netdev.h"

struct inet;
struct demi_config;

#define ARP_ENTRIES 256      /* cache size; least recently refreshed dynamic entry evicted */
#define ARP_BUCKETS 256      /* power of two */
#define ARP_PENDING_MAX 512  /* packets parked across all resolutions */
#define ARP_PENDING_PER_ENTRY 64 /* per address: room for a 64 KiB datagram's 45 fragments */

enum arp_state { ARP_FREE, ARP_INCOMPLETE, ARP_REACHABLE, ARP_STATIC };

struct arp_entry {
	uint32_t ip; /* network order */
	uint8_t mac[6];
	uint8_t state; /* enum arp_state */
	uint8_t tries; /* requests sent while INCOMPLETE */
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
};

/* Sets the cache up with cfg's static entries and timings. */
void arp_init(struct inet *in, const struct demi_config *cfg);
/* Disarms every timer and drops parked packets. */
void arp_fini(struct inet *in);

/* Handles a received ARP packet (p at the ARP header); consumes p. */
void arp_input(struct inet *in, struct pkt *p);

/*
 * Sends an IPv4 packet to next_hop: at once when its address is known, else
 * parked until a reply arrives (a request is sent). Consumes p. 0 or -errno
 * (-ENOBUFS: dropped, counted).
 */
int arp_output(struct inet *in, struct pkt *p, uint32_t next_hop);

/* Broadcasts a gratuitous ARP announcing our address (RFC 5227 section 2.3). 0 or -errno. */
int arp_announce(struct inet *in);

/* Copies the cached address of ip (network order) into mac; 0, or -ENOENT when not resolved. */
int arp_lookup(const struct inet *in, uint32_t ip, uint8_t *mac);

/* Internal to arp/: the entry for ip or NULL, and sending a request or reply. */
struct arp_entry *arp_find(struct arp *a, uint32_t ip);
int arp_send(struct inet *in, uint16_t oper, const uint8_t *tha, uint32_t tpa, const uint8_t *eth_dst);

#endif
