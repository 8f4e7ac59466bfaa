/*
 * The pipe hub: one per thread that uses pipes, under any libOS. Its
 * fast-path poller looks at the pipes that have waiting operations once per
 * scheduler round (a plain call, no coroutine); a timer checks that peers
 * are alive and, under libOSes that cannot sleep on a pipe, bounds how long
 * their sleep may hide a pipe message. catmem's block() sleeps here. It
 * reaches a pipe only through the member's callbacks (pipe_hub.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "../../os/os.h"
#include "../../runtime/clock.h"
#include "../../runtime/log.h"
#include "pipe_hub.h"

#define TICK_MIN_NS (50 * NSEC_PER_USEC) /* other libOSes: first bound on their sleep */
#define TICK_MAX_NS (1 * NSEC_PER_MSEC)  /* ... backing off to this while nothing arrives */
#define LIVENESS_NS (10 * NSEC_PER_MSEC) /* how often peers of waiting pipes are checked */
#define POLL_BATCH 64

#define list_for_each(pos, head) for (pos = (head)->next; pos != (head); pos = pos->next)

static __thread struct pipe_hub *hub_tls;

static inline struct pipe_hub_member *member(struct list_node *n) { return container_of(n, struct pipe_hub_member, node); }

static bool hub_poll(struct pipe_hub *h)
{
	bool done = false;
	struct list_node *n, *tmp;
	/* poll may take its own member off the list, never another. */
	list_for_each_safe(n, tmp, &h->active)
		done |= member(n)->ops->poll(member(n));
	if (done)
		h->moved++;
	return done;
}

/* The fast path: a plain call at the start of every scheduler round (no coroutine switch). */
static bool poller(void *arg)
{
	struct pipe_hub *h = arg;
	return h->nactive && hub_poll(h);
}

static void poll_pidfds(const int *fds, struct pipe_hub_member **who, int n)
{
	bool ended[POLL_BATCH];
	if (n == 0)
		return;
	os_pid_watch_poll(fds, ended, n);
	for (int i = 0; i < n; i++)
		if (ended[i])
			who[i]->ops->peer_exited(who[i]);
}

/*
 * Liveness and integrity of every pipe with waiting operations: a corrupt
 * header breaks the pipe (EPROTO), a dead peer fails what waits on it
 * (ECONNRESET). A pidfd per peer, polled without blocking, in batches.
 */
static void check_peers(struct pipe_hub *h)
{
	int fds[POLL_BATCH];
	struct pipe_hub_member *who[POLL_BATCH];
	int n = 0;
	struct list_node *it, *tmp;
	list_for_each(it, &h->active) {
		struct pipe_hub_member *m = member(it);
		int fd = m->ops->check(m);
		if (fd < 0)
			continue;
		fds[n] = fd;
		who[n++] = m;
		if (n == POLL_BATCH) {
			poll_pidfds(fds, who, n);
			n = 0;
		}
	}
	poll_pidfds(fds, who, n);
	/* Fail now what a dead peer or a corrupt region left waiting, so that no sleep comes first. */
	list_for_each_safe(it, tmp, &h->active)
		if (member(it)->ops->doomed(member(it)))
			if (member(it)->ops->poll(member(it)))
				h->moved++;
}

static void tick(struct timer *t, void *arg)
{
	(void)t;
	struct pipe_hub *h = arg;
	uint64_t now = clock_now();
	if (!h->nactive)
		return; /* nothing waits: the next activation arms the timer again */
	if (now - h->last_check >= LIVENESS_NS) {
		h->last_check = now;
		check_peers(h);
	}
	if (!h->nactive)
		return;
	if (h->can_sleep)
		h->tick_ns = LIVENESS_NS; /* block() sleeps on the bells: the tick only checks peers */
	else if (h->moved != h->moved_at_tick)
		h->tick_ns = TICK_MIN_NS;
	else if (h->tick_ns < TICK_MAX_NS)
		h->tick_ns *= 2;
	h->moved_at_tick = h->moved;
	if (timer_arm(&h->rt->timers, &h->tick, now + h->tick_ns, tick, h) < 0)
		log_warn("catmem: cannot re-arm the pipe timer; dead peers may go unnoticed");
}

int pipe_hub_get(struct rt *rt, bool libos, struct pipe_hub **out)
{
	struct pipe_hub *h = hub_tls;
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		h->rt = rt;
		list_init(&h->active);
		/*
		 * Registered, our pushes need no fence before they look whether
		 * the peer sleeps: a sleeper's membarrier is our half of the
		 * barrier (PIPE_END_ASYM). Per thread's hub, so that a forked
		 * child registers its own process.
		 */
		h->asym = rt->cfg.catmem_membarrier && os_barrier_register();
		h->poller = (struct sched_poller){ .poll = poller, .arg = h };
		sched_poller_add(&rt->sched, &h->poller);
		hub_tls = h;
	}
	if (libos)
		h->can_sleep = rt->cfg.poll_idle_us != 0;
	h->refs++;
	*out = h;
	return 0;
}

void pipe_hub_put(struct pipe_hub *h)
{
	if (--h->refs)
		return;
	timer_cancel(&h->rt->timers, &h->tick);
	sched_poller_del(&h->poller);
	if (hub_tls == h)
		hub_tls = NULL;
	free(h);
}

void pipe_hub_activate(struct pipe_hub *h, struct pipe_hub_member *m)
{
	if (m->active)
		return;
	m->active = true;
	list_push_back(&h->active, &m->node);
	if (h->nactive++)
		return;
	/*
	 * The timer stays armed while pipes come and go (a ping-pong activates
	 * and deactivates once per message): the tick stops re-arming itself
	 * once it finds nothing active, so the heap is not touched per message.
	 */
	if (timer_armed(&h->tick))
		return;
	h->tick_ns = h->can_sleep ? LIVENESS_NS : TICK_MIN_NS;
	h->moved_at_tick = h->moved;
	if (timer_arm(&h->rt->timers, &h->tick, clock_now() + h->tick_ns, tick, h) < 0)
		log_warn("catmem: cannot arm the pipe timer; dead peers may go unnoticed");
}

void pipe_hub_deactivate(struct pipe_hub *h, struct pipe_hub_member *m)
{
	if (!m->active)
		return;
	m->active = false;
	list_del(&m->node);
	h->nactive--;
}

void pipe_hub_block(struct pipe_hub *h, uint64_t timeout_ns)
{
	uint64_t deadline = timeout_ns == UINT64_MAX ? UINT64_MAX : os_mono_ns() + timeout_ns;
	if (!h->nactive) {
		/* Nothing waits on a pipe: only the deadline (or a memory queue's timer) can end this wait. */
		os_sleep_until(deadline);
		return;
	}
	struct os_bell w[OS_BELLS_MAX];
	struct pipe_end_sh *ends[OS_BELLS_MAX];
	uint32_t n = 0;
	bool asym = false;
	struct list_node *it;
	list_for_each(it, &h->active) {
		if (n == OS_BELLS_MAX)
			break;
		struct pipe_hub_member *m = member(it);
		ends[n] = m->own;
		atomic_store_explicit(&ends[n]->sleeping, 1, memory_order_relaxed);
		asym |= m->peer_asym;
		n++;
	}
	/*
	 * Full fence (StoreLoad), the mirror of pipe_notify's: our sleeping
	 * flags are visible before we look at the rings a last time, so a peer
	 * that published after this look also sees the flag and rings. A peer
	 * with PIPE_END_ASYM takes no fence of its own: membarrier runs one on
	 * every CPU that runs a registered process, so its publication before
	 * that point is visible to our look, and its load of `sleeping` after it
	 * sees our flag. Should membarrier fail, we only nap.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	bool nap = asym && !os_barrier_global();
	for (uint32_t i = 0; i < n; i++)
		w[i] = (struct os_bell){
			.word = &ends[i]->bell,
			.seen = atomic_load_explicit(&ends[i]->bell, memory_order_relaxed),
		};
	if (!hub_poll(h) && h->nactive) {
		if (n < h->nactive || nap) {
			/* More pipes than one wait can watch, or no barrier for a peer: look again within TICK_MAX_NS. */
			uint64_t soon = os_mono_ns() + TICK_MAX_NS;
			if (soon < deadline)
				deadline = soon;
		}
		/* Before Linux 5.16 only the first bell is watched: a short sleep, so that the others are looked at soon. */
		os_bells_wait(w, n, deadline, TICK_MAX_NS);
	}
	for (uint32_t i = 0; i < n; i++)
		atomic_store_explicit(&ends[i]->sleeping, 0, memory_order_relaxed);
	hub_poll(h);
}
