/*
 * Crash consistency: a writer child streams appends (16 in flight) and
 * reports each completed push (offset, length) through a pipe; the parent
 * kills it with SIGKILL at a random moment, then checks that every reported
 * append reads back intact, through pread and through a storage queue, and
 * that the reports tile the file from 0 (pushes complete in order). Several
 * rounds. Usage: storage_crash [rounds] (exits 77 without io_uring).
 */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "storage_test.h"

#define QD 16
#define MAX_REPORTS 200000

struct report {
	uint64_t off;
	uint64_t len;
};

static const uint64_t seed = 4242;

static void die(const char *what, int err)
{
	fprintf(stderr, "writer: %s: %s\n", what, strerror(err));
	_exit(3);
}

/* The writer: appends forever; never returns. */
static void writer(const char *path, int out)
{
	struct demi_args args = { 0 };
	int err = demi_init(&args);
	if (err)
		die("demi_init", err);
	int qd;
	if ((err = demi_open_file(&qd, path, O_RDWR | O_CREAT | O_TRUNC, 0644)))
		_exit(err == ENOSYS || err == EPERM ? ST_SKIP : 3);
	uint64_t rng = (uint64_t)getpid() * 2654435761u, off = 0;
	int n = 0;
	for (;;) {
		while (n < QD) {
			rng = st_mix(rng);
			size_t len = rng % 4 == 0 ? 4096 * (1 + rng % 8) : 1 + (rng >> 8) % 70000;
			demi_sgarray_t sga = rng % 3 ? demi_storage_sgaalloc(len) : demi_sgaalloc(len);
			if (!sga.sga_buf)
				die("sgaalloc", ENOMEM);
			st_fill(sga.sga_segs[0].sgaseg_buf, len, seed, off);
			demi_qtoken_t qt;
			if ((err = demi_push(&qt, qd, &sga)))
				die("push", err);
			n++;
			demi_sgafree(&sga);
			off += len;
		}
		/* In completion order, which is append order: the reports a kill leaves are a prefix. */
		demi_qresult_t qrs[QD];
		int got;
		if ((err = demi_wait_next_n(qrs, QD, &got, NULL)))
			die("wait", err);
		for (int i = 0; i < got; i++) {
			if (qrs[i].qr_opcode != DEMI_OPC_PUSH)
				die("push completion", (int)qrs[i].qr_ret);
			struct report r = { (uint64_t)qrs[i].qr_ret, qrs[i].qr_value.sga.sga_segs[0].sgaseg_len };
			if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
				die("report", errno);
		}
		n -= got;
	}
}

static struct report reports[MAX_REPORTS];

/* Reads reports until the pipe closes. */
static size_t collect(int in, size_t n)
{
	ssize_t got;
	while (n < MAX_REPORTS && (got = read(in, (char *)&reports[n], (MAX_REPORTS - n) * sizeof(reports[0]))) > 0) {
		CHECK(got % (ssize_t)sizeof(reports[0]) == 0, "torn report");
		n += (size_t)got / sizeof(reports[0]);
	}
	return n;
}

/* Every reported append reads back intact, through pread and through a storage queue. */
static void verify(const char *path, size_t n)
{
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		CHECK(reports[i].off == pos, "report %zu at %llu, expected %llu: a hole in the completed appends", i,
		      (unsigned long long)reports[i].off, (unsigned long long)pos);
		pos += reports[i].len;
	}
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (uint64_t)sb.st_size >= pos, "file (%lld bytes) shorter than its completed appends "
	      "(%llu)", (long long)sb.st_size, (unsigned long long)pos);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "open");
	static uint8_t b[1 << 20];
	for (uint64_t off = 0; off < pos; off += sizeof(b)) {
		size_t len = pos - off < sizeof(b) ? (size_t)(pos - off) : sizeof(b);
		CHECK(pread(fd, b, len, (off_t)off) == (ssize_t)len, "pread");
		long bad = st_mismatch(b, len, seed, off);
		CHECK(bad < 0, "byte %llu differs", (unsigned long long)(off + (uint64_t)bad));
	}
	close(fd);
	int qd;
	OK(demi_open_file(&qd, path, O_RDONLY, 0));
	for (size_t i = 0; i < n; i += 1 + n / 64) {
		OK(demi_storage_seek(qd, reports[i].off, (uint32_t)reports[i].len));
		demi_qtoken_t qt;
		OK(demi_pop(&qt, qd));
		demi_qresult_t qr = st_wait(qt);
		CHECK(qr.qr_opcode == DEMI_OPC_POP && qr.qr_value.sga.sga_segs[0].sgaseg_len == reports[i].len,
		      "pop of report %zu", i);
		CHECK(st_mismatch(qr.qr_value.sga.sga_segs[0].sgaseg_buf, reports[i].len, seed, reports[i].off) < 0,
		      "report %zu differs through the queue", i);
		OK(demi_sgafree(&qr.qr_value.sga));
	}
	OK(demi_close(qd));
}

/* Runs verify in a child of its own: Demi must not start in this process, whose children start it. */
static void verify_in_child(const char *path, size_t n)
{
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct demi_args args = { 0 };
		OK(demi_init(&args));
		verify(path, n);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "verification failed");
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 4;
	st_mkdir("crash");
	char path[512];
	st_path(path, sizeof(path), "log");
	srand((unsigned)getpid());
	for (int round = 0; round < rounds; round++) {
		int fds[2];
		CHECK(pipe(fds) == 0, "pipe");
		pid_t pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0) {
			close(fds[0]);
			writer(path, fds[1]);
		}
		close(fds[1]);
		/*
		 * Kill at a random moment once appends are flowing: the clock starts
		 * at the first report (a loaded machine may take a while to get there).
		 */
		size_t n = 0;
		uint64_t until = st_now_ns() + 20000000000ull;
		while (st_now_ns() < until) {
			struct pollfd p = { fds[0], POLLIN, 0 };
			if (poll(&p, 1, 10) > 0) {
				ssize_t got = read(fds[0], (char *)&reports[n], sizeof(reports[0]));
				if (got <= 0)
					break; /* the writer died by itself */
				CHECK(got == (ssize_t)sizeof(reports[0]), "torn report");
				if (n++ == 0)
					until = st_now_ns() + (100 + (uint64_t)(rand() % 600)) * 1000000ull;
			}
		}
		kill(pid, SIGKILL);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
		if (WIFEXITED(status) && WEXITSTATUS(status) == ST_SKIP)
			return ST_SKIP;
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "writer ended on its own (status %#x)", status);
		n = collect(fds[0], n);
		close(fds[0]);
		CHECK(n > 0, "no append completed before the kill");
		verify_in_child(path, n);
		fprintf(stderr, "round %d: %zu completed appends intact\n", round, n);
	}
	return 0;
}
