/* Ethernet II output: prepends the header in the headroom, pads short frames, queues for the device. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../inet_tx.h"
#include "../../net/prot/ethernet.h"
#include "eth.h"

int eth_output(struct inet *in, struct pkt *p, const uint8_t *dst, uint16_t type)
{
	if (!pkt_prepend(p, ETH_HDR_LEN)) {
		INET_DROP(in->st.eth.drop_tx_full, "eth tx-full");
		pkt_free(in, p);
		return -ENOBUFS;
	}
	struct eth_hdr *eh = (struct eth_hdr *)p->data;
	memcpy(eh->dst, dst, ETH_ADDR_LEN);
	memcpy(eh->src, in->mac, ETH_ADDR_LEN);
	eh->type = htons(type);
	if (p->len < ETH_MIN_FRAME && !p->buf->app_refs) {
		/*
		 * RFC 894: pad to the minimum, in the buffer's tailroom. Not in a
		 * buffer the application holds (its bytes past the segment are its
		 * own): the device pads those, as NICs do.
		 */
		const uint8_t *end = buf_data(p->buf) + p->buf->cap;
		if (p->data + ETH_MIN_FRAME <= end) {
			memset(p->data + p->len, 0, ETH_MIN_FRAME - p->len);
			p->len = ETH_MIN_FRAME;
		}
	}
	return inet_tx_enqueue(in, p);
}
