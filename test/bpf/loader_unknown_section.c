// A program whose section follows no libbpf convention.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("mystery/thing")
int mystery(struct __sk_buff *skb)
{
	return 7;
}

char LICENSE[] SEC("license") = "GPL";
