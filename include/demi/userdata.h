/*
 * Demi extension: a user value per qtoken, returned with the token's result
 * (io_uring's user_data, epoll's data.ptr), so that a server dispatches a
 * completion to its connection without a table indexed by qd (qds are
 * reused after close).
 */
#ifndef DEMI_USERDATA_H_IS_INCLUDED
#define DEMI_USERDATA_H_IS_INCLUDED

#include <stdint.h>
#include <time.h>

#include <demi/cc.h>
#include <demi/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Attaches ud to qt, a token that is pending or completed but not yet
 * collected; a second call replaces the value. The value lives with the
 * token: it is returned by demi_wait_next_n_ud() when the result is
 * collected, and forgotten when the token is spent (any wait collects it).
 * A token without a value has 0.
 * Errors: EINVAL (qt unknown, spent or forged), ENOSYS (no demi_init).
 */
extern int demi_qtoken_set_ud(demi_qtoken_t qt, uint64_t ud);

/**
 * demi_wait_next_n() that also writes, for each result qr_out[i], the value
 * attached to its token in ud_out[i] (0 when none was set). ud_out has room
 * for num_qrs values. Same blocking, timeout and errors as
 * demi_wait_next_n(), plus EINVAL when ud_out is NULL.
 */
ATTR_NONNULL(1, 2, 4)
extern int demi_wait_next_n_ud(_Out_writes_to_(num_qrs, *num_qrs_out) demi_qresult_t *qr_out,
			       _Out_writes_to_(num_qrs, *num_qrs_out) uint64_t *ud_out, _In_ int num_qrs,
			       _Out_ int *num_qrs_out, _In_opt_ const struct timespec *timeout);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_USERDATA_H_IS_INCLUDED */
