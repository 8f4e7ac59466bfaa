/* IPv4 fragmentation on send (RFC 791 section 3.2, "An Example Fragmentation Procedure"). */
#include <errno.h>
#include <string.h>

#include "../inet_tx.h"
#include "ipv4.h"

int ipv4_fragment(struct inet *in, struct pkt *p, uint8_t proto, uint32_t dst)
{
	struct demi_netstats_ipv4 *st = &in->st.ipv4;
	if (p->len + IPV4_HDR_LEN > IPV4_MAX_LEN) {
		pkt_free(in, p);
		return -EMSGSIZE;
	}
	/* Every fragment but the last carries a multiple of 8 bytes: the offset counts 8-byte blocks. */
	uint32_t per = ((in->mtu - IPV4_HDR_LEN) / 8) * 8;
	uint16_t id = in->ip_id++;
	int err = 0;
	st->frag_tx_datagrams++;
	/*
	 * Each fragment is copied into a buffer of its own: its header goes in
	 * front of its data, where the previous fragment's data lies in p.
	 */
	for (uint32_t off = 0, n; off < p->len; off += n) {
		n = p->len - off < per ? p->len - off : per;
		struct pkt f;
		if (inet_pkt_alloc(in, IPV4_HDR_LEN + n, &f) < 0) {
			INET_DROP(st->drop_no_buffer, "ipv4 no-buffer");
			err = -ENOMEM;
			break;
		}
		memcpy(f.data + IPV4_HDR_LEN, p->data + off, n);
		uint16_t flags = off + n < p->len ? IPV4_MF : 0;
		ipv4_fill_hdr(in, (struct ipv4_hdr *)f.data, proto, dst, (uint16_t)(IPV4_HDR_LEN + n), id,
			      (uint16_t)(flags | (off >> 3)));
		st->frag_tx++;
		st->tx_packets++;
		int e = ipv4_route(in, &f, dst);
		if (e && !err)
			err = e;
	}
	pkt_free(in, p);
	return err;
}
