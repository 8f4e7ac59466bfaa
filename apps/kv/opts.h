/* demi-kv's command line (doc/apps/kv.md). */
#ifndef KV_OPTS_H
#define KV_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aof.h"

struct kv_opts {
	const char *bind;           /* IPv4 address, "127.0.0.1" */
	int port;                   /* 6379 */
	bool appendonly;            /* no */
	enum aof_fsync appendfsync; /* everysec */
	const char *appendfilename; /* "appendonly.aof" */
	uint32_t maxclients;        /* 10000 */
	uint64_t output_limit;      /* client-output-buffer-limit in bytes, 0: none; 32 MiB */
	int loglevel;               /* 0 warning, 1 notice (default), 2 verbose */
};

/* Parses argv into o (defaults first). Returns 0, 1 for --help (usage printed on stdout), or -1 with the
 * reason on stderr. Demi's own arguments are not here: LIBOS and CONFIG_PATH come from the environment. */
int kv_opts_parse(struct kv_opts *o, int argc, char **argv);

const char *kv_fsync_name(enum aof_fsync f);

#endif
