/* PDPIX waits: run the libOS until operations complete or a timeout passes. */
#ifndef DEMI_WAIT_H_IS_INCLUDED
#define DEMI_WAIT_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Strict C99 (no POSIX feature macro) leaves struct timespec undefined in <time.h>; name it here. */
struct timespec;

/**
 * Waits for qt to complete and returns its result; qt is then spent.
 * A NULL timeout waits until completion; a zero timeout runs one scheduler
 * round (the device polled) before it checks.
 * Errors: EINVAL (NULL out, unknown or spent token, malformed timeout),
 * ETIMEDOUT (qr_out untouched, qt still valid).
 */
ATTR_NONNULL(1)
extern int demi_wait(_Out_ demi_qresult_t *qr_out, _In_ demi_qtoken_t qt, _In_opt_ const struct timespec *timeout);

/**
 * Waits until one of qts has completed and returns the result of the one that
 * completed earliest (completion order, not array order), with its index in
 * qts (the first index when a token is repeated); that token is spent. A
 * completed token therefore waits at most one call per result that completed
 * before it: none starves, wherever it sits in the array.
 * Demikernel documents no order ("the first ... to complete"); its
 * implementations poll, then return the lowest index that is done. Which
 * tokens are done at a call depends on timing, so every answer given here is
 * one Demikernel gives too when the tokens complete a little apart: a program
 * correct under Demikernel stays correct.
 * Cost: every token is checked on every call, but a call remembers the array
 * it last checked, so a server that changes a few entries between calls (the
 * returned token replaced, one appended) pays a streaming compare of the
 * array with that copy (about 0.2 ns a token) plus a check of each changed
 * entry, then O(1) per uncollected result: about 200 ns at 1,000 tokens. A
 * different array, a duplicate token or many tokens of the copy spent
 * elsewhere cost one full pass (about 1 ns a token). While waiting, only new
 * completions are read (doc/bench.md, "demi_wait_any").
 * A NULL timeout waits until completion; a zero timeout runs one scheduler
 * round when nothing is done yet.
 * Errors: EINVAL (NULL pointers, num_qts < 1, any invalid token: at once,
 * before anything is returned; malformed timeout), ETIMEDOUT (qr_out
 * untouched, tokens valid).
 */
ATTR_NONNULL(1, 2, 3)
extern int demi_wait_any(_Out_ demi_qresult_t *qr_out, _Out_ int *ready_offset,
			 _In_reads_(num_qts) const demi_qtoken_t qts[], _In_ int num_qts,
			 _In_opt_ const struct timespec *timeout);

/**
 * Waits for up to num_qrs completions of any operation of this thread, in
 * completion order; returns 0 as soon as qr_out holds at least one, or
 * ETIMEDOUT with *num_qrs_out set to what was filled (0).
 * Errors: EINVAL (NULL pointers, num_qrs <= 0, malformed timeout).
 */
ATTR_NONNULL(1, 3)
extern int demi_wait_next_n(_Out_writes_to_(num_qrs, *num_qrs_out) demi_qresult_t *qr_out, _In_ int num_qrs,
			    _Out_ int *num_qrs_out, _In_opt_ const struct timespec *timeout);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_WAIT_H_IS_INCLUDED */
