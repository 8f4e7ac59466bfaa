/*
 * coro_switch(from, to): save callee-saved state on this stack, resume `to`'s
 * stack. For the System V x86-64 ABI (Linux, the BSDs, macOS) and AAPCS64.
 * The Windows x64 convention needs its own switch (issue 17): it also keeps
 * rdi, rsi and xmm6-xmm15 callee-saved, and the TIB's stack bounds
 * (gs:[8], gs:[16]) must follow the stack; coro_make's first frame differs
 * too. It goes beside this file as coro_switch_win64.S (or .asm), chosen in
 * src/meson.build by host system.
 */
#if defined(__x86_64__)
	.text
	.globl coro_switch
	.hidden coro_switch
	.type coro_switch, @function
coro_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq (%rsi), %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size coro_switch, .-coro_switch

	.globl coro_trampoline
	.hidden coro_trampoline
	.type coro_trampoline, @function
coro_trampoline:
	movq %r13, %rdi
	callq *%r12
	ud2
	.size coro_trampoline, .-coro_trampoline

#elif defined(__aarch64__)
	.text
	.globl coro_switch
	.hidden coro_switch
	.type coro_switch, %function
coro_switch:
	sub sp, sp, #160
	stp d8, d9, [sp, #0]
	stp d10, d11, [sp, #16]
	stp d12, d13, [sp, #32]
	stp d14, d15, [sp, #48]
	stp x19, x20, [sp, #64]
	stp x21, x22, [sp, #80]
	stp x23, x24, [sp, #96]
	stp x25, x26, [sp, #112]
	stp x27, x28, [sp, #128]
	stp x29, x30, [sp, #144]
	mov x9, sp
	str x9, [x0]
	ldr x9, [x1]
	mov sp, x9
	ldp d8, d9, [sp, #0]
	ldp d10, d11, [sp, #16]
	ldp d12, d13, [sp, #32]
	ldp d14, d15, [sp, #48]
	ldp x19, x20, [sp, #64]
	ldp x21, x22, [sp, #80]
	ldp x23, x24, [sp, #96]
	ldp x25, x26, [sp, #112]
	ldp x27, x28, [sp, #128]
	ldp x29, x30, [sp, #144]
	add sp, sp, #160
	ret
	.size coro_switch, .-coro_switch

	.globl coro_trampoline
	.hidden coro_trampoline
	.type coro_trampoline, %function
coro_trampoline:
	mov x0, x20
	blr x19
	brk #0
	.size coro_trampoline, .-coro_trampoline
#else
#error "no coroutine switch for this architecture"
#endif
	.section .note.GNU-stack,"",%progbits
