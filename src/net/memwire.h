/*
 * The in-memory test wire: a struct netdev whose ports (one per stack, all
 * in one process and thread) are joined by a virtual switch that can drop,
 * duplicate, reorder, delay and corrupt frames, from a seeded generator so
 * that a run is reproducible, and under clock_now() (the virtual clock in
 * tests). Frames are copied on the way, as a real link would.
 */
#ifndef DEMI_NET_MEMWIRE_H
#define DEMI_NET_MEMWIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "netdev.h"

#define MEMWIRE_PORTS 8
#define MEMWIRE_QLEN 8192 /* frames in flight per port; more are dropped (overflow) */

struct memwire;

/* Impairments: probabilities in parts per million, per frame and receiving port. */
struct memwire_opts {
	uint64_t seed;
	uint32_t loss_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;
	uint32_t corrupt_ppm;  /* one random bit flipped */
	uint64_t delay_ns;     /* one-way delay */
	uint64_t jitter_ns;    /* plus a uniform [0, jitter) */
	uint64_t reorder_ns;   /* extra delay of a reordered frame; 0: 1 ms */
};

struct memwire_stats {
	uint64_t sent;       /* frames given to the wire */
	uint64_t delivered;  /* frames taken by a receiving port */
	uint64_t lost, duplicated, reordered, corrupted;
	uint64_t filtered;   /* dropped by the filter */
	uint64_t overflow;   /* dropped: receiving queue full, or no buffer */
	uint64_t oversize;   /* dropped: longer than the MTU plus the Ethernet header */
};

/* Return true to drop this frame from port `from` to port `to` (tests aiming at one frame). */
typedef bool (*memwire_filter_fn)(void *arg, int from, int to, const uint8_t *frame, uint32_t len);

/* A wire whose frames are buffers from pool. NULL: -ENOMEM. */
struct memwire *memwire_create(struct buf_pool *pool, const struct memwire_opts *o);
/* Frees the wire, its ports and every frame in flight. */
void memwire_destroy(struct memwire *w);
void memwire_set_opts(struct memwire *w, const struct memwire_opts *o);
void memwire_set_filter(struct memwire *w, memwire_filter_fn fn, void *arg);

/*
 * Adds a port with a MAC, an IP MTU and offload caps; the netdev belongs to
 * the wire. NULL when MEMWIRE_PORTS are taken.
 */
struct netdev *memwire_attach(struct memwire *w, const uint8_t *mac, uint32_t mtu, uint32_t caps);
/* The port's index on its wire (the filter's from and to). */
int memwire_port_index(const struct netdev *port);

/* Queues raw bytes to arrive at port now, as if sent by a peer (hostile-input tests). 0 or -ENOMEM. */
int memwire_inject(struct netdev *port, const void *frame, uint32_t len);

/* Frames in flight on every port. */
uint32_t memwire_in_flight(const struct memwire *w);
/* The earliest time a frame in flight arrives, or UINT64_MAX. */
uint64_t memwire_next_arrival(const struct memwire *w);
/* The same, leaving out frames for port skip (a port only a test reads). */
uint64_t memwire_next_arrival_except(const struct memwire *w, const struct netdev *skip);
const struct memwire_stats *memwire_stats(const struct memwire *w);

#endif
