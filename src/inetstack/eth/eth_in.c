/* Ethernet II input: checks the addresses and hands the payload to ARP or IPv4. */
#include <arpa/inet.h>
#include <string.h>

#include "../inet_tx.h"
#include "../../net/prot/ethernet.h"
#include "eth.h"

void eth_input(struct inet *in, struct pkt *p)
{
	struct demi_netstats_eth *st = &in->st.eth;
	st->rx_frames++;
	if (p->len < ETH_HDR_LEN) {
		INET_DROP(st->drop_short, "eth short");
		goto drop;
	}
	const struct eth_hdr *eh = (const struct eth_hdr *)p->data;
	/* Ours or broadcast; other group addresses are not joined (no multicast yet). */
	if (memcmp(eh->dst, in->mac, ETH_ADDR_LEN) != 0 && memcmp(eh->dst, eth_broadcast, ETH_ADDR_LEN) != 0) {
		INET_DROP(st->drop_not_ours, "eth not-ours");
		goto drop;
	}
	/* IEEE 802.3 clause 3.2.3: a source address is never a group address. */
	if (eth_is_group(eh->src)) {
		INET_DROP(st->drop_bad_src, "eth bad-src");
		goto drop;
	}
	uint16_t type = ntohs(eh->type);
	pkt_strip(p, ETH_HDR_LEN);
	switch (type) {
	case ETH_TYPE_IPV4:
		ipv4_input(in, p, false);
		return;
	case ETH_TYPE_ARP:
		arp_input(in, p);
		return;
	default:
		INET_DROP(st->drop_type, "eth type");
		break;
	}
drop:
	pkt_free(in, p);
}
