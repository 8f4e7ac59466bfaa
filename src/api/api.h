/* Helpers shared by the thin public layer: the thread's runtime and errno conversion. */
#ifndef DEMI_API_API_H
#define DEMI_API_API_H

#include <errno.h>

#include "../runtime/rt.h"

#define DEMI_EXPORT __attribute__((visibility("default")))

/* Returns ENOSYS from the calling public function when this thread has no runtime. */
#define API_RT(rt)                                                             \
	struct rt *rt = rt_self();                                             \
	if (__builtin_expect(!rt, 0))                                          \
		return ENOSYS

/* Internal errors are -errno; the public edge returns them positive. */
static inline int api_err(int e) { return e < 0 ? -e : e; }

#endif
