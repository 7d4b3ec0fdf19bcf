// Attach tests (test/attach-net.test.ts): network hooks counting ICMP and
// UDP packets, socket messages and lookups in `counts` (an array; the slots
// are named in the test), with knobs in `config`.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

enum {
	C_SOCK_SEEN, C_SOCK_DROPPED, C_XDP, C_XDP2, C_TC_IN, C_TC_OUT, C_NF,
	C_LOOKUP, C_DISSECT, C_MSG_CALLS, C_MSG_BYTES, C_SKB_CALLS, C_SKB_BYTES,
	C_TC_IN2, C_MAX = 16,
};
enum { K_XDP_DROP, K_LOOKUP_PORT, K_NF_IFINDEX, K_NF_IN_OFF, K_NF_IFINDEX_OFF, K_MAX = 8 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, K_MAX);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} socks SEC(".maps");

static __always_inline void add(__u32 slot, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, by);
}

static __always_inline __u32 cfg(__u32 k)
{
	__u32 *v = bpf_map_lookup_elem(&config, &k);
	return v ? *v : 0;
}

static __always_inline int is_icmp(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	if ((void *)(ip + 1) > end)
		return 0;
	return eth->h_proto == bpf_htons(ETH_P_IP) && ip->protocol == IPPROTO_ICMP;
}

/* Counts UDP datagrams; drops those whose payload starts with 'D'. */
SEC("socket")
int sock_count(struct __sk_buff *skb)
{
	char first = 0;
	add(C_SOCK_SEEN, 1);
	/* On a UDP socket the filter sees the UDP header first. */
	if (bpf_skb_load_bytes(skb, 8, &first, 1) == 0 && first == 'D') {
		add(C_SOCK_DROPPED, 1);
		return 0;
	}
	return skb->len;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	if (!is_icmp((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return XDP_PASS;
	add(C_XDP, 1);
	return cfg(K_XDP_DROP) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_count2(struct xdp_md *ctx)
{
	if (is_icmp((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		add(C_XDP2, 1);
	return XDP_PASS;
}

/* Rewrites the first byte for a test run with data out. */
SEC("xdp")
int xdp_rewrite(struct xdp_md *ctx)
{
	__u8 *p = (void *)(long)ctx->data;
	if ((void *)(p + 1) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	p[0] = 0xab;
	return XDP_TX;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	if (is_icmp((void *)(long)skb->data, (void *)(long)skb->data_end))
		add(C_TC_IN, 1);
	return 0; /* TC_ACT_OK */
}

SEC("tc")
int tc_ingress2(struct __sk_buff *skb)
{
	if (is_icmp((void *)(long)skb->data, (void *)(long)skb->data_end))
		add(C_TC_IN2, 1);
	return 0;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	if (is_icmp((void *)(long)skb->data, (void *)(long)skb->data_end))
		add(C_TC_OUT, 1);
	return 0;
}

/* struct bpf_nf_ctx { const struct nf_hook_state *state; struct sk_buff *skb; } */
struct nf_ctx {
	void *state;
	void *skb;
};

/* Counts packets arriving on one interface (config K_NF_IFINDEX); member offsets come from the kernel's BTF. */
SEC("netfilter")
int nf_count(struct nf_ctx *ctx)
{
	__u64 state = 0, in = 0;
	int ifindex = 0;
	bpf_probe_read_kernel(&state, sizeof(state), &ctx->state);
	bpf_probe_read_kernel(&in, sizeof(in), (void *)(state + cfg(K_NF_IN_OFF)));
	if (in)
		bpf_probe_read_kernel(&ifindex, sizeof(ifindex), (void *)(in + cfg(K_NF_IFINDEX_OFF)));
	if (ifindex && ifindex == (int)cfg(K_NF_IFINDEX))
		add(C_NF, 1);
	return 1; /* NF_ACCEPT */
}

SEC("sk_lookup")
int lookup_count(struct bpf_sk_lookup *ctx)
{
	if (ctx->local_port == cfg(K_LOOKUP_PORT))
		add(C_LOOKUP, 1);
	return SK_PASS;
}

SEC("flow_dissector")
int dissect_count(struct __sk_buff *skb)
{
	add(C_DISSECT, 1);
	return BPF_FLOW_DISSECTOR_CONTINUE;
}

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	add(C_MSG_CALLS, 1);
	add(C_MSG_BYTES, msg->size);
	return SK_PASS;
}

SEC("sk_skb/verdict")
int skb_verdict(struct __sk_buff *skb)
{
	add(C_SKB_CALLS, 1);
	add(C_SKB_BYTES, skb->len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
