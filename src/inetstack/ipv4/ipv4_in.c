/* IPv4 input (RFC 791 section 3.2, RFC 1122 section 3.2.1): validation, fragments to reassembly, demultiplexing. */
#include <arpa/inet.h>

#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/icmp.h"
#include "ipv4.h"

/*
 * RFC 1122 3.2.1.3: martian sources are discarded when they come off the
 * wire: our own address (a LAND packet, or a spoof: it would talk to itself
 * through the loopback), 0.0.0.0 (we answer no DHCP-like requests), loopback,
 * multicast and class E, the limited and the subnet's broadcast. True: dropped
 * and counted, by class and in ipv4.drop_bad_src.
 */
static bool martian(struct inet *in, uint32_t src)
{
	struct demi_netstats_neigh *n = &in->st.neigh;
	uint32_t h = ntohl(src);
	if (__builtin_expect(src == in->addr, 0))
		INET_DROP(n->drop_martian_own, "ipv4 martian-own-address");
	else if (h == 0)
		INET_DROP(n->drop_martian_zero, "ipv4 martian-zero");
	else if ((h >> 24) == 127)
		INET_DROP(n->drop_martian_loopback, "ipv4 martian-loopback");
	else if (h == 0xffffffffu || inet_subnet_bcast(in, src))
		INET_DROP(n->drop_martian_bcast, "ipv4 martian-broadcast");
	else if ((h >> 28) >= 0xe)
		INET_DROP(n->drop_martian_mcast, "ipv4 martian-multicast");
	else
		return false;
	in->st.ipv4.drop_bad_src++;
	return true;
}

void ipv4_input(struct inet *in, struct pkt *p, bool trusted)
{
	struct demi_netstats_ipv4 *st = &in->st.ipv4;
	st->rx_packets++;
	if (p->len < IPV4_HDR_LEN) {
		INET_DROP(st->drop_short, "ipv4 short");
		goto drop;
	}
	const struct ipv4_hdr *ih = (const struct ipv4_hdr *)p->data;
	/* RFC 1122 3.2.1.1: a datagram whose version is not 4 is silently discarded. */
	if ((ih->vhl >> 4) != 4) {
		INET_DROP(st->drop_version, "ipv4 version");
		goto drop;
	}
	uint32_t hlen = (ih->vhl & 0xfu) * 4;
	if (hlen < IPV4_HDR_LEN || hlen > p->len) {
		INET_DROP(st->drop_hdr_len, "ipv4 hdr-len");
		goto drop;
	}
	uint32_t tot = ntohs(ih->len);
	if (tot < hlen || tot > p->len) {
		INET_DROP(st->drop_total_len, "ipv4 total-len");
		goto drop;
	}
	p->len = tot; /* drops the Ethernet padding behind short datagrams (RFC 894) */
	/* RFC 1122 3.2.1.2: a datagram with a bad header checksum is silently discarded. */
	if (!trusted && !(in->caps & NETDEV_RX_CSUM_OK) && !(p->flags & PKT_RX_CSUM_OK) && cksum_ipv4_hdr(ih, hlen) != 0) {
		INET_DROP(st->drop_checksum, "ipv4 checksum");
		goto drop;
	}
	/* RFC 1122 3.3.4.2 and 3.3.6: a host accepts its own address and the limited broadcast. */
	if (ih->dst != in->addr && ih->dst != IPV4_BROADCAST) {
		INET_DROP(st->drop_not_ours, "ipv4 not-ours");
		goto drop;
	}
	if (!trusted && martian(in, ih->src))
		goto drop;
	/*
	 * RFC 1122 3.2.1.7: a host does not discard a datagram for a low TTL;
	 * TTL matters to routers only. Options (RFC 1122 3.2.1.8) are skipped.
	 */
	if (ih->off & htons(IPV4_MF | IPV4_OFFMASK)) {
		st->frag_rx++;
		p->flags = 0; /* a device vouches for whole datagrams only; reassembly checks the sum */
		ipv4_reass_input(in, p, trusted);
		return;
	}
	pkt_strip(p, hlen);
	ipv4_deliver(in, p, ih, trusted);
	return;
drop:
	pkt_free(in, p);
}

void ipv4_deliver(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih, bool trusted)
{
	switch (ih->proto) {
	case IPV4_PROTO_TCP:
		in->st.ipv4.rx_delivered++;
		tcp_input(in, p, ih, trusted);
		return;
	case IPV4_PROTO_UDP:
		in->st.ipv4.rx_delivered++;
		udp_input(in, p, ih, trusted);
		return;
	case IPV4_PROTO_ICMP:
		in->st.ipv4.rx_delivered++;
		icmp_input(in, p, ih);
		return;
	default:
		/* RFC 1122 3.2.2.1: a host SHOULD say protocol unreachable. */
		INET_DROP(in->st.ipv4.drop_protocol, "ipv4 protocol");
		icmp_error(in, ICMP_UNREACH, ICMP_UNREACH_PROTOCOL, ih, (uint32_t)(p->data + p->len - (const uint8_t *)ih));
		pkt_free(in, p);
		return;
	}
}
