/* Time source: CLOCK_MONOTONIC, or a per-thread virtual clock for deterministic tests. */
#include "clock.h"

#include <time.h>

/* Initial-exec: read on every wait-loop round, and cheap only in this model inside a shared library. */
static __thread bool virt __attribute__((tls_model("initial-exec")));
static __thread uint64_t virt_now __attribute__((tls_model("initial-exec")));

uint64_t clock_now(void)
{
	if (__builtin_expect(virt, 0))
		return virt_now;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void clock_use_virtual(uint64_t start)
{
	virt = true;
	virt_now = start;
}

void clock_advance(uint64_t ns) { virt_now += ns; }
void clock_use_real(void) { virt = false; }
bool clock_is_virtual(void) { return virt; }
