/*
 * demi-kv: a Redis-protocol (RESP2) key-value server on PDPIX, one thread, any libOS (LIBOS=...).
 * doc/apps/kv.md describes it; `demi-kv --help` lists the options.
 */
#include <demi/libos.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "opts.h"
#include "server.h"

int main(int argc, char **argv)
{
	struct kv_opts o;
	int rc = kv_opts_parse(&o, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	/* On catnap every connection is a file descriptor: as redis-server does, raise the soft limit so that
	 * maxclients connections fit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < o.maxclients + 64u) {
		rl.rlim_cur = rl.rlim_max < o.maxclients + 64u ? rl.rlim_max : o.maxclients + 64u;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	char *demi_argv[] = { argv[0], NULL };
	struct demi_args args = { .argc = 1, .argv = demi_argv, .callback = NULL };
	int err = demi_init(&args);
	if (err != 0) {
		fprintf(stderr, "demi-kv: demi_init: %s\n", strerror(err));
		return 1;
	}
	return kv_server_run(&o);
}
