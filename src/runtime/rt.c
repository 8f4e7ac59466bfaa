/* The per-thread runtime: creation, teardown, closing queues and the wait loop. */
#include "rt.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../os/os.h"
#include "clock.h"
#include "libos_ops.h"
#include "log.h"

__thread struct rt *rt_tls RT_TLS;

/* A thread that exits with a runtime gets it torn down: sockets closed, memory returned. */
static void on_thread_exit(void *arg)
{
	rt_destroy(arg);
}

void rt_destroy_at_thread_exit(struct rt *rt)
{
	os_thread_at_exit(on_thread_exit, rt);
}

/*
 * exit() runs atexit handlers in the thread that called it, and never that
 * thread's key destructors: tear its runtime down here (queues closed, TCP
 * drained for a bounded time, counters logged). Not in a forked child that
 * inherited the pointer (its device and connections are the parent's), and
 * not when exit() is called from a coroutine (the scheduler is mid-round).
 * Other threads' runtimes die with the process, as before.
 */
static void on_process_exit(void)
{
	struct rt *rt = rt_tls;
	if (rt && rt->pid == (int)getpid() && !sched_current(&rt->sched))
		rt_destroy(rt);
}

static void hook_process_exit(void) { atexit(on_process_exit); }

/*
 * Background coroutine: fires due timers. It sleeps while none is due, so an
 * idle round costs no switch to it; the wait loop wakes it (rt_run_until).
 */
static void timer_task_fn(void *arg)
{
	struct rt *rt = arg;
	do
		timer_run(&rt->timers, clock_now());
	while (sched_park(&rt->sched) == 0);
}

int rt_create(const struct demi_config *cfg, struct rt **out)
{
	if (rt_tls)
		return -EEXIST;
	struct rt *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
	pthread_once(&exit_once, hook_process_exit);
	rt->cfg = *cfg;
	rt->pid = (int)getpid();
	sched_init(&rt->sched, cfg->coroutine_stack, cfg->max_qtokens + 64);
	int err = buf_pool_init(&rt->pool, cfg->max_buffers, cfg->max_buffer_bytes);
	if (!err)
		err = op_table_init(&rt->ops, cfg->max_qtokens, &rt->pool);
	if (!err)
		err = qd_table_init(&rt->qds, cfg->max_queues);
	if (!err)
		err = timer_heap_init(&rt->timers, 1024);
	if (!err) {
		rt->timer_task = sched_spawn(&rt->sched, TASK_BACKGROUND, timer_task_fn, rt);
		if (!rt->timer_task)
			err = -ENOMEM;
	}
	rt_tls = rt;
	if (err) {
		rt_destroy(rt);
		return err;
	}
	rt_destroy_at_thread_exit(rt);
	*out = rt;
	return 0;
}

void rt_destroy(struct rt *rt)
{
	for (uint32_t slot = 0; slot < rt->qds.cap; slot++) {
		struct queue *q = rt->qds.slots[slot];
		if (q)
			rt_close_queue(rt, q);
	}
	while (rt->exts) {
		struct rt_ext *e = rt->exts;
		rt->exts = e->next;
		e->fini(rt, e);
	}
	if (rt->libos && rt->libos->fini)
		rt->libos->fini(rt, rt->libos_state);
	if (rt->timer_task)
		sched_cancel(&rt->sched, rt->timer_task);
	sched_fini(&rt->sched);
	timer_heap_fini(&rt->timers);
	qd_table_fini(&rt->qds);
	op_table_fini(&rt->ops);
	buf_pool_fini(&rt->pool);
	if (rt_tls == rt) {
		rt_tls = NULL;
		rt_destroy_at_thread_exit(NULL);
	}
	free(rt);
}

void rt_ext_add(struct rt *rt, struct rt_ext *e)
{
	e->next = rt->exts;
	rt->exts = e;
}

#define RT_SLEEP_FDS 8
/* A sleep while a device works is bounded all the same: a lost wake-up would cost time, not a hang. */
#define RT_SLEEP_BUSY_MAX_NS (100u * 1000u * 1000u)

/*
 * Before sleeping: the descriptors of the busy extensions, armed, after the
 * libOS's own (fds[0]). 0: none is busy (the libOS's block() will do);
 * -1: one is busy and cannot wake the thread (or has work already): spin.
 */
static int exts_sleep_fds(struct rt *rt, struct pollfd *fds)
{
	int n = 0;
	for (struct rt_ext *e = rt->exts; e; e = e->next) {
		if (!e->busy || !e->busy(e))
			continue;
		if (!e->arm || !rt->libos->wait_fd || n + 1 == RT_SLEEP_FDS)
			return -1;
		if (n == 0) {
			int lfd = rt->libos->wait_fd(rt->libos_state);
			if (lfd < 0)
				return -1;
			fds[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		}
		int fd = e->arm(e);
		if (fd < 0)
			return -1;
		fds[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	return n;
}

static void sleep_fds(struct pollfd *fds, int n, uint64_t timeout_ns)
{
	if (timeout_ns > RT_SLEEP_BUSY_MAX_NS)
		timeout_ns = RT_SLEEP_BUSY_MAX_NS;
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / NSEC_PER_SEC), .tv_nsec = (long)(timeout_ns % NSEC_PER_SEC) };
	ppoll(fds, (nfds_t)n, &ts, NULL);
}

int rt_op_start(struct rt *rt, struct op *op, void (*fn)(void *op))
{
	struct task *t = sched_spawn(&rt->sched, TASK_APP, fn, op);
	if (!t)
		return -ENOMEM;
	op->task = t;
	sched_run_now(&rt->sched, t);
	return 0;
}

void rt_cancel_but_pushes(struct rt *rt, struct queue *q, struct op *keep)
{
	struct list_node *n = q->pending.next;
	while (n != &q->pending) {
		struct op *op = container_of(n, struct op, qnode);
		if (op == keep || op->opcode == DEMI_OPC_PUSH) {
			n = n->next;
			continue;
		}
		struct task *t = op->task;
		op_fail(&rt->ops, op, ECANCELED);
		if (t)
			sched_cancel(&rt->sched, t);
		n = q->pending.next; /* a cancelled coroutine may have ended others: start again */
	}
}

int rt_close_queue(struct rt *rt, struct queue *q)
{
	struct list_node *n;
	/*
	 * Each pending op's coroutine is resumed with -ECANCELED and must end;
	 * ops with no coroutine of their own (a queued memq pop) are failed here.
	 */
	while ((n = q->pending.next) != &q->pending) {
		struct op *op = container_of(n, struct op, qnode);
		struct task *t = op->task;
		op_fail(&rt->ops, op, ECANCELED);
		op_orphan(&rt->ops, op);
		if (t)
			sched_cancel(&rt->sched, t);
	}
	int qd = q->qd;
	/*
	 * Results of this queue that completed before the close and carry
	 * nothing the application must release (a push, a connect, a failure)
	 * become orphans too; pops (a buffer) and accepts (a queue) are kept.
	 * Uncollected results are few in a program that collects: a short walk.
	 */
	for (struct list_node *c = rt->ops.completed.next; c != &rt->ops.completed; c = c->next) {
		struct op *op = container_of(c, struct op, cnode);
		demi_opcode_t opc = op->result.qr_opcode;
		if (op->result.qr_qd == qd &&
		    (opc == DEMI_OPC_PUSH || opc == DEMI_OPC_CONNECT || opc == DEMI_OPC_FAILED))
			op_orphan(&rt->ops, op);
	}
	int err = q->ops->close ? q->ops->close(q) : 0;
	qd_remove(&rt->qds, qd);
	return err;
}

#define RT_CLOCK_EVERY 8u /* a power of two */

static uint64_t progress_mark(const struct rt *rt)
{
	return rt->sched.progress + rt->ops.completions;
}

int rt_run_until(struct rt *rt, int (*done)(struct rt *, void *), void *arg, uint64_t deadline)
{
	const uint64_t idle_ns = rt->cfg.poll_idle_us * NSEC_PER_USEC;
	const bool can_block = idle_ns && rt->libos && rt->libos->block;
	uint64_t mark = progress_mark(rt);
	uint64_t last_progress = clock_now();
	uint32_t idle_rounds = 0;
	for (;;) {
		sched_round(&rt->sched);
		if (done(rt, arg))
			return 0;
		uint64_t m = progress_mark(rt);
		/*
		 * A wait without a deadline reads the clock one idle round in
		 * RT_CLOCK_EVERY: reading it costs more than a round of pollers,
		 * and a spinning wait answers sooner the shorter its rounds; timers
		 * fire a few rounds late at most. A wait with a deadline (a poll
		 * with timeout 0 above all) looks at the clock every round.
		 */
		if (m == mark && deadline == UINT64_MAX && (++idle_rounds & (RT_CLOCK_EVERY - 1)))
			continue;
		uint64_t now = clock_now();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t next_timer = timer_next(&rt->timers);
		if (next_timer <= now)
			sched_wake(&rt->sched, rt->timer_task); /* fires in the next round */
		if (m != mark) {
			mark = m;
			last_progress = now;
			continue;
		}
		if (!can_block || now - last_progress < idle_ns)
			continue;
		/*
		 * Idle: sleep in the kernel until an event, the next timer or the
		 * deadline; while a device beside the libOS works (storage I/O in
		 * flight), on the libOS's descriptor and that device's together.
		 */
		uint64_t until = next_timer < deadline ? next_timer : deadline;
		if (until <= now)
			continue;
		struct pollfd fds[RT_SLEEP_FDS];
		int nfds = exts_sleep_fds(rt, fds);
		if (nfds < 0)
			continue;
		if (nfds > 0)
			sleep_fds(fds, nfds, until - now);
		else
			rt->libos->block(rt, rt->libos_state, until == UINT64_MAX ? UINT64_MAX : until - now);
	}
}
