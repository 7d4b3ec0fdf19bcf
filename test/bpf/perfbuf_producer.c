// Perf buffer producer for the reader tests and the perfbuf bench. A test run
// of `produce` (SEC("raw_tp"): test-runnable on a chosen CPU with
// BPF_F_TEST_RUN_ON_CPU) writes args[1] sequence-numbered samples starting at
// args[0] with bpf_perf_event_output(BPF_F_CURRENT_CPU) through bpf_loop.
// Payload: u64 seq, u32 size, u32 cpu, ..., last byte = seq & 0xff.
// args[2]: payload size (12..MAX_SIZE-1); args[3]: when nonzero, sizes vary
// as 16 + (seq * 40503) % args[3]. Returns the number of failed outputs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

#define MAX_SIZE 4096
/* Bounds the verifier can see (clang would fold a plain mask into the range check). */
#define BOUND(x) ({ __u64 __v = (x); asm volatile("%0 &= 4095" : "+r"(__v)); __v; })

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_SIZE);
} scratch SEC(".maps");

struct loop_ctx {
	void *ctx;
	char *buf;
	__u64 seq;
	__u32 size, vary, cpu, failed;
};

static long produce_one(__u32 i, struct loop_ctx *c)
{
	__u64 seq = c->seq + i;
	__u32 size = c->vary ? 16 + (__u32)((seq * 40503) % c->vary) : c->size;
	char *buf = c->buf;

	if (!buf || size < 16 || size >= MAX_SIZE)
		return 1;
	*(__u64 *)&buf[0] = seq;
	*(__u32 *)&buf[8] = size;
	*(__u32 *)&buf[12] = c->cpu;
	buf[(size - 1) & (MAX_SIZE - 1)] = seq & 0xff;
	if (bpf_perf_event_output(c->ctx, &events, BPF_F_CURRENT_CPU, buf, BOUND(size)))
		c->failed++;
	return 0;
}

SEC("raw_tp")
int produce(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	struct loop_ctx c = {
		.ctx = ctx,
		.seq = ctx->args[0],
		.size = ctx->args[2],
		.vary = ctx->args[3],
		.cpu = bpf_get_smp_processor_id(),
	};

	c.buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!c.buf)
		return -1;
	bpf_loop(ctx->args[1], produce_one, &c, 0);
	return c.failed;
}

char LICENSE[] SEC("license") = "GPL";
