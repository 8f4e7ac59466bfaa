/*
 * catmem pipes inside Demi: one end of a named shared-memory pipe as a queue,
 * and the per-thread hub whose fast-path poller looks at every pipe with
 * pending operations, under any libOS.
 */
#ifndef DEMI_QUEUES_CATMEM_PIPE_H
#define DEMI_QUEUES_CATMEM_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/rt.h"
#include "pipe_hub.h"
#include "pipe_ring.h"
#include "pipe_shm.h"

enum pipe_peer { PEER_UNKNOWN, PEER_OPEN, PEER_CLOSED, PEER_DEAD };

/* Sender-private state of a pool block. */
#define POOL_APP 1u    /* the application holds it (demi_pipe_sgaalloc) */
#define POOL_FLIGHT 2u /* the receiver has it, until it comes back through the return ring */

struct pipe {
	struct queue q;
	struct rt *rt;
	struct pipe_hub *hub;
	struct pipe_shared *sh; /* the mapping, PIPE_REGION_BYTES */
	struct pipe_imm imm;    /* private copy of the immutable header: what we trust, and compare against */
	int memfd;              /* creator: kept open, as /dev/shm/demi-pipe.NAME links to it */
	int end;                /* 0: creator, 1: opener */
	uint32_t refs;          /* the open queue, and every pool-backed buffer handed out */
	bool open;              /* the queue is installed and not closed */
	int broken;             /* 0, or the errno every operation now fails with */
	bool dirty;             /* published or consumed something the peer has not been told of */
	uint32_t own_flags;     /* PIPE_END_* of our word, from the hub */

	enum pipe_peer peer;
	uint32_t peer_pid;
	uint32_t peer_flags; /* PIPE_END_* of its word, fixed from attach to close */
	uint64_t peer_word;  /* the peer's word as last seen while open: an unchanged word is the fast path */
	int peer_pidfd; /* -1 when unknown or not available */

	struct ring_tx tx;  /* ring `end`: we produce */
	struct ring_rx rx;  /* ring 1 - end: we consume */
	struct ret_rx ret_in;  /* our pool's blocks coming back */
	struct ret_tx ret_out; /* the peer's blocks going back */
	uint8_t *tx_pool, *rx_pool;
	uint8_t tx_state[PIPE_NBLOCKS]; /* POOL_* */
	uint32_t tx_free[PIPE_NBLOCKS]; /* free blocks, oldest first (tx_free_head..tx_free_tail) */
	uint32_t tx_free_head, tx_free_tail;
	bool rx_held[PIPE_NBLOCKS]; /* peer blocks we handed to our application */
	struct buf_owner tx_owner, rx_owner;

	/* Waiting operations, oldest first, linked through op->wnode. */
	struct list_node pops, pushes;
	struct pipe_hub_member hm; /* in the hub's active list while something waits */
};

extern const struct queue_ops pipe_queue_ops;

/* ---- pipe_region.c: names, the shared region, attaching ---- */

/* 0 when name is a valid pipe name, else -EINVAL. */
int pipe_name_check(const char *name);
/* Creates the region of a new pipe and publishes its name; fills p->sh, p->memfd, p->imm. Our end's word carries p->own_flags. -errno. */
int pipe_region_create(struct pipe *p, const char *name);
/* Maps the region of an existing pipe and claims its second end. -errno (ENOENT, EBUSY, EPROTO...). */
int pipe_region_open(struct pipe *p, const char *name);
/* Marks our end closed; the creator also unlinks the name. */
void pipe_region_close(struct pipe *p);
/* Unmaps the region and closes the descriptors. */
void pipe_region_unmap(struct pipe *p);
/* Compares the shared header with the private copy and the end words with what we know: 0 or -EPROTO. */
int pipe_region_check(struct pipe *p);

/* ---- pipe_queue.c ---- */

/* Drops one reference; the last frees the pipe (the region stays mapped until then). */
void pipe_unref(struct pipe *p);
/* Learns the peer's state from its end word (attach, close); -EPROTO marks the pipe broken. */
void pipe_peer_refresh(struct pipe *p);
/* pipe_peer_refresh, with the datapath's case inline: an open peer whose word has not changed. */
static inline void pipe_peer_check(struct pipe *p)
{
	if (p->peer == PEER_OPEN &&
	    atomic_load_explicit(&p->sh->end[1 - p->end].word, memory_order_acquire) == p->peer_word)
		return;
	pipe_peer_refresh(p);
}
/* Wakes the peer if it sleeps on its bell: called after anything it may wait for. */
void pipe_notify(struct pipe *p);
/* demi_create_pipe (create) or demi_open_pipe: a new pipe queue installed in rt. -errno. */
int pipe_new(struct rt *rt, const char *name, bool create, int *qd_out);
/* demi_pipe_sgaalloc. -errno. */
int pipe_sgaalloc(struct rt *rt, int qd, size_t size, demi_sgarray_t *out);

#endif
