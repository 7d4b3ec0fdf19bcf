// Legacy map definitions in SEC("maps"). libbpf 1.x refuses them ("legacy map
// definitions in 'maps' section are not supported"); tsbpf loads them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct legacy_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct legacy_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
	.map_flags = BPF_F_NO_PREALLOC,
};

struct legacy_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

SEC("socket")
int use_legacy(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 v = skb->len, *a;

	bpf_map_update_elem(&legacy_hash, &k, &v, BPF_ANY);
	a = bpf_map_lookup_elem(&legacy_array, &k);
	if (a)
		*a += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
