// The object the obj-load benchmark opens and loads: maps of several types,
// global data, a subprogram, and CO-RE reads of task_struct.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u32);
} recent SEC(".maps");

const volatile __u32 filter_tgid = 0;
__u64 total_events = 0;
__u32 last_ppid;

struct event {
	__u32 pid, tgid, ppid;
	char comm[16];
};

static __noinline __u32 parent_tgid(struct task_struct *t)
{
	return BPF_CORE_READ(t, real_parent, tgid);
}

SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(t, tgid), zero = 0;
	__u64 one = 1, *v;
	struct event *e;

	if (filter_tgid && tgid != filter_tgid)
		return 0;
	v = bpf_map_lookup_elem(&stats, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	bpf_map_update_elem(&by_pid, &tgid, &one, BPF_ANY);
	last_ppid = parent_tgid(t);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(t, pid);
	e->tgid = tgid;
	e->ppid = last_ppid;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	bpf_ringbuf_submit(e, 0);
	total_events++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
