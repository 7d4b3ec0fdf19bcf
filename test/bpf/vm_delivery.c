// VM-only (test/vm/delivery.test.ts): ring buffer and perf buffer delivery on
// every kernel of the matrix (5.8+ for the ring buffer). A tracepoint program,
// not a SEC("syscall") one with bpf_loop as ringbuf_producer.c (5.17): each
// getpid(2) of the target process sends its sequence number through both.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

struct event {
	__u64 seq;
	__u32 pid;
	__u32 cpu;
};

// Set before load (setVariable): the test's pid.
const volatile __u32 target_pid = 0;
__u64 seq = 0;

SEC("tracepoint/syscalls/sys_enter_getpid")
int deliver(void *ctx)
{
	struct event e = {};

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	// One thread calls getpid at a time in the test: a plain increment (an atomic fetch-add needs 5.12).
	e.seq = seq++;
	e.pid = target_pid;
	e.cpu = bpf_get_smp_processor_id();
	bpf_ringbuf_output(&ring, &e, sizeof(e), 0);
	bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
