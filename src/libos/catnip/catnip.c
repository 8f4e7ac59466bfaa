/*
 * catnip libOS: Demi's inetstack over a DPDK port (dpdk_dev.c), one per
 * instance, so one per thread that calls demi_init (dpdk_eal.c hands the
 * ports out). The inet libOS shell (inet_libos.c) does the rest: capture,
 * the stack, its poller, sockets. There is no block():
 * a DPDK port has no descriptor to sleep on (its receive interrupts would
 * need rte_eth_dev_rx_intr_enable and an epoll set, which virtual devices
 * mostly lack), and kernel bypass spins by design, so when nothing is ready
 * the runtime keeps spinning and the poller keeps the port drained.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../../inetstack/inet.h"
#include "../../runtime/libos_ops.h"
#include "../../runtime/rt.h"
#include "../inet_libos.h"
#include "dpdk_dev.h"

/*
 * A process that returns from main tears down only the exiting thread's
 * runtime (rt.c's exit hook, which logs its counters): say the other
 * threads' counters at exit too. The instances of all threads, in a list of
 * their own under a lock.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inet_libos *live;

static void log_at_exit(void)
{
	pthread_mutex_lock(&live_lock);
	for (struct inet_libos *il = live; il; il = il->next) {
		if (il->rt == rt_self())
			continue; /* the runtime's own exit hook tears it down after this one */
		inet_stats_log(il->in);
		dpdk_dev_log(il->port);
	}
	pthread_mutex_unlock(&live_lock);
}

static void live_add(struct inet_libos *il)
{
	static bool hooked;
	pthread_mutex_lock(&live_lock);
	if (!hooked && atexit(log_at_exit) == 0)
		hooked = true;
	il->next = live;
	live = il;
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct inet_libos *il)
{
	pthread_mutex_lock(&live_lock);
	for (struct inet_libos **pp = &live; *pp; pp = &(*pp)->next)
		if (*pp == il) {
			*pp = il->next;
			break;
		}
	pthread_mutex_unlock(&live_lock);
}

/* Queue 0 of the first free port (struct netdev's queue_id: the seam for one port per several instances). */
static int open_device(struct rt *rt, struct netdev **out)
{
	return dpdk_dev_open(&rt->cfg, &rt->pool, out);
}

static const struct inet_libos_dev catnip_dev = {
	.name = "catnip",
	.open = open_device,
	.spin = true, /* transmit, then inet_poll_rx, every round; never sleeps */
	.up = live_add,
	.down = live_remove,
};

static int catnip_init(struct rt *rt, void **state) { return inet_libos_init(&catnip_dev, rt, state); }

const struct libos_ops catnip_libos = {
	.name = "catnip",
	.init = catnip_init,
	.fini = inet_libos_fini,
	.socket = inet_libos_socket,
	.block = NULL, /* spins: see the top of this file */
};
