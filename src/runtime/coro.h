/* Coroutines: stackful, switched by a few hand-written instructions (no signal-mask system calls). */
#ifndef DEMI_RUNTIME_CORO_H
#define DEMI_RUNTIME_CORO_H

#include <stddef.h>

/* Saved stack pointer of a suspended context; callee-saved registers live on its stack. */
struct coro_ctx {
	void *sp;
};

typedef void (*coro_entry)(void *arg);

/* Saves the current context into *from and resumes *to. Written in assembly. */
void coro_switch(struct coro_ctx *from, struct coro_ctx *to);

/*
 * Prepares *ctx so that the first coro_switch to it calls entry(arg) on the
 * stack [stack, stack + size). entry must never return: it switches away.
 */
void coro_make(struct coro_ctx *ctx, void *stack, size_t size, coro_entry entry, void *arg);

/* A stack with a guard page below it, from mmap. Returns NULL on failure. */
void *coro_stack_alloc(size_t size);
void coro_stack_free(void *stack, size_t size);

#endif
