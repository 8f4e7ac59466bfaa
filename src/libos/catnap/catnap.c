/* catnap libOS: start-up, the epoll poller, adaptive sleep, socket creation. */
#include "catnap.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../runtime/libos_ops.h"
#include "../../runtime/log.h"

static int deliver(struct catnap *cn, int n)
{
	for (int i = 0; i < n; i++)
		catnap_sock_event(cn->events[i].data.ptr, cn->events[i].events);
	return n;
}

/*
 * The fast path: one non-blocking epoll_wait per scheduler round, as a plain
 * call (struct sched_poller) rather than a coroutine: it never waits, and the
 * two switches around it cost more than its own bookkeeping. What it wakes
 * counts as progress by itself.
 */
static bool poller(void *arg)
{
	struct catnap *cn = arg;
	int n = epoll_wait(cn->epfd, cn->events, CATNAP_EVENTS, 0);
	if (n > 0)
		deliver(cn, n);
	return false;
}

static void catnap_block(struct rt *rt, void *state, uint64_t timeout_ns)
{
	(void)rt;
	struct catnap *cn = state;
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000u), .tv_nsec = (long)(timeout_ns % 1000000000u) };
	int n = epoll_pwait2(cn->epfd, cn->events, CATNAP_EVENTS, timeout_ns == UINT64_MAX ? NULL : &ts, NULL);
	if (n > 0)
		deliver(cn, n);
}

/* The epoll fd is readable while any of its sockets has an event: the wait loop sleeps on it beside storage. */
static int catnap_wait_fd(void *state)
{
	return ((struct catnap *)state)->epfd;
}

static int catnap_init(struct rt *rt, void **state)
{
	struct catnap *cn = calloc(1, sizeof(*cn));
	if (!cn)
		return -ENOMEM;
	cn->rt = rt;
	cn->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (cn->epfd < 0) {
		int err = -errno;
		free(cn);
		return err;
	}
	cn->poller = (struct sched_poller){ .poll = poller, .arg = cn };
	sched_poller_add(&rt->sched, &cn->poller);
	*state = cn;
	return 0;
}

static void catnap_fini(struct rt *rt, void *state)
{
	struct catnap *cn = state;
	(void)rt;
	sched_poller_del(&cn->poller);
	close(cn->epfd);
	free(cn);
}

static int catnap_socket(struct rt *rt, void *state, int type, struct queue **out, const struct queue_ops **ops)
{
	(void)rt;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct cn_sock *s;
	int err = catnap_sock_new(state, fd, type, CN_NEW, &s);
	if (err)
		return err;
	*out = &s->q;
	*ops = type == SOCK_STREAM ? &catnap_tcp_ops : &catnap_udp_ops;
	return 0;
}

const struct libos_ops catnap_libos = {
	.name = "catnap",
	.init = catnap_init,
	.fini = catnap_fini,
	.socket = catnap_socket,
	.block = catnap_block,
	.wait_fd = catnap_wait_fd,
};
