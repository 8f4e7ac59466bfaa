/*
 * Time source: CLOCK_MONOTONIC, or a per-thread virtual clock for deterministic tests.
 *
 * The stack reads the clock several times per segment and the wait loop once
 * per round, so its cost is on every round trip: clock_gettime is ~25 ns in a
 * VM, rdtsc about half. Where the kernel itself keeps time with the TSC (its
 * clocksource is "tsc": invariant and synchronised across CPUs), clock_now
 * extrapolates CLOCK_MONOTONIC from the TSC, re-anchoring every few
 * milliseconds to a fresh clock_gettime and learning the TSC's rate from the
 * anchors; until the rate is known, and on other machines, it is
 * clock_gettime. Values never go back within a thread.
 */
#include "clock.h"

#include "../os/os.h"
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define ANCHOR_NS (2 * NSEC_PER_MSEC) /* re-anchor this often; the first rate comes from this interval */
#define ANCHOR_SLACK 5000u /* TSC ticks (1-2.5 us) around clock_gettime beyond which a sample is not an anchor */

/* Initial-exec: read on every wait-loop round, and cheap only in this model inside a shared library. */
static __thread bool virt __attribute__((tls_model("initial-exec")));
static __thread uint64_t virt_now __attribute__((tls_model("initial-exec")));

struct tsc_clock {
	uint64_t tsc, ns;  /* the last anchor */
	uint64_t ticks;    /* TSC ticks between anchors (ANCHOR_NS at the learnt rate), 0 until known */
	uint64_t mult;     /* ns per tick, in 32.32 fixed point, 0 until known */
	uint64_t last;     /* the last value returned */
};
static __thread struct tsc_clock tc __attribute__((tls_model("initial-exec")));
/* Whether the OS keeps time with the TSC, so that we may (os_tsc_trusted): 0 not asked yet, 1 yes, -1 no. */
static __thread int8_t tsc_state __attribute__((tls_model("initial-exec")));

static inline uint64_t mono_ns(void) { return os_mono_ns(); }

#if defined(__x86_64__)
/*
 * A fresh clock_gettime between two TSC reads: learns the rate from the
 * previous anchor, and anchors there. A thread preempted between the reads
 * would pair the time with a TSC value from milliseconds before, and every
 * extrapolation until the next anchor would be off by as much: such a sample
 * only answers this call.
 */
static uint64_t tsc_anchor(uint64_t before)
{
	uint64_t ns = mono_ns();
	uint64_t after = __rdtsc();
	if (after - before > ANCHOR_SLACK)
		return ns;
	uint64_t now_tsc = before + (after - before) / 2;
	uint64_t dt = now_tsc - tc.tsc, dns = ns - tc.ns;
	if (tc.tsc && dns >= ANCHOR_NS / 2 && dt > 0) {
		tc.mult = (uint64_t)(((unsigned __int128)dns << 32) / dt);
		tc.ticks = (uint64_t)(((unsigned __int128)ANCHOR_NS << 32) / tc.mult);
	}
	if (!tc.tsc || dns >= ANCHOR_NS / 2) {
		tc.tsc = now_tsc;
		tc.ns = ns;
	}
	return ns;
}
#endif

uint64_t clock_now(void)
{
	if (__builtin_expect(virt, 0))
		return virt_now;
#if defined(__x86_64__)
	if (__builtin_expect(!tsc_state, 0))
		tsc_state = os_tsc_trusted() ? 1 : -1;
	if (tsc_state > 0) {
		uint64_t t = __rdtsc(), d = t - tc.tsc, ns;
		if (__builtin_expect(tc.mult && d < tc.ticks, 1))
			ns = tc.ns + (uint64_t)(((unsigned __int128)d * tc.mult) >> 32);
		else
			ns = tsc_anchor(t);
		if (ns < tc.last) /* a new anchor a few ns behind the extrapolation */
			ns = tc.last;
		tc.last = ns;
		return ns;
	}
#endif
	return mono_ns();
}

void clock_use_virtual(uint64_t start)
{
	virt = true;
	virt_now = start;
}

void clock_advance(uint64_t ns) { virt_now += ns; }
void clock_use_real(void) { virt = false; }
bool clock_is_virtual(void) { return virt; }
