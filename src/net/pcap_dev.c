/* The capture netdev: forwards to the device it wraps and writes each frame to a pcap file with libpcap. */
#include "pcap_dev.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <time.h>

#include "../runtime/log.h"

#define PCAP_SNAPLEN 262144 /* libpcap's own maximum: no frame we handle is cut */

struct pcap_dev {
	struct netdev nd; /* first: the stack's struct netdev * is a struct pcap_dev * */
	struct netdev *inner;
	pcap_t *dead;     /* a handle without a device: it only carries link type and precision for the dumper */
	pcap_dumper_t *dump;
	uint64_t frames;
};

static void record(struct pcap_dev *c, const struct pkt *p, int n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (int i = 0; i < n; i++) {
		/* With nanosecond precision, libpcap reads tv_usec as nanoseconds. */
		struct pcap_pkthdr h = {
			.ts = { .tv_sec = ts.tv_sec, .tv_usec = ts.tv_nsec },
			.caplen = p[i].len < PCAP_SNAPLEN ? p[i].len : PCAP_SNAPLEN,
			.len = p[i].len,
		};
		pcap_dump((u_char *)c->dump, &h, p[i].data);
	}
	c->frames += (uint64_t)n;
	/* One write per burst: a killed process leaves whole records behind. */
	pcap_dump_flush(c->dump);
}

static int cap_rx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct pcap_dev *c = (struct pcap_dev *)d;
	int got = c->inner->ops->rx_burst(c->inner, pkts, n);
	if (got > 0)
		record(c, pkts, got);
	return got;
}

static int cap_tx_burst(struct netdev *d, struct pkt *pkts, int n)
{
	struct pcap_dev *c = (struct pcap_dev *)d;
	/*
	 * Only frames the device accepts are recorded (a refused one comes back
	 * later and would appear twice), and the device may free an accepted
	 * frame at once: hold an extra reference on each across the call.
	 */
	for (int i = 0; i < n; i++)
		buf_ref(pkts[i].buf);
	int sent = c->inner->ops->tx_burst(c->inner, pkts, n);
	if (sent > 0)
		record(c, pkts, sent);
	for (int i = 0; i < n; i++)
		buf_unref(c->nd.pool, pkts[i].buf);
	return sent;
}

static int cap_wait_fd(struct netdev *d)
{
	struct pcap_dev *c = (struct pcap_dev *)d;
	return c->inner->ops->wait_fd ? c->inner->ops->wait_fd(c->inner) : -1;
}

static void cap_close(struct netdev *d)
{
	struct pcap_dev *c = (struct pcap_dev *)d;
	log_info("pcap: %llu frames recorded", (unsigned long long)c->frames);
	pcap_dump_close(c->dump);
	pcap_close(c->dead);
	c->inner->ops->close(c->inner);
	free(c);
}

/* The counters are the wrapped device's. */
static void cap_stats(struct netdev *d, struct demi_netstats_eth *eth)
{
	struct pcap_dev *c = (struct pcap_dev *)d;
	if (c->inner->ops->stats)
		c->inner->ops->stats(c->inner, eth);
}

static void cap_dev_stats(struct netdev *d, struct demi_netstats_dev *dev)
{
	struct pcap_dev *c = (struct pcap_dev *)d;
	if (c->inner->ops->dev_stats)
		c->inner->ops->dev_stats(c->inner, dev);
}

static const struct netdev_ops cap_ops = {
	.rx_burst = cap_rx_burst,
	.tx_burst = cap_tx_burst,
	.wait_fd = cap_wait_fd,
	.close = cap_close,
	.stats = cap_stats,
	.dev_stats = cap_dev_stats,
};

int pcap_dev_open(struct netdev *inner, const char *path, struct netdev **out)
{
	struct pcap_dev *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, PCAP_SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
	if (!c->dead) {
		free(c);
		return -ENOMEM;
	}
	c->dump = pcap_dump_open(c->dead, path);
	if (!c->dump) {
		log_error("pcap: cannot write capture: %s", pcap_geterr(c->dead));
		pcap_close(c->dead);
		free(c);
		return -EIO;
	}
	c->inner = inner;
	c->nd = *inner;
	c->nd.ops = &cap_ops;
	/*
	 * The capture shows segments as they go on the wire: no TSO
	 * super-segment, whose checksums the device would complete after the
	 * record (received super-frames are recorded as they came, whole).
	 */
	c->nd.caps &= ~(uint32_t)NETDEV_TX_TSO;
	*out = &c->nd;
	return 0;
}

uint64_t pcap_dev_frames(const struct netdev *d)
{
	return ((const struct pcap_dev *)d)->frames;
}
