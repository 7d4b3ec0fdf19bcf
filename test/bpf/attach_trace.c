// Attach tests (test/attach-trace.test.ts): tracing hooks that count what
// they see in maps keyed by the process (tgid), so a test can trigger a hook
// from a process it knows and read exactly that process's count.
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

#define COUNTER(name)                       \
	struct {                            \
		__uint(type, BPF_MAP_TYPE_HASH);\
		__uint(max_entries, 1024);  \
		__type(key, __u32);         \
		__type(value, __u64);       \
	} name SEC(".maps")

COUNTER(tp_getpid);    /* tracepoint syscalls/sys_enter_getpid, by thread */
COUNTER(tp_exec);      /* tracepoint sched/sched_process_exec, by tgid (after exec) */
COUNTER(raw_getpid);   /* raw_tp sys_enter with id == getpid, by thread */
COUNTER(raw_getpid2);  /* the same, second program (Link.update) */
COUNTER(btf_getpid);   /* tp_btf sys_enter with id == getpid, by thread */
COUNTER(btf_exec);     /* tp_btf sched_process_exec, by old_pid */
COUNTER(samples);      /* perf_event cpu-clock samples, by tgid */
COUNTER(up_calls);     /* uprobe entry, by tgid */
COUNTER(up_args);      /* uprobe: sum of the first argument, by tgid */
COUNTER(uret_calls);   /* uretprobe, by tgid */
COUNTER(uret_sum);     /* uretprobe: sum of return values, by tgid */
COUNTER(um_calls);     /* uprobe.multi, by tgid */
COUNTER(libc_calls);   /* uprobe on a libc function, by tgid */

#define GETPID 39 /* x86-64 */

static __always_inline void bump(void *map, __u32 key, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);
	if (v)
		__sync_fetch_and_add(v, by);
	else
		bpf_map_update_elem(map, &key, &by, BPF_NOEXIST);
}

static __always_inline __u32 tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* The calling thread: getpid counters use it, so a Node helper thread cannot add to the main thread's count. */
static __always_inline __u32 tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_sys_enter_getpid(void *ctx)
{
	bump(&tp_getpid, tid(), 1);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int tp_sched_exec(void *ctx)
{
	bump(&tp_exec, tgid(), 1);
	return 0;
}

/* raw_tp/sys_enter: args are (struct pt_regs *regs, long id). */
SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] == GETPID)
		bump(&raw_getpid, tid(), 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter2(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] == GETPID)
		bump(&raw_getpid2, tid(), 1);
	return 0;
}

/* tp_btf: the context is the tracepoint's arguments, 8 bytes each. */
SEC("tp_btf/sys_enter")
int btf_sys_enter(__u64 *ctx)
{
	if (ctx[1] == GETPID)
		bump(&btf_getpid, tid(), 1);
	return 0;
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("tp_btf/sched_process_exec")
int btf_exec_prog(__u64 *ctx)
{
	bump(&btf_exec, (__u32)ctx[1], 1);
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	bump(&samples, tgid(), 1);
	return 0;
}

/* x86-64 struct pt_regs: di at 112, ax at 80 (as the kernel lays it out). */
#define PT_DI 14
#define PT_AX 10

SEC("uprobe")
int on_uprobe(__u64 *regs)
{
	__u64 arg = regs[PT_DI];
	bump(&up_calls, tgid(), 1);
	bump(&up_args, tgid(), (__u32)arg);
	return 0;
}

SEC("uretprobe")
int on_uretprobe(__u64 *regs)
{
	__u64 rc = regs[PT_AX];
	bump(&uret_calls, tgid(), 1);
	bump(&uret_sum, tgid(), (__u32)rc);
	return 0;
}

SEC("uprobe.multi")
int on_uprobe_multi(void *ctx)
{
	bump(&um_calls, tgid(), 1);
	return 0;
}

SEC("uprobe")
int on_libc(void *ctx)
{
	bump(&libc_calls, tgid(), 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
