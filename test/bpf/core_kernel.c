// CO-RE relocations against the running kernel's BTF (test/core.test.ts).
// No vmlinux.h: the kernel types are declared here, partially and in another
// member order, with preserve_access_index, so every access is relocated.
// Sections "raw_tp/*" only read through bpf_probe_read_kernel and are
// test-run in the kernel; "tp_btf/*" sections use direct loads and are only
// relocated (never loaded).
typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __pai __attribute__((preserve_access_index))

struct list_head {
	struct list_head *next, *prev;
} __pai;

/* Matches nothing: vmlinux's list_head has pointers. */
struct list_head___bad {
	int next;
} __pai;

struct sched_entity {
	__u64 vruntime;
	__u64 deadline;
} __pai;

/* In vmlinux, every member but cpu_bitmap sits in an anonymous struct; cpu_bitmap is a flexible array. */
struct mm_struct {
	unsigned long start_stack;
	unsigned long start_code;
	unsigned long end_code;
	unsigned long cpu_bitmap[];
} __pai;

struct task_struct {
	struct sched_entity se;
	struct list_head tasks;
	char comm[16];
	int tgid;
	int pid;
	unsigned int flags;
	struct mm_struct *mm;
	struct task_struct *real_parent;
	unsigned int sched_reset_on_fork : 1;
	unsigned int in_execve : 1;
	unsigned int init_private_fork_class : 4;
	int no_such_field_xyz;
} __pai;

/* 'state' became '__state' in 5.14. */
struct task_struct___old {
	long state;
} __pai;

struct task_struct___new {
	unsigned int __state;
} __pai;

/* flags is unsigned int in the kernel: an 8-byte unsigned load is narrowed. */
struct task_struct___wide {
	unsigned long long flags;
} __pai;

/* pid is a signed int in the kernel: an 8-byte signed load cannot be narrowed. */
struct task_struct___signed {
	long long pid;
} __pai;

/* Anonymous unions and structs in the kernel's sk_buff. */
struct sk_buff {
	unsigned int len;
	struct sk_buff *next;
	__u16 protocol;
} __pai;

/* Bitfields of a u8 in the kernel's sock_common. */
struct sock_common {
	unsigned short skc_family;
	unsigned char skc_reuse : 4;
	unsigned char skc_reuseport : 1;
} __pai;

/* Local values differ from the kernel's on purpose; BPF_NO_SUCH_CMD does not exist. */
enum bpf_cmd {
	BPF_MAP_CREATE = 100,
	BPF_PROG_LOAD = 101,
	BPF_NO_SUCH_CMD = 102,
};

enum bpf_map_type___mine {
	BPF_MAP_TYPE_RINGBUF___mine = 1,
};

struct no_such_struct_xyz {
	int a;
};

#define CHECK(cond) ({ if (!(cond)) return __LINE__; })

SEC("raw_tp/core_checks")
int core_checks(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	char comm[16], mine[16];

	CHECK(BPF_CORE_READ(t, pid) == (__u32)pid_tgid);
	CHECK(BPF_CORE_READ(t, tgid) == pid_tgid >> 32);
	CHECK(bpf_core_read(&comm, sizeof(comm), &t->comm) == 0);
	CHECK(bpf_get_current_comm(&mine, sizeof(mine)) == 0);
	for (int i = 0; i < 16; i++)
		CHECK(comm[i] == mine[i]);
	/* A running task: TASK_RUNNING (0), in whichever name the kernel has. */
	if (bpf_core_field_exists(((struct task_struct___new *)t)->__state))
		CHECK(BPF_CORE_READ((struct task_struct___new *)t, __state) == 0);
	else
		CHECK(BPF_CORE_READ((struct task_struct___old *)t, state) == 0);
	/* Dead code after relocation: its poisoned instructions are dropped by the verifier. */
	if (bpf_core_field_exists(t->no_such_field_xyz))
		return 1000 + BPF_CORE_READ(t, no_such_field_xyz);
	if (bpf_core_enum_value_exists(enum bpf_cmd, BPF_NO_SUCH_CMD))
		return bpf_core_enum_value(enum bpf_cmd, BPF_NO_SUCH_CMD);
	CHECK(BPF_CORE_READ_BITFIELD_PROBED(t, in_execve) == 0);
	CHECK(bpf_core_enum_value(enum bpf_cmd, BPF_PROG_LOAD) == 5);
	CHECK(bpf_core_enum_value(enum bpf_map_type___mine, BPF_MAP_TYPE_RINGBUF___mine) == 27);
	CHECK(bpf_core_type_exists(struct task_struct));
	CHECK(!bpf_core_type_exists(struct no_such_struct_xyz));
	CHECK(bpf_core_type_matches(struct list_head));
	CHECK(!bpf_core_type_matches(struct list_head___bad));
	CHECK(__builtin_preserve_field_info(t->pid, BPF_FIELD_SIGNED));
	CHECK(!__builtin_preserve_field_info(t->flags, BPF_FIELD_SIGNED));
	CHECK(bpf_core_field_size(t->comm) == 16);
	/* The list links of the current task point back to it. */
	struct list_head *next = BPF_CORE_READ(t, tasks.next);
	CHECK(BPF_CORE_READ(next, prev) == &t->tasks);
	return 0;
}

SEC("raw_tp/core_ppid")
int core_ppid(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	return BPF_CORE_READ(t, real_parent, tgid);
}

SEC("raw_tp/core_start_code")
int core_start_code(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	return (__u32)BPF_CORE_READ(t, mm, start_code);
}

SEC("raw_tp/core_values")
int core_values(void *ctx)
{
	/* Each returns a relocated constant; the test reads them back one by one via the instructions. */
	return bpf_core_type_size(struct task_struct) + bpf_core_field_offset(struct task_struct, se.deadline)
		+ bpf_core_field_offset(struct mm_struct, cpu_bitmap[2]) + bpf_core_field_offset(struct sk_buff, len)
		+ bpf_core_field_offset(struct sk_buff, next) + bpf_core_field_size(struct sk_buff, protocol)
		+ bpf_core_type_id_kernel(struct task_struct) + bpf_core_field_offset(struct task_struct, comm[3]);
}

SEC("tp_btf/core_direct")
int core_direct(struct task_struct *t, struct sock_common *sk)
{
	unsigned long long r = t->pid;
	r += ((struct task_struct___wide *)t)->flags;
	r += t->mm->start_code;
	r += BPF_CORE_READ_BITFIELD(sk, skc_reuse);
	r += BPF_CORE_READ_BITFIELD(sk, skc_reuseport);
	r += BPF_CORE_READ_BITFIELD(t, init_private_fork_class);
	r += sk->skc_family;
	return r;
}

SEC("tp_btf/core_poison")
int core_poison(struct task_struct *t)
{
	long long r = ((struct task_struct___signed *)t)->pid;
	r += t->no_such_field_xyz;
	r += bpf_core_enum_value(enum bpf_cmd, BPF_NO_SUCH_CMD);
	return r;
}

char LICENSE[] SEC("license") = "GPL";
