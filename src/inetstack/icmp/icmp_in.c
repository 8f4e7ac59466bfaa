/* ICMP input (RFC 792, RFC 1122 section 3.2.2): echo requests are answered in place. */
#include <arpa/inet.h>
#include <string.h>

#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/icmp.h"
#include "icmp.h"

void icmp_init(struct inet *in)
{
	in->icmp.tokens = ICMP_RATE_BURST;
	in->icmp.refill_at = 0;
}

void icmp_input(struct inet *in, struct pkt *p, const struct ipv4_hdr *ih)
{
	struct demi_netstats_icmp *st = &in->st.icmp;
	st->rx_messages++;
	if (p->len < ICMP_HDR_LEN) {
		INET_DROP(st->drop_short, "icmp short");
		goto drop;
	}
	/* RFC 792: the checksum covers the whole message; offloads cover TCP and UDP only. */
	if (cksum_fold(cksum_add(0, p->data, p->len)) != 0xffff) {
		INET_DROP(st->drop_checksum, "icmp checksum");
		goto drop;
	}
	struct icmp_hdr *icmp = (struct icmp_hdr *)p->data;
	if (icmp->type != ICMP_ECHO) {
		st->rx_other++;
		goto drop;
	}
	st->rx_echo_requests++;
	/* RFC 1122 3.2.2.6: an echo request to a broadcast address MAY be discarded, and is. */
	if (ih->dst != in->addr) {
		INET_DROP(st->drop_broadcast, "icmp broadcast");
		goto drop;
	}
	/*
	 * RFC 792 "Echo or Echo Reply Message": the reply is the request with
	 * the type changed, addresses swapped; its data are returned unchanged.
	 * The checksum is updated for the one word that changed (RFC 1624).
	 */
	uint32_t dst = ih->src;
	uint16_t old, new_;
	memcpy(&old, icmp, 2);
	icmp->type = ICMP_ECHO_REPLY;
	memcpy(&new_, icmp, 2);
	icmp->sum = cksum_adjust(icmp->sum, old, new_);
	st->tx_echo_replies++;
	st->tx_messages++;
	ipv4_output(in, p, IPV4_PROTO_ICMP, dst); /* the new IPv4 header overwrites the request's */
	return;
drop:
	pkt_free(in, p);
}
