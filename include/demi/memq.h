/* Demi extension: in-process memory queues, FIFOs of sgas between coroutines of one thread. */
#ifndef DEMI_MEMQ_H_IS_INCLUDED
#define DEMI_MEMQ_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Creates a memory queue in this thread, under any libOS. demi_push() on it
 * enqueues the sga (the queue takes a reference to its buffer: no copy) and
 * completes at once; demi_pop() completes with the oldest sga, which the
 * popper then owns. Pops wait while the queue is empty and can be mixed with
 * socket tokens in demi_wait_any(). demi_close() fails waiting pops with
 * ECANCELED and drops what was queued.
 * Errors: EINVAL (NULL out), EMFILE (qd table full), ENOSYS (no demi_init).
 */
ATTR_NONNULL(1)
extern int demi_queue(_Out_ int *qd_out);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_MEMQ_H_IS_INCLUDED */
