/* Coroutine stacks and initial frames for the assembly switch in arch/coro_switch_*.S. */
#include "coro.h"

#include <stdint.h>

#include "../os/os.h"

/* First code a new coroutine runs: takes entry and arg from callee-saved registers. */
extern void coro_trampoline(void);

void coro_make(struct coro_ctx *ctx, void *stack, size_t size, coro_entry entry, void *arg)
{
	uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
	uintptr_t *sp;
#if defined(__x86_64__)
	/*
	 * Frame popped by coro_switch: r15 r14 r13 r12 rbx rbp, then the return
	 * address. After `ret` rsp is 16-aligned, as the trampoline's call needs.
	 */
	sp = (uintptr_t *)(top - 8);
	*sp = (uintptr_t)coro_trampoline;
	sp -= 6;
	sp[0] = 0;                 /* r15 */
	sp[1] = 0;                 /* r14 */
	sp[2] = (uintptr_t)arg;    /* r13 */
	sp[3] = (uintptr_t)entry;  /* r12 */
	sp[4] = 0;                 /* rbx */
	sp[5] = 0;                 /* rbp */
#elif defined(__aarch64__)
	/* Frame restored by coro_switch: d8-d15, x19-x30 (x19 entry, x20 arg, x30 lr). */
	sp = (uintptr_t *)(top - 20 * 8);
	for (int i = 0; i < 20; i++)
		sp[i] = 0;
	sp[8] = (uintptr_t)entry;            /* x19 */
	sp[9] = (uintptr_t)arg;              /* x20 */
	sp[19] = (uintptr_t)coro_trampoline; /* x30 */
#else
#error "coroutines need a switch for this architecture"
#endif
	ctx->sp = sp;
}

void *coro_stack_alloc(size_t size)
{
	return os_stack_alloc(size);
}

void coro_stack_free(void *stack, size_t size)
{
	os_stack_free(stack, size);
}
