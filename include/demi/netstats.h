/*
 * Demi extension: counters of Demi's own network stack (the inetstack under
 * catpowder and catnip). Every counter counts since the stack started;
 * "drop_*" counters say why a frame, packet or datagram was discarded.
 */
#ifndef DEMI_NETSTATS_H
#define DEMI_NETSTATS_H

#include <stdint.h>

#include <demi/cc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct demi_netstats_eth {
	uint64_t rx_frames;      /* frames taken from the device */
	uint64_t tx_frames;      /* frames handed to the device */
	uint64_t drop_short;     /* shorter than an Ethernet header */
	uint64_t drop_not_ours;  /* destination neither our MAC nor broadcast */
	uint64_t drop_bad_src;   /* source MAC multicast or broadcast */
	uint64_t drop_type;      /* EtherType neither IPv4 nor ARP */
	uint64_t drop_tx_full;   /* transmit queue full */
	uint64_t tx_copies;      /* frames copied because the device refused them while the app held the buffer */
	/*
	 * The device's own edge, where it counts (catnip; 0 under other devices):
	 * frames handed to or taken from the driver as they lay in memory, and
	 * bytes it had to copy instead (a zero-copy device keeps these at 0).
	 */
	uint64_t dev_rx_zero_copy, dev_tx_zero_copy;
	uint64_t dev_rx_copied_bytes, dev_tx_copied_bytes;
};

struct demi_netstats_arp {
	uint64_t rx_requests, rx_replies;
	uint64_t tx_requests, tx_replies;
	uint64_t drop_malformed;   /* wrong hardware/protocol type or lengths, bad opcode, short */
	uint64_t drop_unsolicited; /* a reply for an address we never asked about */
	uint64_t drop_conflict;    /* someone else claims our address */
	uint64_t resolved;         /* requests answered */
	uint64_t timeouts;         /* resolutions given up after arp_request_retries */
	uint64_t queued;           /* packets parked waiting for a resolution */
	uint64_t flushed;          /* parked packets sent once resolved */
	uint64_t drop_queue_full;  /* packets not parked: queue bound reached */
	uint64_t drop_queue_timeout; /* parked packets dropped because the resolution failed */
	uint64_t drop_cache_full;  /* no entry could be had for a new address */
};

struct demi_netstats_ipv4 {
	uint64_t rx_packets;      /* packets given to IPv4 */
	uint64_t rx_delivered;    /* whole datagrams handed to ICMP, UDP or TCP */
	uint64_t tx_packets;      /* packets (fragments included) sent */
	uint64_t drop_short;      /* shorter than a header */
	uint64_t drop_version;    /* version not 4 */
	uint64_t drop_hdr_len;    /* IHL below 5 or beyond the packet */
	uint64_t drop_total_len;  /* total length below IHL or beyond the frame */
	uint64_t drop_checksum;
	uint64_t drop_not_ours;   /* destination not our address or broadcast */
	uint64_t drop_bad_src;    /* source broadcast, multicast or loopback */
	uint64_t drop_protocol;   /* neither ICMP, UDP nor TCP (answered: protocol unreachable) */
	uint64_t drop_no_buffer;  /* no buffer for a copy or fragment */
	uint64_t frag_rx;         /* fragments received */
	uint64_t reass_ok;        /* datagrams reassembled */
	uint64_t reass_timeout;   /* reassemblies abandoned after the timeout */
	uint64_t reass_overlap;   /* dropped: a fragment partly overlapped received data */
	uint64_t reass_dup;       /* fragments wholly duplicated (ignored) */
	uint64_t reass_bad;       /* dropped: inconsistent ends, too long, misaligned */
	uint64_t reass_evicted;   /* reassemblies dropped to make room for a new one */
	uint64_t frag_tx_datagrams; /* datagrams fragmented on send */
	uint64_t frag_tx;         /* fragments created */
	uint64_t loopback;        /* packets to our own address, looped back */
};

struct demi_netstats_icmp {
	uint64_t rx_messages;
	uint64_t tx_messages;
	uint64_t rx_echo_requests;
	uint64_t tx_echo_replies;
	uint64_t tx_unreachable;      /* port and protocol unreachable */
	uint64_t tx_time_exceeded;    /* reassembly timeouts */
	uint64_t ratelimited;         /* errors not sent: rate limit */
	uint64_t drop_short;
	uint64_t drop_checksum;
	uint64_t drop_broadcast;      /* echo requests to broadcast (RFC 1122 3.2.2.6) */
	uint64_t rx_other;            /* types we do not act on */
};

struct demi_netstats_udp {
	uint64_t rx_datagrams;   /* datagrams queued to a socket */
	uint64_t tx_datagrams;
	uint64_t drop_short;
	uint64_t drop_length;    /* length field below 8 or beyond the packet */
	uint64_t drop_checksum;
	uint64_t drop_no_port;   /* nobody bound to the port */
	uint64_t drop_not_peer;  /* a connected socket's datagram from another peer */
	uint64_t drop_rcvbuf;    /* the socket's receive queue was full */
	uint64_t tx_in_place;    /* pushed payloads sent with headers prepended in place */
	uint64_t tx_copies;      /* pushed payloads copied (see doc/inetstack.md, the copy rule) */
};

struct demi_netstats_tcp {
	uint64_t rx_segments;       /* segments accepted by the checks below */
	uint64_t tx_segments;
	uint64_t rx_bytes;          /* in-order payload bytes delivered to receive queues */
	uint64_t tx_bytes;          /* payload bytes sent, retransmissions included */
	uint64_t retransmits;       /* segments sent again (timeout, fast retransmit, SACK recovery) */
	uint64_t fast_recoveries;   /* entries into fast recovery */
	uint64_t rto_timeouts;      /* retransmission timer expiries */
	uint64_t active_opens;      /* connections established by connect */
	uint64_t passive_opens;     /* connections established from a listener */
	uint64_t conn_failed;       /* connections ended by a reset, timeout or refusal */
	uint64_t rst_rx;
	uint64_t rst_tx;
	uint64_t challenge_acks;    /* RFC 5961 */
	uint64_t drop_short;
	uint64_t drop_checksum;
	uint64_t drop_bad_offset;   /* data offset below 5 or past the segment */
	uint64_t drop_bad_options;  /* malformed option list */
	uint64_t drop_paws;         /* RFC 7323 section 5: old timestamps */
	uint64_t drop_out_of_window;/* unacceptable segments (answered by an ACK) */
	uint64_t drop_no_room;      /* in-window data refused: receive or out-of-order queue full */
	uint64_t drop_listen_overflow; /* SYNs or final ACKs dropped: accept queue full */
	uint64_t ooo_segments;      /* segments held out of order */
	uint64_t syncookies_sent;
	uint64_t syncookies_ok;
	uint64_t syncookies_bad;
	uint64_t keepalive_probes;
	uint64_t window_probes;
	uint64_t delayed_acks;      /* ACKs sent by the delayed-ACK timer */
	uint64_t tx_in_place;       /* data segments sent with headers prepended in the pushed buffer */
	uint64_t tx_copies;         /* data segments whose payload was copied into a frame */
	uint64_t rx_coalesced;      /* small in-order segments copied onto the previous one */
};

/*
 * Neighbours, martians and routes (appended: the structs above keep their
 * layout). ARP's limits (doc/inetstack.md, "Neighbour limits"), the
 * martian sources IPv4 input drops, and the routing decision.
 */
struct demi_netstats_neigh {
	uint64_t drop_martian_own;      /* source is our own address (a LAND packet, or a spoof) */
	uint64_t drop_martian_zero;     /* source 0.0.0.0 */
	uint64_t drop_martian_loopback; /* source in 127.0.0.0/8 */
	uint64_t drop_martian_mcast;    /* source multicast or reserved (224.0.0.0/3) */
	uint64_t drop_martian_bcast;    /* source the limited or the subnet's broadcast */
	uint64_t drop_land;             /* TCP segments whose source and destination endpoints are equal */
	uint64_t tx_via_gateway;        /* packets sent to the gateway's MAC (off-subnet destinations) */
	uint64_t drop_no_route;         /* packets for an off-subnet address with no gateway configured */
	uint64_t arp_unres_evicted;     /* unresolved entries evicted for a newer one (cap ARP_UNRES_MAX) */
	uint64_t arp_evicted;           /* resolved entries evicted, least recently used first */
	uint64_t arp_ratelimited;       /* requests not sent: the total request rate limit */
	uint64_t arp_drop_failed;       /* packets dropped: their address failed to resolve in the last second */
	uint64_t arp_drop_reply_unresolved; /* SYN-ACKs, cookies and RSTs to an address that did not answer ARP */
	uint64_t arp_probes;            /* unicast requests that refresh a stale entry in use */
};

/*
 * The device's own counters (catpowder's packet socket; 0 under devices
 * that do not count them): frames dropped before the stack saw them, each
 * for a reason a user can fix (doc/catpowder.md says how; the first of each
 * is logged once at warn level with the fix), and the offloads used.
 */
struct demi_netstats_dev {
	uint64_t drop_rx_too_large; /* larger than a receive ring slot (a GRO/GSO super-frame past its size) */
	uint64_t drop_rx_vlan;      /* VLAN-tagged: the stack has no VLANs */
	uint64_t drop_rx_no_buffer; /* no buffer to copy into: the pool is exhausted */
	uint64_t drop_rx_ring_full; /* dropped by the kernel: the receive ring was full (the stack polled too seldom) */
	uint64_t drop_tx_too_large; /* longer than the MTU allows (nor a TSO super-segment) */
	uint64_t tx_ring_full;      /* bursts cut short: no free transmit slot (the frames wait, not dropped) */
	uint64_t rx_gso_frames;     /* GRO/GSO super-frames received whole (PACKET_VNET_HDR) */
	uint64_t rx_csum_trusted;   /* frames whose checksums the kernel vouched for or left to us and we completed */
	uint64_t tx_tso_frames;     /* TCP super-segments handed to the kernel to cut (TSO/GSO) */
};
struct demi_netstats {
	struct demi_netstats_eth eth;
	struct demi_netstats_arp arp;
	struct demi_netstats_ipv4 ipv4;
	struct demi_netstats_icmp icmp;
	struct demi_netstats_udp udp;
	struct demi_netstats_tcp tcp;
	struct demi_netstats_neigh neigh; /* appended */
	struct demi_netstats_dev dev; /* appended: the structs above keep their offsets */
};

/*
 * Copies the counters of this thread's network stack into *out. Returns 0.
 * Errors: EINVAL (NULL out), ENOTSUP (the libOS has no stack of Demi's own:
 * catnap, catmem), ENOSYS (no demi_init in this thread).
 */
ATTR_NONNULL(1)
int demi_netstats(_Out_ struct demi_netstats *out);

#ifdef __cplusplus
}
#endif

#endif
