/* The shell of the libOSes that run Demi's inetstack over a device (inet_libos.h). */
#include "inet_libos.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "../inetstack/inet.h"
#include "../net/pcap_dev.h"
#include "../runtime/log.h"
#include "../runtime/rt.h"

/* The fast path of a libOS that may sleep, a plain poller: receive, run the stack, transmit, once per round. */
static bool poll_sleeper(void *arg)
{
	struct inet_libos *il = arg;
	inet_poll(il->in);
	return false; /* what it completes or wakes counts as progress by itself */
}

/*
 * The fast path of a libOS that spins: transmit what the last round left
 * queued, then receive and run the stack. On a request-response exchange
 * that keeps a transmit call off the path from a received frame to the
 * application (see inet_libos_dev.spin).
 */
static bool poll_spinner(void *arg)
{
	struct inet_libos *il = arg;
	inet_tx_flush(il->in);
	inet_poll_rx(il->in);
	return false;
}

/* The device, wrapped in a capture when $DEMI_PCAP names a file (a copy per frame: for debugging only). */
static int open_device(struct inet_libos *il)
{
	int err = il->d->open(il->rt, &il->port);
	if (err)
		return err;
	il->dev = il->port;
	const char *path = getenv("DEMI_PCAP");
	if (path && *path) {
		if ((err = pcap_dev_open(il->port, path, &il->dev)) != 0) {
			il->port->ops->close(il->port);
			return err;
		}
		log_info("%s: recording frames to %s", il->d->name, path);
	}
	return 0;
}

int inet_libos_init(const struct inet_libos_dev *d, struct rt *rt, void **state)
{
	int err = inet_config_check(&rt->cfg, d->name);
	if (err)
		return err;
	struct inet_libos *il = calloc(1, sizeof(*il));
	if (!il)
		return -ENOMEM;
	il->d = d;
	il->rt = rt;
	if ((err = open_device(il)) != 0)
		goto fail_free;
	il->wait_fd = il->dev->ops->wait_fd ? il->dev->ops->wait_fd(il->dev) : -1;
	if ((err = inet_create(rt, il->dev, &rt->cfg, &il->in)) != 0)
		goto fail_dev;
	il->poller = (struct sched_poller){ .poll = d->spin ? poll_spinner : poll_sleeper, .arg = il };
	sched_poller_add(&rt->sched, &il->poller);
	if (d->up)
		d->up(il);
	*state = il;
	return 0;
fail_dev:
	il->dev->ops->close(il->dev);
fail_free:
	free(il);
	return err;
}

void inet_libos_fini(struct rt *rt, void *state)
{
	(void)rt;
	struct inet_libos *il = state;
	if (il->d->down)
		il->d->down(il);
	sched_poller_del(&il->poller);
	inet_destroy(il->in);
	il->dev->ops->close(il->dev);
	free(il);
}

int inet_libos_socket(struct rt *rt, void *state, int type, struct queue **out, const struct queue_ops **ops)
{
	(void)rt;
	struct inet_libos *il = state;
	return inet_socket(il->in, type, out, ops);
}

int inet_libos_wait_fd(void *state)
{
	return ((struct inet_libos *)state)->wait_fd;
}

void inet_libos_block(struct rt *rt, void *state, uint64_t timeout_ns)
{
	(void)rt;
	struct inet_libos *il = state;
	struct pollfd pfd = { .fd = il->wait_fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000u), .tv_nsec = (long)(timeout_ns % 1000000000u) };
	/* ppoll, not poll: the timeout is in nanoseconds and a timer may be due in microseconds. */
	if (ppoll(&pfd, 1, timeout_ns == UINT64_MAX ? NULL : &ts, NULL) > 0)
		inet_poll(il->in);
}
