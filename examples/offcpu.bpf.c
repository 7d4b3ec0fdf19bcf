// offcpu: time tasks spend blocked, by stack (like libbpf-tools offcputime).
// On the raw sched_switch tracepoint, the task switched out (current, so its
// ids, cgroup and stacks are at hand) has its stacks and a timestamp stored
// under its task_struct pointer when it blocked (not when preempted); when
// that task is switched in again, the time since is added to its stacks'
// total. Task pointers key the start map so no task_struct field is read.
// Filters are .rodata constants set before load (0 = no filter).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16
#define MAX_STACK_DEPTH 127

const volatile __u32 target_tgid = 0;
const volatile __u32 target_tid = 0;
const volatile __u64 target_cgroup = 0;

/** The same layout as profile.bpf.c's key, so userspace decodes both alike. */
struct key {
	__u32 pid;
	__s32 kernel_stack;
	__s32 user_stack;
	char comm[TASK_COMM_LEN];
};

struct start {
	__u64 ns;
	struct key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
} stacks SEC(".maps");

// LRU: tasks that exit while blocked never come back to delete their entry.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, struct start);
	__uint(max_entries, 16384);
} starts SEC(".maps");

/** Nanoseconds blocked per key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct key);
	__type(value, __u64);
	__uint(max_entries, 16384);
} counts SEC(".maps");

static __always_inline void switched(void *ctx, __u64 prev, __u64 next, int blocked)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	if (blocked && tid != 0 && (!target_tgid || tgid == target_tgid) && (!target_tid || tid == target_tid) &&
	    (!target_cgroup || bpf_get_current_cgroup_id() == target_cgroup)) {
		struct start s = {};
		s.ns = now;
		s.key.pid = tgid;
		bpf_get_current_comm(&s.key.comm, sizeof(s.key.comm));
		s.key.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
		s.key.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		bpf_map_update_elem(&starts, &prev, &s, BPF_ANY);
	}
	struct start *s = bpf_map_lookup_elem(&starts, &next);
	if (!s) return;
	__u64 delta = now - s->ns;
	__u64 *total = bpf_map_lookup_elem(&counts, &s->key);
	if (total) __sync_fetch_and_add(total, delta);
	else bpf_map_update_elem(&counts, &s->key, &delta, BPF_NOEXIST);
	bpf_map_delete_elem(&starts, &next);
}

// sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state):
// blocked when it was not preempted and its state was not TASK_RUNNING (0).
SEC("raw_tp/sched_switch")
int on_switch(struct bpf_raw_tracepoint_args *ctx)
{
	switched(ctx, ctx->args[1], ctx->args[2], !(__u8)ctx->args[0] && (__u32)ctx->args[3] != 0);
	return 0;
}

// Kernels before 5.18 pass no prev_state: every switch that was not a preemption counts.
SEC("raw_tp/sched_switch")
int on_switch_no_state(struct bpf_raw_tracepoint_args *ctx)
{
	switched(ctx, ctx->args[1], ctx->args[2], !(__u8)ctx->args[0]);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
