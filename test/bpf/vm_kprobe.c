// VM-only (test/vm/kprobe.test.ts): kprobe, kretprobe, ksyscall and
// kprobe.multi programs, for kernels with CONFIG_KPROBES (the host has none).
// No vmlinux.h: struct pt_regs is the uapi one (same layout as the kernel's on
// x86-64), read with the non-CO-RE PT_REGS_* macros.
#define __TARGET_ARCH_x86
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

// hits[i]: how many times program i ran for the target task.
enum { KPROBE, KRETPROBE, KSYSCALL, LEGACY_KPROBE, LEGACY_KRETPROBE, MULTI, NHITS };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NHITS);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

// The path do_sys_openat2 was given, and what it returned, for the target thread.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[64]);
} last_path SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s64);
} last_ret SEC(".maps");

// Set before load (setVariable): the test's pid; threads are matched by tid == pid (the main thread).
const volatile __u32 target_pid = 0;

static __always_inline int is_target_thread(void)
{
	return (__u32)bpf_get_current_pid_tgid() == target_pid;
}

static __always_inline int is_target_process(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

static __always_inline void hit(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &i);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("kprobe/do_sys_openat2")
int kprobe_openat2(struct pt_regs *ctx)
{
	__u32 zero = 0;
	char *buf;

	if (!is_target_thread())
		return 0;
	hit(KPROBE);
	buf = bpf_map_lookup_elem(&last_path, &zero);
	if (buf)
		bpf_probe_read_user_str(buf, 64, (const void *)PT_REGS_PARM2(ctx));
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int kretprobe_openat2(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__s64 ret;

	if (!is_target_thread())
		return 0;
	hit(KRETPROBE);
	ret = (int)PT_REGS_RC(ctx); // int on 7.x, long before: the low half holds it
	bpf_map_update_elem(&last_ret, &zero, &ret, BPF_ANY);
	return 0;
}

SEC("ksyscall/getpid")
int ksyscall_getpid(struct pt_regs *ctx)
{
	if (is_target_process())
		hit(KSYSCALL);
	return 0;
}

// Attached by the test through the tracefs kprobe_events path (maxactive forces it).
SEC("kprobe")
int legacy_kprobe(struct pt_regs *ctx)
{
	if (is_target_thread())
		hit(LEGACY_KPROBE);
	return 0;
}

SEC("kretprobe")
int legacy_kretprobe(struct pt_regs *ctx)
{
	__u32 one = 1;
	__s64 ret;

	if (!is_target_thread())
		return 0;
	hit(LEGACY_KRETPROBE);
	ret = (int)PT_REGS_RC(ctx); // int on 7.x, long before: the low half holds it
	bpf_map_update_elem(&last_ret, &one, &ret, BPF_ANY);
	return 0;
}

// Attached by the test with a glob.
SEC("kprobe.multi")
int multi(struct pt_regs *ctx)
{
	if (is_target_process())
		hit(MULTI);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
