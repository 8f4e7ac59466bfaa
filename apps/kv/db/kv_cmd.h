/*
 * The data set and its commands: what the server runs for each parsed request. No I/O and no Demi calls here,
 * so that unit tests, the fuzz target and the log's replay drive it directly.
 */
#ifndef KV_CMD_H
#define KV_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv_out.h"

/* One argument of a request: bytes the parser owns until kv_exec returns (binary safe, not NUL-terminated). */
struct kv_arg {
	const char *p;
	size_t len;
};

/* Facts about the server that INFO, CONFIG GET and CLIENT report; the server fills them, the commands read them. */
struct kv_server_info {
	const char *version;     /* e.g. "7.0.0-demi" */
	const char *libos;       /* $LIBOS, or "catnap" */
	int tcp_port;
	uint64_t start_ms;       /* the server's start, on the clock kv_exec is given */
	uint64_t connected_clients, total_connections, total_commands, rejected_connections;
	bool aof_enabled;
	const char *appendfsync; /* "always", "everysec" or "no" */
	uint64_t aof_size, aof_fsyncs, aof_records;
	long long aof_last_fsync_ms;
};

/* Per connection state that commands read or change. */
struct kv_client {
	uint64_t id;
	char name[64]; /* CLIENT SETNAME; empty when none */
	int resp;      /* protocol version: 2 (HELLO 3 is refused with NOPROTO, as redis-server does without RESP3) */
	bool quit;     /* set by QUIT: the server closes after the reply */
	/* Set by the log's replay: nothing expires while it runs (the records were written before their keys
	 * expired, and a key changed in place before its expiry would otherwise come back without its TTL), as
	 * Redis does while loading. Keys already past their expiry go lazily or in kv_db_expire_cycle after. */
	bool loading;
	const struct kv_server_info *info;
};

/* kv_exec result flags */
#define KV_CMD_WRITE 0x1 /* the command changed the data set: the server logs what was written to `log` */
#define KV_CMD_CLOSE 0x2 /* close the connection once the reply is out (QUIT) */

struct kv_db;

struct kv_db *kv_db_create(void);
void kv_db_destroy(struct kv_db *db);
size_t kv_db_size(const struct kv_db *db); /* DBSIZE */

/*
 * Runs one command (argv[0] is its name, any case) at time now_ms (milliseconds, the clock expiry uses) and
 * appends its RESP2 reply to out. Errors are replies (Redis's texts), never a failure. When the command changed
 * the data set, the RESP2 multi-bulk form of what to log is appended to log (when log is not NULL), rewritten
 * so that replaying it later gives the same data set (relative expiries become absolute PEXPIREAT/PXAT, SPOP
 * becomes the SREM of what it popped, ...), and KV_CMD_WRITE is returned. argc >= 1.
 */
int kv_exec(struct kv_db *db, struct kv_client *c, int argc, const struct kv_arg *argv, uint64_t now_ms,
	struct kv_out *out, struct kv_out *log);

/* Active expiry: samples up to budget keys that have a time to live, removes the expired ones; returns how many
 * were removed. The server calls it from a timer (10 times a second, as Redis does). */
size_t kv_db_expire_cycle(struct kv_db *db, uint64_t now_ms, size_t budget);

#endif
