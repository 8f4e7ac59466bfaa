/*
 * catmem pipes within one process (both ends in one thread), under catmem and
 * catnap: names, errors, message boundaries, zero copy, flow control, end of
 * stream, close, and corrupt or foreign shared memory.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "catmem_test.h"


/* A test run once under each libOS; `lo` names it. */
#define BOTH(test, ...)                                                                                     \
	ParameterizedTestParameters(catmem_local, test)                                                     \
	{                                                                                                   \
		return cm_libos_params();                                                                   \
	}                                                                                                   \
	ParameterizedTest(struct lo *lo, catmem_local, test, __VA_ARGS__)

#define OK(call) cr_assert_eq((call), 0, "%s: %s", #call, strerror(call))
#define ERR(want, call)                                                                           \
	do {                                                                                      \
		int got_ = (call);                                                                \
		cr_assert_eq(got_, (want), "%s: got %d (%s), want %s", #call, got_, strerror(got_), #want); \
	} while (0)

/* Both ends of a new pipe in this thread: c created it, o opened it. */
static void pair(const char *tag, int *c, int *o, char *name, size_t len)
{
	cm_name(name, len, tag);
	OK(demi_create_pipe(c, name));
	OK(demi_open_pipe(o, name));
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "/dev/shm/demi-pipe.%s", name);
}

BOTH(names, .timeout = 20)
{
	OK(cm_init(lo->name));
	int qd;
	char longest[DEMI_PIPE_NAME_MAX + 2];
	memset(longest, 'n', sizeof(longest));
	longest[DEMI_PIPE_NAME_MAX + 1] = '\0';
	ERR(EINVAL, demi_create_pipe(&qd, longest)); /* one byte too long */
	ERR(EINVAL, demi_open_pipe(&qd, longest));
	ERR(EINVAL, demi_create_pipe(&qd, ""));
	ERR(EINVAL, demi_create_pipe(&qd, ".hidden"));
	ERR(EINVAL, demi_create_pipe(&qd, "a/b"));
	ERR(EINVAL, demi_create_pipe(&qd, "sp ace"));
	ERR(EINVAL, demi_create_pipe(&qd, "caf\xc3\xa9"));
	ERR(EINVAL, demi_create_pipe(&qd, "../etc"));
	ERR(EINVAL, demi_open_pipe(&qd, "a/b"));
	const char *volatile nul = NULL;
	ERR(EINVAL, demi_create_pipe(&qd, (const char *)nul));
	ERR(EINVAL, demi_open_pipe((int *)nul, "x"));
	/* The longest valid name works. */
	char name[32];
	cm_name(name, sizeof(name), "max");
	size_t n = strlen(name);
	memcpy(longest, name, n);
	longest[DEMI_PIPE_NAME_MAX] = '\0';
	OK(demi_create_pipe(&qd, longest));
	int o;
	OK(demi_open_pipe(&o, longest));
	OK(demi_close(o));
	OK(demi_close(qd));
}

BOTH(missing_exists_busy, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o, o2, c2;
	cm_name(name, sizeof(name), "meb");
	ERR(ENOENT, demi_open_pipe(&o, name));
	OK(demi_create_pipe(&c, name));
	ERR(EEXIST, demi_create_pipe(&c2, name));
	OK(demi_open_pipe(&o, name));
	ERR(EBUSY, demi_open_pipe(&o2, name)); /* a second producer for the creator's pops */
	OK(demi_close(o));
	ERR(EBUSY, demi_open_pipe(&o2, name)); /* one opener per pipe, ever */
	OK(demi_close(c));
	ERR(ENOENT, demi_open_pipe(&o2, name)); /* closing the creator removes the name */
	OK(demi_create_pipe(&c, name));         /* ... which can be created again */
	OK(demi_close(c));
}

BOTH(loopback_both_ways, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("lb", &c, &o, name, sizeof(name));
	for (unsigned i = 0; i < 100; i++) {
		OK(cm_push(c, 64, i, 1000));
		OK(cm_pop_expect(o, 64, i, 1000));
		OK(cm_push(o, 1 + i * 37, i + 1, 1000));
		OK(cm_pop_expect(c, 1 + i * 37, i + 1, 1000));
	}
	OK(demi_close(o));
	OK(demi_close(c));
}

/* Pushes before the opener exists are kept for it. */
BOTH(push_before_open, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	cm_name(name, sizeof(name), "pbo");
	OK(demi_create_pipe(&c, name));
	OK(cm_push(c, 100, 1, 1000));
	OK(cm_push(c, 5000, 2, 1000));
	OK(demi_open_pipe(&o, name));
	OK(cm_pop_expect(o, 100, 1, 1000));
	OK(cm_pop_expect(o, 5000, 2, 1000));
	OK(demi_close(o));
	OK(demi_close(c));
}

/* Up to DEMI_PIPE_MSG_MAX a push is one pop; beyond, consecutive pops of at most that much. */
BOTH(boundaries, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("bnd", &c, &o, name, sizeof(name));
	static const size_t sizes[] = { 1, 48, 63, 64, 2048, 2049, 4096, 65535, 65536 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		OK(cm_push(c, sizes[i], (unsigned)i, 1000));
		demi_qresult_t qr;
		OK(cm_pop(o, &qr, 1000));
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, sizes[i]);
		cr_assert_eq(cm_check(qr.qr_value.sga.sga_segs[0].sgaseg_buf, sizes[i], (unsigned)i, 0), -1);
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	/* 200000 bytes: 65536 + 65536 + 65536 + 3392, in order. */
	demi_qtoken_t pt;
	demi_sgarray_t big = demi_sgaalloc(200000);
	cm_fill(big.sga_segs[0].sgaseg_buf, 200000, 9);
	OK(demi_push(&pt, c, &big));
	size_t got = 0;
	for (int k = 0; k < 4; k++) {
		demi_qresult_t qr;
		OK(cm_pop(o, &qr, 1000));
		uint32_t n = qr.qr_value.sga.sga_segs[0].sgaseg_len;
		cr_assert_eq(n, k < 3 ? 65536u : 200000u - 3 * 65536u);
		cr_assert_eq(cm_check(qr.qr_value.sga.sga_segs[0].sgaseg_buf, n, 9, got), -1);
		got += n;
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	demi_qresult_t pr;
	OK(demi_wait(&pr, pt, NULL));
	cr_assert_eq(pr.qr_opcode, DEMI_OPC_PUSH);
	OK(demi_sgafree(&big));
	OK(demi_close(o));
	OK(demi_close(c));
}

BOTH(pops_in_order, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("ord", &c, &o, name, sizeof(name));
	demi_qtoken_t qt[8];
	for (int i = 0; i < 8; i++)
		OK(demi_pop(&qt[i], o));
	for (unsigned i = 0; i < 8; i++)
		OK(cm_push(c, 10 + i * 3000, i, 1000));
	for (unsigned i = 0; i < 8; i++) {
		demi_qresult_t qr;
		OK(demi_wait(&qr, qt[i], NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 10 + i * 3000);
		cr_assert_eq(cm_check(qr.qr_value.sga.sga_segs[0].sgaseg_buf, 10 + i * 3000, i, 0), -1);
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	OK(demi_close(o));
	OK(demi_close(c));
}

/* Closing one end: the other drains, then pops zero-length sgas; pushing to a closed peer is EPIPE. */
BOTH(end_of_stream, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("eos", &c, &o, name, sizeof(name));
	demi_qtoken_t waiting;
	OK(demi_pop(&waiting, c)); /* pending on the creator when the opener closes */
	OK(cm_push(o, 3000, 1, 1000));
	OK(cm_push(o, 70, 2, 1000));
	OK(demi_close(o));
	demi_qresult_t qr;
	OK(demi_wait(&qr, waiting, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
	cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 3000);
	OK(demi_sgafree(&qr.qr_value.sga));
	OK(cm_pop_expect(c, 70, 2, 1000));
	for (int i = 0; i < 3; i++) {
		OK(cm_pop(c, &qr, 1000));
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0, "end of stream is a zero-length sga");
		cr_assert_not_null(qr.qr_value.sga.sga_buf);
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	ERR(EPIPE, cm_push(c, 64, 0, 1000));
	OK(demi_close(c));
}

BOTH(close_cancels, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("cc", &c, &o, name, sizeof(name));
	demi_qtoken_t qt;
	OK(demi_pop(&qt, o));
	OK(demi_close(o));
	demi_qresult_t qr;
	OK(demi_wait(&qr, qt, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, ECANCELED);
	ERR(EBADF, demi_close(o));
	ERR(EBADF, demi_pop(&qt, o));
	OK(demi_close(c));
}

/* A full ring holds pushes back until the peer pops; nothing is lost or reordered. */
BOTH(flow_control, .timeout = 30)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("fc", &c, &o, name, sizeof(name));
	enum { N = 6000 }; /* 6000 records of 128 bytes: about three rings' worth */
	static demi_qtoken_t qt[N];
	int pending_at = -1;
	for (int i = 0; i < N; i++) {
		/* One buffer per push: a waiting push still reads its buffer. */
		demi_sgarray_t sga = demi_sgaalloc(64);
		*(uint32_t *)sga.sga_segs[0].sgaseg_buf = (uint32_t)i;
		OK(demi_push(&qt[i], c, &sga));
		OK(demi_sgafree(&sga));
		demi_qresult_t qr;
		struct timespec zero = { 0, 0 };
		int err = pending_at < 0 ? demi_wait(&qr, qt[i], &zero) : ETIMEDOUT;
		if (err == ETIMEDOUT) {
			if (pending_at < 0)
				pending_at = i;
			continue;
		}
		cr_assert_eq(err, 0);
		qt[i] = 0;
	}
	cr_assert_gt(pending_at, 1000, "the ring holds at least a thousand small messages");
	cr_assert_lt(pending_at, N, "a full ring makes pushes wait");
	for (int i = 0; i < N; i++) {
		demi_qresult_t qr;
		OK(cm_pop(o, &qr, 1000));
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 64);
		cr_assert_eq(*(uint32_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf, (uint32_t)i);
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	for (int i = 0; i < N; i++) {
		if (!qt[i])
			continue;
		demi_qresult_t qr;
		OK(demi_wait(&qr, qt[i], NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	}
	OK(demi_close(o));
	OK(demi_close(c));
}

/* Large pops lend the peer's blocks: while the app holds all of them, large pushes wait; a free lets one through. */
BOTH(blocks_lent_and_returned, .timeout = 30)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("blk", &c, &o, name, sizeof(name));
	enum { NB = 32 };
	demi_qresult_t held[NB];
	for (unsigned i = 0; i < NB; i++) {
		OK(cm_push(c, 10000, i, 1000));
		OK(cm_pop(o, &held[i], 1000));
	}
	demi_qtoken_t qt;
	demi_sgarray_t sga = demi_sgaalloc(10000);
	cm_fill(sga.sga_segs[0].sgaseg_buf, 10000, 99);
	OK(demi_push(&qt, c, &sga));
	demi_qresult_t qr;
	struct timespec ts = cm_ms(50);
	ERR(ETIMEDOUT, demi_wait(&qr, qt, &ts));
	/* A small push behind it on the same end waits its turn, although the ring has room: pushes stay in order. */
	demi_qtoken_t qt_small;
	demi_sgarray_t small = demi_sgaalloc(100);
	cm_fill(small.sga_segs[0].sgaseg_buf, 100, 98);
	OK(demi_push(&qt_small, c, &small));
	ERR(ETIMEDOUT, demi_wait(&qr, qt_small, &ts));
	/* Small messages the other way still pass: they travel in the ring. */
	OK(cm_push(o, 100, 5, 1000));
	OK(cm_pop_expect(c, 100, 5, 1000));
	for (unsigned i = 0; i < NB; i++)
		cr_assert_eq(cm_check(held[i].qr_value.sga.sga_segs[0].sgaseg_buf, 10000, i, 0), -1);
	OK(demi_sgafree(&held[0].qr_value.sga));
	OK(demi_wait(&qr, qt, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	OK(demi_wait(&qr, qt_small, NULL));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
	OK(demi_sgafree(&small));
	OK(cm_pop_expect(o, 10000, 99, 1000));
	OK(cm_pop_expect(o, 100, 98, 1000));
	for (unsigned i = 1; i < NB; i++)
		OK(demi_sgafree(&held[i].qr_value.sga));
	OK(demi_sgafree(&sga));
	OK(demi_close(o));
	OK(demi_close(c));
}

/* demi_pipe_sgaalloc: the peer pops the very bytes written into the pipe's region. */
BOTH(zero_copy_alloc, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("zc", &c, &o, name, sizeof(name));
	demi_sgarray_t sga;
	ERR(EINVAL, demi_pipe_sgaalloc(&sga, c, 0));
	ERR(EINVAL, demi_pipe_sgaalloc(&sga, c, DEMI_PIPE_MSG_MAX + 1));
	ERR(EBADF, demi_pipe_sgaalloc(&sga, (1 << 30) + 4242, 64));
	for (unsigned i = 0; i < 100; i++) {
		size_t len = i % 2 ? 64 : 65536;
		OK(demi_pipe_sgaalloc(&sga, c, len));
		cr_assert_not_null(sga.sga_buf);
		cr_assert_eq(sga.sga_segs[0].sgaseg_len, len);
		cm_fill(sga.sga_segs[0].sgaseg_buf, len, i);
		demi_qtoken_t qt;
		OK(demi_push(&qt, c, &sga));
		OK(demi_sgafree(&sga)); /* right after the push, as PDPIX allows */
		demi_qresult_t qr;
		OK(demi_wait(&qr, qt, NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_PUSH);
		OK(cm_pop(o, &qr, 1000));
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, len);
		cr_assert_eq(cm_check(qr.qr_value.sga.sga_segs[0].sgaseg_buf, len, i, 0), -1);
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	/* An exhausted pool says EAGAIN; a free gives a block back. */
	demi_sgarray_t all[32];
	for (int i = 0; i < 32; i++)
		OK(demi_pipe_sgaalloc(&all[i], c, 1000));
	ERR(EAGAIN, demi_pipe_sgaalloc(&sga, c, 1000));
	OK(demi_sgafree(&all[5]));
	OK(demi_pipe_sgaalloc(&all[5], c, 1000));
	for (int i = 0; i < 32; i++)
		OK(demi_sgafree(&all[i]));
	/* A second push of the same pipe sga is a copy; an offset segment crosses as it is. */
	OK(demi_pipe_sgaalloc(&sga, c, 5000));
	cm_fill(sga.sga_segs[0].sgaseg_buf, 5000, 7);
	demi_qtoken_t qt;
	demi_qresult_t qr;
	OK(demi_push(&qt, c, &sga));
	OK(demi_wait(&qr, qt, NULL));
	OK(demi_push(&qt, c, &sga));
	OK(demi_wait(&qr, qt, NULL));
	OK(cm_pop_expect(o, 5000, 7, 1000));
	OK(cm_pop_expect(o, 5000, 7, 1000));
	OK(demi_sgafree(&sga));
	OK(demi_close(o));
	OK(demi_close(c));
}

/* A popped sga outlives the pipe it came from: the region stays mapped until it is freed. */
BOTH(popped_outlives_close, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64];
	int c, o;
	pair("out", &c, &o, name, sizeof(name));
	OK(cm_push(c, 60000, 3, 1000));
	OK(cm_push(c, 600, 4, 1000));
	demi_qresult_t big, small;
	OK(cm_pop(o, &big, 1000));
	OK(cm_pop(o, &small, 1000));
	OK(demi_close(o));
	OK(demi_close(c));
	cr_assert_eq(cm_check(big.qr_value.sga.sga_segs[0].sgaseg_buf, 60000, 3, 0), -1);
	cr_assert_eq(cm_check(small.qr_value.sga.sga_segs[0].sgaseg_buf, 600, 4, 0), -1);
	/* A popped sga can be pushed straight back, on another pipe. */
	int c2, o2;
	pair("out2", &c2, &o2, name, sizeof(name));
	demi_qtoken_t qt;
	OK(demi_push(&qt, c2, &big.qr_value.sga));
	OK(demi_sgafree(&big.qr_value.sga));
	OK(cm_pop_expect(o2, 60000, 3, 1000));
	OK(demi_sgafree(&small.qr_value.sga));
	ERR(EINVAL, demi_sgafree(&small.qr_value.sga));
	OK(demi_close(o2));
	OK(demi_close(c2));
}

/* Not a socket libOS: catmem answers ENOTSUP for sockets; a pipe answers ENOTSUP for socket calls. */
BOTH(not_a_socket, .timeout = 20)
{
	OK(cm_init(lo->name));
	int qd;
	if (strcmp(lo->name, "catmem") == 0)
		ERR(ENOTSUP, demi_socket(&qd, AF_INET, SOCK_STREAM, 0));
	char name[64];
	int c, o;
	pair("ns", &c, &o, name, sizeof(name));
	ERR(ENOTSUP, demi_listen(c, 1));
	demi_qtoken_t qt;
	ERR(ENOTSUP, demi_accept(&qt, c));
	demi_sgarray_t sga;
	if (strcmp(lo->name, "catnap") == 0) {
		OK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0));
		ERR(ENOTSUP, demi_pipe_sgaalloc(&sga, qd, 64));
		OK(demi_close(qd));
	}
	OK(demi_close(o));
	OK(demi_close(c));
}

/* Garbage over the header: the waiting pop fails with EPROTO, and so does everything after. */
BOTH(corrupt_header, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64], path[128];
	int c, o;
	pair("cor", &c, &o, name, sizeof(name));
	demi_qtoken_t qt;
	OK(demi_pop(&qt, o));
	path_of(path, sizeof(path), name);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 2654435761u >> 13);
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	close(fd);
	demi_qresult_t qr;
	struct timespec ts = cm_ms(2000);
	OK(demi_wait(&qr, qt, &ts));
	cr_assert_eq(qr.qr_opcode, DEMI_OPC_FAILED);
	cr_assert_eq(qr.qr_ret, EPROTO);
	ERR(EPROTO, cm_push(o, 64, 0, 1000));
	ERR(EPROTO, cm_pop(o, &qr, 1000));
	OK(demi_close(o));
	OK(demi_close(c));
}

/* A record with the right stamp but an impossible length is refused, never followed. */
BOTH(forged_record, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64], path[128];
	int c, o;
	pair("forge", &c, &o, name, sizeof(name));
	path_of(path, sizeof(path), name);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	/* The header's immutable part starts with magic, version, sizes; key[0] is at byte 40. */
	uint64_t key0;
	cr_assert_eq(pread(fd, &key0, 8, 40), 8);
	struct {
		uint64_t stamp;
		uint32_t len, info;
	} rec = { 0 ^ key0, 0xfffffff0u, 2 };
	cr_assert_eq(pwrite(fd, &rec, sizeof(rec), 4096), (ssize_t)sizeof(rec)); /* ring 0, position 0 */
	close(fd);
	demi_qresult_t qr;
	ERR(EPROTO, cm_pop(o, &qr, 1000));
	OK(demi_close(o));
	OK(demi_close(c));
}

/* Something else under the name (not a sealed memfd of the right size): EPROTO, never a mapping. */
BOTH(foreign_object, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64], path[128];
	cm_name(name, sizeof(name), "fo");
	path_of(path, sizeof(path), name);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	int o;
	ERR(EPROTO, demi_open_pipe(&o, name)); /* empty file */
	cr_assert_eq(ftruncate(fd, 4096 + 2 * (256 << 10) + 2 * 32 * 65536), 0);
	ERR(EPROTO, demi_open_pipe(&o, name)); /* right size, but truncatable and all zero */
	close(fd);
	unlink(path);
}

/* A name left by a dead creator reads as missing and is reclaimed by the next create. */
BOTH(stale_name, .timeout = 20)
{
	OK(cm_init(lo->name));
	char name[64], path[128];
	cm_name(name, sizeof(name), "st");
	path_of(path, sizeof(path), name);
	cr_assert_eq(symlink("/proc/999999999/fd/3", path), 0);
	int o, c;
	ERR(ENOENT, demi_open_pipe(&o, name));
	OK(demi_create_pipe(&c, name));
	OK(demi_open_pipe(&o, name));
	OK(cm_push(o, 10, 1, 1000));
	OK(cm_pop_expect(c, 10, 1, 1000));
	OK(demi_close(o));
	OK(demi_close(c));
	struct stat st;
	cr_assert_neq(lstat(path, &st), 0, "the creator's close removes the name");
}

/* Pipes mix with memory queues in demi_wait_any, and many pipes live at once. */
BOTH(many_pipes_wait_any, .timeout = 30)
{
	OK(cm_init(lo->name));
	enum { N = 64 };
	int c[N], o[N];
	char name[64];
	for (int i = 0; i < N; i++)
		pair("many", &c[i], &o[i], name, sizeof(name));
	demi_qtoken_t qt[N];
	for (int i = 0; i < N; i++)
		OK(demi_pop(&qt[i], o[i]));
	/* Push in a scrambled order; every pop completes with its own pipe's message. */
	for (int k = 0; k < N; k++) {
		int i = (k * 37) % N;
		OK(cm_push(c[i], 100 + (size_t)i, (unsigned)i, 1000));
	}
	for (int k = 0; k < N; k++) {
		demi_qresult_t qr;
		int off;
		OK(demi_wait_any(&qr, &off, qt, N, NULL));
		cr_assert_eq(qr.qr_opcode, DEMI_OPC_POP);
		cr_assert_eq(qr.qr_qd, o[off]);
		cr_assert_eq(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100 + (uint32_t)off);
		cr_assert_eq(cm_check(qr.qr_value.sga.sga_segs[0].sgaseg_buf, 100 + (size_t)off, (unsigned)off, 0), -1);
		OK(demi_sgafree(&qr.qr_value.sga));
		OK(demi_pop(&qt[off], o[off])); /* keep a fresh token in its slot */
	}
	for (int i = 0; i < N; i++) {
		OK(demi_close(o[i]));
		OK(demi_close(c[i]));
	}
}
