/*
 * Test harness for the inetstack: two stacks (A = 10.0.0.1, B = 10.0.0.2)
 * on one runtime, joined by memwire with a third, raw port (10.0.0.9) the
 * test drives by hand, all under the virtual clock.
 */
#ifndef DEMI_TESTS_INET_TEST_H
#define DEMI_TESTS_INET_TEST_H

#include <demi/libos.h>
#include <demi/netstats.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "inetstack/inet.h"
#include "inetstack/inet_priv.h"
#include "inetstack/tcp/tcp_priv.h"
#include "net/memwire.h"
#include "runtime/clock.h"
#include "runtime/rt.h"

#define NA 0 /* stack A */
#define NB 1 /* stack B */

struct tnet {
	struct rt *rt;
	struct memwire *w;
	struct netdev *dev[2];
	struct netdev *raw;
	struct inet *in[2];
	struct task *poller;
	uint32_t base_in_use;
};

extern struct tnet T;
extern const uint8_t MAC_A[6], MAC_B[6], MAC_RAW[6];
extern uint32_t IP_A, IP_B, IP_RAW; /* network order */

/* The offload caps of A's and B's ports (enum netdev_caps; 0 unless a test sets it before tnet_init). */
extern uint32_t tnet_caps;
/* Brings up the runtime (virtual clock), the wire and both stacks; cfg_fn (may be NULL) edits each config. */
void tnet_init(const struct memwire_opts *o, void (*cfg_fn)(struct demi_config *c, int idx));
/* Destroys the stacks and the wire, checks that every buffer went back to the pool, ends the runtime. */
void tnet_fini(void);
/* Runs the stacks for ns of virtual time, jumping over idle stretches. */
void tnet_run(uint64_t ns);
/* Runs until qt completes (failing the test after max_ns) and returns its result. */
demi_qresult_t tnet_wait(demi_qtoken_t qt, uint64_t max_ns);
bool tnet_done(demi_qtoken_t qt);

/* A UDP socket on stack idx, bound to its address and port (0: ephemeral), as a qd. */
int tnet_udp(int idx, uint16_t port);
struct sockaddr_in tnet_addr(uint32_t ip, uint16_t port);
/* A TCP socket on stack idx as a qd (unbound). */
int tnet_tcp(int idx);
/* A TCP connection from A (client) to B (server, listening on port): the three qds. */
struct tconn {
	int lqd, cqd, sqd;
};
struct tconn tnet_tcp_pair(uint16_t port);
demi_sgarray_t tnet_sga(uint32_t len, uint8_t tag);
/* Sends len bytes (tnet_sga's pattern from tag) from UDP qd to ip:port and waits for the push. */
void tnet_sendto(int qd, uint32_t ip, uint16_t port, uint32_t len, uint8_t tag);
/* Pops one datagram on qd and returns its first byte (the tag it was sent with). */
uint8_t tnet_pop_tag(int qd);
struct demi_netstats *tnet_stats(int idx);

/* Raw frames: builders (checksums filled) and the raw port's receive side. */
uint32_t mk_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type);
uint32_t mk_ipv4(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint16_t off,
		 const void *payload, uint32_t plen);
uint32_t mk_udp(uint8_t *u, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const void *data,
		uint32_t dlen);
/* A whole Ethernet/IPv4/UDP frame from the raw port to stack A. */
uint32_t mk_udp_frame(uint8_t *f, uint16_t sport, uint16_t dport, const void *data, uint32_t dlen);
/* An independent RFC 1071 checksum, to check the stack's. */
uint16_t ref_cksum(const void *data, uint32_t len, uint32_t initial);
/* Injects a frame arriving at stack idx's port. */
void raw_inject(int idx, const void *f, uint32_t len);
/* Takes the next frame the raw port received into out; its length, or 0 when none. */
uint32_t raw_recv(uint8_t *out, uint32_t cap);

#endif
