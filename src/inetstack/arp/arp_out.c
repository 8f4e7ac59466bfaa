/* ARP output: requests, replies, the gratuitous announcement, and sending IPv4 packets through the cache. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../eth/eth.h"
#include "../inet_tx.h"
#include "../../net/prot/arp.h"
#include "../../net/prot/ethernet.h"
#include "../../net/prot/ipv4.h"
#include "../../net/prot/tcp.h"
#include "arp_priv.h"

static const uint8_t zero_mac[6];

/* Fills the fixed part of an ARP packet for IPv4 over Ethernet (RFC 826 "Packet format"). */
static void fill(struct inet *in, struct arp_pkt *ap, uint16_t oper, const uint8_t *tha, uint32_t tpa)
{
	ap->htype = htons(ARP_HTYPE_ETHER);
	ap->ptype = htons(ETH_TYPE_IPV4);
	ap->hlen = ETH_ADDR_LEN;
	ap->plen = 4;
	ap->oper = htons(oper);
	memcpy(ap->sha, in->mac, 6);
	ap->spa = in->addr;
	memcpy(ap->tha, tha ? tha : zero_mac, 6);
	ap->tpa = tpa;
}

int arp_send(struct inet *in, uint16_t oper, const uint8_t *tha, uint32_t tpa, const uint8_t *eth_dst)
{
	struct pkt p;
	if (inet_pkt_alloc(in, ARP_PKT_LEN, &p) < 0) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		return -ENOMEM;
	}
	fill(in, (struct arp_pkt *)p.data, oper, tha, tpa);
	if (oper == ARP_OP_REQUEST)
		in->st.arp.tx_requests++;
	else
		in->st.arp.tx_replies++;
	return eth_output(in, &p, eth_dst, ETH_TYPE_ARP);
}

int arp_announce(struct inet *in)
{
	/* RFC 5227 section 2.3: a request whose sender and target are both our address. */
	return arp_send(in, ARP_OP_REQUEST, NULL, in->addr, eth_broadcast);
}

/* Turns a received request for our address into its reply in place (RFC 826 "Packet Reception", last step). */
void arp_reply_in_place(struct inet *in, struct pkt *p);
void arp_reply_in_place(struct inet *in, struct pkt *p)
{
	struct arp_pkt *ap = (struct arp_pkt *)p->data;
	uint8_t sha[6];
	uint32_t spa = ap->spa;
	memcpy(sha, ap->sha, 6);
	fill(in, ap, ARP_OP_REPLY, sha, spa);
	p->len = ARP_PKT_LEN;
	in->st.arp.tx_replies++;
	eth_output(in, p, sha, ETH_TYPE_ARP);
}

/*
 * Does p (an IPv4 packet) answer unsolicited input: a SYN-ACK (a SYN queue's
 * or a cookie's) or a RST? Its destination may be any address a spoofed SYN
 * named, so what it may cost in ARP work is bounded (arp.h).
 */
static bool answers_unsolicited(const struct pkt *p)
{
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)p->data;
	if (p->len < IPV4_HDR_LEN || ih->proto != IPV4_PROTO_TCP || (ih->off & htons(IPV4_OFFMASK)))
		return false;
	uint32_t hlen = (ih->vhl & 0xfu) * 4;
	if (p->len < hlen + 14)
		return false;
	uint8_t flags = p->data[hlen + 13];
	return (flags & TH_RST) || (flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
}

int arp_output(struct inet *in, struct pkt *p, uint32_t next_hop)
{
	struct arp *a = &in->arp;
	struct arp_entry *e = a->last;
	if (__builtin_expect(!e || e->ip != next_hop, 0))
		e = arp_find(a, next_hop);
	if (__builtin_expect(e && e->state >= ARP_REACHABLE, 1)) {
		a->last = e;
		/* In a poll its time is at hand; outside one a flag spares a clock read per packet (see last_use). */
		if (in->in_poll)
			e->used = in->now;
		else
			e->touched = 1;
		if (__builtin_expect(e->stale, 0))
			arp_probe(in, e);
		return eth_output(in, p, e->mac, ETH_TYPE_IPV4);
	}
	bool reply = answers_unsolicited(p);
	if (e && e->state == ARP_FAILED) {
		/* Asked in vain within the last ARP_FAILED_HOLD_NS: no new request (the per-address limit). */
		if (reply)
			INET_DROP(in->st.neigh.arp_drop_reply_unresolved, "arp reply-unresolved");
		else
			INET_DROP(in->st.neigh.arp_drop_failed, "arp failed");
		pkt_free(in, p);
		return -EHOSTUNREACH;
	}
	/* Not resolved: park the packet (Demikernel drops it) and ask, unless a request is already out. */
	bool fresh = !e;
	if (fresh) {
		/* A reply starts a resolution only while the request budget is above half: real peers keep the rest. */
		if (reply && !arp_request_budget(in, true)) {
			INET_DROP(in->st.neigh.arp_drop_reply_unresolved, "arp reply-unresolved");
			pkt_free(in, p);
			return -EHOSTUNREACH;
		}
		e = arp_entry_new(in, next_hop, ARP_INCOMPLETE);
		if (!e) {
			pkt_free(in, p);
			return -ENOBUFS;
		}
		e->weak = reply;
	} else if (!reply) {
		e->weak = 0; /* someone else needs the address too: the full retries */
	}
	int err = arp_park(in, e, p);
	if (fresh)
		arp_start(in, e, reply); /* a reply's request was paid for above */
	return err;
}
