// A verifier rejection: an out-of-bounds read of a map value. The loader must
// report the whole log, the failing instruction and its C source line.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} one SEC(".maps");

SEC("socket")
int fine(struct __sk_buff *skb)
{
	return 1;
}

SEC("socket")
int out_of_bounds(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&one, &k);

	if (!v)
		return 0;
	return v[3]; /* FAULT: value_size is 8, this reads at offset 24 */
}

char LICENSE[] SEC("license") = "GPL";
