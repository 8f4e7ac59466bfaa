/* The per-thread runtime: scheduler, tables, buffers, timers and the libOS in use. */
#ifndef DEMI_RUNTIME_RT_H
#define DEMI_RUNTIME_RT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "op.h"
#include "queue.h"
#include "sched.h"
#include "timer.h"

struct libos_ops;
struct rt;

/*
 * A per-thread subsystem beside the libOS whose device state outlives single
 * queues (the storage queues' io_uring ring). rt_destroy calls fini once
 * every queue is closed and before the libOS stops, while the scheduler
 * still runs, so fini can cancel its coroutines.
 */
struct rt_ext {
	struct rt_ext *next;
	/*
	 * NULL, or true while the subsystem waits for a device that cannot wake
	 * the libOS's block(): the wait loop then keeps polling instead of
	 * sleeping, until the device has answered.
	 */
	bool (*busy)(struct rt_ext *e);
	/*
	 * NULL, or called while busy() is true and the thread is about to
	 * sleep: returns a descriptor that becomes readable once the device has
	 * something to reap, armed so that nothing completing after this call
	 * is missed; or -1 when there is work already (do not sleep). The wait
	 * loop then sleeps in ppoll on it and the libOS's wait_fd together.
	 */
	int (*arm)(struct rt_ext *e);
	void (*fini)(struct rt *rt, struct rt_ext *e);
};

struct rt {
	struct demi_config cfg;
	struct sched sched;
	struct op_table ops;
	struct qd_table qds;
	struct buf_pool pool;
	struct timer_heap timers;
	struct task *timer_task;
	const struct libos_ops *libos;
	void *libos_state;
	struct rt_ext *exts;
	int pid; /* the process that created it: a forked child inherits the pointer, not the runtime */
};

/*
 * The runtime of this thread, or NULL before demi_init. Initial-exec TLS:
 * every public call reads it, and the default model in a shared library
 * costs a __tls_get_addr call each time.
 */
#define RT_TLS __attribute__((tls_model("initial-exec")))
extern __thread struct rt *rt_tls RT_TLS;
static inline struct rt *rt_self(void) { return rt_tls; }

/*
 * Builds a runtime from cfg and makes it this thread's, without a libOS
 * (tests drive it directly). -ENOMEM, -EEXIST.
 */
int rt_create(const struct demi_config *cfg, struct rt **out);
/* Closes every queue, stops the libOS, frees everything; the thread has no runtime after. */
void rt_destroy(struct rt *rt);
/* Arranges rt_destroy(rt) when the calling thread exits (NULL: cancels it). */
void rt_destroy_at_thread_exit(struct rt *rt);
/*
 * rt_create arranges, once per process, that exit() (or a return from main)
 * tears down the runtime of the thread that calls it, as its thread exit
 * would: a process's main thread never reaches its thread-exit teardown.
 */

/* Registers e in rt (see struct rt_ext); it stays until rt_destroy. */
void rt_ext_add(struct rt *rt, struct rt_ext *e);

/* Spawns an application coroutine for op running fn(op) and runs it at once. -ENOMEM. */
int rt_op_start(struct rt *rt, struct op *op, void (*fn)(void *op));

/* Fails every pending op of q but its pushes and keep with ECANCELED (demi_close_flush's start). */
void rt_cancel_but_pushes(struct rt *rt, struct queue *q, struct op *keep);
/*
 * Closes a queue: cancels its pending ops (they complete FAILED/ECANCELED and
 * become orphans, reclaimed once the op table is full: op.h, as do its
 * uncollected push, connect and failed results), calls its close and frees
 * its descriptor. -EBADF or the close error.
 */
int rt_close_queue(struct rt *rt, struct queue *q);

/*
 * Runs the scheduler until done(arg) is true or the deadline (clock_now()
 * units, UINT64_MAX for none) passes; sleeps in the libOS after
 * cfg.poll_idle_us without progress. Returns 0 or -ETIMEDOUT. done() is
 * checked after every round (so at least one round runs).
 */
int rt_run_until(struct rt *rt, int (*done)(struct rt *, void *), void *arg, uint64_t deadline);

#endif
