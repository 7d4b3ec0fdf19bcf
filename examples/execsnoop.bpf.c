// execsnoop: one event per exec, through the sched_process_exec tracepoint and
// a ring buffer. Kernel structs are declared locally with preserve_access_index,
// so every field access is a CO-RE relocation resolved against the running
// kernel's BTF at load time.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define FILENAME_LEN 256

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

struct trace_event_raw_sched_process_exec {
	__u32 __data_loc_filename;
	int pid;
	int old_pid;
} __attribute__((preserve_access_index));

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps struct event in the object's BTF, where user space finds its layout. */
struct event *unused_event __attribute__((unused));

/* Set before load to trace one process's children only (0: everyone). */
const volatile __u32 target_ppid = 0;

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e;
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	unsigned int off;

	if (target_ppid && ppid != target_ppid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	off = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;
	bpf_probe_read_str(e->filename, sizeof(e->filename), (void *)ctx + off);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
