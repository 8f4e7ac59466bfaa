/* demi-kv's event loop: the listener, every connection and the log in one demi_wait_next_n loop. */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include "opts.h"

/* Runs the server until SIGTERM or SIGINT (after demi_init). Prints "ready to accept connections on ADDR:PORT"
 * on stdout once listening and the log is replayed. Returns the exit status: 0 after a signal, 1 on a fatal
 * error (said on stderr). */
int kv_server_run(const struct kv_opts *o);

#endif
