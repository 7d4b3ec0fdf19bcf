// profile: on-CPU stack sampling. A perf_event program (one software
// cpu-clock or hardware cycles event per CPU) records kernel and user stack
// ids in a STACK_TRACE map and counts each (pid, stacks) key in a hash map.
// Filters are .rodata constants set before load (0 = no filter).
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16
#define MAX_STACK_DEPTH 127

const volatile __u32 target_tgid = 0;
const volatile __u32 target_tid = 0;
const volatile __u64 target_cgroup = 0;
const volatile __u8 include_idle = 0;

struct key {
	__u32 pid;
	__s32 kernel_stack;
	__s32 user_stack;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct key);
	__type(value, __u64);
	__uint(max_entries, 16384);
} counts SEC(".maps");

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	if (!include_idle && tid == 0) return 0;
	if (target_tgid && tgid != target_tgid) return 0;
	if (target_tid && tid != target_tid) return 0;
	if (target_cgroup && bpf_get_current_cgroup_id() != target_cgroup) return 0;
	struct key k = {};
	k.pid = tgid;
	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	k.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
	k.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	__u64 one = 1, *n = bpf_map_lookup_elem(&counts, &k);
	if (n) __sync_fetch_and_add(n, 1);
	else bpf_map_update_elem(&counts, &k, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
