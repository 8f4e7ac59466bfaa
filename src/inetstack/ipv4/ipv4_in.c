/* IPv4 input (RFC 791 section 3.2, RFC 1122 section 3.2.1): validation, fragments to reassembly, demultiplexing. */
#include <arpa/inet.h>

#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/icmp.h"
#include "ipv4.h"

static inline bool bad_source(uint32_t src)
{
	uint32_t h = ntohl(src);
	/* RFC 1122 3.2.1.3: broadcast, class D/E and loopback sources are discarded when they come off the wire. */
	return h == 0xffffffffu || (h >> 28) >= 0xe || (h >> 24) == 127;
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
	if (!trusted && bad_source(ih->src)) {
		INET_DROP(st->drop_bad_src, "ipv4 bad-src");
		goto drop;
	}
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
