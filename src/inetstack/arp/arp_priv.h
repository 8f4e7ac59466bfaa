/* Shared between the ARP files: cache entry life cycle. */
#ifndef DEMI_INETSTACK_ARP_PRIV_H
#define DEMI_INETSTACK_ARP_PRIV_H

#include "arp.h"

struct arp_entry *arp_entry_new(struct inet *in, uint32_t ip, enum arp_state state);
void arp_entry_free(struct inet *in, struct arp_entry *e);
void arp_entry_resolved(struct inet *in, struct arp_entry *e, const uint8_t *mac);
int arp_park(struct inet *in, struct arp_entry *e, struct pkt *p);
void arp_start(struct inet *in, struct arp_entry *e, bool paid);
/* A stale entry in use was sent through: one unicast request confirms it (Linux's PROBE). */
void arp_probe(struct inet *in, struct arp_entry *e);

#endif
