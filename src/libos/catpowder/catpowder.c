/*
 * catpowder libOS: Demi's inetstack over a Linux packet socket (afpacket.c),
 * optionally recorded to a pcap file ($DEMI_PCAP). A fast-path coroutine
 * polls the stack once per scheduler round; when idle, the runtime sleeps in
 * poll() on the packet socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "../../inetstack/inet.h"
#include "../../net/pcap_dev.h"
#include "../../runtime/log.h"
#include "../../runtime/rt.h"
#include "../libos.h"
#include "afpacket.h"

struct catpowder {
	struct rt *rt;
	struct netdev *dev; /* what the stack drives: the device, or the capture wrapping it */
	struct inet *in;
	struct sched_poller poller; /* inet_poll at the start of every round */
	int wait_fd;
};

/* The fast path, a plain poller (struct sched_poller): receive, run the stack, transmit, once per round. */
static bool poller(void *arg)
{
	struct catpowder *cp = arg;
	inet_poll(cp->in);
	return false; /* what it completes or wakes counts as progress by itself */
}

static void catpowder_block(struct rt *rt, void *state, uint64_t timeout_ns)
{
	(void)rt;
	struct catpowder *cp = state;
	struct pollfd pfd = { .fd = cp->wait_fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000u), .tv_nsec = (long)(timeout_ns % 1000000000u) };
	/* ppoll, not poll: the timeout is in nanoseconds and a timer may be due in microseconds. */
	if (ppoll(&pfd, 1, timeout_ns == UINT64_MAX ? NULL : &ts, NULL) > 0)
		inet_poll(cp->in);
}

/* The device, wrapped in a capture when $DEMI_PCAP names a file. */
static int open_device(struct rt *rt, struct netdev **out)
{
	struct netdev *dev;
	int err = afp_open(rt->cfg.linux_interface_name, &rt->cfg, &rt->pool, &dev);
	if (err)
		return err;
	const char *path = getenv("DEMI_PCAP");
	if (path && *path) {
		struct netdev *cap;
		err = pcap_dev_open(dev, path, &cap);
		if (err) {
			dev->ops->close(dev);
			return err;
		}
		log_info("catpowder: recording frames to %s", path);
		dev = cap;
	}
	*out = dev;
	return 0;
}

static int catpowder_init(struct rt *rt, void **state)
{
	if (!rt->cfg.has_local_ipv4_addr) {
		log_error("catpowder: no local address: set demikernel.local_ipv4_addr or LOCAL_IPV4_ADDR");
		return -EINVAL;
	}
	struct catpowder *cp = calloc(1, sizeof(*cp));
	if (!cp)
		return -ENOMEM;
	cp->rt = rt;
	int err = open_device(rt, &cp->dev);
	if (err)
		goto fail_free;
	cp->wait_fd = cp->dev->ops->wait_fd ? cp->dev->ops->wait_fd(cp->dev) : -1;
	err = inet_create(rt, cp->dev, &rt->cfg, &cp->in);
	if (err)
		goto fail_dev;
	cp->poller = (struct sched_poller){ .poll = poller, .arg = cp };
	sched_poller_add(&rt->sched, &cp->poller);
	*state = cp;
	return 0;
fail_dev:
	cp->dev->ops->close(cp->dev);
fail_free:
	free(cp);
	return err;
}

static void catpowder_fini(struct rt *rt, void *state)
{
	(void)rt;
	struct catpowder *cp = state;
	sched_poller_del(&cp->poller);
	inet_destroy(cp->in);
	cp->dev->ops->close(cp->dev);
	free(cp);
}

static int catpowder_socket(struct rt *rt, void *state, int type, struct queue **out, const struct queue_ops **ops)
{
	(void)rt;
	struct catpowder *cp = state;
	return inet_socket(cp->in, type, out, ops);
}

const struct libos_ops catpowder_libos = {
	.name = "catpowder",
	.init = catpowder_init,
	.fini = catpowder_fini,
	.socket = catpowder_socket,
	.block = catpowder_block,
};
