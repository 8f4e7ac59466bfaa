/* Unit tests for the clock: the monotonic source and the per-thread virtual clock. */
#include "runtime/clock.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>

Test(clock, real_is_monotonic_and_moves)
{
	cr_assert_not(clock_is_virtual());
	uint64_t a = clock_now();
	struct timespec ts = { 0, 2 * (long)NSEC_PER_MSEC };
	nanosleep(&ts, NULL);
	uint64_t b = clock_now();
	cr_assert_geq(b - a, 2 * NSEC_PER_MSEC, "slept 2 ms, clock moved %lu ns", (unsigned long)(b - a));
	cr_assert_lt(b - a, 10 * NSEC_PER_SEC);
	for (int i = 0; i < 1000; i++) {
		uint64_t c = clock_now();
		cr_assert_geq(c, b);
		b = c;
	}
}

Test(clock, virtual_reads_start_until_advanced)
{
	clock_use_virtual(1000);
	cr_assert(clock_is_virtual());
	cr_assert_eq(clock_now(), 1000);
	struct timespec ts = { 0, (long)NSEC_PER_MSEC };
	nanosleep(&ts, NULL);
	cr_assert_eq(clock_now(), 1000, "virtual time moved on its own");
	clock_advance(5 * NSEC_PER_MSEC);
	cr_assert_eq(clock_now(), 1000 + 5 * NSEC_PER_MSEC);
	clock_advance(0);
	cr_assert_eq(clock_now(), 1000 + 5 * NSEC_PER_MSEC);
	/* Restarting the virtual clock sets it, it does not add. */
	clock_use_virtual(7);
	cr_assert_eq(clock_now(), 7);
}

Test(clock, back_to_real)
{
	uint64_t before = clock_now();
	clock_use_virtual(42);
	clock_advance(NSEC_PER_SEC);
	clock_use_real();
	cr_assert_not(clock_is_virtual());
	uint64_t now = clock_now();
	cr_assert_geq(now, before);
	cr_assert_neq(now, 42 + NSEC_PER_SEC);
	/* Advancing has no effect on the real clock. */
	clock_advance(1000 * NSEC_PER_SEC);
	cr_assert_lt(clock_now() - now, 100 * NSEC_PER_SEC);
}

static void *other_thread(void *arg)
{
	uint64_t *out = arg;
	out[0] = clock_is_virtual();
	out[1] = clock_now();
	return NULL;
}

Test(clock, virtual_is_per_thread)
{
	clock_use_virtual(5);
	uint64_t out[2] = { 99, 0 };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, other_thread, out), 0);
	pthread_join(th, NULL);
	cr_assert_eq(out[0], 0, "another thread saw this thread's virtual clock");
	cr_assert_neq(out[1], 5);
	cr_assert_eq(clock_now(), 5);
}

/* Where clock_now extrapolates from the TSC, it stays with CLOCK_MONOTONIC across several re-anchors. */
Test(clock, tracks_monotonic)
{
	uint64_t prev = clock_now(), worst = 0;
	for (int i = 0; i < 200000; i++) {
		struct timespec ts;
		uint64_t a = clock_now();
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t m = (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
		uint64_t b = clock_now();
		cr_assert_geq(a, prev, "went back");
		cr_assert_geq(b, a, "went back");
		prev = b;
		/* a <= m <= b, give or take the extrapolation's error (a rate learnt over milliseconds). */
		uint64_t off = m < a ? a - m : m > b ? m - b : 0;
		if (off > worst)
			worst = off;
	}
	cr_assert_lt(worst, 20 * NSEC_PER_USEC, "clock_now strayed %lu ns from CLOCK_MONOTONIC", (unsigned long)worst);
}
