/*
 * Queues and the queue-descriptor table. A queue is anything PDPIX can push
 * to and pop from: a socket of the running libOS, a memory queue, later a
 * pipe or a file. Each kind fills in a queue_ops table (a NULL entry means
 * the call does not apply to that kind: ENOTSUP) and embeds struct queue.
 */
#ifndef DEMI_RUNTIME_QUEUE_H
#define DEMI_RUNTIME_QUEUE_H

#include <stdint.h>
#include <sys/socket.h>

#include <demi/types.h>

#include "list.h"

struct queue;
struct op;
struct buf;

/*
 * Every entry returns 0 or -errno. Asynchronous entries (accept, connect,
 * push, pushto, pop) receive an allocated op: on 0 they have started it (it
 * completes later, or already did); on an error the op is discarded by the
 * caller. Addresses reaching these functions were checked for NULL and length.
 */
struct queue_ops {
	const char *kind;
	int (*bind)(struct queue *q, const struct sockaddr_in *addr);
	int (*listen)(struct queue *q, int backlog);
	int (*accept)(struct queue *q, struct op *op);
	int (*connect)(struct queue *q, struct op *op);       /* peer in op->addr */
	int (*push)(struct queue *q, struct op *op);          /* sga in op->sga, buffer ref in op->buf */
	/*
	 * Optional: moves all of sga (its checked buffer b) into the queue now,
	 * before any op exists, and returns 0: the op's bookkeeping then comes
	 * after the data is out, off a round trip's critical path. -EAGAIN when
	 * it cannot (older pushes wait, no room, anything to report): the
	 * caller goes through push, which handles every case. Takes no
	 * reference on b: the data must be copied by the time it returns.
	 */
	int (*push_now)(struct queue *q, const demi_sgarray_t *sga, struct buf *b);
	int (*pushto)(struct queue *q, struct op *op);        /* as push, peer in op->addr */
	int (*pop)(struct queue *q, struct op *op);
	int (*setsockopt)(struct queue *q, int level, int name, const void *val, socklen_t len);
	int (*getsockopt)(struct queue *q, int level, int name, void *val, socklen_t *len);
	int (*getpeername)(struct queue *q, struct sockaddr_in *out);
	int (*getsockname)(struct queue *q, struct sockaddr_in *out);
	/* Optional (<demi/shutdown.h>): shutdown(2)'s half-close, how is SHUT_RD, SHUT_WR or SHUT_RDWR. */
	int (*shutdown)(struct queue *q, int how);
	/*
	 * Optional: a graceful close. Cancels the queue's pending ops but its
	 * pushes (rt_cancel_but_pushes), completes op (DEMI_OPC_CLOSE) once
	 * every earlier push went out, then closes the queue (rt_close_queue).
	 */
	int (*close_flush)(struct queue *q, struct op *op);
	/* Releases the queue once its pending ops were cancelled; cannot fail in a way the app can act on, returns -errno for reporting. */
	int (*close)(struct queue *q);
};

struct queue {
	const struct queue_ops *ops;
	int qd;
	struct list_node pending; /* ops not yet complete */
};

/*
 * Queue descriptors are QD_BASE + a slot of the table: plain non-negative
 * ints (PDPIX, Demikernel), but apart from the small numbers the kernel gives
 * file descriptors (below fs.nr_open, 2^20 by default), so that a layer that
 * sees both (an LD_PRELOAD shim) tells them apart by value alone. A table
 * holds at most QD_MAX_COUNT slots, so every qd fits in an int. Slots are
 * reused lowest-first, as POSIX does for descriptors.
 */
#define QD_BASE (1 << 30)
#define QD_MAX_COUNT ((uint32_t)INT32_MAX - QD_BASE + 1)

struct qd_table {
	struct queue **slots;
	uint32_t cap, used;
	uint32_t *free; /* min-heap of free slots: the lowest is reused first */
	uint32_t nfree;
};

/* A table of cap slots (qds QD_BASE .. QD_BASE + cap - 1). -ENOMEM, -EINVAL (cap > QD_MAX_COUNT). */
int qd_table_init(struct qd_table *t, uint32_t cap);
void qd_table_fini(struct qd_table *t);
/* Installs q under a new descriptor (set in q->qd). -EMFILE when full. */
int qd_install(struct qd_table *t, struct queue *q, const struct queue_ops *ops);
/* The queue of qd, or NULL (-EBADF): O(1), one subtraction (a qd below QD_BASE wraps to a huge slot). */
static inline struct queue *qd_get(const struct qd_table *t, int qd)
{
	uint32_t slot = (uint32_t)qd - (uint32_t)QD_BASE;
	if (slot >= t->cap)
		return NULL;
	return t->slots[slot];
}
void qd_remove(struct qd_table *t, int qd);

#endif
