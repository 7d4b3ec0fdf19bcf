// CLI prog verbs (test/cli-prog-verbs.test.ts): an XDP program that swaps the
// Ethernet addresses of IPv4 frames and sends them back, a socket filter that
// prints the packet length to trace_pipe, and sockmap / flow dissector
// programs for prog attach and detach.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_swap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("socket")
int sock_printk(struct __sk_buff *skb)
{
	bpf_printk("tsbpf-tracelog len=%u", skb->len);
	return skb->len;
}

SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	return BPF_OK;
}

char LICENSE[] SEC("license") = "GPL";
