// Records produced by a real trigger: every getpgid(MAGIC) of one target
// process writes a sequence number into a ring buffer and a perf buffer, from
// the syscalls/sys_enter_getpgid tracepoint. The magic pid argument keeps the
// runtime's own syscalls out of the count.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

#define MAGIC 0x7ffffff0

/* The raw syscall tracepoint context: 8 bytes of common fields, the syscall number, its arguments. */
struct sys_enter_ctx {
	__u64 common;
	long id;
	unsigned long args[6];
};

__u32 target_tgid;
__u64 seq;

struct rec {
	__u64 seq;
	__u32 tgid;
	__u32 pad;
};

SEC("tracepoint/syscalls/sys_enter_getpgid")
int on_getpgid(struct sys_enter_ctx *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rec r = {};

	if (!target_tgid || tgid != target_tgid || ctx->args[0] != MAGIC)
		return 0;
	r.seq = __sync_fetch_and_add(&seq, 1);
	r.tgid = tgid;
	bpf_ringbuf_output(&rb, &r, sizeof(r), 0);
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
