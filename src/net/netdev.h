/*
 * The device interface: what a device libOS (catpowder on AF_PACKET/AF_XDP,
 * catnip on DPDK, the in-memory test wire) provides to the inetstack. Frames
 * travel as struct pkt over the runtime's reference-counted buffers, with
 * headroom so that each layer prepends its header in place and strips it on
 * receive, so a popped payload can be pushed straight back.
 */
#ifndef DEMI_NET_NETDEV_H
#define DEMI_NET_NETDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/buf.h"

struct demi_netstats_eth;
struct demi_netstats_dev;

/* Per-frame offload marks (struct pkt's flags): what a device says of a received frame, what the stack asks of a sent one. */
enum pkt_flags {
	/* Received: the device (or the kernel behind it) vouches for the IPv4, TCP and UDP checksums. */
	PKT_RX_CSUM_OK = 1u << 0,
	/*
	 * To send: a TCP super-segment of more than one MSS (only to a device
	 * with NETDEV_TX_TSO): the device cuts it into segments of gso_size
	 * payload bytes, each with its own IPv4 and TCP checksums; the TCP
	 * checksum field holds the pseudo-header sum (with the whole length).
	 */
	PKT_TX_TSO = 1u << 1,
};

/*
 * A frame or payload: a window [data, data + len) into a buffer the holder
 * has a reference on. flags and gso_size (enum pkt_flags) fill what was
 * padding; whoever builds a pkt sets them (0 when nothing applies).
 */
struct pkt {
	struct buf *buf;
	uint8_t *data;
	uint32_t len;
	uint16_t flags;    /* enum pkt_flags */
	uint16_t gso_size; /* PKT_TX_TSO: payload bytes per segment (the MSS) */
};

/* Makes room for a header of n bytes in front of the data; false if the headroom is exhausted. */
static inline bool pkt_prepend(struct pkt *p, uint32_t n)
{
	if ((uint32_t)(p->data - p->buf->base) < n)
		return false;
	p->data -= n;
	p->len += n;
	return true;
}

/* Drops n bytes of header from the front; false if the packet is shorter. */
static inline bool pkt_strip(struct pkt *p, uint32_t n)
{
	if (p->len < n)
		return false;
	p->data += n;
	p->len -= n;
	return true;
}

/* Offloads a device may offer (transmit: it fills the checksum; receive: it verified it). */
enum netdev_caps {
	NETDEV_TX_IPV4_CSUM = 1u << 0,
	NETDEV_TX_UDP_CSUM = 1u << 1,
	NETDEV_TX_TCP_CSUM = 1u << 2,
	NETDEV_RX_CSUM_OK = 1u << 3,
	/*
	 * TCP segmentation offload: the device takes TCP super-segments
	 * (PKT_TX_TSO) of up to struct netdev's tso_max bytes of IPv4 packet
	 * and cuts them itself (the kernel's GSO behind a packet socket, a NIC's
	 * TSO), checksums included.
	 */
	NETDEV_TX_TSO = 1u << 4,
};

struct netdev;

struct netdev_ops {
	/*
	 * Receives up to n frames into pkts (each starting at its Ethernet
	 * header); each buffer reference passes to the caller. Returns the count
	 * (0 when nothing is waiting) or -errno. Never blocks.
	 */
	int (*rx_burst)(struct netdev *d, struct pkt *pkts, int n);
	/*
	 * Transmits frames; takes the caller's reference on each accepted one
	 * (the device drops it once the frame has left). Returns how many it
	 * accepted, from the first, or -errno; the caller keeps the rest.
	 */
	int (*tx_burst)(struct netdev *d, struct pkt *pkts, int n);
	/* A file descriptor that becomes readable when frames arrive (adaptive polling), or -1. Optional. */
	int (*wait_fd)(struct netdev *d);
	/* Releases the device. */
	void (*close)(struct netdev *d);
	/* Fills the eth->dev_* counters (demi_netstats, the log at exit). Optional. */
	void (*stats)(struct netdev *d, struct demi_netstats_eth *eth);
	/* Fills the device's drop and offload counters (demi_netstats' dev block). Optional. */
	void (*dev_stats)(struct netdev *d, struct demi_netstats_dev *dev);
};

struct netdev {
	const struct netdev_ops *ops;
	uint8_t mac[6];
	uint32_t mtu;  /* IP MTU: the largest IPv4 packet, headers included */
	uint32_t caps; /* enum netdev_caps */
	uint32_t tso_max; /* NETDEV_TX_TSO: the longest IPv4 super-segment it takes (headers included) */
	struct buf_pool *pool; /* where received frames' buffers come from */
	/*
	 * The receive/transmit queue pair this netdev drives (an RSS queue, a
	 * fanout member) out of the nqueues that share the interface, its MAC
	 * and its address: the device steers each received flow to one queue,
	 * so that several stacks (one per thread) can share one interface, each
	 * picking ephemeral ports whose flows come back to it (inet_set_ports).
	 * 0 of 1: the whole interface.
	 */
	uint16_t queue_id;
	uint16_t nqueues;
};

#endif
