/*
 * catnip libOS: Demi's inetstack over a DPDK port (dpdk_dev.c), one per
 * instance, so one per thread that calls demi_init (dpdk_eal.c hands the
 * ports out). A fast-path coroutine polls the stack once per scheduler round. There is no block():
 * a DPDK port has no descriptor to sleep on (its receive interrupts would
 * need rte_eth_dev_rx_intr_enable and an epoll set, which virtual devices
 * mostly lack), and kernel bypass spins by design, so when nothing is ready
 * the runtime keeps spinning and the poller keeps the port drained.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../../inetstack/inet.h"
#include "../../net/pcap_dev.h"
#include "../../runtime/log.h"
#include "../../runtime/rt.h"
#include "../libos.h"
#include "dpdk_dev.h"

struct catnip {
	struct rt *rt;
	struct netdev *dev;  /* what the stack drives: the port, or a capture wrapped around it */
	struct netdev *port; /* the DPDK port itself */
	struct inet *in;
	struct sched_poller poller; /* transmit, receive, run the stack at the start of every round */
	struct catnip *next; /* in the list of live instances */
};

/*
 * A process that returns from main skips the runtime's teardown (it runs at
 * thread exit, rt.c), and with it the counters' log: say them at exit.
 * The instances of all threads, in a list of their own under a lock.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct catnip *live;

static void log_at_exit(void)
{
	pthread_mutex_lock(&live_lock);
	for (struct catnip *cn = live; cn; cn = cn->next) {
		inet_stats_log(cn->in);
		dpdk_dev_log(cn->port);
	}
	pthread_mutex_unlock(&live_lock);
}

static void live_add(struct catnip *cn)
{
	static bool hooked;
	pthread_mutex_lock(&live_lock);
	if (!hooked && atexit(log_at_exit) == 0)
		hooked = true;
	cn->next = live;
	live = cn;
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct catnip *cn)
{
	pthread_mutex_lock(&live_lock);
	for (struct catnip **pp = &live; *pp; pp = &(*pp)->next)
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	pthread_mutex_unlock(&live_lock);
}

/*
 * The fast path, a plain poller (struct sched_poller) called at the start of
 * every round: transmit what the last round left
 * queued, then receive and run the stack. What the stack sends while
 * receiving (a pure ACK, say) waits for the end of the round: the
 * application's reply, if it makes one, takes it to the port in the same
 * burst, and otherwise the next round does (catnip never sleeps between
 * rounds). On a request-response exchange that keeps a transmit call off the
 * path from a received frame to the application.
 */
static bool poller(void *arg)
{
	struct catnip *cn = arg;
	inet_tx_flush(cn->in);
	inet_poll_rx(cn->in);
	return false; /* what it completes or wakes counts as progress by itself */
}

static int catnip_init(struct rt *rt, void **state)
{
	if (!rt->cfg.has_local_ipv4_addr) {
		log_error("catnip: no local address: set demikernel.local_ipv4_addr or LOCAL_IPV4_ADDR");
		return -EINVAL;
	}
	struct catnip *cn = calloc(1, sizeof(*cn));
	if (!cn)
		return -ENOMEM;
	cn->rt = rt;
	int err = dpdk_dev_open(&rt->cfg, &rt->pool, &cn->port);
	if (err)
		goto fail_free;
	cn->dev = cn->port;
	/* $DEMI_PCAP records every frame, as under catpowder: a copy per frame, for debugging only. */
	const char *path = getenv("DEMI_PCAP");
	if (path && *path) {
		if ((err = pcap_dev_open(cn->port, path, &cn->dev)) != 0)
			goto fail_dev;
		log_info("catnip: recording frames to %s", path);
	}
	err = inet_create(rt, cn->dev, &rt->cfg, &cn->in);
	if (err)
		goto fail_dev;
	cn->poller = (struct sched_poller){ .poll = poller, .arg = cn };
	sched_poller_add(&rt->sched, &cn->poller);
	live_add(cn);
	*state = cn;
	return 0;
fail_dev:
	cn->dev->ops->close(cn->dev);
fail_free:
	free(cn);
	return err;
}

static void catnip_fini(struct rt *rt, void *state)
{
	struct catnip *cn = state;
	(void)rt;
	live_remove(cn);
	sched_poller_del(&cn->poller);
	inet_destroy(cn->in);
	cn->dev->ops->close(cn->dev);
	free(cn);
}

static int catnip_socket(struct rt *rt, void *state, int type, struct queue **out, const struct queue_ops **ops)
{
	(void)rt;
	struct catnip *cn = state;
	return inet_socket(cn->in, type, out, ops);
}

const struct libos_ops catnip_libos = {
	.name = "catnip",
	.init = catnip_init,
	.fini = catnip_fini,
	.socket = catnip_socket,
	.block = NULL, /* spins: see the top of this file */
};
