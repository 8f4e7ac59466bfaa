/*
 * Helpers of the catmem tests. Two-process tests fork inside a Criterion
 * test: each side calls demi_init in its own process after the fork; the
 * child reports through its exit status (it must not use cr_assert) and
 * prints what went wrong on stderr.
 */
#ifndef DEMI_TESTS_CATMEM_TEST_H
#define DEMI_TESTS_CATMEM_TEST_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <demi/libos.h>
#include <demi/memq.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Starts `libos` in this thread; 0 or the demi_init error. */
/* One libOS a parameterized pipe test runs under. Plain data: Criterion copies it into the test process. */
struct lo {
	char name[16];
};

static void cm_params_cleanup(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

/*
 * The libOSes of $DEMI_TEST_PIPE_LIBOSES (spaces or commas), catmem and catnap
 * by default: tests/catpowder runs the one-process pipe tests under catpowder
 * this way, inside its namespace.
 */
static inline struct criterion_test_params cm_libos_params(void)
{
	const char *env = getenv("DEMI_TEST_PIPE_LIBOSES");
	char list[128];
	snprintf(list, sizeof(list), "%s", env && *env ? env : "catmem catnap");
	struct lo *ls = cr_malloc(8 * sizeof(*ls));
	size_t n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(list, ", ", &save); tok && n < 8; tok = strtok_r(NULL, ", ", &save))
		snprintf(ls[n++].name, sizeof(ls[0].name), "%s", tok);
	return cr_make_param_array(struct lo, ls, n, cm_params_cleanup);
}

static inline int cm_init(const char *libos)
{
	setenv("LIBOS", libos, 1);
	struct demi_args args = { 0 };
	return demi_init(&args);
}

/* A pipe name no other test (or earlier run) uses at the same time. */
static inline void cm_name(char *out, size_t len, const char *tag)
{
	static unsigned counter;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(out, len, "t%d-%s-%u-%ld", (int)getpid(), tag, counter++, ts.tv_nsec % 100000);
}

static inline struct timespec cm_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	return ts;
}

static inline uint64_t cm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint8_t cm_byte(unsigned seed, size_t i)
{
	return (uint8_t)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

static inline void cm_fill(void *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)p)[i] = cm_byte(seed, i);
}

/* First index where p differs from the pattern, or -1. */
static inline long cm_check(const void *p, size_t len, unsigned seed, size_t from)
{
	for (size_t i = 0; i < len; i++)
		if (((const uint8_t *)p)[i] != cm_byte(seed, from + i))
			return (long)i;
	return -1;
}

/*
 * Pushes len bytes of pattern `seed` on qd and waits (ms) for the push.
 * Returns 0, the call's error, or the failed push's errno.
 */
static inline int cm_push(int qd, size_t len, unsigned seed, long ms)
{
	demi_sgarray_t sga = demi_sgaalloc(len);
	if (!sga.sga_buf)
		return ENOMEM;
	cm_fill(sga.sga_segs[0].sgaseg_buf, len, seed);
	demi_qtoken_t qt;
	int err = demi_push(&qt, qd, &sga);
	demi_sgafree(&sga);
	if (err)
		return err;
	demi_qresult_t qr;
	struct timespec ts = cm_ms(ms);
	err = demi_wait(&qr, qt, &ts);
	if (err)
		return err;
	return qr.qr_opcode == DEMI_OPC_PUSH ? 0 : (int)qr.qr_ret;
}

/*
 * Pops one message from qd (waits ms) into *qr. Returns 0 with an sga the
 * caller frees, the wait's error, or the failed pop's errno.
 */
static inline int cm_pop(int qd, demi_qresult_t *qr, long ms)
{
	demi_qtoken_t qt;
	int err = demi_pop(&qt, qd);
	if (err)
		return err;
	struct timespec ts = cm_ms(ms);
	err = demi_wait(qr, qt, &ts);
	if (err)
		return err;
	return qr->qr_opcode == DEMI_OPC_POP ? 0 : (int)qr->qr_ret;
}

/* Pops exactly `len` bytes of pattern `seed` (any number of pops). 0, an errno, or EBADMSG on a byte mismatch. */
static inline int cm_pop_expect(int qd, size_t len, unsigned seed, long ms)
{
	size_t got = 0;
	while (got < len) {
		demi_qresult_t qr;
		int err = cm_pop(qd, &qr, ms);
		if (err)
			return err;
		demi_sgarray_t *sga = &qr.qr_value.sga;
		uint32_t n = sga->sga_segs[0].sgaseg_len;
		long bad = n == 0 || got + n > len ? 0 : cm_check(sga->sga_segs[0].sgaseg_buf, n, seed, got);
		demi_sgafree(sga);
		if (n == 0)
			return EPIPE; /* end of stream */
		if (bad >= 0) {
			fprintf(stderr, "pop: byte %zu of pattern %u wrong (message of %u)\n", got + (size_t)bad, seed, n);
			return EBADMSG;
		}
		got += n;
	}
	return 0;
}

/* In a forked child: fail with a message and a status that names the line. */
#define CHILD_CHECK(cond)                                                             \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "child %d: %s:%d: %s\n", (int)getpid(), __FILE__, \
				__LINE__, #cond);                                     \
			_exit(100);                                                   \
		}                                                                     \
	} while (0)
#define CHILD_OK(call)                                                                \
	do {                                                                          \
		int e_ = (call);                                                      \
		if (e_) {                                                             \
			fprintf(stderr, "child %d: %s:%d: %s: %s\n", (int)getpid(),   \
				__FILE__, __LINE__, #call, strerror(e_));             \
			_exit(100);                                                   \
		}                                                                     \
	} while (0)

/* Forks a child that dies with the test, runs fn(arg) in it and exits 0 after. */
static inline pid_t cm_fork(void (*fn)(void *arg), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(arg);
		_exit(0);
	}
	return pid;
}

/* Waits for the child; its exit status, or 128 + signal. */
static inline int cm_reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Opens `name`, retrying while its creator has not created it yet (up to ms). */
static inline int cm_open_retry(int *qd, const char *name, long ms)
{
	uint64_t end = cm_now_ns() + (uint64_t)ms * 1000000u;
	int err;
	while ((err = demi_open_pipe(qd, name)) == ENOENT && cm_now_ns() < end)
		usleep(1000);
	return err;
}

#endif
