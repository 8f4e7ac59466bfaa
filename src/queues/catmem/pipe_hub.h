/*
 * The pipe hub: one per thread that uses pipes, under any libOS. Its poller
 * looks at the members (pipe ends) that have waiting operations once per
 * scheduler round; a timer checks that their peers are alive; catmem's
 * block() sleeps on their bells. The hub knows a member only through the
 * callbacks the member registered (struct pipe_hub_ops), never the pipe
 * queue kind above it (pipe.h).
 */
#ifndef DEMI_QUEUES_CATMEM_PIPE_HUB_H
#define DEMI_QUEUES_CATMEM_PIPE_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "../../runtime/rt.h"
#include "pipe_shm.h"

struct pipe_hub_member;

/* What the hub calls on an active member; set by the member's owner (pipe_queue.c). */
struct pipe_hub_ops {
	/* Progress on the member's waiting operations; true when some completed. May deactivate itself, never another. */
	bool (*poll)(struct pipe_hub_member *m);
	/*
	 * Liveness (every few milliseconds while active): checks the shared
	 * region and the peer's word. Returns a descriptor that turns readable
	 * when the peer dies (a pidfd), for the hub to poll, or -1 when there is
	 * none to poll (the check was complete).
	 */
	int (*check)(struct pipe_hub_member *m);
	/* The descriptor check returned turned readable. */
	void (*peer_exited)(struct pipe_hub_member *m);
	/* After the checks: true when what waits must fail now (a broken region, a closed or dead peer). */
	bool (*doomed)(struct pipe_hub_member *m);
};

struct pipe_hub_member {
	const struct pipe_hub_ops *ops;
	struct list_node node;   /* in the hub's active list */
	bool active;
	struct pipe_end_sh *own; /* our end's word in the shared region: `sleeping` and `bell` */
	bool peer_asym;          /* the peer pushes with no fence (PIPE_END_ASYM): a sleeper runs membarrier */
};

struct pipe_hub {
	struct rt *rt;
	uint32_t refs;         /* the catmem libOS, and every open pipe */
	bool can_sleep;        /* catmem: block() sleeps on the pipes' bells */
	bool asym;             /* registered for membarrier: our pushes take no fence before ringing (PIPE_END_ASYM) */
	struct sched_poller poller; /* polls the active pipes at the start of every round */
	struct list_node active;
	uint32_t nactive;
	struct timer tick;     /* while pipes are active: liveness checks, and a bound on other libOSes' sleep */
	uint64_t tick_ns;
	uint64_t last_check;   /* clock_now() of the last liveness check */
	uint64_t moved;        /* completions by the hub: the tick backs off while it stays */
	uint64_t moved_at_tick;
};

/*
 * The hub of rt's thread, created on first use, with one more reference.
 * `libos`: the catmem libOS takes it and may sleep on pipes. -ENOMEM.
 */
int pipe_hub_get(struct rt *rt, bool libos, struct pipe_hub **out);
void pipe_hub_put(struct pipe_hub *h);
/* m has waiting operations: poll it each round until it has none. m->ops and m->own are set. */
void pipe_hub_activate(struct pipe_hub *h, struct pipe_hub_member *m);
void pipe_hub_deactivate(struct pipe_hub *h, struct pipe_hub_member *m);
/* catmem's block(): sleeps on the bells of the active members, then polls them. */
void pipe_hub_block(struct pipe_hub *h, uint64_t timeout_ns);

#endif
