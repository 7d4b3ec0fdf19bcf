// struct_ops tests (test/cli-struct-ops.test.ts): the same minimal TCP
// congestion control as struct_ops.c, in a SEC(".struct_ops.link") map: it is
// registered through a BPF link (BPF_F_LINK) and lives as long as the link.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_sock {
	__u32 snd_cwnd;
} __attribute__((preserve_access_index));

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

char _license[] SEC("license") = "GPL";

SEC("struct_ops/tsbpf_cal_ssthresh")
__u32 BPF_PROG(tsbpf_cal_ssthresh, struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 half = tp->snd_cwnd >> 1;

	return half > 2 ? half : 2;
}

SEC("struct_ops/tsbpf_cal_cong_avoid")
void BPF_PROG(tsbpf_cal_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/tsbpf_cal_undo_cwnd")
__u32 BPF_PROG(tsbpf_cal_undo_cwnd, struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	return tp->snd_cwnd;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops tsbpf_cal = {
	.ssthresh = (void *)tsbpf_cal_ssthresh,
	.cong_avoid = (void *)tsbpf_cal_cong_avoid,
	.undo_cwnd = (void *)tsbpf_cal_undo_cwnd,
	.name = "tsbpf_cal",
};
