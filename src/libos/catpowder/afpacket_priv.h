/* catpowder device internals shared by its set-up (afpacket.c) and its burst paths (afpacket_rxtx.c). */
#ifndef DEMI_LIBOS_CATPOWDER_AFPACKET_PRIV_H
#define DEMI_LIBOS_CATPOWDER_AFPACKET_PRIV_H

#include <linux/if_packet.h>
#include <stddef.h>

#include "../../net/prot/ethernet.h"
#include "afpacket.h"

/* One mmap'd TPACKET_V2 ring: nframes slots of frame_size bytes, each starting with a struct tpacket2_hdr. */
struct afp_ring {
	uint8_t *base;
	uint32_t frame_size;
	uint32_t nframes;
	uint32_t head; /* next slot we look at: the kernel fills (rx) or drains (tx) the ring in this order */
};

struct afp {
	struct netdev nd; /* first: the stack's struct netdev * is a struct afp * */
	int fd;
	int ifindex;
	char ifname[32];
	uint8_t *map; /* both rings, rx then tx, in one mapping */
	size_t map_len;
	struct afp_ring rx, tx;
	uint32_t tx_max; /* longest frame we transmit: MTU + Ethernet header */
	struct afp_stats st;
};

static inline struct tpacket2_hdr *afp_slot(const struct afp_ring *r, uint32_t i)
{
	return (struct tpacket2_hdr *)(r->base + (size_t)i * r->frame_size);
}

/* On transmit the frame starts right after the aligned header (no PACKET_TX_HAS_OFF). */
#define AFP_TX_DATA_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))

int afp_rx_burst(struct netdev *d, struct pkt *pkts, int n);
int afp_tx_burst(struct netdev *d, struct pkt *pkts, int n);

#endif
