// Strings and custom data sections: a bpf_snprintf format and a %s argument
// in .rodata.str1.1 (a frozen, read-only map the verifier insists on), a
// bpf_printk (its format in .rodata), and variables in .data.custom and
// .rodata.custom.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct line {
	char s[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct line);
} text SEC(".maps");

volatile __u32 custom_data SEC(".data.custom") = 5;
const volatile __u32 custom_ro SEC(".rodata.custom") = 6;

SEC("socket")
int format(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct line *l = bpf_map_lookup_elem(&text, &k);
	const char *name = "tsbpf";
	__u64 args[3];
	long n;

	if (!l)
		return -1;
	args[0] = custom_data;
	args[1] = custom_ro;
	args[2] = (__u64)(unsigned long)name;
	n = bpf_snprintf(l->s, sizeof(l->s), "%u+%u %s", args, sizeof(args));
	bpf_printk("loader_strings: %ld bytes", n);
	custom_data += 1;
	return n;
}

char LICENSE[] SEC("license") = "GPL";
