/* Linux: the platform calls that stay inline because they sit on hot paths (included by src/os/os.h only). */
#ifndef DEMI_OS_LINUX_OS_LINUX_INLINE_H
#define DEMI_OS_LINUX_OS_LINUX_INLINE_H

#include <time.h>

static inline uint64_t os_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
