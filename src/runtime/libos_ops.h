/*
 * The libOS operations table: what a library OS provides to the runtime.
 * Declared here, in the runtime that calls it, so that the runtime depends on
 * no libOS; each libOS (src/libos/) fills one in, and src/libos/libos.c
 * registers them by name. One table per libOS, chosen once at demi_init by
 * $LIBOS (as nginx picks an event module). Socket calls go through the
 * queue_ops of the queues that socket() creates; this table only starts,
 * stops, creates and sleeps.
 */
#ifndef DEMI_RUNTIME_LIBOS_OPS_H
#define DEMI_RUNTIME_LIBOS_OPS_H

#include <stdint.h>

struct rt;
struct queue;
struct queue_ops;

struct libos_ops {
	const char *name;
	/* Brings the libOS up in this thread and spawns its fast-path poller. -errno. */
	int (*init)(struct rt *rt, void **state);
	/* Tears it down once every queue is closed. */
	void (*fini)(struct rt *rt, void *state);
	/*
	 * Creates a socket queue; the runtime installs it under a descriptor.
	 * domain/type were checked (AF_INET, SOCK_STREAM or SOCK_DGRAM). -errno.
	 */
	int (*socket)(struct rt *rt, void *state, int type, struct queue **out, const struct queue_ops **ops);
	/*
	 * Adaptive polling: nothing has been ready for a while, so sleep in the
	 * kernel until the device has an event or timeout_ns passes (UINT64_MAX:
	 * no timeout), then deliver what arrived as the poller would. NULL: the
	 * libOS cannot sleep, the runtime keeps spinning.
	 */
	void (*block)(struct rt *rt, void *state, uint64_t timeout_ns);
	/*
	 * NULL, or a descriptor that poll(2) finds readable whenever the libOS
	 * has events for its poller (catnap: its epoll fd). With it the wait
	 * loop can sleep on the libOS and another device at once (the storage
	 * ring's eventfd: struct rt_ext's arm) instead of spinning while that
	 * device works; the pollers deliver what woke it in the next round.
	 * -1: none now.
	 */
	int (*wait_fd)(void *state);
};

#endif
