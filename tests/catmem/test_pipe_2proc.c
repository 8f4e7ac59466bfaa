/*
 * catmem pipes between two processes: ping-pong and streaming with byte
 * checks, many pipes, a peer killed with SIGKILL, a second opener, a corrupt
 * header, sleeping and waking, and pipes next to TCP sockets under catnap.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../../src/queues/catmem/pipe_shm.h" /* the end words' flags, to check what each end publishes */
#include "catmem_test.h"


#define BOTH(test, ...)                                                                                     \
	ParameterizedTestParameters(catmem_2proc, test)                                                     \
	{                                                                                                   \
		return cm_libos_params();                                                                   \
	}                                                                                                   \
	ParameterizedTest(struct lo *lo, catmem_2proc, test, __VA_ARGS__)

#define OK(call) cr_assert_eq((call), 0, "%s: %s", #call, strerror(call))
#define ERR(want, call)                                                                           \
	do {                                                                                      \
		int got_ = (call);                                                                \
		cr_assert_eq(got_, (want), "%s: got %d (%s), want %s", #call, got_, strerror(got_), #want); \
	} while (0)

/* What a forked child needs: plain data. */
struct job {
	char libos[16];
	char name[64];
	int n;
	long arg;
};

static struct job job_of(const char *libos, const char *tag, int n)
{
	struct job j = { .n = n };
	snprintf(j.libos, sizeof(j.libos), "%s", libos);
	cm_name(j.name, sizeof(j.name), tag);
	return j;
}

/* Stream pattern: the byte at offset `at` of the whole stream. */
static void fill_at(uint8_t *p, size_t len, uint64_t at)
{
	for (size_t i = 0; i < len; i++)
		p[i] = cm_byte(5, (size_t)(at + i));
}

/* Pops one message of the stream pattern at *at: 0, an errno, or EBADMSG on a wrong byte. */
static int pop_stream(int qd, uint64_t *at, long ms)
{
	demi_qresult_t qr;
	int err = cm_pop(qd, &qr, ms);
	if (err)
		return err;
	const uint8_t *p = qr.qr_value.sga.sga_segs[0].sgaseg_buf;
	uint32_t n = qr.qr_value.sga.sga_segs[0].sgaseg_len;
	for (uint32_t i = 0; i < n && !err; i++)
		if (p[i] != cm_byte(5, (size_t)(*at + i)))
			err = EBADMSG;
	*at += n;
	demi_sgafree(&qr.qr_value.sga);
	return err ? err : n ? 0 : EPIPE;
}

/* ---- ping-pong ---- */

/* Echoes every message back on the same pipe until end of stream. */
static void echo_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	for (;;) {
		demi_qresult_t qr;
		CHILD_OK(cm_pop(qd, &qr, 10000));
		demi_sgarray_t *sga = &qr.qr_value.sga;
		if (sga->sga_segs[0].sgaseg_len == 0) {
			demi_sgafree(sga);
			break;
		}
		demi_qtoken_t qt;
		CHILD_OK(demi_push(&qt, qd, sga)); /* a popped sga goes straight back */
		CHILD_OK(demi_sgafree(sga));
		CHILD_OK(demi_wait(&qr, qt, NULL));
		CHILD_CHECK(qr.qr_opcode == DEMI_OPC_PUSH);
	}
	CHILD_OK(demi_close(qd));
}

BOTH(ping_pong, .timeout = 60)
{
	struct job j = job_of(lo->name, "pp", 0);
	pid_t child = cm_fork(echo_child, &j);
	OK(cm_init(lo->name));
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	for (unsigned i = 0; i < 20000; i++) {
		size_t len = i % 100 == 99 ? 30000 + i : 64;
		OK(cm_push(qd, len, i, 5000));
		OK(cm_pop_expect(qd, len, i, 5000));
	}
	OK(demi_close(qd)); /* the child sees end of stream and exits */
	cr_assert_eq(cm_reap(child), 0);
}

/* ---- one-way stream ---- */

static void producer_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	uint64_t at = 0, total = (uint64_t)j->arg;
	uint32_t x = 12345;
	while (at < total) {
		x = x * 1103515245u + 12345u;
		size_t len = 1 + (x >> 8) % 70000;
		if (len > total - at)
			len = (size_t)(total - at);
		demi_sgarray_t sga = demi_sgaalloc(len);
		CHILD_CHECK(sga.sga_buf != NULL);
		fill_at(sga.sga_segs[0].sgaseg_buf, len, at);
		demi_qtoken_t qt;
		demi_qresult_t qr;
		CHILD_OK(demi_push(&qt, qd, &sga));
		CHILD_OK(demi_sgafree(&sga));
		CHILD_OK(demi_wait(&qr, qt, NULL));
		CHILD_CHECK(qr.qr_opcode == DEMI_OPC_PUSH);
		at += len;
	}
	CHILD_OK(demi_close(qd));
}

BOTH(stream_one_way, .timeout = 120)
{
	struct job j = job_of(lo->name, "st", 0);
	j.arg = 64l << 20;
	pid_t child = cm_fork(producer_child, &j);
	OK(cm_init(lo->name));
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	uint64_t at = 0;
	for (;;) {
		demi_qresult_t qr;
		OK(cm_pop(qd, &qr, 10000));
		demi_sgarray_t *sga = &qr.qr_value.sga;
		uint32_t n = sga->sga_segs[0].sgaseg_len;
		if (n == 0) {
			OK(demi_sgafree(sga));
			break;
		}
		cr_assert_leq(n, DEMI_PIPE_MSG_MAX);
		const uint8_t *p = sga->sga_segs[0].sgaseg_buf;
		for (uint32_t i = 0; i < n; i++)
			if (p[i] != cm_byte(5, (size_t)(at + i)))
				cr_assert_fail("stream byte %llu wrong", (unsigned long long)(at + i));
		at += n;
		OK(demi_sgafree(sga));
	}
	cr_assert_eq(at, (uint64_t)j.arg, "every byte arrives, then end of stream");
	OK(demi_close(qd));
	cr_assert_eq(cm_reap(child), 0);
}

/* ---- many pipes ---- */

#define MANY 32

/* Opens pipes NAME-0 .. NAME-(n-1) and echoes on all of them, until each ends. */
static void many_echo_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd[MANY];
	demi_qtoken_t qt[MANY];
	char name[80];
	for (int i = 0; i < j->n; i++) {
		snprintf(name, sizeof(name), "%s-%d", j->name, i);
		CHILD_OK(cm_open_retry(&qd[i], name, 5000));
		CHILD_OK(demi_pop(&qt[i], qd[i]));
	}
	int open = j->n;
	while (open) {
		demi_qresult_t qr;
		int off;
		struct timespec ts = cm_ms(10000);
		CHILD_OK(demi_wait_any(&qr, &off, qt, j->n, &ts));
		CHILD_CHECK(qr.qr_opcode == DEMI_OPC_POP);
		demi_sgarray_t *sga = &qr.qr_value.sga;
		if (sga->sga_segs[0].sgaseg_len == 0) {
			demi_sgafree(sga);
			/* A closed pipe's slot waits on a token that never completes: a memory queue's pop. */
			int mq;
			CHILD_OK(demi_close(qd[off]));
			CHILD_OK(demi_queue(&mq));
			CHILD_OK(demi_pop(&qt[off], mq));
			open--;
			continue;
		}
		demi_qtoken_t pt;
		CHILD_OK(demi_push(&pt, qd[off], sga));
		CHILD_OK(demi_sgafree(sga));
		CHILD_OK(demi_wait(&qr, pt, NULL));
		CHILD_OK(demi_pop(&qt[off], qd[off]));
	}
}

BOTH(many_pipes, .timeout = 60)
{
	struct job j = job_of(lo->name, "mp", MANY);
	pid_t child = cm_fork(many_echo_child, &j);
	OK(cm_init(lo->name));
	int qd[MANY];
	char name[80];
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "%s-%d", j.name, i);
		OK(demi_create_pipe(&qd[i], name));
	}
	for (unsigned round = 0; round < 50; round++) {
		demi_qtoken_t qt[MANY];
		for (int i = 0; i < MANY; i++) {
			OK(cm_push(qd[i], 32 + (size_t)i * 100, round * MANY + (unsigned)i, 5000));
			OK(demi_pop(&qt[i], qd[i]));
		}
		for (int k = 0; k < MANY; k++) {
			demi_qresult_t qr;
			int off;
			struct timespec ts = cm_ms(5000);
			OK(demi_wait_any(&qr, &off, qt, MANY, &ts));
			cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
			cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 32 + (uint32_t)off * 100);
			cr_assert_eq(cm_check(qr.qr_value.sga.sga_segs[0].sgaseg_buf, 32 + (size_t)off * 100,
					      round * MANY + (unsigned)off, 0),
				     -1);
			OK(demi_sgafree(&qr.qr_value.sga));
			/* Done with this pipe for the round: a token that never completes takes its slot. */
			int mq;
			OK(demi_queue(&mq));
			OK(demi_pop(&qt[off], mq));
		}
	}
	for (int i = 0; i < MANY; i++)
		OK(demi_close(qd[i]));
	cr_assert_eq(cm_reap(child), 0);
}

/* ---- peer death ---- */

/* Pushes 1000-byte messages of the stream pattern forever. */
static void endless_producer(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	for (uint64_t at = 0;; at += 1000) {
		demi_sgarray_t sga = demi_sgaalloc(1000);
		fill_at(sga.sga_segs[0].sgaseg_buf, 1000, at);
		demi_qtoken_t qt;
		demi_qresult_t qr;
		CHILD_OK(demi_push(&qt, qd, &sga));
		demi_sgafree(&sga);
		CHILD_OK(demi_wait(&qr, qt, NULL));
	}
}

BOTH(sigkill_mid_stream, .timeout = 60)
{
	struct job j = job_of(lo->name, "kill", 0);
	pid_t child = cm_fork(endless_producer, &j);
	OK(cm_init(lo->name));
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	uint64_t at = 0;
	for (int i = 0; i < 2000; i++)
		OK(pop_stream(qd, &at, 5000));
	cr_assert_eq(kill(child, SIGKILL), 0); /* not reaped yet: a zombie still counts as dead */
	uint64_t t0 = cm_now_ns();
	int err;
	while ((err = pop_stream(qd, &at, 5000)) == 0)
		; /* what it pushed before dying drains first, intact */
	uint64_t ms = (cm_now_ns() - t0) / 1000000u;
	cr_assert_eq(err, ECONNRESET, "pop after the peer died: %s", strerror(err));
	cr_assert_lt(ms, 1000, "death noticed in %llu ms", (unsigned long long)ms);
	demi_qresult_t qr;
	ERR(ECONNRESET, cm_pop(qd, &qr, 1000));
	ERR(ECONNRESET, cm_push(qd, 64, 0, 1000));
	OK(demi_close(qd));
	cr_assert_eq(cm_reap(child), 128 + SIGKILL);
}

/* Opens the pipe, then sleeps without popping: the parent's pushes fill the ring. */
static void idle_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	CHILD_CHECK(write(j->n, "o", 1) == 1);
	pause();
}

BOTH(sigkill_pending_push, .timeout = 60)
{
	int sync[2];
	cr_assert_eq(pipe(sync), 0);
	struct job j = job_of(lo->name, "kpush", sync[1]);
	pid_t child = cm_fork(idle_child, &j);
	OK(cm_init(lo->name));
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	char c;
	cr_assert_eq(read(sync[0], &c, 1), 1);
	demi_sgarray_t sga = demi_sgaalloc(2000);
	demi_qtoken_t qt;
	demi_qresult_t qr;
	struct timespec zero = { 0, 0 };
	int err;
	do {
		OK(demi_push(&qt, qd, &sga));
		err = demi_wait(&qr, qt, &zero);
	} while (err == 0);
	cr_assert_eq(err, ETIMEDOUT, "the ring fills up");
	cr_assert_eq(kill(child, SIGKILL), 0);
	uint64_t t0 = cm_now_ns();
	struct timespec ts = cm_ms(5000);
	OK(demi_wait(&qr, qt, &ts));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECONNRESET);
	cr_assert_lt((cm_now_ns() - t0) / 1000000u, 1000);
	OK(demi_sgafree(&sga));
	OK(demi_close(qd));
	cr_assert_eq(cm_reap(child), 128 + SIGKILL);
}

/* Creates the pipe, pushes three messages, then waits to be killed. */
static void creator_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(demi_create_pipe(&qd, j->name));
	for (unsigned i = 0; i < 3; i++)
		CHILD_OK(cm_push(qd, 100, i, 1000));
	pause();
}

BOTH(creator_killed, .timeout = 60)
{
	struct job j = job_of(lo->name, "kcre", 0);
	pid_t child = cm_fork(creator_child, &j);
	OK(cm_init(lo->name));
	int qd;
	OK(cm_open_retry(&qd, j.name, 5000));
	for (unsigned i = 0; i < 3; i++)
		OK(cm_pop_expect(qd, 100, i, 5000));
	demi_qtoken_t qt;
	OK(demi_pop(&qt, qd));
	cr_assert_eq(kill(child, SIGKILL), 0);
	demi_qresult_t qr;
	struct timespec ts = cm_ms(5000);
	OK(demi_wait(&qr, qt, &ts));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECONNRESET);
	OK(demi_close(qd));
	cr_assert_eq(cm_reap(child), 128 + SIGKILL);
	/* The dead creator's name reads as missing, and can be created again. */
	ERR(ENOENT, demi_open_pipe(&qd, j.name));
	OK(demi_create_pipe(&qd, j.name));
	OK(demi_close(qd));
}

/* Creates a pipe, pushes once and ends with exit() without demi_close: the main thread's runtime is never torn down. */
static void exit_without_close(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(demi_create_pipe(&qd, j->name));
	CHILD_OK(cm_push(qd, 100, 0, 1000));
	exit(0);
}

/* A creator that exits without closing leaves no name behind in /dev/shm (killed outright, it does: see above). */
BOTH(creator_exits_without_close, .timeout = 30)
{
	struct job j = job_of(lo->name, "exit", 0);
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/demi-pipe.%s", j.name);
	pid_t child = cm_fork(exit_without_close, &j);
	cr_assert_eq(cm_reap(child), 0);
	struct stat st;
	cr_assert_neq(lstat(path, &st), 0, "the name %s outlived its creator", path);
	cr_assert_eq(errno, ENOENT);
	OK(cm_init(lo->name));
	int qd;
	ERR(ENOENT, demi_open_pipe(&qd, j.name));
}

/* ---- a second producer ---- */

/* Waits for a byte on fd j->arg (the first opener is in), then tries to open the pipe too. */
static void open_and_report(void *arg)
{
	struct job *j = arg;
	char c;
	CHILD_CHECK(read((int)j->arg, &c, 1) == 1);
	CHILD_OK(cm_init(j->libos));
	int qd;
	_exit(demi_open_pipe(&qd, j->name));
}

BOTH(second_opener_busy, .timeout = 60)
{
	int sync[2];
	cr_assert_eq(pipe(sync), 0);
	int go[2];
	cr_assert_eq(pipe(go), 0);
	struct job j = job_of(lo->name, "busy", sync[1]);
	pid_t first = cm_fork(idle_child, &j);
	j.arg = go[0];
	pid_t second = cm_fork(open_and_report, &j); /* forked before demi_init here, waits for `go` */
	OK(cm_init(lo->name));
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	char c;
	cr_assert_eq(read(sync[0], &c, 1), 1);
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_assert_eq(cm_reap(second), EBUSY);
	kill(first, SIGKILL);
	cm_reap(first);
	OK(demi_close(qd));
}

/* ---- corruption seen from the other process ---- */

/* Waits on a pop; exits 0 when it fails with EPROTO (the expected outcome), 1 otherwise. */
static void victim_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	CHILD_CHECK(write(j->n, "o", 1) == 1);
	demi_qresult_t qr;
	int err = cm_pop(qd, &qr, 10000);
	if (err != EPROTO)
		fprintf(stderr, "victim: pop ended with %s\n", strerror(err));
	CHILD_CHECK(err == EPROTO);
	CHILD_CHECK(cm_push(qd, 10, 0, 1000) == EPROTO);
	CHILD_OK(demi_close(qd));
}

BOTH(corrupt_header_other_process, .timeout = 60)
{
	int sync[2];
	cr_assert_eq(pipe(sync), 0);
	struct job j = job_of(lo->name, "vic", sync[1]);
	pid_t child = cm_fork(victim_child, &j);
	OK(cm_init(lo->name));
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	char c;
	cr_assert_eq(read(sync[0], &c, 1), 1);
	usleep(20000); /* let its pop start waiting */
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/demi-pipe.%s", j.name);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(0xa5 ^ i * 7);
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	cr_assert_neq(ftruncate(fd, 0), 0, "the memfd is sealed against shrinking");
	close(fd);
	cr_assert_eq(cm_reap(child), 0, "the other process reports EPROTO and does not crash");
	ERR(EPROTO, cm_push(qd, 10, 0, 1000));
	OK(demi_close(qd));
}

/* ---- sleeping and waking ---- */

/* Pushes one 8-byte message carrying its send time (cm_now_ns) and waits for the push: 0 or an errno. */
static int push_stamp(int qd)
{
	demi_sgarray_t sga = demi_sgaalloc(8);
	if (!sga.sga_buf)
		return ENOMEM;
	uint64_t now = cm_now_ns();
	memcpy(sga.sga_segs[0].sgaseg_buf, &now, sizeof(now));
	demi_qtoken_t qt;
	demi_qresult_t qr;
	int err = demi_push(&qt, qd, &sga);
	if (!err)
		err = demi_wait(&qr, qt, NULL);
	if (!err && qr.qr_opcode == DEMI_OPC_FAILED)
		err = (int)qr.qr_ret;
	demi_sgafree(&sga);
	return err;
}

/* Pops one message stamped with its send time; exits 0 if it came quickly and the wait used little CPU. */
static void sleeper_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	CHILD_CHECK(write(j->n, "o", 1) == 1);
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	uint64_t t0 = cm_now_ns();
	demi_qresult_t qr;
	CHILD_OK(cm_pop(qd, &qr, 10000));
	uint64_t now = cm_now_ns();
	getrusage(RUSAGE_SELF, &r1);
	uint64_t sent;
	CHILD_CHECK(qr.qr_value.sga.sga_segs[0].sgaseg_len == sizeof(sent));
	memcpy(&sent, qr.qr_value.sga.sga_segs[0].sgaseg_buf, sizeof(sent));
	double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
		     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
	double wall = (double)(now - t0) / 1e9;
	fprintf(stderr, "sleeper (%s): woke %.3f ms after the push, cpu %.3f s of %.3f s\n", j->libos,
		(double)(now - sent) / 1e6, cpu, wall);
	CHILD_CHECK(now - sent < 50 * 1000000ull);
	CHILD_CHECK(cpu < wall * 0.5);
	CHILD_OK(demi_sgafree(&qr.qr_value.sga));
	CHILD_OK(demi_close(qd));
}

BOTH(sleep_and_wake, .timeout = 60)
{
	int sync[2];
	cr_assert_eq(pipe(sync), 0);
	struct job j = job_of(lo->name, "slp", sync[1]);
	pid_t child = cm_fork(sleeper_child, &j);
	OK(cm_init(lo->name));
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	char c;
	cr_assert_eq(read(sync[0], &c, 1), 1);
	usleep(300000);
	OK(push_stamp(qd));
	cr_assert_eq(cm_reap(child), 0);
	OK(demi_close(qd));
}

/*
 * Pops `n` messages stamped with their send time and answers each, so that
 * the parent sends the next only after a pause in which this side went to
 * sleep again (catmem, poll_idle_us 50). Exits 0 when every wake-up came
 * quickly: a lost wake-up would wait for the 10 ms liveness tick.
 */
static void many_sleeps_child(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init("catmem"));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	uint64_t worst = 0, late = 0;
	for (int i = 0; i < j->n; i++) {
		demi_qresult_t qr;
		CHILD_OK(cm_pop(qd, &qr, 10000));
		uint64_t now = cm_now_ns(), sent;
		CHILD_CHECK(qr.qr_value.sga.sga_segs[0].sgaseg_len == sizeof(sent));
		memcpy(&sent, qr.qr_value.sga.sga_segs[0].sgaseg_buf, sizeof(sent));
		if (now - sent > worst)
			worst = now - sent;
		late += now - sent > 5 * 1000000ull;
		CHILD_OK(cm_push(qd, 1, 0, 10000)); /* the answer */
		CHILD_OK(demi_sgafree(&qr.qr_value.sga));
	}
	fprintf(stderr, "sleeper: %d wake-ups, worst %.3f ms, %lu over 5 ms\n", j->n, (double)worst / 1e6,
		(unsigned long)late);
	/* A busy CI host may delay a few wake-ups; a lost one costs 10 ms every time it happens. */
	CHILD_CHECK(late <= (uint64_t)j->n / 10);
	CHILD_OK(demi_close(qd));
}

struct barrier_mode {
	char membarrier[8];
};

static struct barrier_mode barrier_modes[] = { { "true" }, { "false" } };

ParameterizedTestParameters(catmem_2proc, sleeper_woken_in_both_barrier_modes)
{
	return cr_make_param_array(struct barrier_mode, barrier_modes, sizeof(barrier_modes) / sizeof(barrier_modes[0]));
}

/*
 * The publisher pushes without a fence (membarrier registered, the sleeper
 * issues MEMBARRIER_CMD_GLOBAL_EXPEDITED) or with one (catmem.membarrier:
 * false); either way a sleeping peer is woken every time. The flag each end
 * publishes in its word says which.
 */
ParameterizedTest(struct barrier_mode *m, catmem_2proc, sleeper_woken_in_both_barrier_modes, .timeout = 60)
{
	struct job j = job_of("catmem", "bar", 60);
	pid_t child = cm_fork(many_sleeps_child, &j);
	setenv("CATMEM_MEMBARRIER", m->membarrier, 1);
	int err = cm_init("catmem");
	unsetenv("CATMEM_MEMBARRIER");
	OK(err);
	int qd;
	OK(demi_create_pipe(&qd, j.name));
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/demi-pipe.%s", j.name);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	uint64_t word;
	cr_assert_eq(pread(fd, &word, sizeof(word), offsetof(struct pipe_shared, end[0].word)), (ssize_t)sizeof(word));
	close(fd);
	bool asym = (word >> 8) & PIPE_END_ASYM;
	if (strcmp(m->membarrier, "false") == 0)
		cr_assert_not(asym, "catmem.membarrier: false publishes with a fence");
	else
		cr_log_info("membarrier %s here", asym ? "registered" : "not available");
	for (int i = 0; i < j.n; i++) {
		usleep(1000 + (unsigned)(i % 7) * 300); /* well past poll_idle_us: the child sleeps */
		OK(push_stamp(qd));
		demi_qresult_t qr;
		OK(cm_pop(qd, &qr, 10000));
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	cr_assert_eq(cm_reap(child), 0);
	OK(demi_close(qd));
}

/* ---- pipes and sockets in one wait, under catnap ---- */

/* Sleeps, then pushes one message stamped with its send time. */
static void late_pusher(void *arg)
{
	struct job *j = arg;
	CHILD_OK(cm_init(j->libos));
	int qd;
	CHILD_OK(cm_open_retry(&qd, j->name, 5000));
	usleep(200000);
	CHILD_OK(push_stamp(qd));
	demi_qresult_t qr;
	/* Stay until the parent is done with the pipe, so that it sees data and not a closed peer. */
	CHILD_CHECK(cm_pop(qd, &qr, 10000) == 0);
	CHILD_OK(demi_close(qd));
}

Test(catmem_2proc, catnap_wait_any_with_tcp, .timeout = 60)
{
	struct job j = job_of("catnap", "tcp", 0);
	pid_t child = cm_fork(late_pusher, &j);
	OK(cm_init("catnap"));
	/* A TCP connection to ourselves over loopback. */
	int lqd, cqd, sqd;
	OK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	OK(demi_bind(lqd, (struct sockaddr *)&a, sizeof(a)));
	OK(demi_listen(lqd, 4));
	socklen_t alen = sizeof(a);
	OK(demi_getsockname(lqd, (struct sockaddr *)&a, &alen));
	OK(demi_socket(&cqd, AF_INET, SOCK_STREAM, 0));
	demi_qtoken_t at, ct;
	demi_qresult_t qr;
	OK(demi_accept(&at, lqd));
	OK(demi_connect(&ct, cqd, (struct sockaddr *)&a, sizeof(a)));
	OK(demi_wait(&qr, ct, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_CONNECT);
	OK(demi_wait(&qr, at, NULL));
	sqd = qr.qr_value.ares.qd;
	int pqd;
	OK(demi_create_pipe(&pqd, j.name));
	demi_qtoken_t qts[2];
	OK(demi_pop(&qts[0], sqd));
	OK(demi_pop(&qts[1], pqd));
	/* The pipe message comes first, although catnap sleeps in epoll meanwhile. */
	int off;
	struct timespec ts = cm_ms(5000);
	OK(demi_wait_any(&qr, &off, qts, 2, &ts));
	uint64_t now = cm_now_ns(), sent;
	cr_assert_eq(off, 1);
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, sizeof(sent));
	memcpy(&sent, qr.qr_value.sga.sga_segs[0].sgaseg_buf, sizeof(sent));
	cr_assert_lt(now - sent, 20 * 1000000ull, "a pipe message waits at most a tick: %.3f ms",
		     (double)(now - sent) / 1e6);
	OK(demi_sgafree(&qr.qr_value.sga));
	/* Then the socket. */
	OK(cm_push(cqd, 100, 3, 5000));
	OK(demi_wait_any(&qr, &off, qts, 1, &ts));
	cr_assert_eq(off, 0);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100);
	OK(demi_sgafree(&qr.qr_value.sga));
	OK(cm_push(pqd, 1, 0, 1000));
	cr_assert_eq(cm_reap(child), 0);
	OK(demi_close(pqd));
	OK(demi_close(sqd));
	OK(demi_close(cqd));
	OK(demi_close(lqd));
}
