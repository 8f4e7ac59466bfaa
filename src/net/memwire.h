/*
 * The in-memory test wire: a struct netdev whose ports (one per stack, all
 * in one process and thread) are joined by a virtual switch that can drop,
 * duplicate, reorder, delay and corrupt frames, from a seeded generator so
 * that a run is reproducible, and under clock_now() (the virtual clock in
 * tests). Frames are copied on the way, as a real link would. A port may
 * have several receive queues (one netdev each, sharing the port's MAC), with
 * a steering function choosing the queue of each frame, as a NIC's RSS does:
 * several stacks then share one interface and one address.
 */
#ifndef DEMI_NET_MEMWIRE_H
#define DEMI_NET_MEMWIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "netdev.h"

#define MEMWIRE_PORTS 8
#define MEMWIRE_QLEN 8192 /* frames in flight per queue; more are dropped (overflow) */
#define MEMWIRE_QUEUE_ALL (-1) /* a steering answer: a copy of the frame to every queue of the port */

struct memwire;

/* Impairments: probabilities in parts per million, per frame and receiving queue. */
struct memwire_opts {
	uint64_t seed;
	uint32_t loss_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;
	uint32_t corrupt_ppm;  /* one random bit flipped */
	uint64_t delay_ns;     /* one-way delay */
	uint64_t jitter_ns;    /* plus a uniform [0, jitter) */
	uint64_t reorder_ns;   /* extra delay of a reordered frame; 0: 1 ms */
	/*
	 * A TSO super-segment arrives whole, as one large TCP segment with its
	 * checksum completed (as veth hands a GSO frame to its peer, and GRO
	 * merges), instead of cut into segments.
	 */
	bool tso_whole;
};

struct memwire_stats {
	uint64_t sent;       /* frames given to the wire */
	uint64_t delivered;  /* frames taken by a receiving port */
	uint64_t lost, duplicated, reordered, corrupted;
	uint64_t filtered;   /* dropped by the filter */
	uint64_t overflow;   /* dropped: receiving queue full, or no buffer */
	uint64_t oversize;   /* dropped: longer than the MTU plus the Ethernet header */
	uint64_t tso_cut;    /* TCP super-segments (PKT_TX_TSO) cut into segments by a NETDEV_TX_TSO port */
};

/* Return true to drop this frame from port `from` to port `to` (tests aiming at one frame). */
typedef bool (*memwire_filter_fn)(void *arg, int from, int to, const uint8_t *frame, uint32_t len);

/*
 * Steering: which of a port's nqueues queues receives this frame (it starts
 * at the Ethernet header), in [0, nqueues), or MEMWIRE_QUEUE_ALL.
 */
typedef int (*memwire_steer_fn)(void *arg, const uint8_t *frame, uint32_t len, uint16_t nqueues);

/* A wire whose frames are buffers from pool. NULL: -ENOMEM. */
struct memwire *memwire_create(struct buf_pool *pool, const struct memwire_opts *o);
/* Frees the wire, its ports and every frame in flight. */
void memwire_destroy(struct memwire *w);
void memwire_set_opts(struct memwire *w, const struct memwire_opts *o);
void memwire_set_filter(struct memwire *w, memwire_filter_fn fn, void *arg);

/*
 * Adds a port with a MAC, an IP MTU and offload caps (NETDEV_TX_TSO: it
 * takes TCP super-segments of up to 65,535 bytes and cuts them as a NIC
 * would, checksums included), and one queue (queue 0
 * of 1); the netdev belongs to the wire. NULL when MEMWIRE_PORTS are taken.
 */
struct netdev *memwire_attach(struct memwire *w, const uint8_t *mac, uint32_t mtu, uint32_t caps);
/*
 * The same with nqueues receive queues (netdev queue_id 0 .. nqueues - 1,
 * each with its own netdev; this returns queue 0, memwire_queue the others).
 * Each frame to the port goes to the queue steer(arg, ...) picks; steer NULL:
 * memwire_steer_flow. A queue transmits as the port. NULL when MEMWIRE_PORTS
 * are taken, nqueues is 0, or no memory.
 */
struct netdev *memwire_attach_mq(struct memwire *w, const uint8_t *mac, uint32_t mtu, uint32_t caps,
				 uint16_t nqueues, memwire_steer_fn steer, void *arg);
/* Queue q of the port that dev (any of its queues) belongs to; NULL when q >= its nqueues. */
struct netdev *memwire_queue(struct netdev *dev, uint16_t q);
/* The port's index on its wire (the filter's from and to), the same for each of its queues. */
int memwire_port_index(const struct netdev *port);

/*
 * The default steering, a hash of the flow as RSS does: an IPv4 TCP or UDP
 * datagram (not a fragment) goes to memwire_flow_queue of its addresses and
 * ports; other IPv4 packets to queue 0; anything else (ARP) to every queue,
 * so that each stack on the port keeps its own ARP cache.
 */
int memwire_steer_flow(void *arg, const uint8_t *frame, uint32_t len, uint16_t nqueues);
/*
 * The queue memwire_steer_flow picks for a datagram arriving for laddr:lport
 * from raddr:rport (all in network order): what a stack on one queue asks
 * when it picks an ephemeral port (inet_set_ports).
 */
uint16_t memwire_flow_queue(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport, uint16_t nqueues);

/* Queues raw bytes to arrive at this queue now, as if sent by a peer (hostile-input tests). 0 or -ENOMEM. */
int memwire_inject(struct netdev *port, const void *frame, uint32_t len);

/* Frames in flight on every queue. */
uint32_t memwire_in_flight(const struct memwire *w);
/* The earliest time a frame in flight arrives, or UINT64_MAX. */
uint64_t memwire_next_arrival(const struct memwire *w);
/* The same, leaving out frames for the queue skip (one only a test reads). */
uint64_t memwire_next_arrival_except(const struct memwire *w, const struct netdev *skip);
const struct memwire_stats *memwire_stats(const struct memwire *w);

#endif
