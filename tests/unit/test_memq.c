/* Unit tests for memory queues through the public API, under catnap; also demi_wait's timeouts. */
#include <demi/libos.h>
#include <demi/memq.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include "runtime/rt.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const struct timespec ZERO = { 0, 0 };
static const struct timespec TEN_MS = { 0, 10 * 1000 * 1000 };
static const struct timespec FIVE_S = { 5, 0 };

/* Coroutines alive between calls: the timer task and the libOS poller. */
static uint32_t base_live;

static void setup(void)
{
	/* The runner's environment must not pick another libOS or configuration. */
	static const char *const vars[] = { "LIBOS", "CONFIG_PATH", "MAX_QTOKENS", "MAX_QUEUES", "MAX_BUFFERS",
					    "MAX_BUFFER_BYTES", "COROUTINE_STACK", "POLL_IDLE_US" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	struct demi_args args = { 0 };
	cr_assert_eq(demi_init(&args), 0);
	cr_assert_not_null(rt_self());
	base_live = rt_self()->sched.live;
}

static void teardown(void)
{
	/* Closing everything frees what queues held: leak checkers see the rest. */
	if (rt_self())
		rt_destroy(rt_self());
}

TestSuite(memq, .init = setup, .fini = teardown);

/* A test that must leave no coroutine behind (checked in the body: .fini cannot fail a test). */
#define MEMQ_TEST(name)                                                                                                \
	static void name##_body(void);                                                                                 \
	Test(memq, name)                                                                                               \
	{                                                                                                              \
		name##_body();                                                                                         \
		uint32_t live = rt_self()->sched.live;                                                                 \
		cr_assert_eq(live, base_live, "%u coroutines left behind", live - base_live);                          \
	}                                                                                                              \
	static void name##_body(void)

static int new_memq(void)
{
	int qd = -1;
	cr_assert_eq(demi_queue(&qd), 0);
	cr_assert_geq(qd, 0);
	return qd;
}

/* An sga of `len` bytes holding `tag` repeated. */
static demi_sgarray_t make_sga(uint32_t len, uint8_t tag)
{
	demi_sgarray_t sga = demi_sgaalloc(len);
	cr_assert_not_null(sga.sga_buf);
	cr_assert_eq(sga.sga_numsegs, 1);
	memset(sga.sga_segs[0].sgaseg_buf, tag, len);
	return sga;
}

static demi_qtoken_t push(int qd, const demi_sgarray_t *sga)
{
	demi_qtoken_t qt = 0;
	cr_assert_eq(demi_push(&qt, qd, sga), 0);
	cr_assert_neq(qt, 0);
	return qt;
}

static demi_qtoken_t pop(int qd)
{
	demi_qtoken_t qt = 0;
	cr_assert_eq(demi_pop(&qt, qd), 0);
	cr_assert_neq(qt, 0);
	return qt;
}

static demi_qresult_t wait_ok(demi_qtoken_t qt, demi_opcode_t opc)
{
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, qt, &FIVE_S), 0);
	cr_assert_eq(qr.qr_opcode, opc, "opcode %d, expected %d (qr_ret %ld)", qr.qr_opcode, opc, (long)qr.qr_ret);
	cr_assert_eq(qr.qr_qt, qt);
	return qr;
}

static uint32_t pool_in_use(void) { return rt_self()->pool.in_use; }

MEMQ_TEST(bad_arguments)
{
	int *volatile null_qd = NULL;
	cr_assert_eq(demi_queue(null_qd), EINVAL);
	int qd = new_memq();
	demi_qtoken_t qt;
	/* Socket calls do not apply to a memory queue. */
	cr_assert_eq(demi_listen(qd, 1), ENOTSUP);
	cr_assert_eq(demi_accept(&qt, qd), ENOTSUP);
	cr_assert_eq(demi_close(qd), 0);
	cr_assert_eq(demi_pop(&qt, qd), EBADF);
	cr_assert_eq(demi_close(qd), EBADF);
}

MEMQ_TEST(push_then_pop_same_buffer_no_copy)
{
	int qd = new_memq();
	demi_sgarray_t sga = make_sga(100, 0x42);
	demi_qtoken_t pqt = push(qd, &sga);
	demi_qresult_t qr = wait_ok(pqt, DEMI_OPC_PUSH);
	cr_assert_eq(qr.qr_qd, qd);
	cr_assert_eq(qr.qr_ret, 0);
	qr = wait_ok(pop(qd), DEMI_OPC_POP);
	cr_assert_eq(qr.qr_qd, qd);
	cr_assert_eq(qr.qr_ret, 0);
	demi_sgarray_t got = qr.qr_value.sga;
	cr_assert_eq(got.sga_numsegs, 1);
	cr_assert_eq(got.sga_buf, sga.sga_buf, "popped sga names another buffer");
	cr_assert_eq(got.sga_segs[0].sgaseg_buf, sga.sga_segs[0].sgaseg_buf, "data was copied");
	cr_assert_eq(got.sga_segs[0].sgaseg_len, 100);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(((uint8_t *)got.sga_segs[0].sgaseg_buf)[i], 0x42);
	/* Both the pusher's and the popper's references are the application's to drop. */
	cr_assert_eq(pool_in_use(), 1);
	cr_assert_eq(demi_sgafree(&sga), 0);
	cr_assert_eq(pool_in_use(), 1);
	cr_assert_eq(demi_sgafree(&got), 0);
	cr_assert_eq(pool_in_use(), 0);
	cr_assert_eq(rt_self()->ops.in_use, 0);
}

MEMQ_TEST(pop_before_push_completes_later)
{
	int qd = new_memq();
	demi_qtoken_t qt = pop(qd);
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, qt, &ZERO), ETIMEDOUT);
	demi_sgarray_t sga = make_sga(7, 0x11);
	wait_ok(push(qd, &sga), DEMI_OPC_PUSH);
	cr_assert_eq(demi_sgafree(&sga), 0);
	qr = wait_ok(qt, DEMI_OPC_POP);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 7);
	cr_assert_eq(((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[6], 0x11);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(pool_in_use(), 0);
}

static bool count_round(void *arg)
{
	++*(int *)arg;
	return false;
}

/* A wait with a timeout looks at the clock every round: timeout 0 is one round, then ETIMEDOUT. */
MEMQ_TEST(zero_timeout_is_one_round)
{
	int rounds = 0;
	struct sched_poller counter = { .poll = count_round, .arg = &rounds };
	sched_poller_add(&rt_self()->sched, &counter);
	int qd = new_memq();
	demi_qtoken_t qt = pop(qd);
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, qt, &ZERO), ETIMEDOUT);
	cr_assert_eq(rounds, 1, "a wait with timeout 0 ran %d scheduler rounds", rounds);
	rounds = 0;
	int any;
	cr_assert_eq(demi_wait_any(&qr, &any, &qt, 1, &ZERO), ETIMEDOUT);
	cr_assert_eq(rounds, 1, "demi_wait_any with timeout 0 ran %d scheduler rounds", rounds);
	sched_poller_del(&counter);
	cr_assert_eq(demi_close(qd), 0);
	cr_assert_eq(demi_wait(&qr, qt, &ZERO), 0, "close completes the pop (cancelled)");
}

MEMQ_TEST(fifo_order_1000)
{
	enum { N = 1000 };
	int qd = new_memq();
	for (uint32_t i = 0; i < N; i++) {
		demi_sgarray_t sga = demi_sgaalloc(sizeof(i));
		memcpy(sga.sga_segs[0].sgaseg_buf, &i, sizeof(i));
		wait_ok(push(qd, &sga), DEMI_OPC_PUSH);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
	cr_assert_eq(pool_in_use(), N, "the queue holds every pushed buffer");
	for (uint32_t i = 0; i < N; i++) {
		demi_qresult_t qr = wait_ok(pop(qd), DEMI_OPC_POP);
		uint32_t v;
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, sizeof(v));
		memcpy(&v, qr.qr_value.sga.sga_segs[0].sgaseg_buf, sizeof(v));
		cr_assert_eq(v, i, "pop %u returned item %u", i, v);
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	}
	cr_assert_eq(pool_in_use(), 0);
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, pop(qd), &ZERO), ETIMEDOUT, "empty queue popped");
}

MEMQ_TEST(waiting_pops_complete_in_order)
{
	enum { N = 8 };
	int qd = new_memq();
	demi_qtoken_t qt[N];
	for (int i = 0; i < N; i++)
		qt[i] = pop(qd);
	for (uint8_t i = 0; i < N; i++) {
		demi_sgarray_t sga = make_sga(1, i);
		wait_ok(push(qd, &sga), DEMI_OPC_PUSH);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
	/* Wait for them in reverse: each pop got the item pushed in its turn. */
	for (int i = N - 1; i >= 0; i--) {
		demi_qresult_t qr = wait_ok(qt[i], DEMI_OPC_POP);
		cr_assert_eq(*(uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf, i, "pop %d got item %d", i,
			     *(uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf);
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	}
	cr_assert_eq(pool_in_use(), 0);
}

MEMQ_TEST(pop_push_wait_cycles_leave_no_coroutines)
{
	/*
	 * A pop that waits is completed by a push, and its token is collected
	 * before its coroutine ran again: the reused op slot must not keep the old
	 * coroutine waiting forever.
	 */
	int qd = new_memq();
	for (int i = 0; i < 2000; i++) {
		demi_qtoken_t pqt = pop(qd);
		demi_sgarray_t sga = make_sga(16, (uint8_t)i);
		demi_qtoken_t sqt = push(qd, &sga);
		demi_qresult_t qr = wait_ok(pqt, DEMI_OPC_POP);
		cr_assert_eq(*(uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf, (uint8_t)i);
		wait_ok(sqt, DEMI_OPC_PUSH);
		cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
	/* Let every woken coroutine run. */
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, pop(qd), &TEN_MS), ETIMEDOUT);
	cr_assert_leq(rt_self()->sched.live, base_live + 1, "%u coroutines for one waiting pop",
		      rt_self()->sched.live - base_live);
	cr_assert_eq(demi_close(qd), 0);
	cr_assert_eq(pool_in_use(), 0);
}

MEMQ_TEST(wait_any_mixes_memq_and_tcp_accept)
{
	int mq = new_memq();
	int lq;
	cr_assert_eq(demi_socket(&lq, AF_INET, SOCK_STREAM, 0), 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(demi_bind(lq, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(demi_listen(lq, 4), 0);
	demi_qtoken_t qts[2];
	cr_assert_eq(demi_accept(&qts[0], lq), 0);
	qts[1] = pop(mq);
	demi_qresult_t qr;
	int off = -1;
	cr_assert_eq(demi_wait_any(&qr, &off, qts, 2, &TEN_MS), ETIMEDOUT);

	/* The memory queue completes first. */
	demi_sgarray_t sga = make_sga(3, 0x33);
	wait_ok(push(mq, &sga), DEMI_OPC_PUSH);
	cr_assert_eq(demi_sgafree(&sga), 0);
	cr_assert_eq(demi_wait_any(&qr, &off, qts, 2, &FIVE_S), 0);
	cr_assert_eq(off, 1);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	cr_assert_eq(qr.qr_qd, mq);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);

	/* Then the socket: a kernel client connects to the listener. */
	qts[1] = pop(mq);
	socklen_t len = sizeof(sin);
	cr_assert_eq(demi_getsockname(lq, (struct sockaddr *)&sin, &len), 0);
	cr_assert_neq(sin.sin_port, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(demi_wait_any(&qr, &off, qts, 2, &FIVE_S), 0);
	cr_assert_eq(off, 0);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_ACCEPT);
	cr_assert_eq(qr.qr_qd, lq);
	cr_assert_geq(qr.qr_value.ares.qd, 0);
	cr_assert_eq(qr.qr_value.ares.addr.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	close(fd);
	cr_assert_eq(demi_close(qr.qr_value.ares.qd), 0);
	/* The pop left waiting is failed by the close. */
	cr_assert_eq(demi_close(mq), 0);
	cr_assert_eq(demi_wait(&qr, qts[1], &ZERO), 0);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(demi_close(lq), 0);
}

MEMQ_TEST(close_fails_waiting_pops)
{
	int qd = new_memq();
	demi_qtoken_t qt[3];
	for (int i = 0; i < 3; i++)
		qt[i] = pop(qd);
	cr_assert_eq(demi_close(qd), 0);
	/* Whatever ran them ended with the close. */
	cr_assert_eq(rt_self()->sched.live, base_live);
	for (int i = 0; i < 3; i++) {
		demi_qresult_t qr;
		cr_assert_eq(demi_wait(&qr, qt[i], &ZERO), 0, "pop %d not completed by close", i);
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
		cr_assert_eq(qr.qr_ret, ECANCELED);
		cr_assert_eq(qr.qr_qd, qd);
		cr_assert_eq(qr.qr_qt, qt[i]);
		cr_assert_null(qr.qr_value.sga.sga_buf);
	}
	cr_assert_eq(rt_self()->ops.in_use, 0);
}

MEMQ_TEST(close_drops_queued_buffers)
{
	int qd = new_memq();
	/* More than the ring's first capacity, so that it grows too. */
	for (int i = 0; i < 100; i++) {
		demi_sgarray_t sga = make_sga(1000, (uint8_t)i);
		wait_ok(push(qd, &sga), DEMI_OPC_PUSH);
		cr_assert_eq(demi_sgafree(&sga), 0);
	}
	cr_assert_eq(pool_in_use(), 100);
	cr_assert_eq(demi_close(qd), 0);
	cr_assert_eq(pool_in_use(), 0, "%u buffers leaked by close", pool_in_use());
	/* A buffer the application still holds survives the close of a queue that also held it. */
	qd = new_memq();
	demi_sgarray_t keep = make_sga(10, 0x77);
	wait_ok(push(qd, &keep), DEMI_OPC_PUSH);
	cr_assert_eq(demi_close(qd), 0);
	cr_assert_eq(pool_in_use(), 1);
	cr_assert_eq(((uint8_t *)keep.sga_segs[0].sgaseg_buf)[9], 0x77);
	cr_assert_eq(demi_sgafree(&keep), 0);
	cr_assert_eq(pool_in_use(), 0);
}

MEMQ_TEST(push_of_bad_sga_is_einval)
{
	int qd = new_memq();
	demi_qtoken_t qt = 0;
	demi_sgarray_t sga = make_sga(10, 1);
	cr_assert_eq(demi_sgafree(&sga), 0);
	cr_assert_eq(demi_push(&qt, qd, &sga), EINVAL, "push of a freed sga");
	cr_assert_eq(demi_sgafree(&sga), EINVAL, "double free");
	demi_sgarray_t good = make_sga(10, 2);
	demi_sgarray_t bad = good;
	bad.sga_numsegs = 2;
	cr_assert_eq(demi_push(&qt, qd, &bad), EINVAL);
	bad = good;
	bad.sga_segs[0].sgaseg_len = 0;
	cr_assert_eq(demi_push(&qt, qd, &bad), EINVAL);
	bad = good;
	bad.sga_buf = NULL;
	cr_assert_eq(demi_push(&qt, qd, &bad), EINVAL);
	const demi_sgarray_t *volatile null_sga = NULL;
	cr_assert_eq(demi_push(&qt, qd, null_sga), EINVAL);
	/* Failed pushes hold nothing: no op, no extra reference, nothing queued. */
	cr_assert_eq(rt_self()->ops.in_use, 0);
	cr_assert_eq(pool_in_use(), 1);
	cr_assert_eq(demi_sgafree(&good), 0);
	cr_assert_eq(pool_in_use(), 0);
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, pop(qd), &ZERO), ETIMEDOUT);
}

MEMQ_TEST(sgafree_right_after_push)
{
	int qd = new_memq();
	demi_sgarray_t sga = make_sga(4096, 0x5c);
	demi_qtoken_t qt = push(qd, &sga);
	cr_assert_eq(demi_sgafree(&sga), 0);
	wait_ok(qt, DEMI_OPC_PUSH);
	demi_qresult_t qr = wait_ok(pop(qd), DEMI_OPC_POP);
	uint8_t *p = qr.qr_value.sga.sga_segs[0].sgaseg_buf;
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 4096);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(p[i], 0x5c);
	cr_assert_eq(pool_in_use(), 1);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(pool_in_use(), 0);
}

MEMQ_TEST(queues_are_independent)
{
	int a = new_memq(), b = new_memq();
	cr_assert_neq(a, b);
	demi_qtoken_t pb = pop(b);
	demi_sgarray_t sga = make_sga(1, 0xa);
	wait_ok(push(a, &sga), DEMI_OPC_PUSH);
	demi_qresult_t qr;
	cr_assert_eq(demi_wait(&qr, pb, &ZERO), ETIMEDOUT, "push on one queue completed a pop on another");
	qr = wait_ok(pop(a), DEMI_OPC_POP);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(demi_sgafree(&sga), 0);
	cr_assert_eq(demi_close(b), 0);
	cr_assert_eq(demi_wait(&qr, pb, &ZERO), 0);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
}

/* ---- demi_wait timeouts, on the real clock ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

MEMQ_TEST(wait_timeout_leaves_token_valid)
{
	int qd = new_memq();
	demi_qtoken_t qt = pop(qd);
	demi_qresult_t qr, untouched;
	memset(&qr, 0xa5, sizeof(qr));
	memcpy(&untouched, &qr, sizeof(qr));
	uint64_t t0 = now_ns();
	cr_assert_eq(demi_wait(&qr, qt, &TEN_MS), ETIMEDOUT);
	uint64_t waited = now_ns() - t0;
	cr_assert_geq(waited, 10u * 1000 * 1000, "returned after %lu ns", (unsigned long)waited);
	cr_assert_lt(waited, 2000u * 1000 * 1000, "returned after %lu ns", (unsigned long)waited);
	cr_assert_eq(memcmp(&qr, &untouched, sizeof(qr)), 0, "qr_out written on timeout");
	/* A zero timeout also times out, and does not spend the token either. */
	cr_assert_eq(demi_wait(&qr, qt, &ZERO), ETIMEDOUT);
	cr_assert_eq(memcmp(&qr, &untouched, sizeof(qr)), 0);
	int off = -1;
	cr_assert_eq(demi_wait_any(&qr, &off, &qt, 1, &ZERO), ETIMEDOUT);
	cr_assert_eq(off, -1);
	/* The token is still good: the pop completes once data arrives. */
	demi_sgarray_t sga = make_sga(5, 0x9);
	wait_ok(push(qd, &sga), DEMI_OPC_PUSH);
	qr = wait_ok(qt, DEMI_OPC_POP);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 5);
	cr_assert_eq(demi_sgafree(&qr.qr_value.sga), 0);
	cr_assert_eq(demi_sgafree(&sga), 0);
	/* Now it is spent. */
	cr_assert_eq(demi_wait(&qr, qt, &ZERO), EINVAL);
}

MEMQ_TEST(completed_wait_with_zero_timeout)
{
	int qd = new_memq();
	demi_sgarray_t sga = make_sga(5, 0x9);
	demi_qtoken_t qt = push(qd, &sga);
	demi_qresult_t qr;
	/* Already done: a zero timeout returns it, not ETIMEDOUT. */
	cr_assert_eq(demi_wait(&qr, qt, &ZERO), 0);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	cr_assert_eq(demi_sgafree(&sga), 0);
	cr_assert_eq(demi_close(qd), 0);
	cr_assert_eq(pool_in_use(), 0);
}

Test(memq_noinit, calls_before_init_are_enosys)
{
	cr_assert_null(rt_self());
	int qd;
	cr_assert_eq(demi_queue(&qd), ENOSYS);
}
