// Consumer of a user ring buffer: `drain` (SEC("syscall"), test-run with a
// struct drain_args context that is written back) calls
// bpf_user_ringbuf_drain and checks every sample: u64 seq (consecutive from
// args->next), u32 length (the sample's exact size), last byte = seq & 0xff.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} urb SEC(".maps");

struct drain_args {
	__u64 next;  /* in: expected first seq; out: the seq expected next */
	__u64 sum;   /* out: sum of seqs */
	__u32 count; /* out: samples drained */
	__u32 bad;   /* out: samples failing a check */
	__s64 ret;   /* out: bpf_user_ringbuf_drain's return */
};

struct dctx {
	__u64 next, sum;
	__u32 count, bad;
};

static long on_sample(struct bpf_dynptr *d, struct dctx *c)
{
	__u64 seq;
	__u32 len;
	__u8 last;

	c->count++;
	if (bpf_dynptr_read(&seq, sizeof(seq), d, 0, 0) || bpf_dynptr_read(&len, sizeof(len), d, 8, 0)) {
		c->bad++;
		return 0;
	}
	if (seq != c->next || len < 13 || bpf_dynptr_read(&last, 1, d, len - 1, 0) || last != (seq & 0xff) ||
	    !bpf_dynptr_read(&last, 1, d, len, 0))
		c->bad++;
	c->next = seq + 1;
	c->sum += seq;
	return 0;
}

SEC("syscall")
int drain(struct drain_args *a)
{
	struct dctx c = { .next = a->next };

	a->ret = bpf_user_ringbuf_drain(&urb, on_sample, &c, 0);
	a->next = c.next;
	a->sum = c.sum;
	a->count = c.count;
	a->bad = c.bad;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
