/* Time source: the monotonic clock, or a per-thread virtual clock that tests drive. */
#ifndef DEMI_RUNTIME_CLOCK_H
#define DEMI_RUNTIME_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

/* Nanoseconds since an arbitrary origin: CLOCK_MONOTONIC, or the virtual clock. */
uint64_t clock_now(void);
/* Switches this thread to a virtual clock that reads `start` until advanced. */
void clock_use_virtual(uint64_t start);
/* Moves the virtual clock forward by `ns` (no effect on the real clock). */
void clock_advance(uint64_t ns);
/* Back to CLOCK_MONOTONIC. */
void clock_use_real(void);
bool clock_is_virtual(void);

#endif
