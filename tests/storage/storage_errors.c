/*
 * Storage queues, errors: missing file, permission denied, wrong kinds and
 * modes, reads past the end, and a full disk (a 1 MiB tmpfs mounted for the
 * test: root only, else that case is skipped) where no completed append may
 * be lost. Usage: storage_errors CASE (exits 77 without io_uring).
 */
#include <demi/memq.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "storage_test.h"

/*
 * The header declares these nonnull; passing NULL is the point here, so the
 * calls go through pointers whose type carries no such promise (else the
 * compiler may drop the call's checks, and UBSan reports the call).
 */
static int (*volatile open_unchecked)(int *, const char *, int, mode_t) = demi_open_file;
static int (*volatile stat_unchecked)(int, struct demi_storage_stat *) = demi_storage_stat;

static int case_open(void)
{
	st_start("open");
	char p[512];
	int qd;
	ERR(EINVAL, open_unchecked(&qd, NULL, O_RDONLY, 0));
	ERR(EINVAL, open_unchecked(NULL, "/x", O_RDONLY, 0));
	ERR(ENOENT, demi_open_file(&qd, st_path(p, sizeof(p), "missing"), O_RDONLY, 0));
	ERR(ENOENT, demi_open_file(&qd, "/nonexistent-dir/x", O_RDWR | O_CREAT, 0644));
	ERR(EISDIR, demi_open_file(&qd, st_dir, O_RDONLY, 0));
	ERR(EINVAL, demi_open_file(&qd, "/dev/null", O_RDONLY, 0)); /* neither a file nor a block device */
	ERR(EINVAL, demi_open_file(&qd, st_path(p, sizeof(p), "f"), O_RDWR | O_CREAT | O_ASYNC, 0644));
	ERR(EINVAL, demi_open_file(&qd, st_path(p, sizeof(p), "f"), O_ACCMODE, 0644));
	OK(demi_open_file(&qd, st_path(p, sizeof(p), "f"), O_RDWR | O_CREAT | O_EXCL | O_APPEND, 0644));
	int qd2;
	ERR(EEXIST, demi_open_file(&qd2, p, O_RDWR | O_CREAT | O_EXCL, 0644));
	OK(demi_close(qd));

	/* Not a storage queue, or no queue at all. */
	int mq;
	OK(demi_queue(&mq));
	struct demi_storage_stat st;
	ERR(ENOTSUP, demi_storage_seek(mq, 0, 0));
	ERR(ENOTSUP, demi_storage_stat(mq, &st));
	ERR(ENOTSUP, demi_storage_set_durability(mq, DEMI_STORAGE_FLUSH));
	ERR(EBADF, demi_storage_seek((1 << 30) + 4242, 0, 0));
	ERR(EBADF, demi_storage_stat((1 << 30) + 4242, &st));
	ERR(EINVAL, stat_unchecked(mq, NULL));

	/* Modes: no push on a read-only queue, no pop on a write-only one. */
	int ro, wo;
	OK(demi_open_file(&ro, p, O_RDONLY, 0));
	OK(demi_open_file(&wo, p, O_WRONLY, 0));
	demi_sgarray_t sga = demi_storage_sgaalloc(100);
	CHECK(sga.sga_buf, "sgaalloc");
	demi_qtoken_t qt;
	ERR(EBADF, demi_push(&qt, ro, &sga));
	ERR(EBADF, demi_pop(&qt, wo));
	/* A malformed sga is refused by the public layer as for sockets. */
	demi_sgarray_t bad = sga;
	bad.sga_segs[0].sgaseg_len = 0;
	ERR(EINVAL, demi_push(&qt, wo, &bad));
	OK(demi_sgafree(&sga));
	OK(demi_close(ro));
	OK(demi_close(wo));

	/* demi_storage_sgaalloc limits, as demi_sgaalloc. */
	CHECK(demi_storage_sgaalloc(0).sga_buf == NULL, "size 0");
	CHECK(demi_storage_sgaalloc((16u << 20) + 1).sga_buf == NULL, "too large");
	sga = demi_storage_sgaalloc(16u << 20);
	CHECK(sga.sga_buf && ((uintptr_t)sga.sga_segs[0].sgaseg_buf & 4095) == 0, "16 MiB, aligned");
	OK(demi_sgafree(&sga));
	ERR(EINVAL, demi_sgafree(&sga));
	return 0;
}

/* Permission denied: root passes every permission check, so a child drops to nobody first. */
static int case_eacces(void)
{
	char p[512];
	snprintf(p, sizeof(p), "/tmp/demi-st-eacces-%d", (int)getpid());
	int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	CHECK(fd >= 0, "%s: %s", p, strerror(errno));
	close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		struct passwd *pw = getpwnam("nobody");
		uid_t uid = pw ? pw->pw_uid : 65534;
		if (getuid() == 0 && (setgid(uid) < 0 || setuid(uid) < 0))
			_exit(ST_SKIP);
		struct demi_args args = { 0 };
		if (demi_init(&args))
			_exit(3);
		int qd, err = demi_open_file(&qd, p, O_RDONLY, 0);
		if (err == ENOSYS || err == EPERM)
			_exit(ST_SKIP);
		if (err != EACCES) {
			fprintf(stderr, "open as nobody: %d (%s), want EACCES\n", err, strerror(err));
			_exit(1);
		}
		err = demi_open_file(&qd, p, O_WRONLY, 0);
		_exit(err == EACCES ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	unlink(p);
	CHECK(WIFEXITED(status), "child died");
	if (WEXITSTATUS(status) == ST_SKIP)
		fprintf(stderr, "skipped: cannot become nobody, or no io_uring\n");
	return WEXITSTATUS(status);
}

/* Reads at and past the end: zero-length sgas, shorter ones across the end. */
static int case_eof(void)
{
	st_start("eof");
	char p[512];
	int qd;
	OK(demi_open_file(&qd, st_path(p, sizeof(p), "f"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK(st_push_wait(qd, 1, 0, 12345, true).qr_opcode == DEMI_OPC_PUSH, "push");
	uint64_t offs[] = { 12345, 12346, 1ull << 40, 8192, 12344 };
	uint32_t want[] = { 0, 0, 0, 12345 - 8192, 1 };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		OK(demi_storage_seek(qd, offs[i], 65536));
		demi_qtoken_t qt;
		OK(demi_pop(&qt, qd));
		demi_qresult_t qr = st_wait(qt);
		CHECK(qr.qr_opcode == DEMI_OPC_POP, "pop at %llu failed: %lld", (unsigned long long)offs[i],
		      (long long)qr.qr_ret);
		CHECK(qr.qr_value.sga.sga_segs[0].sgaseg_len == want[i], "pop at %llu: %u bytes, want %u",
		      (unsigned long long)offs[i], qr.qr_value.sga.sga_segs[0].sgaseg_len, want[i]);
		CHECK(qr.qr_value.sga.sga_buf, "a zero-length sga still has a buffer to free");
		CHECK(st_mismatch(qr.qr_value.sga.sga_segs[0].sgaseg_buf, want[i], 1, offs[i]) < 0, "data");
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	OK(demi_close(qd));
	return 0;
}

/*
 * Disk full, with appends streaming: the first failed one and every one
 * behind it fail ENOSPC, pushes made meanwhile wait for the file to be cut
 * back, every push that completed reads back at the offset it reported, the
 * completed ones tile the file with no gap, and the file ends where they end.
 * Once space is freed, appends go on right after them. Push i holds the
 * pattern of seed i from its first byte, wherever it lands.
 */
enum { ENOSPC_MAX = 400, ENOSPC_QD = 16 };
static char mnt[256];

/* Runs after st_rmdir (atexit is last in, first out): a failed check leaves no mount behind. */
static void unmount_tmpfs(void)
{
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

static int64_t landed[ENOSPC_MAX];
static int full_errno = ENOSPC; /* what a push past the limit fails with */
static uint32_t lens[ENOSPC_MAX];

static void check_tiling(const char *p, int n, uint64_t *end)
{
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0, "open");
	uint64_t pos = 0;
	/* Pushes complete in call order, so completed ones come in offset order too. */
	for (int i = 0; i < n; i++) {
		if (landed[i] < 0)
			continue;
		CHECK((uint64_t)landed[i] == pos, "push %d landed at %lld, the one before ended at %llu", i,
		      (long long)landed[i], (unsigned long long)pos);
		static uint8_t b[65536];
		CHECK(pread(fd, b, lens[i], landed[i]) == (ssize_t)lens[i], "short file at push %d", i);
		CHECK(st_mismatch(b, lens[i], 1000 + (uint64_t)i, 0) < 0, "push %d corrupt", i);
		pos += lens[i];
	}
	struct stat sb;
	CHECK(fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == pos, "file size %lld, completed pushes end at %llu",
	      (long long)sb.st_size, (unsigned long long)pos);
	close(fd);
	*end = pos;
}

/* Streams pushes (ENOSPC_QD in flight) from push `first` until `failures` failed; returns the pushes made. */
static int stream(int qd, int first, int failures)
{
	demi_qtoken_t qts[ENOSPC_QD];
	int idx[ENOSPC_QD], n = 0, i = first, failed = 0;
	while ((failed < failures && i < ENOSPC_MAX) || n) {
		while (failed < failures && i < ENOSPC_MAX && n < ENOSPC_QD) {
			lens[i] = i % 3 ? 16384 : 5000 + (uint32_t)i;
			demi_sgarray_t sga = i % 2 ? demi_storage_sgaalloc(lens[i]) : demi_sgaalloc(lens[i]);
			CHECK(sga.sga_buf, "sgaalloc");
			st_fill(sga.sga_segs[0].sgaseg_buf, lens[i], 1000 + (uint64_t)i, 0);
			OK(demi_push(&qts[n], qd, &sga));
			OK(demi_sgafree(&sga));
			idx[n++] = i++;
		}
		demi_qresult_t qr;
		int k;
		struct timespec t = st_secs(30);
		OK(demi_wait_any(&qr, &k, qts, n, &t));
		if (qr.qr_opcode == DEMI_OPC_PUSH) {
			landed[idx[k]] = qr.qr_ret;
		} else {
			CHECK(qr.qr_opcode == DEMI_OPC_FAILED && qr.qr_ret == full_errno, "push %d: opcode %d ret %lld",
			      idx[k], qr.qr_opcode, (long long)qr.qr_ret);
			landed[idx[k]] = -1;
			failed++;
		}
		qts[k] = qts[n - 1];
		idx[k] = idx[--n];
	}
	return i;
}

static int case_enospc(void)
{
	snprintf(mnt, sizeof(mnt), "/tmp/demi-st-full-%d", (int)getpid());
	CHECK(mkdir(mnt, 0755) == 0, "%s: %s", mnt, strerror(errno));
	if (mount("demi-st", mnt, "tmpfs", 0, "size=1m") < 0) {
		fprintf(stderr, "skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
		rmdir(mnt);
		return ST_SKIP;
	}
	atexit(unmount_tmpfs);
	setenv("STORAGE_TEST_DIR", mnt, 1);
	st_start("enospc");
	char filler[512], p[512];
	/* Leave room for some appends, not all. */
	int fd = open(st_path(filler, sizeof(filler), "filler"), O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0, "filler");
	static uint8_t zeros[600 << 10];
	CHECK(write(fd, zeros, sizeof(zeros)) == (ssize_t)sizeof(zeros), "filler write");
	close(fd);
	int qd;
	OK(demi_open_file(&qd, st_path(p, sizeof(p), "log"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	int n = stream(qd, 0, 20);
	uint64_t end;
	check_tiling(p, n, &end);
	int done = 0;
	for (int i = 0; i < n; i++)
		done += landed[i] >= 0;
	CHECK(done > 0 && done < n, "%d of %d pushes completed", done, n);
	struct demi_storage_stat st;
	OK(demi_storage_stat(qd, &st));
	CHECK(st.write_pos == end && st.durable_pos == end, "positions after the failures");
	/* The queue reads exactly the completed appends. */
	OK(demi_storage_seek(qd, 0, 1u << 20));
	demi_qtoken_t qt;
	OK(demi_pop(&qt, qd));
	demi_qresult_t qr = st_wait(qt);
	CHECK(qr.qr_opcode == DEMI_OPC_POP && qr.qr_value.sga.sga_segs[0].sgaseg_len == end, "pop read %u bytes",
	      qr.qr_value.sga.sga_segs[0].sgaseg_len);
	OK(demi_sgafree(&qr.qr_value.sga));
	fprintf(stderr, "%d of %d appends completed (%llu bytes), the rest failed ENOSPC\n", done, n,
		(unsigned long long)end);
	/* Room again: the log goes on right after the last completed append. */
	unlink(filler);
	int m = stream(qd, n, 1);
	check_tiling(p, m, &end);
	CHECK(landed[n] >= 0, "first append after freeing space failed");
	OK(demi_close(qd));
	return 0;
}

/*
 * The same with a file size limit (RLIMIT_FSIZE: EFBIG) on local disk, where
 * each push's linked fdatasync keeps the ones behind a failed push in flight
 * while the application pushes more: those wait for the cut-back.
 */
static int case_efbig(void)
{
	st_start("efbig");
	signal(SIGXFSZ, SIG_IGN);
	full_errno = EFBIG;
	char p[512];
	int qd;
	OK(demi_open_file(&qd, st_path(p, sizeof(p), "log"), O_RDWR | O_CREAT | O_TRUNC, 0644));
	struct rlimit lim = { 400 << 10, RLIM_INFINITY };
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
	int n = stream(qd, 0, 40);
	uint64_t end;
	check_tiling(p, n, &end);
	CHECK(end <= (400 << 10), "file beyond the limit");
	lim.rlim_cur = RLIM_INFINITY;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
	int m = stream(qd, n, 1);
	check_tiling(p, m, &end);
	CHECK(landed[n] >= 0, "first append after raising the limit failed");
	fprintf(stderr, "%d pushes before the limit was raised, file now %llu bytes\n", n, (unsigned long long)end);
	OK(demi_close(qd));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} cases[] = {
		{ "open", case_open },	   { "eacces", case_eacces }, { "eof", case_eof },
		{ "enospc", case_enospc }, { "efbig", case_efbig },
	};
	if (argc == 2)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (strcmp(argv[1], cases[i].name) == 0)
				return cases[i].fn();
	fprintf(stderr, "usage: %s open|eacces|eof|enospc|efbig\n", argv[0]);
	return 2;
}
