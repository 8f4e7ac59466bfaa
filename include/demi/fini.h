/* Demi extension: tearing the calling thread's runtime down before the thread or the process ends. */
#ifndef DEMI_FINI_H_IS_INCLUDED
#define DEMI_FINI_H_IS_INCLUDED

#include <demi/cc.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Tears the calling thread's runtime down, as the thread's exit would:
 * closes every queue (pending tokens are cancelled and become invalid),
 * lets the network stack send what was pushed and acknowledge FINs for two
 * seconds at most, prints the stack's counters at log level info, and frees
 * the runtime. Afterwards every call answers as before demi_init (ENOSYS),
 * and demi_init may be called again in this thread.
 * Errors: ENOSYS (no runtime in this thread: no demi_init, or demi_fini
 * already called).
 */
extern int demi_fini(void);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_FINI_H_IS_INCLUDED */
