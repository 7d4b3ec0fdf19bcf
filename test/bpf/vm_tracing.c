// VM-only (test/vm/tracing.test.ts): BTF tracing programs, which need a kernel
// with a function tracer (fentry, fexit, fmod_ret), the BPF LSM (lsm) or BTF
// (tp_btf). No vmlinux.h: the kernel types are only pointed to, never read,
// and BPF_PROG unpacks the arguments from the u64 context array.
#define __TARGET_ARCH_x86
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct open_how;
struct task_struct;
struct file;
struct pt_regs;

enum { FENTRY, FEXIT, FMOD_RET, LSM_DENY, LSM_FILE_OPEN, TP_BTF, NHITS };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NHITS);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

// fentry: the path do_sys_openat2 was given; fexit: the path again and the fd it returned.
struct path_ret {
	char path[64];
	__s64 ret;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct path_ret);
} calls SEC(".maps");

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

SEC("fentry/do_sys_openat2")
int BPF_PROG(fentry_openat2, int dfd, const char *filename, struct open_how *how)
{
	__u32 k = 0;
	struct path_ret *r;

	if (!is_target_thread())
		return 0;
	hit(FENTRY);
	r = bpf_map_lookup_elem(&calls, &k);
	if (r)
		bpf_probe_read_user_str(r->path, sizeof(r->path), filename);
	return 0;
}

SEC("fexit/do_sys_openat2")
int BPF_PROG(fexit_openat2, int dfd, const char *filename, struct open_how *how, long ret)
{
	// 7.x made do_sys_openat2 return int: the upper half of the register is
	// then not the sign, so keep the low 32 bits (fds and errnos fit).
	__u32 k = 1;
	struct path_ret *r;

	if (!is_target_thread())
		return 0;
	hit(FEXIT);
	r = bpf_map_lookup_elem(&calls, &k);
	if (r) {
		bpf_probe_read_user_str(r->path, sizeof(r->path), filename);
		r->ret = (int)ret;
	}
	return 0;
}

// getsid(2) of the target process fails with EXDEV: the hook is skipped and its return replaced.
SEC("fmod_ret/security_task_getsid")
int BPF_PROG(fmod_ret_getsid, struct task_struct *p, int ret)
{
	if (!is_target_process())
		return 0;
	hit(FMOD_RET);
	return -18; /* -EXDEV */
}

// getpgid(2) of the target process is denied by the BPF LSM.
SEC("lsm/task_getpgid")
int BPF_PROG(lsm_getpgid, struct task_struct *p, int ret)
{
	if (ret)
		return ret;
	if (!is_target_process())
		return 0;
	hit(LSM_DENY);
	return -1; /* -EPERM */
}

// Observes (never denies) the files the target thread opens.
SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file, int ret)
{
	if (is_target_thread())
		hit(LSM_FILE_OPEN);
	return ret;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tp_btf_sys_enter, struct pt_regs *regs, long id)
{
	if (is_target_thread() && id == 39 /* __NR_getpid */)
		hit(TP_BTF);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
