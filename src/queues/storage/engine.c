/* The storage engine of a thread: one io_uring ring, its poller coroutine, request slots and the backlog. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../runtime/log.h"
#include "engine.h"

#include <demi/storage.h>

#define REQS_PER_BLOCK 256
#define FIXED_SLOTS 1024  /* registered chunks: 4 GiB of 4 MiB chunks, more than max_buffer_bytes allows */
#define REAP_BATCH 64
#define SQPOLL_IDLE_MS 10 /* how long the kernel thread spins for new work before it sleeps */
/* user_data of the fsync linked after a write: the request's address with its low bit set. */
#define TAG_FSYNC 1u

struct sreq_block {
	struct sreq_block *next;
	struct sreq reqs[REQS_PER_BLOCK];
};

static void eng_fini(struct rt *rt, struct rt_ext *ext);
static bool eng_busy(struct rt_ext *ext);
static int eng_arm(struct rt_ext *ext);

/* ---- request slots ---- */

struct sreq *stg_req_alloc(struct stg_engine *e)
{
	if (list_empty(&e->free_reqs)) {
		struct sreq_block *b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		b->next = e->blocks;
		e->blocks = b;
		for (int i = 0; i < REQS_PER_BLOCK; i++)
			list_push_back(&e->free_reqs, &b->reqs[i].enode);
	}
	struct sreq *r = container_of(list_pop_front(&e->free_reqs), struct sreq, enode);
	memset(r, 0, sizeof(*r));
	list_node_init(&r->qnode);
	list_node_init(&r->enode);
	r->io.fixed = -1;
	return r;
}

void stg_req_free(struct stg_engine *e, struct sreq *r)
{
	if (r->buf)
		buf_unref(&e->rt->pool, r->buf);
	r->buf = NULL;
	list_push_front(&e->free_reqs, &r->enode);
}

/* ---- submission ---- */

/* Puts r's I/O into the ring; false when the ring (SQ, or the CQEs it may owe) has no room. */
static bool prep(struct stg_engine *e, struct sreq *r)
{
	const struct sio *io = &r->io;
	unsigned need = io->write && io->sync == DEMI_STORAGE_FLUSH ? 2 : 1;
	if (e->cqes_due + need > e->cq_entries || io_uring_sq_space_left(&e->ring) < need)
		return false;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	if (io->write) {
		if (io->fixed >= 0)
			io_uring_prep_write_fixed(sqe, io->fd, io->addr, io->len, io->off, io->fixed);
		else
			io_uring_prep_write(sqe, io->fd, io->addr, io->len, io->off);
		if (io->sync == DEMI_STORAGE_FUA)
			sqe->rw_flags = RWF_DSYNC;
	} else {
		if (io->fixed >= 0)
			io_uring_prep_read_fixed(sqe, io->fd, io->addr, io->len, io->off, io->fixed);
		else
			io_uring_prep_read(sqe, io->fd, io->addr, io->len, io->off);
	}
	io_uring_sqe_set_data64(sqe, (uintptr_t)r);
	if (need == 2) {
		/* The flush runs only after the whole write succeeded; a short or failed write cancels it. */
		sqe->flags |= IOSQE_IO_LINK;
		struct io_uring_sqe *fs = io_uring_get_sqe(&e->ring);
		io_uring_prep_fsync(fs, io->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(fs, (uintptr_t)r | TAG_FSYNC);
	}
	r->cqes = (uint8_t)need;
	r->wres = r->fres = 0;
	e->cqes_due += need;
	(*r->inflight)++;
	return true;
}

/* Hands the queued SQEs to the kernel; with SQPOLL only a store to the tail (and a wake-up if its thread slept). */
static void submit(struct stg_engine *e)
{
	if (!io_uring_sq_ready(&e->ring))
		return;
	int n = io_uring_submit(&e->ring);
	if (n < 0 && n != -EAGAIN && n != -EBUSY && n != -EINTR)
		log_warn("storage: io_uring_submit: %s", strerror(-n));
}

/*
 * Once per round while I/O is in flight. With DEFER_TASKRUN the kernel
 * finishes completions (task work) only when asked: one io_uring_enter
 * submits and collects, instead of an interrupt of this spinning thread per
 * batch of completions (an IPI: costly in a VM, a few percent of IOPS at QD32).
 */
static void submit_and_collect(struct stg_engine *e)
{
	if (!e->defer || !e->cqes_due) {
		submit(e);
		return;
	}
	int n = io_uring_submit_and_get_events(&e->ring);
	if (n < 0 && n != -EAGAIN && n != -EBUSY && n != -EINTR)
		log_warn("storage: io_uring_submit_and_get_events: %s", strerror(-n));
}

void stg_start(struct stg_engine *e, struct sreq *r)
{
	/* Behind a backlog, wait in line: requests reach the ring first come, first served. */
	if (!list_empty(&e->backlog) || !prep(e, r))
		list_push_back(&e->backlog, &r->enode);
	else if (e->eager)
		submit(e);
	sched_wake(&e->rt->sched, e->poller);
}

bool stg_unqueue(struct stg_engine *e, struct sreq *r)
{
	(void)e;
	if (!list_linked(&r->enode))
		return false;
	list_del(&r->enode);
	return true;
}

static void fill_from_backlog(struct stg_engine *e)
{
	struct list_node *n;
	while ((n = e->backlog.next) != &e->backlog) {
		struct sreq *r = container_of(n, struct sreq, enode);
		if (!prep(e, r))
			break;
		list_del(&r->enode);
	}
}

/* ---- completion ---- */

static void on_cqe(struct stg_engine *e, uint64_t data, int32_t res)
{
	struct sreq *r = (struct sreq *)(uintptr_t)(data & ~(uint64_t)TAG_FSYNC);
	if (data & TAG_FSYNC)
		r->fres = res;
	else
		r->wres = res;
	e->cqes_due--;
	if (--r->cqes)
		return;
	(*r->inflight)--;
	r->complete(r);
}

/* Takes every CQE there is without a system call (the kernel fills the CQ ring in shared memory). */
static unsigned reap(struct stg_engine *e)
{
	struct io_uring_cqe *cqes[REAP_BATCH];
	unsigned total = 0, n;
	while ((n = io_uring_peek_batch_cqe(&e->ring, cqes, REAP_BATCH)) > 0) {
		for (unsigned i = 0; i < n; i++)
			on_cqe(e, cqes[i]->user_data, cqes[i]->res);
		io_uring_cq_advance(&e->ring, n);
		total += n;
	}
	return total;
}

static bool eng_busy(struct rt_ext *ext)
{
	struct stg_engine *e = container_of(ext, struct stg_engine, ext);
	return e->cqes_due || !list_empty(&e->backlog) || io_uring_sq_ready(&e->ring);
}

/*
 * The thread is about to sleep while I/O is in flight: empty the eventfd,
 * then make the kernel finish what completed so far (deferred task work
 * rings the eventfd only when its list goes from empty to not empty, so it
 * must be empty now) and look at the CQ once more. Whatever completes after
 * this look rings the eventfd, which wakes the sleep. -1: there is work
 * already, or no eventfd (spin, as before).
 */
static int eng_arm(struct rt_ext *ext)
{
	struct stg_engine *e = container_of(ext, struct stg_engine, ext);
	if (e->efd < 0 || io_uring_sq_ready(&e->ring))
		return -1;
	uint64_t v;
	if (read(e->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -1;
	if (e->defer)
		io_uring_get_events(&e->ring);
	if (io_uring_cq_ready(&e->ring))
		return -1;
	return e->efd;
}

/*
 * Fast-path coroutine: once per round, submits what the round queued and
 * reaps completions. It parks while nothing is in flight (stg_start wakes
 * it), so an idle storage engine costs a round nothing.
 */
static void poller(void *arg)
{
	struct stg_engine *e = arg;
	struct sched *s = &e->rt->sched;
	for (;;) {
		fill_from_backlog(e);
		submit_and_collect(e);
		if (reap(e) && !list_empty(&e->backlog)) {
			fill_from_backlog(e);
			submit(e);
		}
		int r = eng_busy(&e->ext) ? sched_defer(s) : sched_park(s);
		if (r < 0)
			return;
	}
}

/* ---- start and stop ---- */

/* Index of the setting `v` among `words`; config.c accepted only these words. */
static int choice(const char *v, const char *const *words, int nwords)
{
	for (int i = 0; i < nwords; i++)
		if (strcmp(v, words[i]) == 0)
			return i;
	return 0;
}

enum { SQPOLL_AUTO, SQPOLL_ON, SQPOLL_OFF };

/*
 * SQPOLL adds a kernel thread that spins beside the application's, which
 * spins too while I/O is in flight: with fewer than 4 CPUs the two share
 * cores and each waits for the other's time slice (measured on 2 vCPUs:
 * QD1 reads 8x slower). auto: SQPOLL only where the thread may run on 4.
 */
#define SQPOLL_MIN_CPUS 4

static bool enough_cpus(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) >= SQPOLL_MIN_CPUS;
}

/* Sets up the ring: SQPOLL when asked or available, else normal submission; logs which. */
static int ring_init(struct stg_engine *e, unsigned entries, int sqpoll)
{
	struct io_uring_params p;
	int err = -EINVAL;
	if (sqpoll == SQPOLL_AUTO && !enough_cpus())
		log_info("storage: fewer than %d CPUs: no SQPOLL", SQPOLL_MIN_CPUS);
	else if (sqpoll != SQPOLL_OFF) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_CQSIZE;
		p.cq_entries = 2 * entries;
		p.sq_thread_idle = SQPOLL_IDLE_MS;
		err = io_uring_queue_init_params(entries, &e->ring, &p);
		if (!err) {
			e->sqpoll = true;
			log_info("storage: io_uring with SQPOLL (%u entries)", entries);
		} else if (sqpoll == SQPOLL_ON) {
			log_warn("storage: SQPOLL refused (%s): normal submission", strerror(-err));
		}
	}
	if (err) {
		/*
		 * One thread submits (a runtime is per thread): the kernel can skip
		 * its locking, and defer completion work until the poller asks.
		 * Older kernels refuse the flags they lack (6.1, 6.0): drop them.
		 */
		static const unsigned tries[] = {
			IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
			IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER,
			IORING_SETUP_CQSIZE,
		};
		for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
			memset(&p, 0, sizeof(p));
			p.flags = tries[i];
			p.cq_entries = 2 * entries;
			err = io_uring_queue_init_params(entries, &e->ring, &p);
			if (err != -EINVAL)
				break;
		}
		if (err)
			return err;
		e->defer = p.flags & IORING_SETUP_DEFER_TASKRUN;
		log_info("storage: io_uring with normal submission%s (%u entries)", e->defer ? ", deferred task work" : "",
			 entries);
	}
	e->cq_entries = p.cq_entries;
	return 0;
}

static int eng_create(struct rt *rt, struct stg_engine **out)
{
	/* The storage: section of the configuration (doc/config.md); words in the order of their values. */
	static const char *const dur_words[] = { "flush", "fua", "none" };
	static const char *const sq_words[] = { "auto", "on", "off" };
	static const char *const direct_words[] = { "auto", "off" };
	static const char *const submit_words[] = { "eager", "batch" };
	const struct demi_config *c = &rt->cfg;
	int durability = choice(c->storage_durability, dur_words, 3);
	int sqpoll = choice(c->storage_sqpoll, sq_words, 3);
	int direct = choice(c->storage_direct, direct_words, 2);
	int eager = choice(c->storage_submit, submit_words, 2);
	unsigned entries = c->storage_ring_entries;
	if (entries & (entries - 1)) {
		log_error("storage: ring_entries %u is not a power of two", entries);
		return -EINVAL;
	}
	struct stg_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->rt = rt;
	e->durability = durability;
	e->use_direct = direct == 0;
	e->eager = eager == 0;
	list_init(&e->backlog);
	list_init(&e->free_reqs);
	int err = ring_init(e, entries, sqpoll);
	if (err) {
		free(e);
		return err;
	}
	e->eager |= e->sqpoll; /* free with SQPOLL: no system call */
	unsigned fixed = io_uring_register_buffers_sparse(&e->ring, FIXED_SLOTS) == 0 ? FIXED_SLOTS : 0;
	if (!fixed)
		log_info("storage: no sparse buffer registration here: unregistered I/O");
	err = sbuf_pool_create(&rt->pool, &e->ring, fixed, rt->cfg.max_buffer_bytes, &e->bufs);
	if (!err) {
		e->poller = sched_spawn(&rt->sched, TASK_FAST, poller, e);
		if (!e->poller)
			err = -ENOMEM;
	}
	if (err) {
		if (e->bufs)
			sbuf_pool_stop(e->bufs);
		io_uring_queue_exit(&e->ring);
		free(e);
		return err;
	}
	/*
	 * Sleeping while I/O is in flight: the ring rings an eventfd for each
	 * completion, which the wait loop polls beside the libOS's descriptor
	 * (rt_ext.arm). Where that fails, the thread spins while I/O is in flight,
	 * and so it does with SQPOLL: a kernel thread polls the ring for it
	 * anyway, and a sleeping submitter that must be woken for each completion
	 * made QD1 pops 3x slower beside it on 2 loaded vCPUs (storage_io appends).
	 */
	e->efd = e->sqpoll ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->efd >= 0 && io_uring_register_eventfd(&e->ring, e->efd) < 0) {
		log_info("storage: no eventfd for the ring: the thread spins while I/O is in flight");
		close(e->efd);
		e->efd = -1;
	}
	e->ext.busy = eng_busy;
	e->ext.arm = eng_arm;
	e->ext.fini = eng_fini;
	rt_ext_add(rt, &e->ext);
	*out = e;
	return 0;
}

int stg_engine_get(struct rt *rt, struct stg_engine **out)
{
	for (struct rt_ext *x = rt->exts; x; x = x->next) {
		if (x->fini == eng_fini) {
			*out = container_of(x, struct stg_engine, ext);
			return 0;
		}
	}
	return eng_create(rt, out);
}

/*
 * Every queue is closed (rt_destroy), but closed queues may still wait for
 * requests in the kernel: wait for those, so that no I/O touches memory or
 * descriptors after they are gone.
 */
static void eng_fini(struct rt *rt, struct rt_ext *ext)
{
	struct stg_engine *e = container_of(ext, struct stg_engine, ext);
	sched_cancel(&rt->sched, e->poller);
	struct list_node *n;
	/* Closing a queue took its waiting requests out of the backlog; this is only a safety net. */
	while ((n = list_pop_front(&e->backlog)))
		stg_req_free(e, container_of(n, struct sreq, enode));
	while (e->cqes_due) {
		io_uring_submit(&e->ring);
		struct io_uring_cqe *cqe;
		if (reap(e) == 0 && io_uring_wait_cqe(&e->ring, &cqe) < 0)
			break;
	}
	sbuf_pool_stop(e->bufs);
	io_uring_queue_exit(&e->ring);
	if (e->efd >= 0)
		close(e->efd);
	struct sreq_block *b = e->blocks;
	while (b) {
		struct sreq_block *next = b->next;
		free(b);
		b = next;
	}
	free(e);
}
