/*
 * PDPIX conformance suite: shared helpers. Every test body is written once and
 * run against each libOS named in $DEMI_TEST_LIBOSES (default "catnap"), one
 * forked process per (test, libOS), so each calls demi_init afresh.
 */
#ifndef DEMI_TESTS_CONFORMANCE_H
#define DEMI_TESTS_CONFORMANCE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <demi/libos.h>
#include <demi/memq.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* What a libOS supports; a test that needs a capability the libOS lacks is skipped. */
enum {
	CAP_TCP = 1u << 0,     /* SOCK_STREAM sockets */
	CAP_UDP = 1u << 1,     /* SOCK_DGRAM sockets */
	CAP_SOCKOPT = 1u << 2, /* Demi's options beyond SO_LINGER: TCP_NODELAY, SO_KEEPALIVE, SO_RCVBUF, ... */
	CAP_REINIT = 1u << 3,  /* demi_init again in the same process after demi_fini (not catnip: DPDK's EAL starts once) */
	CAP_ALL = CAP_TCP | CAP_UDP | CAP_SOCKOPT | CAP_REINIT,
};

/*
 * One run of a test. Plain data, no pointers: Criterion copies parameters
 * into the forked test process.
 */
struct libos_param {
	char name[32];
	char addr[INET_ADDRSTRLEN]; /* local address its sockets bind and talk to */
	unsigned caps;
};

/* The libOSes of $DEMI_TEST_LIBOSES, as Criterion parameters. */
struct criterion_test_params libos_params(void);

/*
 * A test run once per libOS: `p` is its struct libos_param. Extra arguments
 * are Criterion test options (.timeout = ...).
 */
#define LIBOS_TEST(suite, name, ...)                                           \
	ParameterizedTestParameters(suite, name) { return libos_params(); }    \
	ParameterizedTest(struct libos_param *p, suite, name, __VA_ARGS__)

/* Sockets of either kind: catmem has none (its socket calls answer ENOTSUP). */
#define HAS_SOCKETS(p) (((p)->caps & (CAP_TCP | CAP_UDP)) != 0)

/* Skips the test unless the libOS has sockets at all. */
#define NEED_SOCKETS()                                                         \
	do {                                                                   \
		if (!HAS_SOCKETS(p))                                           \
			cr_skip_test("%s has no sockets", p->name);            \
	} while (0)

/* Skips the test unless the libOS has every capability in caps. */
#define NEED(want)                                                             \
	do {                                                                   \
		if ((p->caps & (want)) != (want))                              \
			cr_skip_test("%s lacks %s", p->name, #want);           \
	} while (0)

/* The symbolic name of an errno value, for assertion messages. */
const char *ename(int err);

#define EXPECT_ERR(want, call)                                                 \
	do {                                                                   \
		int got_ = (call);                                             \
		cr_assert_eq(got_, (want), "%s: got %d (%s), want %s", #call,  \
			     got_, ename(got_), #want);                        \
	} while (0)
#define EXPECT_OK(call) EXPECT_ERR(0, call)

/*
 * NULL through a volatile, so that the compiler neither rejects nor
 * optimises away a NULL passed where the header declares nonnull.
 */
extern void *volatile null_ptr;
#define VNULL(type) ((type)null_ptr)

/*
 * Wall-clock limit of one test, on top of Criterion's .timeout (which does not
 * end a test blocked in the kernel): SIGALRM ends it as a crash.
 */
#define WATCHDOG_S 20
void watchdog_arm(void);

/* Arms the watchdog, sets $LIBOS to p's libOS and starts it in this thread (asserts success). */
void lp_init(const struct libos_param *p);

/* p's local address with the given port (host order). */
struct sockaddr_in lp_addr(const struct libos_param *p, uint16_t port);

/* Timespec of `ms` milliseconds. */
struct timespec ms_ts(long ms);

/* Monotonic nanoseconds. */
uint64_t mono_ns(void);

/* The local address of qd (asserts success). */
struct sockaddr_in sock_name(int qd);

/* A new socket of type bound to p's address, port 0; *out (optional) is its address. */
int bound_socket(const struct libos_param *p, int type, struct sockaddr_in *out);

/* A listening TCP socket on p's address (port 0). */
int tcp_listener(const struct libos_param *p, int backlog, struct sockaddr_in *out);

/* Waits up to ms for qt; asserts the wait succeeded and returns the result. */
demi_qresult_t wait_ms(demi_qtoken_t qt, long ms);

/* As wait_ms, also asserting the opcode (a FAILED result reports its errno). */
demi_qresult_t wait_op(demi_qtoken_t qt, demi_opcode_t opc, long ms);

/* A connected TCP pair through a new listener: client qd, server-side (accepted) qd. */
void tcp_pair(const struct libos_param *p, int *lqd, int *cqd, int *sqd);

/*
 * Both ends of a new catmem pipe with a name of its own: the queue pair of a
 * libOS without sockets (pipes work under every libOS).
 */
void pipe_pair(int *creator, int *opener);

/* An sga of `size` bytes filled with the pattern of `seed` (asserts the allocation). */
demi_sgarray_t sga_pattern(size_t size, unsigned seed);

/* Byte `i` of the pattern of `seed`. */
static inline uint8_t pattern_byte(unsigned seed, size_t i)
{
	return (uint8_t)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

/* Pushes `len` bytes of pattern `seed` on qd and waits for the push. */
void push_pattern(int qd, size_t len, unsigned seed);

/* Pops from a TCP qd until `len` bytes arrived; asserts they follow pattern `seed` from offset 0. */
void pop_expect(int qd, size_t len, unsigned seed);

#endif
