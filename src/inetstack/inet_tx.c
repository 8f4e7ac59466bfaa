/* The stack's bottom tier: packet ownership and the transmit and loopback queues (inet_tx.h). */
#include "inet_tx.h"

#include <errno.h>
#include <string.h>

int inet_tx_enqueue(struct inet *in, struct pkt *p)
{
	if (in->tx_tail - in->tx_head == INET_TXQ) {
		inet_tx_flush(in);
		if (in->tx_tail - in->tx_head == INET_TXQ) {
			INET_DROP(in->st.eth.drop_tx_full, "eth tx-full");
			pkt_free(in, p);
			return -ENOBUFS;
		}
	}
	in->txq[in->tx_tail++ & (INET_TXQ - 1)] = *p;
	return 0;
}

void inet_tx_flush(struct inet *in)
{
	while (in->tx_head != in->tx_tail) {
		uint32_t at = in->tx_head & (INET_TXQ - 1);
		uint32_t n = in->tx_tail - in->tx_head;
		if (n > INET_TXQ - at)
			n = INET_TXQ - at; /* up to the end of the ring */
		int sent = in->dev->ops->tx_burst(in->dev, &in->txq[at], (int)n);
		if (sent <= 0)
			break;
		in->tx_head += (uint32_t)sent;
		in->st.eth.tx_frames += (uint64_t)sent;
		if ((uint32_t)sent < n)
			break;
	}
	/*
	 * Frames the device refused stay queued past their push's completion:
	 * the application may reuse its buffer from then on, so they move to
	 * copies of their own.
	 */
	for (uint32_t i = in->tx_head; i != in->tx_tail; i++) {
		struct pkt *p = &in->txq[i & (INET_TXQ - 1)];
		if (p->buf->app_refs && inet_pkt_own(in, p) == 0)
			in->st.eth.tx_copies++;
	}
}

int inet_loop_enqueue(struct inet *in, struct pkt *p)
{
	if (in->loop_tail - in->loop_head == INET_LOOPQ || inet_pkt_own(in, p) < 0) {
		INET_DROP(in->st.ipv4.drop_no_buffer, "ipv4 no-buffer");
		pkt_free(in, p);
		return -ENOBUFS;
	}
	in->loopq[in->loop_tail++ & (INET_LOOPQ - 1)] = *p;
	in->st.ipv4.loopback++;
	return 0;
}

void inet_tx_drop_all(struct inet *in)
{
	while (in->tx_head != in->tx_tail)
		pkt_free(in, &in->txq[in->tx_head++ & (INET_TXQ - 1)]);
	while (in->loop_head != in->loop_tail)
		pkt_free(in, &in->loopq[in->loop_head++ & (INET_LOOPQ - 1)]);
}

int inet_pkt_alloc(struct inet *in, uint32_t len, struct pkt *out)
{
	struct buf *b = buf_alloc(in->pool, len ? len : 1);
	if (!b)
		return -ENOMEM;
	*out = (struct pkt){ .buf = b, .data = buf_data(b), .len = len };
	return 0;
}

int inet_pkt_own(struct inet *in, struct pkt *p)
{
	if (!p->buf->app_refs && !p->buf->owner)
		return 0;
	/* Same offset from buf_data as before, so the headroom left in front is the same. */
	uint32_t front = (uint32_t)(p->data - p->buf->base);
	uint32_t room = front > BUF_HEADROOM ? front - BUF_HEADROOM : 0;
	struct pkt c;
	if (inet_pkt_alloc(in, room + p->len, &c) < 0)
		return -ENOMEM;
	c.data += room;
	c.len = p->len;
	memcpy(c.data, p->data, p->len);
	c.flags = p->flags; /* a super-segment stays one (PKT_TX_TSO) */
	c.gso_size = p->gso_size;
	pkt_free(in, p);
	*p = c;
	return 0;
}
