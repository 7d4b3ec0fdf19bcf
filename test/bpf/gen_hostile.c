// Names a hostile object may carry, for the skeleton generator and the
// loader: every identifier below that starts with QQ is a placeholder the
// test (test/gen-hostile.test.ts) overwrites in the object's bytes with a name
// of the same length that is no JavaScript identifier (__proto__, constructor,
// quotes, backslashes, newlines, '*' '/', UTF-8), in both .strtab and .BTF.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct QQstructa {
	__u32 QQmemb_aa;
	__u32 QQmemb_bbbb;
	__u32 QQmemc;
};

struct QQstrb {
	__u64 x;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct QQstructa);
} QQmap_aaa SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct QQstrb);
} QQmap_bbbbb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} QQmap_ccc SEC(".maps");

__u32 QQvar_aaa = 1;
const volatile __u32 QQvar_bb = 2;
__u64 QQvar_c;

SEC("socket")
int QQprog_aaaa(void *ctx)
{
	__u32 k = 0;
	struct QQstructa *v = bpf_map_lookup_elem(&QQmap_aaa, &k);
	if (v)
		QQvar_c += v->QQmemb_aa;
	return QQvar_aaa + QQvar_bb;
}

SEC("socket")
int QQprog_bb(void *ctx)
{
	__u32 k = 0;
	struct QQstrb *v = bpf_map_lookup_elem(&QQmap_bbbbb, &k);
	__u64 *w = bpf_map_lookup_elem(&QQmap_ccc, &k);
	return (v ? v->x : 0) + (w ? *w : 0);
}

char LICENSE[] SEC("license") = "GPL";
