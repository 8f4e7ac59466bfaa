/*
 * The floor under catnip's round trip: a raw DPDK ping-pong over net_memif between two processes, no
 * stack at all (bench/catnip_memif_run runs it next to catnip's TCP echo).
 *   memif_pingpong EAL-ARGS -- server
 *   memif_pingpong EAL-ARGS -- client [--size 64] [--count N] [--warmup N]
 * The EAL arguments name the memif port (--vdev=net_memif0,role=...) and the core (-l N). The client
 * sends one frame of Ethernet + IPv4 + TCP header with timestamps (66 bytes) + SIZE bytes of payload,
 * what catnip puts on the wire for a SIZE-byte TCP echo, from a fresh mbuf each time, and spins on
 * rte_eth_rx_burst until the frame is back; the server sends every frame it receives straight back.
 * The client prints one human line and one RESULT line (kind=lat impl=raw-memif).
 */
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "bench.h"

#define HDRS 66 /* Ethernet 14 + IPv4 20 + TCP 20 + timestamps option 12 */
#define BURST 32

static struct rte_mempool *port_init(uint16_t port)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create("pingpong", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		(int)rte_socket_id());
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (!mp || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
		rte_eth_rx_queue_setup(port, 0, 1024, (unsigned)rte_socket_id(), NULL, mp) != 0 ||
		rte_eth_tx_queue_setup(port, 0, 1024, (unsigned)rte_socket_id(), NULL) != 0 || rte_eth_dev_start(port) != 0) {
		fprintf(stderr, "memif_pingpong: port set-up failed\n");
		exit(1);
	}
	for (int ms = 0; ms < 10000; ms += 10) {
		struct rte_eth_link link;
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
			return mp;
		rte_delay_ms(10);
	}
	fprintf(stderr, "memif_pingpong: link down (is the other side running?)\n");
	exit(1);
}

static void serve(uint16_t port)
{
	struct rte_mbuf *ms[BURST];
	printf("memif_pingpong: serving\n");
	fflush(stdout);
	for (;;) {
		uint16_t n = rte_eth_rx_burst(port, 0, ms, BURST);
		uint16_t sent = 0;
		while (sent < n)
			sent += rte_eth_tx_burst(port, 0, ms + sent, (uint16_t)(n - sent));
	}
}

static void client(uint16_t port, struct rte_mempool *mp, size_t size, long count, long warmup)
{
	size_t len = HDRS + size;
	uint8_t *frame = calloc(1, len);
	memset(frame, 0xff, 12);    /* broadcast: memif delivers whatever it is given */
	frame[12] = 0x08;           /* IPv4 */
	frame[14] = 0x45;
	uint64_t *lat = malloc((size_t)count * sizeof(*lat));
	if (!frame || !lat)
		exit(1);
	struct rte_mbuf *rx[BURST];
	for (long i = -warmup; i < count; i++) {
		uint64_t t0 = now_ns();
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		if (!m)
			exit(1);
		memcpy(rte_pktmbuf_append(m, (uint16_t)len), frame, len);
		while (rte_eth_tx_burst(port, 0, &m, 1) == 0)
			;
		uint16_t n;
		while ((n = rte_eth_rx_burst(port, 0, rx, BURST)) == 0)
			;
		rte_pktmbuf_free_bulk(rx, n);
		if (i >= 0)
			lat[i] = now_ns() - t0;
	}
	struct lat_stats s = lat_summarise(lat, (size_t)count);
	lat_report("raw-memif", size, (size_t)count, &s);
}

int main(int argc, char **argv)
{
	int used = rte_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "memif_pingpong: rte_eal_init failed\n");
		return 1;
	}
	argc -= used;
	argv += used;
	size_t size = 64;
	long count = 100000, warmup = -1;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--size"))
			size = (size_t)atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--count"))
			count = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--warmup"))
			warmup = atol(argv[i + 1]);
	}
	if (warmup < 0)
		warmup = count / 10 > 1000 ? count / 10 : 1000;
	if (argc < 2 || rte_eth_dev_count_avail() == 0 || size + HDRS > 1514 || count < 1) {
		fprintf(stderr, "usage: memif_pingpong EAL-ARGS -- server | client [--size B] [--count N] [--warmup N]\n");
		return 2;
	}
	struct rte_mempool *mp = port_init(0);
	if (!strcmp(argv[1], "server"))
		serve(0);
	client(0, mp, size, count, warmup);
	rte_eth_dev_stop(0);
	rte_eal_cleanup();
	return 0;
}
