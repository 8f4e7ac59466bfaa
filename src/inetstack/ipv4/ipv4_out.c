/* IPv4 output (RFC 791 section 3.2): the header, then loopback, broadcast or ARP; fragments past the MTU. */
#include <arpa/inet.h>
#include <errno.h>

#include "../eth/eth.h"
#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/ethernet.h"
#include "ipv4.h"

void ipv4_fill_hdr(struct inet *in, struct ipv4_hdr *h, uint8_t proto, uint32_t dst, uint16_t len, uint16_t id,
		   uint16_t off)
{
	h->vhl = 0x45;
	h->tos = 0;
	h->len = htons(len);
	/* RFC 6864: DF clear, so the identification is unique per (src, dst, proto) within a TTL. */
	h->id = htons(id);
	h->off = htons(off);
	h->ttl = IPV4_DEFAULT_TTL; /* RFC 1122 3.2.1.7: never 0 */
	h->proto = proto;
	h->sum = 0;
	h->src = in->addr;
	h->dst = dst;
	if (!(in->caps & NETDEV_TX_IPV4_CSUM))
		h->sum = cksum_ipv4_hdr(h, IPV4_HDR_LEN);
}

int ipv4_next_hop(struct inet *in, uint32_t dst, uint32_t *hop)
{
	/* No prefix configured: every destination is on the link (as Demikernel). */
	if (!in->netmask || (dst & in->netmask) == (in->addr & in->netmask) || dst == IPV4_BROADCAST) {
		*hop = dst;
		return 0;
	}
	if (in->gateway) {
		*hop = in->gateway;
		return 0;
	}
	return -ENETUNREACH;
}

int ipv4_route(struct inet *in, struct pkt *p, uint32_t dst)
{
	if (dst == in->addr)
		return inet_loop_enqueue(in, p);
	if (dst == IPV4_BROADCAST || inet_subnet_bcast(in, dst))
		return eth_output(in, p, eth_broadcast, ETH_TYPE_IPV4);
	uint32_t hop;
	if (__builtin_expect(ipv4_next_hop(in, dst, &hop) < 0, 0)) {
		INET_DROP(in->st.neigh.drop_no_route, "ipv4 no-route");
		if (!in->warned_no_route) {
			in->warned_no_route = true;
			log_warn("inetstack: packets for addresses outside the local subnet (inetstack_config.ipv4_prefix_len) "
				 "are dropped: no route; set inetstack_config.default_gateway (DEFAULT_GATEWAY)");
		}
		pkt_free(in, p);
		return -ENETUNREACH;
	}
	if (hop != dst)
		in->st.neigh.tx_via_gateway++;
	/* ARP is asked only for on-link addresses: the destination itself, or the gateway. */
	return arp_output(in, p, hop);
}

int ipv4_output(struct inet *in, struct pkt *p, uint8_t proto, uint32_t dst)
{
	/* A TCP super-segment (PKT_TX_TSO) is cut by the device, not fragmented. */
	if (__builtin_expect(p->len + IPV4_HDR_LEN > in->mtu, 0) && !(p->flags & PKT_TX_TSO))
		return ipv4_fragment(in, p, proto, dst);
	if (!pkt_prepend(p, IPV4_HDR_LEN)) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		pkt_free(in, p);
		return -ENOBUFS;
	}
	ipv4_fill_hdr(in, (struct ipv4_hdr *)p->data, proto, dst, (uint16_t)p->len, in->ip_id++, 0);
	in->st.ipv4.tx_packets++;
	return ipv4_route(in, p, dst);
}
