/*
 * catnip libOS: Demi's inetstack over one DPDK port (dpdk_dev.c). A fast-path
 * coroutine polls the stack once per scheduler round. There is no block():
 * a DPDK port has no descriptor to sleep on (its receive interrupts would
 * need rte_eth_dev_rx_intr_enable and an epoll set, which virtual devices
 * mostly lack), and kernel bypass spins by design, so when nothing is ready
 * the runtime keeps spinning and the poller keeps the port drained.
 */
#include <errno.h>
#include <stdlib.h>

#include "../../inetstack/inet.h"
#include "../../runtime/log.h"
#include "../../runtime/rt.h"
#include "../libos.h"
#include "dpdk_dev.h"

struct catnip {
	struct rt *rt;
	struct netdev *dev;
	struct inet *in;
	struct task *poller;
};

/* Fast-path coroutine: receive, run the stack, transmit, once per round. */
static void poller(void *arg)
{
	struct catnip *cn = arg;
	do {
		inet_poll(cn->in);
	} while (sched_defer(&cn->rt->sched) == 0);
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
	int err = dpdk_dev_open(&rt->cfg, &rt->pool, &cn->dev);
	if (err)
		goto fail_free;
	err = inet_create(rt, cn->dev, &rt->cfg, &cn->in);
	if (err)
		goto fail_dev;
	cn->poller = sched_spawn(&rt->sched, TASK_FAST, poller, cn);
	if (!cn->poller) {
		err = -ENOMEM;
		goto fail_inet;
	}
	*state = cn;
	return 0;
fail_inet:
	inet_destroy(cn->in);
fail_dev:
	cn->dev->ops->close(cn->dev);
fail_free:
	free(cn);
	return err;
}

static void catnip_fini(struct rt *rt, void *state)
{
	struct catnip *cn = state;
	sched_cancel(&rt->sched, cn->poller);
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
