/* UDP output (RFC 768): the header and its checksum over the pseudo-header, then IPv4. */
#include <arpa/inet.h>
#include <errno.h>

#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/udp.h"
#include "udp.h"

int udp_output(struct inet *in, struct pkt *p, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	if (!pkt_prepend(p, UDP_HDR_LEN)) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		pkt_free(in, p);
		return -ENOBUFS;
	}
	struct udp_hdr *uh = (struct udp_hdr *)p->data;
	uint16_t len = (uint16_t)p->len;
	uh->sport = sport;
	uh->dport = dport;
	uh->len = htons(len);
	uh->sum = 0;
	uint64_t pseudo = cksum_pseudo(in->addr, daddr, IPV4_PROTO_UDP, len);
	if ((in->caps & NETDEV_TX_UDP_CSUM) && (uint32_t)len + IPV4_HDR_LEN <= in->mtu && daddr != in->addr) {
		/* Offloaded: the field carries the pseudo-header sum, as DPDK and Linux's CHECKSUM_PARTIAL expect. */
		uh->sum = cksum_fold(pseudo);
	} else {
		uint16_t sum = cksum_finish(cksum_add(pseudo, uh, len));
		/* RFC 768: a computed zero is sent as all ones (zero means "no checksum"). */
		uh->sum = sum ? sum : 0xffff;
	}
	in->st.udp.tx_datagrams++;
	return ipv4_output(in, p, IPV4_PROTO_UDP, daddr);
}
