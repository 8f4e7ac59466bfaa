/*
 * The platform layer: every operating-system call the runtime and the queue
 * kinds make, behind one small interface, so that a second OS (Windows,
 * issue 17) fills in one implementation file (src/os/<os>/) instead of a
 * search. Linux: src/os/linux/os_linux.c, and os_linux_inline.h for the
 * calls on hot paths (the monotonic clock), which stay inline.
 *
 * Not here: device code that is one OS's by nature (catnap's epoll sockets,
 * catpowder's AF_PACKET rings, catnip's DPDK, the storage engine's io_uring,
 * the catmem pipes' naming in /dev/shm): a port writes its own device or
 * libOS. Calling conventions (coroutine switches) are the arch seam:
 * src/runtime/arch/.
 *
 * Errors are -errno, as everywhere inside Demi.
 */
#ifndef DEMI_OS_OS_H
#define DEMI_OS_OS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- time ---- */

/* Nanoseconds of the monotonic clock (CLOCK_MONOTONIC): inline, see os_<os>_inline.h. */
static inline uint64_t os_mono_ns(void);
/* Sleeps until the monotonic clock reads deadline_ns (UINT64_MAX: until a signal). */
void os_sleep_until(uint64_t deadline_ns);
/* True when the OS keeps time with an invariant TSC in step on every CPU, so that extrapolating from it is safe. */
bool os_tsc_trusted(void);

/* ---- memory ---- */

size_t os_page_size(void);
/* len bytes of private, zeroed, page-aligned memory, or NULL. */
void *os_mem_map(size_t len);
void os_mem_unmap(void *mem, size_t len);
/* A coroutine stack of size bytes with an inaccessible guard page below it (lazily committed), or NULL. */
void *os_stack_alloc(size_t size);
void os_stack_free(void *stack, size_t size);

/* ---- memory shared between processes ---- */

/*
 * A new anonymous shared-memory object of size zeroed bytes, named for
 * debugging only, that no one can shrink or grow (a truncated mapping would
 * fault the other process). Returns a descriptor or -errno.
 */
int os_shm_create(const char *debug_name, size_t size);
/* 0 when the object behind fd was made by os_shm_create (cannot shrink), else -EPROTO. */
int os_shm_check(int fd);
/* Maps size bytes of fd shared and writable: the address, or NULL with -errno in *err. */
void *os_shm_map(int fd, size_t size, int *err);
void os_shm_unmap(void *mem, size_t size);

/* ---- processes and threads ---- */

uint32_t os_pid(void);
/* False when no process pid exists any more. */
bool os_pid_alive(uint32_t pid);
/*
 * A descriptor that turns readable when process pid ends, even before it is
 * reaped (a pidfd): >= 0, -ESRCH when it is already gone, another -errno when
 * the OS cannot watch it (the caller then asks os_pid_alive).
 */
int os_pid_watch(uint32_t pid);
/* Looks at n watch descriptors without blocking: ended[i] is set for each whose process ended. */
void os_pid_watch_poll(const int *fds, bool *ended, int n);
void os_pid_watch_close(int fd);
/*
 * Arranges fn(arg) when the calling thread exits (arg NULL cancels it). One
 * fn per process: the runtime's teardown.
 */
void os_thread_at_exit(void (*fn)(void *arg), void *arg);

/* ---- randomness ---- */

/* Fills buf from the OS's secure generator: 0, -EAGAIN (!block and not yet seeded), -errno. */
int os_random(void *buf, size_t len, bool block);

/* ---- bells: wake-ups across processes on 32-bit words in shared memory ---- */

#define OS_BELLS_MAX 128

struct os_bell {
	_Atomic uint32_t *word;
	uint32_t seen; /* the value seen before deciding to sleep: a word that differs ends the wait at once */
};

/*
 * Sleeps until one of the n (<= OS_BELLS_MAX) words is rung or differs from
 * its `seen`, or the monotonic clock reaches deadline_ns (UINT64_MAX: none).
 * Where the OS can wait on one word only, it waits on the first for at most
 * fallback_ns, so that the caller looks at the others soon.
 */
void os_bells_wait(const struct os_bell *b, uint32_t n, uint64_t deadline_ns, uint64_t fallback_ns);
/* Wakes every process sleeping on word (the caller changes the word first). */
void os_bell_ring(_Atomic uint32_t *word);

/* ---- process-wide barriers (membarrier) ---- */

/*
 * Registers this process for global barriers: true when os_barrier_global
 * can work. Then a thread that runs os_barrier_global orders the memory
 * accesses of every registered process's threads around it, so that they may
 * skip their own fence (an asymmetric barrier).
 */
bool os_barrier_register(void);
/* Runs the global barrier; false when it failed (the caller then cannot rely on it). */
bool os_barrier_global(void);

#if defined(__linux__)
#include "linux/os_linux_inline.h"
#else
#error "no platform layer for this OS: fill in src/os/<os>/ (see src/os/os.h)"
#endif

#endif
