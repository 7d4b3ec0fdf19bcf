// The two perf records a BPF_OUTPUT perf buffer holds, and the dispatch that
// libbpf's perf_buffer__process_record does before calling sample_cb/lost_cb,
// for the benchmarks that open their buffers with perf_buffer__new_raw.
#include <bpf/libbpf.h>
#include <linux/perf_event.h>

struct perf_sample_rec {
	struct perf_event_header h;
	__u32 size;
	char data[];
};

struct perf_lost_rec {
	struct perf_event_header h;
	__u64 id;
	__u64 lost;
};

static inline enum bpf_perf_event_ret dispatch_perf_record(void *ctx, int cpu, struct perf_event_header *e,
							   perf_buffer_sample_fn on_sample, perf_buffer_lost_fn on_lost)
{
	if (e->type == PERF_RECORD_SAMPLE) {
		struct perf_sample_rec *s = (void *)e;
		on_sample(ctx, cpu, s->data, s->size);
	} else if (e->type == PERF_RECORD_LOST) {
		on_lost(ctx, cpu, ((struct perf_lost_rec *)e)->lost);
	}
	return LIBBPF_PERF_EVENT_CONT;
}
