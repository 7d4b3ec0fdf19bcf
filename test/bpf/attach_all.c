// Attach tests (test/attach-trace.test.ts): Collection.attachAll attaches the
// programs whose SEC() names their hook (tracepoint, raw_tp, uprobe with a
// library and function) and leaves xdp, tc, cgroup and socket programs alone.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Slot per program, by tgid << 8 | slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} hits SEC(".maps");

enum { S_TP, S_RAW, S_UPROBE, S_XDP, S_TC, S_CGROUP, S_SOCKET };

static __always_inline void count(__u64 key)
{
	__u64 one = 1;
	__u64 *v = bpf_map_lookup_elem(&hits, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&hits, &key, &one, BPF_NOEXIST);
}

static __always_inline void hit(__u64 slot)
{
	count((bpf_get_current_pid_tgid() >> 32) << 8 | slot);
}

/* The programs attachAll leaves alone never run; their key has no pid, since
 * bpf_get_current_pid_tgid is a tracing helper to 5.10's xdp, tc and socket programs. */
static __always_inline void hit_unattached(__u64 slot)
{
	count(slot);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int all_tp(void *ctx)
{
	hit(S_TP);
	return 0;
}

SEC("raw_tp/sys_enter")
int all_raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] == 39 /* getpid */)
		hit(S_RAW);
	return 0;
}

SEC("uprobe/libc.so.6:getpid")
int all_uprobe(void *ctx)
{
	hit(S_UPROBE);
	return 0;
}

SEC("xdp")
int all_xdp(struct xdp_md *ctx)
{
	hit_unattached(S_XDP);
	return XDP_PASS;
}

SEC("tc")
int all_tc(struct __sk_buff *skb)
{
	hit_unattached(S_TC);
	return 0;
}

SEC("cgroup_skb/egress")
int all_cgroup(struct __sk_buff *skb)
{
	hit_unattached(S_CGROUP);
	return 1;
}

SEC("socket")
int all_socket(struct __sk_buff *skb)
{
	hit_unattached(S_SOCKET);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
