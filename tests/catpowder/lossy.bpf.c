/*
 * A lossy link for the TCP tests (tests/catpowder/tcp_cases.sh) and bench/tcp_loss_run: a tc classifier
 * that drops a random share (bpf_get_prandom_u32) of the IPv4 TCP packets it sees, data and ACKs alike,
 * and counts them. ARP, ICMP and UDP pass untouched, so that
 * only TCP's recovery is tested.
 *   clang -O2 -target bpf -DLOSS_PERMILLE=20 -c lossy.bpf.c -o lossy.o
 *   tc qdisc add dev X clsact; tc filter add dev X egress bpf da obj lossy.o sec tc
 * The counters (map lossy_stats: [0] TCP packets seen, [1] dropped) are read with bpftool; the clsact
 * qdisc's "dropped" statistic (tc -s qdisc show dev X) counts the same drops.
 * Attach it where packets are wire-sized: on a forwarding router's egress (tcp_cases.sh). On a host's
 * own egress, TCP hands tc its GSO super-packets before they are cut into segments (even with GSO off on
 * the device), and one decision would drop up to 64 KB at once.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef LOSS_PERMILLE
#define LOSS_PERMILLE 20 /* 2% */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lossy_stats SEC(".maps");

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&lossy_stats, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tc")
int lossy(struct __sk_buff *skb)
{
	/*
	 * The headers may lie beyond the linear part of the buffer (a forwarded skb keeps what the driver put
	 * there): pull them in first, or the bounds check below fails and the filter silently drops nothing.
	 */
	if (bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct iphdr)) < 0)
		return TC_ACT_OK;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	count(0);
	if (bpf_get_prandom_u32() % 1000 < LOSS_PERMILLE) {
		count(1);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
