/* ICMP error messages (RFC 792, RFC 1122 section 3.2.2), rate-limited by a token bucket (RFC 1812 4.3.2.8). */
#include <arpa/inet.h>
#include <string.h>

#include "../../runtime/clock.h"
#include "../inet_cksum.h"
#include "../inet_tx.h"
#include "../../net/prot/icmp.h"
#include "icmp.h"

/* ICMP_RATE_BURST at once, then one each ICMP_RATE_INTERVAL_NS. */
static bool rate_ok(struct icmp *ic)
{
	uint64_t now = clock_now();
	while (ic->tokens < ICMP_RATE_BURST && now >= ic->refill_at) {
		ic->tokens++;
		ic->refill_at += ICMP_RATE_INTERVAL_NS;
	}
	if (!ic->tokens)
		return false;
	if (ic->tokens == ICMP_RATE_BURST)
		ic->refill_at = now + ICMP_RATE_INTERVAL_NS;
	ic->tokens--;
	return true;
}

static bool not_one_host(uint32_t a)
{
	uint32_t h = ntohl(a);
	return h == 0 || h == 0xffffffffu || (h >> 28) >= 0xe;
}

void icmp_error(struct inet *in, uint8_t type, uint8_t code, const struct ipv4_hdr *ih, uint32_t avail)
{
	struct demi_netstats_icmp *st = &in->st.icmp;
	/*
	 * RFC 1122 3.2.2: never about an ICMP message (we cannot tell errors
	 * from queries cheaply, and send about none), a datagram to a broadcast
	 * or multicast address, a non-initial fragment, or a source that does
	 * not name a single host.
	 */
	if (ih->proto == IPV4_PROTO_ICMP || not_one_host(ih->dst) || not_one_host(ih->src) ||
	    (ntohs(ih->off) & IPV4_OFFMASK))
		return;
	if (!rate_ok(&in->icmp)) {
		st->ratelimited++;
		return;
	}
	uint32_t quote = avail;
	if (quote > ICMP_ERR_MAX_LEN - IPV4_HDR_LEN - ICMP_HDR_LEN)
		quote = ICMP_ERR_MAX_LEN - IPV4_HDR_LEN - ICMP_HDR_LEN;
	struct pkt p;
	if (inet_pkt_alloc(in, ICMP_HDR_LEN + quote, &p) < 0) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		return;
	}
	struct icmp_hdr *icmp = (struct icmp_hdr *)p.data;
	icmp->type = type;
	icmp->code = code;
	icmp->sum = 0;
	icmp->id = icmp->seq = 0; /* "unused" (RFC 792) */
	memcpy(p.data + ICMP_HDR_LEN, ih, quote);
	icmp->sum = cksum_finish(cksum_add(0, p.data, p.len));
	if (type == ICMP_UNREACH)
		st->tx_unreachable++;
	else if (type == ICMP_TIME_EXCEEDED)
		st->tx_time_exceeded++;
	st->tx_messages++;
	ipv4_output(in, &p, IPV4_PROTO_ICMP, ih->src);
}
