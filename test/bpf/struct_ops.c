// struct_ops tests (test/cli-struct-ops.test.ts): a minimal TCP congestion
// control registered through a plain SEC(".struct_ops") map, so it stays
// registered after the loader exits until `struct_ops unregister`. bpftool
// 7.1 (libbpf 1.1) can register it too. No vmlinux.h: the kernel types are
// declared here, partially; libbpf and tsbpf match members by name.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_sock {
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
} __attribute__((preserve_access_index));

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
	__u32 flags;
};

char _license[] SEC("license") = "GPL";

/* Halve the window on loss, as Reno does (never below 2 segments). */
SEC("struct_ops/tsbpf_ca_ssthresh")
__u32 BPF_PROG(tsbpf_ca_ssthresh, struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 half = tp->snd_cwnd >> 1;

	return half > 2 ? half : 2;
}

/* Window growth left alone: this congestion control only has to exist. */
SEC("struct_ops/tsbpf_ca_cong_avoid")
void BPF_PROG(tsbpf_ca_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/tsbpf_ca_undo_cwnd")
__u32 BPF_PROG(tsbpf_ca_undo_cwnd, struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	return tp->snd_cwnd;
}

SEC(".struct_ops")
struct tcp_congestion_ops tsbpf_ca = {
	.ssthresh = (void *)tsbpf_ca_ssthresh,
	.cong_avoid = (void *)tsbpf_ca_cong_avoid,
	.undo_cwnd = (void *)tsbpf_ca_undo_cwnd,
	.name = "tsbpf_ca",
};
