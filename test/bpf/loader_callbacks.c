// BPF_PSEUDO_FUNC callbacks: bpf_for_each_map_elem and bpf_loop, called from
// a program and from a subprogram, with one callback shared by two programs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} out SEC(".maps");

struct bpf_map;

struct cb_ctx {
	__u64 sum;
};

static long sum_elem(struct bpf_map *map, __u32 *key, __u64 *val, struct cb_ctx *c)
{
	c->sum += *val;
	return 0;
}

/* Sum of squares; stops after index 4: 0+1+4+9+16 = 30 in 5 iterations. */
static long squares(__u32 i, struct cb_ctx *c)
{
	c->sum += (__u64)i * i;
	return i == 4;
}

static __noinline __u64 loop_in_subprog(__u32 n)
{
	struct cb_ctx c = {};

	bpf_loop(n, squares, &c, 0);
	return c.sum;
}

static void put(__u32 k, __u64 v)
{
	bpf_map_update_elem(&out, &k, &v, BPF_ANY);
}

SEC("socket")
int callbacks(struct __sk_buff *skb)
{
	struct cb_ctx c = {};
	long n;

	n = bpf_for_each_map_elem(&vals, sum_elem, &c, 0);
	put(0, c.sum);
	put(1, n);
	c.sum = 0;
	n = bpf_loop(100, squares, &c, 0);
	put(2, c.sum);
	put(3, n);
	return 0;
}

SEC("socket")
int callbacks_sub(struct __sk_buff *skb)
{
	return loop_in_subprog(3); /* 0+1+4 = 5 */
}

char LICENSE[] SEC("license") = "GPL";
