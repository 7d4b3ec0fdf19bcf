// A program that records its own kernel stack: run with BPF_PROG_TEST_RUN,
// bpf_get_stack's first frames are this program's JIT code (the helper's
// caller, then the subprogram's caller), which the Symbolizer names and,
// from the program's BTF line info, gives file and line.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_DEPTH 16

struct stack {
	__u64 ips[MAX_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack);
} stacks SEC(".maps");

static __noinline int record(void *ctx)
{
	__u32 zero = 0;
	struct stack *s = bpf_map_lookup_elem(&stacks, &zero);

	if (!s)
		return -1;
	return bpf_get_stack(ctx, s->ips, sizeof(s->ips), 0); /* GET_STACK_LINE */
}

SEC("raw_tp")
int record_stack(void *ctx)
{
	int n = record(ctx); /* CALL_LINE */

	return n > 0 ? n : 0;
}

char LICENSE[] SEC("license") = "GPL";
