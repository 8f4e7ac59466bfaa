/* The platform layer on Linux (src/os/os.h): clocks, memory, shared memory, processes, randomness, futexes, membarrier. */
#include "../os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ull

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC) };
}

/* ---- time ---- */

void os_sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = deadline_ns == UINT64_MAX ? (struct timespec){ INT32_MAX, 0 } : ts_of(deadline_ns);
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static bool tsc_trusted;
static pthread_once_t tsc_once = PTHREAD_ONCE_INIT;

/* The kernel trusts the TSC only when it is invariant and in step on every CPU: its clocksource is then "tsc". */
static void tsc_check(void)
{
#if defined(__x86_64__)
	char src[32] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fgets(src, sizeof(src), f))
			tsc_trusted = strcmp(src, "tsc\n") == 0;
		fclose(f);
	}
#endif
}

bool os_tsc_trusted(void)
{
	pthread_once(&tsc_once, tsc_check);
	return tsc_trusted;
}

/* ---- memory ---- */

size_t os_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

void *os_mem_map(size_t len)
{
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return mem == MAP_FAILED ? NULL : mem;
}

void os_mem_unmap(void *mem, size_t len)
{
	munmap(mem, len);
}

void *os_stack_alloc(size_t size)
{
	size_t page = os_page_size();
	char *p = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* A guard page turns a stack overflow into a fault, not silent corruption. */
	mprotect(p, page, PROT_NONE);
	return p + page;
}

void os_stack_free(void *stack, size_t size)
{
	size_t page = os_page_size();
	munmap((char *)stack - page, size + page);
}

/* ---- shared memory: a sealed memfd ---- */

int os_shm_create(const char *debug_name, size_t size)
{
	int fd = memfd_create(debug_name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sealed against shrinking: a truncated mapping would SIGBUS the other process. */
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int os_shm_check(int fd)
{
	/* Unsealed means someone could truncate it under our mapping. */
	int seals = fcntl(fd, F_GET_SEALS);
	return seals < 0 || !(seals & F_SEAL_SHRINK) ? -EPROTO : 0;
}

void *os_shm_map(int fd, size_t size, int *err)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	return m;
}

void os_shm_unmap(void *mem, size_t size)
{
	munmap(mem, size);
}

/* ---- processes and threads ---- */

uint32_t os_pid(void)
{
	return (uint32_t)getpid();
}

bool os_pid_alive(uint32_t pid)
{
	return !(kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}

int os_pid_watch(uint32_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	return fd < 0 ? -errno : fd;
}

void os_pid_watch_poll(const int *fds, bool *ended, int n)
{
	struct pollfd p[64];
	for (int base = 0; base < n; base += 64) {
		int k = n - base < 64 ? n - base : 64;
		for (int i = 0; i < k; i++) {
			p[i] = (struct pollfd){ .fd = fds[base + i], .events = POLLIN };
			ended[base + i] = false;
		}
		if (poll(p, (nfds_t)k, 0) <= 0)
			continue;
		for (int i = 0; i < k; i++)
			ended[base + i] = p[i].revents != 0;
	}
}

void os_pid_watch_close(int fd)
{
	close(fd);
}

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static void (*exit_fn)(void *arg);

static void on_thread_exit(void *arg)
{
	exit_fn(arg);
}

static void make_exit_key(void)
{
	pthread_key_create(&exit_key, on_thread_exit);
}

void os_thread_at_exit(void (*fn)(void *arg), void *arg)
{
	exit_fn = fn;
	pthread_once(&exit_once, make_exit_key);
	pthread_setspecific(exit_key, arg);
}

/* ---- randomness ---- */

int os_random(void *buf, size_t len, bool block)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom((char *)buf + got, len - got, block ? 0 : GRND_NONBLOCK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

/* ---- bells: futexes shared between processes ---- */

void os_bells_wait(const struct os_bell *b, uint32_t n, uint64_t deadline_ns, uint64_t fallback_ns)
{
	struct futex_waitv w[OS_BELLS_MAX];
	for (uint32_t i = 0; i < n; i++)
		w[i] = (struct futex_waitv){
			.val = b[i].seen,
			.uaddr = (uintptr_t)b[i].word,
			.flags = FUTEX_32, /* shared: the waker is another process */
		};
	struct timespec dl = ts_of(deadline_ns);
	if (syscall(SYS_futex_waitv, w, n, 0, deadline_ns == UINT64_MAX ? NULL : &dl, CLOCK_MONOTONIC) == 0 ||
	    errno != ENOSYS)
		return;
	/* Before Linux 5.16: one word, and a short sleep so that the others are looked at soon. */
	uint64_t rel = fallback_ns;
	if (deadline_ns != UINT64_MAX) {
		uint64_t now = os_mono_ns();
		uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
		if (left < rel)
			rel = left;
	}
	struct timespec r = ts_of(rel);
	syscall(SYS_futex, (void *)b[0].word, FUTEX_WAIT, b[0].seen, &r, NULL, 0);
}

void os_bell_ring(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- membarrier ---- */

bool os_barrier_register(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

bool os_barrier_global(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}
