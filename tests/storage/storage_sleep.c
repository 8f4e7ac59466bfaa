/*
 * A thread that waits on a durable append sleeps instead of spinning: the
 * ring's eventfd wakes the wait loop (rt_ext.arm, libos_ops.wait_fd). A
 * sampler thread reads the waiting thread's scheduler state from
 * /proc/self/task/TID/stat while it waits on flushed 4 KiB appends: a
 * spinning thread is always R, a sleeping one mostly S. Run with
 * POLL_IDLE_US=1 (meson.build) so that the wait loop sleeps at once rather
 * than after the default 50 us of spinning, whatever the device's speed.
 * Also checks that every append completed, in order, at its offset.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "storage_test.h"

#define APPENDS 400
#define MAX_SECONDS 5

static atomic_int waiting, stop;
static pid_t main_tid;
static long samples, sleeping;

static char state_of(pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* "pid (comm) S ..." */
	return p && p[1] == ' ' ? p[2] : '?';
}

static void *sampler(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		if (atomic_load(&waiting)) {
			char s = state_of(main_tid);
			if (atomic_load(&waiting)) {
				samples++;
				sleeping += s == 'S';
			}
		}
		usleep(100);
	}
	return NULL;
}

int main(void)
{
	st_start("sleep");
	main_tid = (pid_t)syscall(SYS_gettid);
	char p[512];
	int qd;
	OK(demi_open_file(&qd, st_path(p, sizeof(p), "log"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	OK(demi_storage_set_durability(qd, DEMI_STORAGE_FLUSH));
	demi_sgarray_t sga = demi_storage_sgaalloc(4096);
	CHECK(sga.sga_buf, "demi_storage_sgaalloc");
	memset(sga.sga_segs[0].sgaseg_buf, 0x5a, 4096);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, sampler, NULL) == 0, "pthread_create");
	time_t end = time(NULL) + MAX_SECONDS;
	int n;
	for (n = 0; n < APPENDS && time(NULL) < end; n++) {
		demi_qtoken_t qt;
		demi_qresult_t qr;
		OK(demi_push(&qt, qd, &sga));
		atomic_store(&waiting, 1);
		OK(demi_wait(&qr, qt, NULL));
		atomic_store(&waiting, 0);
		CHECK(qr.qr_opcode == DEMI_OPC_PUSH, "append %d failed: %s", n, strerror((int)qr.qr_ret));
		CHECK(qr.qr_ret == (int64_t)n * 4096, "append %d landed at %llu", n, (unsigned long long)qr.qr_ret);
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	OK(demi_sgafree(&sga));
	OK(demi_close(qd));
	printf("%d durable appends; the waiting thread was asleep in %ld of %ld samples\n", n, sleeping, samples);
	CHECK(samples >= 20, "too few samples (%ld) to tell", samples);
	CHECK(sleeping * 4 >= samples, "the thread spun while its flush was in flight: asleep in %ld of %ld samples",
	      sleeping, samples);
	return 0;
}
