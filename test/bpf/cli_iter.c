// CLI test (test/cli-net.test.ts): one task iterator for `tsbpf iter pin`,
// printing "task <seq_num>" per task (no struct offsets needed).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	void *task;
};

SEC("iter/task")
int cli_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u64 n = ctx->meta->seq_num;

	if (!ctx->task)
		return 0;
	BPF_SEQ_PRINTF(seq, "task %llu\n", n);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
