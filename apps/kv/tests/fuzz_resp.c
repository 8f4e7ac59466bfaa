/*
 * fuzz_resp: the RESP2 request parser (apps/kv/resp.h). The input is parsed whole, then again cut into pieces
 * whose sizes come from its first bytes: both must give the same requests and the same error, every argument
 * must lie inside the bytes given, and nothing may crash. With clang, a libFuzzer binary
 * (run: build/apps/kv/tests/fuzz_resp NEW_DIR apps/kv/tests/corpus_resp); with any compiler, built with
 * -DFUZZ_REPLAY_MAIN, a replay of the seeds as a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "resp.h"

struct trace {
	uint64_t hash;
	size_t requests, args, bytes;
	const char *err;
};

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_resp: %s\n", what);
		abort();
	}
}

static void mix(struct trace *t, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		t->hash = (t->hash ^ b[i]) * 1099511628211ull;
}

/* Parses data[0..n) in pieces of the sizes in steps (cycled; 0 means the rest). */
static struct trace run(const uint8_t *data, size_t n, const uint8_t *steps, size_t nsteps)
{
	struct trace t = { .hash = 14695981039346656037ull };
	struct resp r;
	resp_init(&r);
	size_t at = 0, s = 0;
	while (at < n) {
		size_t k = nsteps ? steps[s++ % nsteps] : 0;
		if (k == 0 || k > n - at)
			k = n - at;
		char *piece = malloc(k);
		check(piece != NULL, "malloc");
		memcpy(piece, data + at, k);
		check(resp_input(&r, piece, k) == 0, "resp_input");
		int argc;
		const struct kv_arg *argv;
		enum resp_rc rc;
		while ((rc = resp_next(&r, &argc, &argv)) == RESP_REQUEST) {
			check(argc >= 1, "a request without arguments");
			t.requests++;
			mix(&t, &argc, sizeof(argc));
			for (int a = 0; a < argc; a++) {
				const char *lo = r.win, *hi = r.win + r.winlen;
				check(argv[a].p >= lo && argv[a].p + argv[a].len <= hi, "an argument outside the bytes");
				mix(&t, &argv[a].len, sizeof(argv[a].len));
				mix(&t, argv[a].p, argv[a].len);
				t.args++;
				t.bytes += argv[a].len;
			}
		}
		if (rc == RESP_ERROR) {
			t.err = resp_error(&r);
			check(strncmp(t.err, "ERR ", 4) == 0, "an error text without ERR");
			free(piece);
			break;
		}
		check(resp_keep(&r) == 0, "resp_keep");
		free(piece);
		at += k;
	}
	resp_free(&r);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nsteps = size > 0 ? data[0] % 8 : 0;
	if (size < 1 + nsteps)
		nsteps = 0;
	const uint8_t *steps = data + 1;
	const uint8_t *in = size > 0 ? data + 1 + nsteps : data;
	size_t n = size > 0 ? size - 1 - nsteps : 0;
	struct trace whole = run(in, n, NULL, 0);
	struct trace cut = run(in, n, steps, nsteps);
	static const uint8_t ones[] = { 1 };
	struct trace bytes = run(in, n < 4096 ? n : 0, ones, 1);
	check(whole.hash == cut.hash && whole.requests == cut.requests, "cut into pieces: other requests");
	check((whole.err == NULL) == (cut.err == NULL) && (!whole.err || strcmp(whole.err, cut.err) == 0),
		"cut into pieces: another error");
	if (n < 4096)
		check(whole.hash == bytes.hash && (whole.err == NULL) == (bytes.err == NULL),
			"one byte at a time: other requests");
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
int main(int argc, char **argv)
{
	int count;
	int err = fuzz_replay(argc, argv, &count) < 0;
	printf("replayed %d inputs\n", count);
	return err || count == 0 ? 1 : 0;
}
#endif
