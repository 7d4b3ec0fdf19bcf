// Ring buffer producers for the reader tests and the ringbuf bench. One test
// run of `produce` (SEC("syscall"), so it is preemptible and test-runnable
// with a context) writes `count` sequence-numbered records through bpf_loop.
// The context is struct args, written back to user space after the run.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16384);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb2 SEC(".maps");

#define MODE_OUTPUT 0  /* bpf_ringbuf_output of `size` bytes (or varying sizes) */
#define MODE_RESERVE 1 /* bpf_ringbuf_reserve of 16, 64 or 512 bytes + submit/discard */
#define MAX_SIZE 4096
/* Bounds the verifier can see (clang would fold a plain mask into the range check). */
#define BOUND(x) ({ __u64 __v = (x); asm volatile("%0 &= 4095" : "+r"(__v)); __v; })

struct args {
	__u64 seq;           /* first sequence number */
	__u32 count;         /* records to write */
	__u32 size;          /* payload bytes; MODE_OUTPUT: 12..MAX_SIZE-1 */
	__u32 mode;
	__u32 flags;         /* BPF_RB_NO_WAKEUP / BPF_RB_FORCE_WAKEUP */
	__u32 vary;          /* MODE_OUTPUT: when set, size = 16 + (seq * 40503) % vary */
	__u32 discard_every; /* MODE_RESERVE: discard records with seq % discard_every == 0 */
	__u32 ring;          /* 0: rb, 1: rb2 */
	/* out */
	__u32 written;
	__u32 failed;
	__u32 discarded;
	__u32 stop;          /* in: stop at the first record that does not fit (so `written` is a prefix) */
};

struct loop_ctx {
	__u64 seq;
	__u32 size, mode, flags, vary, discard_every, ring, stop;
	__u32 written, failed, discarded;
};

/* Payload of MODE_OUTPUT: u64 seq, u32 size, ..., last byte = seq & 0xff. */
static char buf[MAX_SIZE];


static __always_inline int reserve(struct loop_ctx *c, __u64 seq)
{
	__u64 *p;

	if (c->size == 16)
		p = c->ring ? bpf_ringbuf_reserve(&rb2, 16, 0) : bpf_ringbuf_reserve(&rb, 16, 0);
	else if (c->size == 512)
		p = c->ring ? bpf_ringbuf_reserve(&rb2, 512, 0) : bpf_ringbuf_reserve(&rb, 512, 0);
	else
		p = c->ring ? bpf_ringbuf_reserve(&rb2, 64, 0) : bpf_ringbuf_reserve(&rb, 64, 0);
	if (!p)
		return -1;
	p[0] = seq;
	p[1] = c->size;
	if (c->discard_every && seq % c->discard_every == 0) {
		bpf_ringbuf_discard(p, c->flags);
		c->discarded++;
		return 0;
	}
	bpf_ringbuf_submit(p, c->flags);
	return 0;
}

static long produce_one(__u32 i, struct loop_ctx *c)
{
	__u64 seq = c->seq + i;
	__u32 size;
	long err;

	if (c->mode == MODE_RESERVE) {
		if (reserve(c, seq))
			c->failed++;
		else
			c->written++;
		return 0;
	}
	size = c->vary ? 16 + (__u32)((seq * 40503) % c->vary) : c->size;
	if (size < 12 || size >= MAX_SIZE)
		return 1;
	*(__u64 *)&buf[0] = seq;
	*(__u32 *)&buf[8] = size;
	buf[(size - 1) & (MAX_SIZE - 1)] = seq & 0xff;
	err = c->ring ? bpf_ringbuf_output(&rb2, buf, BOUND(size), c->flags)
		      : bpf_ringbuf_output(&rb, buf, BOUND(size), c->flags);
	if (err) {
		c->failed++;
		return c->stop ? 1 : 0;
	}
	c->written++;
	return 0;
}

SEC("syscall")
int produce(struct args *a)
{
	struct loop_ctx c = {
		.seq = a->seq,
		.size = a->size,
		.mode = a->mode,
		.flags = a->flags,
		.vary = a->vary,
		.discard_every = a->discard_every,
		.ring = a->ring,
		.stop = a->stop,
	};

	bpf_loop(a->count, produce_one, &c, 0);
	a->written = c.written;
	a->failed = c.failed;
	a->discarded = c.discarded;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
