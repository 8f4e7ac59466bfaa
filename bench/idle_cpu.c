/*
 * CPU use of an idle PDPIX echo server (LIBOS, default catnap). The server
 * process accepts one connection, echoes one message, then sits with a pop
 * and an accept pending. After a 1 s settle, utime + stime from
 * /proc/PID/stat are read before and after the measured interval and
 * reported as a percentage of one core; /proc/PID/schedstat gives the same
 * in ns, and /proc/PID/status the context switches (wake-ups) it made.
 *   idle_cpu [--seconds 10]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "demi_server.h"

struct usage {
	unsigned long long ticks; /* utime + stime, clock ticks */
	unsigned long long run_ns; /* schedstat: time on a CPU */
	unsigned long long ctxsw;  /* voluntary + involuntary context switches */
};

static struct usage read_usage(pid_t pid)
{
	struct usage u = { 0 };
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		fprintf(stderr, "idle_cpu: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	/* Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15. */
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
		fprintf(stderr, "idle_cpu: cannot parse %s\n", path);
		exit(1);
	}
	u.ticks = ut + st;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "%llu", &u.run_ns) != 1)
			u.run_ns = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r"))) {
		unsigned long long v;
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1 ||
			    sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
				u.ctxsw += v;
		fclose(f);
	}
	return u;
}

/* One message through the server with a plain blocking socket; the connection stays open. */
static int touch_server(uint16_t port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_SYS(fd);
	CHECK_SYS(connect(fd, (const struct sockaddr *)&addr, sizeof(addr)));
	char msg[64], back[64];
	memset(msg, 'x', sizeof(msg));
	CHECK_SYS(send(fd, msg, sizeof(msg), MSG_NOSIGNAL));
	for (size_t got = 0; got < sizeof(back);) {
		ssize_t n = recv(fd, back + got, sizeof(back) - got, 0);
		if (n <= 0) {
			fprintf(stderr, "idle_cpu: no echo from the server\n");
			exit(1);
		}
		got += (size_t)n;
	}
	return fd;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	double seconds = 10;
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--seconds"))
			seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
			return 2;
		}
	}
	if (seconds <= 0)
		return 2;
	const char *impl = bench_libos();
	int fds[2];
	CHECK_SYS(pipe(fds));
	fflush(stdout);
	pid_t pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		close(fds[0]);
		bench_die_with_parent();
		uint16_t port;
		int lqd = demi_server_listen(argc, argv, &port);
		if (write(fds[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		close(fds[1]);
		demi_echo_serve(lqd, 0);
		_exit(0);
	}
	close(fds[1]);
	uint16_t port;
	if (read(fds[0], &port, sizeof(port)) != sizeof(port)) {
		fprintf(stderr, "idle_cpu: the server did not start\n");
		waitpid(pid, NULL, 0);
		return 1;
	}
	int fd = touch_server(port);
	sleep_s(1.0);
	struct usage a = read_usage(pid);
	uint64_t t0 = now_ns();
	sleep_s(seconds);
	struct usage b = read_usage(pid);
	double wall = (double)(now_ns() - t0) / 1e9;
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	double hz = (double)sysconf(_SC_CLK_TCK);
	double pct = 100.0 * (double)(b.ticks - a.ticks) / hz / wall;
	double pct_ns = 100.0 * (double)(b.run_ns - a.run_ns) / 1e9 / wall;
	double wakeups = (double)(b.ctxsw - a.ctxsw) / wall;
	printf("idle_cpu: idle %s echo server over %.1f s: %.3f%% of one core (stat), %.4f%% (schedstat), %.1f context switches/s\n",
	       impl, wall, pct, pct_ns, wakeups);
	printf("RESULT kind=idle impl=%s seconds=%.1f cpu_pct=%.4f sched_pct=%.5f ctxsw_per_s=%.2f\n", impl, wall, pct,
	       pct_ns, wakeups);
	return 0;
}
