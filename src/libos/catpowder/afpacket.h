/*
 * catpowder's device: an AF_PACKET socket on one Linux interface, with
 * memory-mapped TPACKET_V2 rings for receive and transmit, so that receiving
 * costs no system call per frame and transmitting one send() per burst.
 * With PACKET_VNET_HDR (Linux 5.x and later) each frame carries a virtio-net
 * header: received GRO/GSO super-frames of up to 64 KiB arrive whole with
 * their checksum state, and TCP super-segments leave whole for the kernel to
 * cut (TSO/GSO); the slots are then 64 KiB each (doc/catpowder.md, ring sizing).
 */
#ifndef DEMI_LIBOS_CATPOWDER_AFPACKET_H
#define DEMI_LIBOS_CATPOWDER_AFPACKET_H

#include <stdint.h>

#include "../../net/netdev.h"

struct demi_config;

#define AFP_RX_FRAMES 1024 /* receive ring slots: frames the kernel can hold while we are busy */
#define AFP_TX_FRAMES 512  /* transmit ring slots: frames handed to the kernel but not yet sent */
/* With PACKET_VNET_HDR: slots of 64 KiB, in blocks of AFP_BIG_BLOCK (15 slots each). */
#define AFP_BIG_BLOCK (1u << 20)
#define AFP_RX_BIG_BLOCKS 32 /* 480 receive slots, 32 MiB */
#define AFP_TX_BIG_BLOCKS 8  /* 120 transmit slots, 8 MiB */
#define AFP_GSO_MAX 65535u   /* the longest IPv4 super-frame taken or sent whole */

/* What the device did, for logs and tests. */
struct afp_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_nobuf;       /* dropped: no runtime buffer to copy into */
	uint64_t rx_truncated;   /* dropped: larger than a ring slot (a GSO/GRO super-frame past its size) */
	uint64_t rx_vlan;        /* dropped: VLAN-tagged (the kernel strips the tag; the stack has no VLANs) */
	uint64_t rx_csum_fixed;  /* UDP/TCP checksums completed in software (the sender left them to offload) */
	uint64_t rx_csum_valid;  /* frames whose checksums the kernel had verified (taken as they are) */
	uint64_t rx_gso;         /* GRO/GSO super-frames received whole */
	uint64_t rx_ring_drops;  /* dropped by the kernel: the receive ring was full (PACKET_STATISTICS) */
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_ring_full;   /* bursts cut short: no free transmit slot */
	uint64_t tx_oversize;    /* dropped: longer than MTU + Ethernet header */
	uint64_t tx_errors;      /* send() kicks that failed */
	uint64_t tx_tso;         /* TCP super-segments handed to the kernel to cut */
};

/*
 * Opens the device on interface `ifname` of this network namespace. The MAC
 * comes from cfg->local_link_addr when set (the interface then goes
 * promiscuous so frames to that MAC reach us), else from the interface; the
 * MTU is the interface's, lowered to cfg->mtu when that is smaller. Received
 * frames are copied into buffers of `pool`. Logs one line naming the cause on
 * failure. Errors: -EPERM (needs CAP_NET_RAW), -ENODEV (no such interface),
 * -ENETDOWN (interface down), -EINVAL (not Ethernet), -ENOMEM, other -errno
 * from socket setup.
 */
int afp_open(const char *ifname, const struct demi_config *cfg, struct buf_pool *pool, struct netdev **out);

/* The counters of an afp device (refreshes rx_ring_drops from the kernel). */
const struct afp_stats *afp_stats(struct netdev *d);

/*
 * Completes the UDP or TCP checksum of an IPv4 frame whose sender left it to
 * offload (the field holds only the pseudo-header sum). Returns 1 when it
 * wrote a checksum, 0 when the frame is not one it can complete. In csum_fixup.c.
 */
int afp_csum_fixup(uint8_t *frame, uint32_t len);

#endif
