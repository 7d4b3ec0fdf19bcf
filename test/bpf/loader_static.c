// Static functions in program sections. libbpf refuses the object ("program
// 'add_one' is static and not supported"); tsbpf treats them as subprograms.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* In the same section as the program that calls it. */
static __noinline __attribute__((section("socket"))) int add_one(int x)
{
	return x + 1;
}

/* In another program-type section: reached by a cross-section call. */
static __noinline __attribute__((section("tc"))) int times_two(int x)
{
	return x * 2;
}

SEC("socket")
int calls_static(struct __sk_buff *skb)
{
	return times_two(add_one(skb->len)); /* (len + 1) * 2 */
}

char LICENSE[] SEC("license") = "GPL";
