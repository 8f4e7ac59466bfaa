/* PDPIX zero-copy buffers: allocate and free scatter-gather arrays in libOS memory. */
#ifndef DEMI_SGA_H_IS_INCLUDED
#define DEMI_SGA_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Allocates one segment of `size` bytes that the libOS can use without a
 * copy. On failure (size 0 or too large, pool exhausted, no libOS in this
 * thread) the returned sga has sga_buf NULL and sga_numsegs 0.
 */
extern demi_sgarray_t demi_sgaalloc(_In_ size_t size);

/**
 * Drops the application's reference to the sga's buffer. The buffer stays
 * alive while a pending push still needs it.
 * Errors: EINVAL (NULL, malformed or already-freed sga; never a double free).
 */
ATTR_NONNULL(1)
extern int demi_sgafree(_In_ demi_sgarray_t *sga);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_SGA_H_IS_INCLUDED */
