// Attach tests (test/attach-cgroup.test.ts): cgroup hooks that count what a
// child process in the test's cgroup does; connect4 refuses one port.
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

enum { C_EGRESS, C_EGRESS2, C_CONNECT_BLOCKED, C_SOCK_CREATE, C_SOCK_CREATE_DGRAM, C_MAX = 8 };
enum { K_BLOCK_PORT, K_MAX = 4 };

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

/* Calls per sock_ops op (BPF_SOCK_OPS_*). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} ops SEC(".maps");

static __always_inline void add(void *map, __u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(map, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("cgroup_skb/egress")
int egress_count(struct __sk_buff *skb)
{
	add(&counts, C_EGRESS);
	return 1;
}

SEC("cgroup_skb/egress")
int egress_count2(struct __sk_buff *skb)
{
	add(&counts, C_EGRESS2);
	return 1;
}

SEC("cgroup/connect4")
int connect_block(struct bpf_sock_addr *ctx)
{
	__u32 k = K_BLOCK_PORT;
	__u32 *port = bpf_map_lookup_elem(&config, &k);
	if (port && *port && ctx->user_port == bpf_htons(*port)) {
		add(&counts, C_CONNECT_BLOCKED);
		return 0;
	}
	return 1;
}

SEC("cgroup/sock_create")
int sock_create_count(struct bpf_sock *sk)
{
	add(&counts, C_SOCK_CREATE);
	if (sk->type == 2 /* SOCK_DGRAM */)
		add(&counts, C_SOCK_CREATE_DGRAM);
	return 1;
}

SEC("sockops")
int sockops_count(struct bpf_sock_ops *skops)
{
	if (skops->op < 32)
		add(&ops, skops->op);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
