/* catmem libOS: no sockets, only pipes; its fast path is the pipe hub's poller, and it sleeps on the pipes' futexes. */
#include <errno.h>

#include "../queues/catmem/pipe.h"
#include "../runtime/libos_ops.h"

static int catmem_init(struct rt *rt, void **state)
{
	struct pipe_hub *h;
	int err = pipe_hub_get(rt, true, &h);
	if (err)
		return err;
	*state = h;
	return 0;
}

static void catmem_fini(struct rt *rt, void *state)
{
	(void)rt;
	pipe_hub_put(state);
}

static int catmem_socket(struct rt *rt, void *state, int type, struct queue **out, const struct queue_ops **ops)
{
	(void)rt, (void)state, (void)type, (void)out, (void)ops;
	return -ENOTSUP;
}

/*
 * Idle: sleep on the bells of the pipes that have waiting operations. A peer
 * rings only when our `sleeping` flag is up, so the busy datapath has no
 * system call on either side.
 */
static void catmem_block(struct rt *rt, void *state, uint64_t timeout_ns)
{
	(void)rt;
	pipe_hub_block(state, timeout_ns);
}

const struct libos_ops catmem_libos = {
	.name = "catmem",
	.init = catmem_init,
	.fini = catmem_fini,
	.socket = catmem_socket,
	.block = catmem_block,
};
