/*
 * Helpers of the storage tests: standalone programs (io_uring may be missing:
 * they exit 77, "skipped"), one case per run chosen by argv[1]. Files live
 * in a fresh directory under /var/tmp (local disk, O_DIRECT) unless
 * STORAGE_TEST_DIR names another place. Every byte a test writes at file
 * offset o is st_byte(seed, o), so any range can be checked wherever it is read.
 */
#ifndef DEMI_TESTS_STORAGE_TEST_H
#define DEMI_TESTS_STORAGE_TEST_H

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/storage.h>
#include <demi/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ST_SKIP 77

#define CHECK(cond, ...)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                     \
			fprintf(stderr, "\n");                                            \
			exit(1);                                                          \
		}                                                                         \
	} while (0)
#define OK(call)                                                                          \
	do {                                                                              \
		int err_ = (call);                                                        \
		CHECK(err_ == 0, "%s", strerror(err_));                                  \
	} while (0)
#define ERR(want, call)                                                                   \
	do {                                                                              \
		int err_ = (call);                                                        \
		CHECK(err_ == (want), "got %d (%s), want %s", err_, strerror(err_), #want); \
	} while (0)

static char st_dir[256];

static inline uint64_t st_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The byte a test stores at file offset off of the file with this seed. */
static inline uint8_t st_byte(uint64_t seed, uint64_t off)
{
	return (uint8_t)(st_mix(seed * 0x100000001b3ull ^ (off >> 3)) >> (8 * (off & 7)));
}

static inline void st_fill(uint8_t *p, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] = st_byte(seed, off + i);
}

/* Index of the first byte of p that is not what offset off must hold, or -1. */
static inline long st_mismatch(const uint8_t *p, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != st_byte(seed, off + i))
			return (long)i;
	return -1;
}

/* FNV-1a 64, for whole-file hashes. */
static inline uint64_t st_hash(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}
#define ST_HASH0 0xcbf29ce484222325ull

static inline uint64_t st_expected_hash(uint64_t seed, uint64_t len)
{
	uint8_t chunk[65536];
	uint64_t h = ST_HASH0;
	for (uint64_t off = 0; off < len; off += sizeof(chunk)) {
		size_t n = len - off < sizeof(chunk) ? (size_t)(len - off) : sizeof(chunk);
		st_fill(chunk, n, seed, off);
		h = st_hash(h, chunk, n);
	}
	return h;
}

/* Hash of the file's bytes as the kernel reads them (pread, page cache): a second opinion on the queue. */
static inline uint64_t st_file_hash(const char *path, uint64_t *size)
{
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "%s: %s", path, strerror(errno));
	uint8_t chunk[65536];
	uint64_t h = ST_HASH0, total = 0;
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		h = st_hash(h, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	close(fd);
	*size = total;
	return h;
}

static pid_t st_owner;

static inline void st_rmdir(void)
{
	if (!st_dir[0] || getpid() != st_owner)
		return;
	DIR *d = opendir(st_dir);
	if (d) {
		struct dirent *e;
		char p[512];
		while ((e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(p, sizeof(p), "%s/%s", st_dir, e->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(st_dir);
}

/* Path of a file named name in the test's directory. */
static inline const char *st_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", st_dir, name);
	return out;
}

/*
 * Starts Demi in this process (LIBOS from the environment, catnap by
 * default), makes the test directory, and exits 77 when this machine has no
 * io_uring.
 */
/* Makes the test directory, removed at exit (by the process that made it). */
static inline void st_mkdir(const char *tag)
{
	const char *base = getenv("STORAGE_TEST_DIR");
	snprintf(st_dir, sizeof(st_dir), "%s/demi-st-%s-%d", base ? base : "/var/tmp", tag, (int)getpid());
	CHECK(mkdir(st_dir, 0755) == 0 || errno == EEXIST, "%s: %s", st_dir, strerror(errno));
	st_owner = getpid();
	atexit(st_rmdir);
}

static inline void st_start(const char *tag)
{
	struct demi_args args = { 0 };
	OK(demi_init(&args));
	st_mkdir(tag);
	char p[512];
	int qd, err = demi_open_file(&qd, st_path(p, sizeof(p), "probe"), O_RDWR | O_CREAT, 0644);
	if (err == ENOSYS || err == EPERM) {
		fprintf(stderr, "skipped: no io_uring here (%s)\n", strerror(err));
		exit(ST_SKIP);
	}
	OK(err);
	OK(demi_close(qd));
	unlink(p);
}

static inline struct timespec st_secs(long s)
{
	struct timespec ts = { s, 0 };
	return ts;
}

static inline demi_qresult_t st_wait(demi_qtoken_t qt)
{
	demi_qresult_t qr;
	struct timespec t = st_secs(30);
	OK(demi_wait(&qr, qt, &t));
	return qr;
}

/* Pushes len bytes of the pattern for file offset off from a storage sga (or a plain one) and waits. */
static inline demi_qresult_t st_push_wait(int qd, uint64_t seed, uint64_t off, size_t len, bool storage_sga)
{
	demi_sgarray_t sga = storage_sga ? demi_storage_sgaalloc(len) : demi_sgaalloc(len);
	CHECK(sga.sga_buf, "sgaalloc(%zu)", len);
	st_fill(sga.sga_segs[0].sgaseg_buf, len, seed, off);
	demi_qtoken_t qt;
	OK(demi_push(&qt, qd, &sga));
	OK(demi_sgafree(&sga));
	return st_wait(qt);
}

static inline uint64_t st_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
