// kfunc calls from SEC("syscall") programs: bpf_task_from_pid and
// bpf_task_release (acquire/release), bpf_rcu_read_lock/unlock, and weak
// kfuncs tested for existence (one the kernel has, one it lacks).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* A definition, not a forward declaration: libbpf 1.1 finds a FWD incompatible with the kernel's struct. */
struct task_struct {
	int pid;
};

extern struct task_struct *bpf_task_from_pid(__s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void tsbpf_no_such_kfunc(void) __ksym __weak;

struct args {
	__s32 pid;
	__s32 found;
};

SEC("syscall")
int find_task(struct args *a)
{
	struct task_struct *t;

	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	t = bpf_task_from_pid(a->pid);
	if (!t) {
		a->found = 0;
		return 0;
	}
	bpf_task_release(t);
	a->found = 1;
	return 1;
}

SEC("syscall")
int weak_kfuncs(void *ctx)
{
	int r = 0;

	if (tsbpf_no_such_kfunc) {
		tsbpf_no_such_kfunc();
		r |= 1;
	}
	if (bpf_rcu_read_lock) {
		bpf_rcu_read_lock();
		bpf_rcu_read_unlock();
		r |= 2;
	}
	return r; /* 2 */
}

char LICENSE[] SEC("license") = "GPL";
