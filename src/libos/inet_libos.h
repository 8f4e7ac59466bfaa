/*
 * The shell of every libOS that runs Demi's inetstack over a device
 * (catpowder, catnip): the address check, capture ($DEMI_PCAP), the stack,
 * its poller, sleeping on the device's wait fd, teardown and socket
 * creation. A device libOS fills a struct inet_libos_dev and a libos_ops
 * whose init calls inet_libos_init with it and whose other entries are the
 * shell's: adding one means filling those two tables.
 */
#ifndef DEMI_LIBOS_INET_LIBOS_H
#define DEMI_LIBOS_INET_LIBOS_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/libos_ops.h"
#include "../runtime/sched.h"

struct inet;
struct inet_libos;
struct netdev;
struct rt;

/* What a device libOS provides. */
struct inet_libos_dev {
	const char *name; /* the libOS's, for log lines */
	/* Opens this thread's device on rt's configuration and buffer pool. -errno (logged by the device). */
	int (*open)(struct rt *rt, struct netdev **out);
	/*
	 * How the poller runs the stack at the start of every round. false:
	 * inet_poll (receive, run the stack, transmit what the burst produced),
	 * for a libOS that may sleep between rounds (its libos_ops.block is
	 * inet_libos_block). true: transmit what the last round left queued, then
	 * inet_poll_rx: what the stack sends while receiving (a pure ACK) waits
	 * for the end of the round, so the application's reply takes it to the
	 * device in the same burst, for a libOS that spins (block NULL).
	 */
	bool spin;
	/* Optional: called once the stack runs, and before it is torn down (catnip's log at exit). */
	void (*up)(struct inet_libos *il);
	void (*down)(struct inet_libos *il);
};

/* One instance (one per thread that calls demi_init): the libos_ops state. */
struct inet_libos {
	const struct inet_libos_dev *d;
	struct rt *rt;
	struct netdev *port; /* the device itself */
	struct netdev *dev;  /* what the stack drives: port, or the capture wrapping it */
	struct inet *in;
	struct sched_poller poller;
	int wait_fd;              /* the device's (dev->ops->wait_fd), or -1 */
	struct inet_libos *next;  /* the device libOS's own list, if it keeps one (catnip: instances alive) */
};

/*
 * libos_ops.init for device d: checks that the configuration names our
 * address (before the device opens: "<name>: no local address"), opens the
 * device, wraps it in a capture when $DEMI_PCAP names a file, creates the
 * stack on it and registers the poller. -errno; nothing is left open.
 */
int inet_libos_init(const struct inet_libos_dev *d, struct rt *rt, void **state);
/* libos_ops.fini: the poller goes, the stack (its sockets) and the device close. */
void inet_libos_fini(struct rt *rt, void *state);
/* libos_ops.socket: inet_socket on the instance's stack. */
int inet_libos_socket(struct rt *rt, void *state, int type, struct queue **out, const struct queue_ops **ops);
/*
 * libos_ops.block for a device with a wait fd: sleeps in ppoll on it
 * (nanosecond timeouts: a timer may be due in microseconds), then polls the
 * stack once if it became readable.
 */
void inet_libos_block(struct rt *rt, void *state, uint64_t timeout_ns);
/* libos_ops.wait_fd: the device's wait fd (-1 for a device without one). */
int inet_libos_wait_fd(void *state);

#endif
