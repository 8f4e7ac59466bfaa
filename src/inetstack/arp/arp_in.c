/* ARP input (RFC 826 "Packet Reception"): learns mappings, answers requests for our address. */
#include <arpa/inet.h>
#include <string.h>

#include "../inet_tx.h"
#include "../../net/prot/arp.h"
#include "../../net/prot/ethernet.h"
#include "arp_priv.h"

void arp_reply_in_place(struct inet *in, struct pkt *p);

void arp_input(struct inet *in, struct pkt *p)
{
	struct demi_netstats_arp *st = &in->st.arp;
	const struct arp_pkt *ap = (const struct arp_pkt *)p->data;
	/* RFC 826: check the hardware and protocol types and lengths; we know only Ethernet and IPv4. */
	if (p->len < ARP_PKT_LEN || ap->htype != htons(ARP_HTYPE_ETHER) || ap->ptype != htons(ETH_TYPE_IPV4) ||
	    ap->hlen != ETH_ADDR_LEN || ap->plen != 4 || eth_is_group(ap->sha)) {
		INET_DROP(st->drop_malformed, "arp malformed");
		goto drop;
	}
	uint16_t oper = ntohs(ap->oper);
	if (oper == ARP_OP_REQUEST) {
		st->rx_requests++;
	} else if (oper == ARP_OP_REPLY) {
		st->rx_replies++;
	} else {
		INET_DROP(st->drop_malformed, "arp malformed");
		goto drop;
	}
	if (ap->spa == in->addr) {
		/* Our own announcement echoed back is harmless; anyone else with our address is a conflict. */
		if (memcmp(ap->sha, in->mac, 6) != 0)
			INET_DROP(st->drop_conflict, "arp conflict");
		goto drop;
	}
	/* Merge: update an entry we already have for the sender (static ones never change). */
	bool merged = false;
	struct arp_entry *e = ap->spa ? arp_find(&in->arp, ap->spa) : NULL;
	if (e) {
		merged = true;
		if (e->state != ARP_STATIC)
			arp_entry_resolved(in, e, ap->sha);
	}
	if (ap->tpa != in->addr) {
		if (oper == ARP_OP_REPLY && !merged)
			INET_DROP(st->drop_unsolicited, "arp unsolicited");
		goto drop;
	}
	if (oper == ARP_OP_REPLY) {
		/* A reply for us that nobody asked for is not learnt (a poisoning vector): dropped. */
		if (!merged)
			INET_DROP(st->drop_unsolicited, "arp unsolicited");
		goto drop;
	}
	/* A request for us: RFC 826 adds the sender when it is new, then replies. */
	if (!merged && ap->spa) {
		e = arp_entry_new(in, ap->spa, ARP_REACHABLE);
		if (e)
			arp_entry_resolved(in, e, ap->sha);
	}
	st->resolved++;
	arp_reply_in_place(in, p);
	return;
drop:
	pkt_free(in, p);
}
