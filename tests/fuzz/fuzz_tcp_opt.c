/*
 * libFuzzer target: the TCP option parser (tcp_opt_parse) on arbitrary bytes,
 * and a write-then-parse round trip of whatever it accepts. The input is the
 * option list itself (the bytes after the fixed 20-byte header), at most 40
 * bytes used. Built with -DFUZZ_REPLAY_MAIN (any compiler) it is a program
 * that replays corpus files or directories (tests/fuzz/corpus_tcp).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "net/prot/tcp.h"
#include "inetstack/tcp/tcp_opt.h"

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_tcp_opt: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size > TCP_MAX_OPT_LEN ? TCP_MAX_OPT_LEN : size;
	/* An exact-size copy: a read past the option list shows under ASan. */
	uint8_t *opt = malloc(len ? len : 1);
	if (!opt)
		return 0;
	memcpy(opt, data, len);
	struct tcp_opts o;
	int rc = tcp_opt_parse(opt, len, &o);
	free(opt);
	check(rc == 0 || rc == -EINVAL, "unexpected return");
	if (rc < 0) {
		check(o.flags == 0 && o.nsack == 0, "options kept after an error");
		return 0;
	}
	check(o.wscale <= TCP_MAX_WINSHIFT, "window scale over 14");
	check(((o.flags & TCP_OPTF_SACK) != 0) == (o.nsack > 0) && o.nsack <= TCP_SACK_MAX_BLOCKS, "SACK blocks");

	/* Whatever was accepted writes back within 40 bytes, 4-aligned, and parses to the same values. */
	uint8_t b[TCP_MAX_OPT_LEN];
	int n = tcp_opt_write(b, sizeof(b), &o);
	check(n >= 0 && n % 4 == 0 && n <= TCP_MAX_OPT_LEN, "write");
	struct tcp_opts p;
	check(tcp_opt_parse(b, (size_t)n, &p) == 0, "parse of written options");
	uint32_t common = o.flags & ~(uint32_t)TCP_OPTF_SACK;
	check((p.flags & ~(uint32_t)TCP_OPTF_SACK) == common, "flags round trip");
	check(!(common & TCP_OPTF_MSS) || p.mss == o.mss, "mss round trip");
	check(!(common & TCP_OPTF_WSCALE) || p.wscale == o.wscale, "wscale round trip");
	check(!(common & TCP_OPTF_TIMESTAMP) || (p.ts_val == o.ts_val && p.ts_ecr == o.ts_ecr), "timestamp round trip");
	check(p.nsack <= o.nsack, "SACK blocks grew");
	for (unsigned i = 0; i < p.nsack; i++)
		check(p.sack[i].start == o.sack[i].start && p.sack[i].end == o.sack[i].end, "SACK round trip");
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
int main(int argc, char **argv)
{
	int count;
	int err = fuzz_replay(argc, argv, &count) < 0;
	printf("replayed %d option lists\n", count);
	return err || count == 0 ? 1 : 0;
}
#endif
