/* Ephemeral port selection shared by TCP and UDP (inet_port.h). */
#include "inet_port.h"

#include <arpa/inet.h>
#include <errno.h>

#include "inet_priv.h"

int inet_set_ports(struct inet *in, const struct inet_ports *p)
{
	struct inet_ports v = *p;
	if (v.first == 0 && v.last == 0) {
		v.first = INET_EPHEMERAL_FIRST;
		v.last = INET_EPHEMERAL_LAST;
	}
	if (v.first > v.last || v.first == 0)
		return -EINVAL;
	in->ports = v;
	return 0;
}

int inet_port_pick(struct inet *in, uint32_t *cursor, uint32_t raddr, uint16_t rport,
		   bool (*in_use)(struct inet *in, uint16_t port), uint16_t *out)
{
	const struct inet_ports *r = &in->ports;
	const uint32_t span = (uint32_t)r->last - r->first + 1;
	if (*cursor < r->first || *cursor > r->last)
		*cursor = r->first;
	for (uint32_t i = 0; i < span; i++) {
		uint16_t p = htons((uint16_t)*cursor);
		if (++*cursor > r->last)
			*cursor = r->first;
		if (!in_use(in, p) && (!r->owns || r->owns(r->arg, in->addr, p, raddr, rport))) {
			*out = p;
			return 0;
		}
	}
	return -EADDRINUSE;
}
