// A program the verifier gives up on: a loop bounded at ten million turns, each
// walked one by one, is far past its budget of 1M instructions. Loading it must
// fail with E2BIG ("too large or too complex"), not with ENOSPC from an
// overflowing log, and without running the verifier again and again.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int too_complex(struct __sk_buff *skb)
{
	__u64 acc = skb->len;

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 10000000; i++)
		acc ^= (acc << 1) + i;
	return acc & 1;
}

char LICENSE[] SEC("license") = "GPL";
