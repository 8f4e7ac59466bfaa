/* catpowder device internals shared by its set-up (afpacket.c) and its burst paths (afpacket_rxtx.c). */
#ifndef DEMI_LIBOS_CATPOWDER_AFPACKET_PRIV_H
#define DEMI_LIBOS_CATPOWDER_AFPACKET_PRIV_H

#include <linux/if_packet.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../net/prot/ethernet.h"
#include "afpacket.h"

/*
 * One mmap'd TPACKET_V2 ring: nframes slots of frame_size bytes, each
 * starting with a struct tpacket2_hdr, per_block of them at the start of
 * each block of block_size bytes (a slot never spans two blocks, and 64 KiB
 * slots leave a tail unused in each block).
 */
struct afp_ring {
	uint8_t *base;
	uint32_t frame_size;
	uint32_t block_size;
	uint32_t per_block;
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
	bool vnet;       /* PACKET_VNET_HDR: a struct virtio_net_hdr before every frame, both ways */
	uint64_t warned; /* the drops said once at warn level (bit per AFP_WARN_*) */
	struct afp_stats st;
};

static inline struct tpacket2_hdr *afp_slot(const struct afp_ring *r, uint32_t i)
{
	return (struct tpacket2_hdr *)(r->base + (size_t)(i / r->per_block) * r->block_size +
				       (size_t)(i % r->per_block) * r->frame_size);
}

/* On transmit the frame starts right after the aligned header (no PACKET_TX_HAS_OFF). */
#define AFP_TX_DATA_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))

enum { AFP_WARN_TRUNC, AFP_WARN_VLAN, AFP_WARN_NOBUF, AFP_WARN_RING };

/* Reads the kernel's drop counter (it resets on every read) into st.rx_ring_drops. */
void afp_read_kernel_drops(struct afp *a);

int afp_rx_burst(struct netdev *d, struct pkt *pkts, int n);
int afp_tx_burst(struct netdev *d, struct pkt *pkts, int n);

#endif
