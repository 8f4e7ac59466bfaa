/*
 * The Demi side of bench/tcp_conn_mem_run: a TCP echo server on the libOS
 * that LIBOS selects (catpowder in the runner) that reports its own resident
 * memory. Every time it has been idle for --idle seconds with a different
 * number of open connections than at its last report, it prints
 *   RSS open=<connections> kb=<VmRSS in KiB> hwm_kb=<VmHWM>
 * so the runner reads the RSS at start (open=0), with every client connected
 * and idle (open=N), and after they closed (open=0 again).
 *   tcp_conn_mem ADDR:PORT [--idle SECONDS]
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <netinet/in.h>

#include "bench.h"

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr;
	if (argc < 2 || bench_parse_addr(argv[1], &addr) < 0) {
		fprintf(stderr, "usage: tcp_conn_mem ADDR:PORT [--idle SECONDS]\n");
		return 2;
	}
	double idle = 1.0;
	for (int i = 2; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--idle"))
			idle = atof(argv[i + 1]);
	char *dargv[] = { "tcp_conn_mem", NULL };
	struct demi_args args = { .argc = 1, .argv = dargv, .callback = NULL };
	CHECK(demi_init(&args));
	int lqd;
	CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
	CHECK(demi_bind(lqd, (const struct sockaddr *)&addr, sizeof(addr)));
	CHECK(demi_listen(lqd, 1024));
	demi_qtoken_t qt;
	CHECK(demi_accept(&qt, lqd));
	long open = 0, reported = -1;
	demi_qresult_t qrs[64];
	struct timespec to = { (time_t)idle, (long)((idle - (time_t)idle) * 1e9) };
	for (;;) {
		int n = 0;
		int rc = demi_wait_next_n(qrs, 64, &n, &to);
		if (rc == ETIMEDOUT || (rc == 0 && n == 0)) {
			if (open != reported) {
				printf("RSS open=%ld kb=%ld hwm_kb=%ld\n", open, status_kb("VmRSS"), status_kb("VmHWM"));
				fflush(stdout);
				reported = open;
			}
			continue;
		}
		CHECK(rc);
		for (int i = 0; i < n; i++) {
			demi_qresult_t *qr = &qrs[i];
			switch (qr->qr_opcode) {
			case DEMI_OPC_ACCEPT:
				open++;
				CHECK(demi_accept(&qt, lqd));
				CHECK(demi_pop(&qt, qr->qr_value.ares.qd));
				break;
			case DEMI_OPC_POP:
				if (qr->qr_value.sga.sga_segs[0].sgaseg_len == 0) { /* the peer closed */
					demi_sgafree(&qr->qr_value.sga);
					demi_close(qr->qr_qd);
					open--;
					break;
				}
				CHECK(demi_push(&qt, qr->qr_qd, &qr->qr_value.sga));
				CHECK(demi_sgafree(&qr->qr_value.sga));
				CHECK(demi_pop(&qt, qr->qr_qd));
				break;
			case DEMI_OPC_FAILED:
				if (qr->qr_qd != lqd && qr->qr_ret != ECANCELED) {
					demi_close(qr->qr_qd);
					open--;
				}
				break;
			default:
				break;
			}
		}
	}
}
