/*
 * The storage device layer: the per-thread io_uring engine (ring, poller,
 * request slots, backlog) and its aligned, registered buffers. It knows
 * nothing of the queues above it: a request completes through the callback
 * its owner set (struct sreq's complete). An SPDK engine could replace it under
 * the same queues.
 */
#ifndef DEMI_QUEUES_STORAGE_ENGINE_H
#define DEMI_QUEUES_STORAGE_ENGINE_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/rt.h"
#include "sbuf.h"

/* ---- engine.c: the per-thread ring and its poller ---- */

/* One I/O as the engine submits it. */
struct sio {
	int fd;
	int fixed;      /* registered-buffer index, or -1 */
	uint8_t *addr;
	uint64_t off;
	uint32_t len;
	bool write;
	uint8_t sync;   /* a write's enum demi_storage_durability */
};

/* A request: one push or pop of a storage queue, from start to its last CQE. */
struct sreq {
	struct list_node qnode; /* its queue's pushes (append order), held pushes or pops */
	struct list_node enode; /* the engine's backlog while the ring is full; the free list */
	/*
	 * Set by the request's owner (the queue kind above), never read by the
	 * engine: it completes a request through these, so that it calls no
	 * function of its users. complete(r) runs after the last CQE (wres, fres
	 * set); *inflight counts the owner's requests in the kernel (one more
	 * when the engine hands it to the ring, one less before complete).
	 */
	void (*complete)(struct sreq *r);
	uint32_t *inflight;
	void *owner;            /* the queue: stays valid until the request is freed (a closed queue waits for it) */
	struct op *op;          /* NULL once the queue closed: the result is dropped */
	struct buf *buf;        /* the request's own reference: the kernel may use the memory until the last CQE */
	struct sio io;          /* the I/O in flight or next to submit */
	uint8_t *data;          /* push: the pushed bytes; pop: the buffer's data */
	uint64_t off;           /* push: where the append lands; pop: where the asked-for bytes start */
	uint32_t len;           /* push: bytes to append; pop: bytes asked for */
	uint32_t done;          /* push: bytes written so far */
	uint32_t skip;          /* pop: bytes before the asked-for ones in an aligned read */
	uint32_t adv;           /* pop: how far the read position moved for it */
	int32_t wres, fres;     /* results of the read or write CQE and of the linked fsync CQE */
	uint8_t cqes;           /* CQEs still due */
	bool direct;            /* io uses the O_DIRECT descriptor */
	bool finished;          /* push: its I/O ended with `res`, it waits for the older pushes */
	int res;                /* 0 or -errno */
};

struct stg_engine {
	struct rt_ext ext;
	struct rt *rt;
	struct io_uring ring;
	struct task *poller;
	bool sqpoll;
	bool defer;             /* IORING_SETUP_DEFER_TASKRUN: completions are collected by io_uring_enter */
	int efd;                /* eventfd registered with the ring (a CQE or deferred completion work rings it), or -1 */
	bool eager;             /* submit each request at once ($STORAGE_SUBMIT=eager), not once per round */
	int durability;         /* default for new queues ($STORAGE_DURABILITY) */
	bool use_direct;        /* $STORAGE_DIRECT: O_DIRECT where the file allows it (auto), or never (off) */
	unsigned cq_entries;
	unsigned cqes_due;      /* CQEs the kernel still owes: kept <= cq_entries so none overflow */
	struct list_node backlog; /* requests waiting for room in the ring, in order */
	struct list_node free_reqs;
	struct sreq_block *blocks;
	struct sbuf_pool *bufs;
};

/* This thread's engine, started on first use. -ENOSYS/-EPERM (no io_uring), -EINVAL (bad $STORAGE_*), -ENOMEM. */
int stg_engine_get(struct rt *rt, struct stg_engine **out);
/* A zeroed request, or NULL (-ENOMEM). */
struct sreq *stg_req_alloc(struct stg_engine *e);
/* Drops the request's buffer reference and recycles it. */
void stg_req_free(struct stg_engine *e, struct sreq *r);
/* Submits r->io (now, or in order once the ring has room); r->complete(r) follows its last CQE. */
void stg_start(struct stg_engine *e, struct sreq *r);
/* Removes a request that waits in the backlog; false when it is in the ring already. */
bool stg_unqueue(struct stg_engine *e, struct sreq *r);

#endif
