/*
 * Drops every IPv4 TCP frame on the interface it is attached to (tc clsact ingress on the tap):
 * the no-copy test takes TCP away for a while so that catnip must retransmit buffers the
 * application freed. ARP, ICMP and UDP pass.
 *   clang -O2 -target bpf -c drop_tcp.bpf.c -o drop_tcp.o
 *   tc qdisc add dev X clsact; tc filter add dev X ingress bpf da obj drop_tcp.o sec tc
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

#define SEC(name) __attribute__((section(name), used))

SEC("tc")
int drop_tcp(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != __builtin_bswap16(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
