/*
 * Packet capture for user-space stacks, which tcpdump cannot see: a netdev
 * that wraps any other (catpowder's, catnip's, the test wire) and records
 * every frame received and transmitted through it in a pcap file.
 */
#ifndef DEMI_NET_PCAP_DEV_H
#define DEMI_NET_PCAP_DEV_H

#include "netdev.h"

/*
 * Opens `path` for writing (pcap, Ethernet, nanosecond timestamps) and
 * returns a netdev that forwards to `inner` and records what passes: frames
 * as they come out of inner's rx_burst, and the frames inner accepts in
 * tx_burst. MAC, MTU, caps and pool are inner's. The wrapper owns inner from
 * then on: its close closes inner and the file. On error inner is left open
 * and still the caller's. The file is flushed after every burst, so a
 * process that is killed leaves a readable capture. -ENOMEM, -EIO (file
 * cannot be opened: logged with the reason).
 */
int pcap_dev_open(struct netdev *inner, const char *path, struct netdev **out);

/* Frames written so far by a netdev from pcap_dev_open. */
uint64_t pcap_dev_frames(const struct netdev *d);

#endif
