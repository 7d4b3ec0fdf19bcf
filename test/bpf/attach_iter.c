// Attach tests (test/attach-trace.test.ts): iterators that print with
// BPF_SEQ_PRINTF, and a socket program that prints with bpf_printk for
// trace_pipe. Struct layouts the kernel does not fix come from its BTF at
// test time, through `config` (no CO-RE).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum { K_TGID_OFF, K_PID_OFF, K_TOKEN, K_MAX = 4 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, K_MAX);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} elems SEC(".maps");

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	void *task;
};

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	void *map;
	void *key;
	void *value;
};

static __always_inline __u32 cfg(__u32 k)
{
	__u32 *v = bpf_map_lookup_elem(&config, &k);
	return v ? *v : 0;
}

/* One line per task: "<tgid> <pid>". */
SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u64 task = 0;
	int tgid = 0, pid = 0;

	bpf_probe_read_kernel(&task, sizeof(task), &ctx->task);
	if (!task)
		return 0;
	bpf_probe_read_kernel(&tgid, sizeof(tgid), (void *)(task + cfg(K_TGID_OFF)));
	bpf_probe_read_kernel(&pid, sizeof(pid), (void *)(task + cfg(K_PID_OFF)));
	BPF_SEQ_PRINTF(seq, "%d %d\n", tgid, pid);
	return 0;
}

/* One line per element: "<key>=<value>". */
SEC("iter/bpf_map_elem")
int dump_elem(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u32 *key = ctx->key;
	__u64 *val = ctx->value;

	if (!key || !val)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u=%llu\n", *key, *val);
	return 0;
}

SEC("socket")
int say_hello(struct __sk_buff *skb)
{
	bpf_printk("tsbpf-printk token=%u len=%u", cfg(K_TOKEN), skb->len);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
