/*
 * Ephemeral ports (RFC 6335 section 6) for TCP and UDP: one policy per
 * stack, a range and a predicate, so that stacks sharing an interface (one
 * per device queue) each pick ports whose flows the device steers back to
 * them.
 */
#ifndef DEMI_INETSTACK_INET_PORT_H
#define DEMI_INETSTACK_INET_PORT_H

#include <stdbool.h>
#include <stdint.h>

struct inet;

#define INET_EPHEMERAL_FIRST 49152 /* RFC 6335 section 6: the dynamic range */
#define INET_EPHEMERAL_LAST 65535

/* Which ephemeral ports a stack may pick. All zero (the default): the whole dynamic range, every port. */
struct inet_ports {
	uint16_t first, last; /* host order, first <= last; 0, 0: INET_EPHEMERAL_FIRST .. INET_EPHEMERAL_LAST */
	/*
	 * Whether a flow between our laddr:lport and raddr:rport (network order)
	 * would reach this stack: true when the device steers it to this stack's
	 * queue. raddr and rport are 0 when the peer is not known yet (a bind to
	 * port 0 before listen or send). NULL: every port in the range.
	 */
	bool (*owns)(void *arg, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);
	void *arg;
};

/*
 * Sets the stack's policy, once, right after inet_create and before any
 * socket binds (a device libOS, a test). -EINVAL: first > last.
 */
int inet_set_ports(struct inet *in, const struct inet_ports *p);

/*
 * An ephemeral port (network order) for a socket about to talk to
 * raddr:rport (0, 0: unknown): the next one from *cursor (the protocol's
 * own, host order) round-robin in the stack's range that in_use says is free
 * and the stack's predicate owns; *cursor moves past it. 0, or -EADDRINUSE
 * when every port in the range is taken or owned by another stack.
 */
int inet_port_pick(struct inet *in, uint32_t *cursor, uint32_t raddr, uint16_t rport,
		   bool (*in_use)(struct inet *in, uint16_t port), uint16_t *out);

#endif
