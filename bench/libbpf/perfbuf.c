// Baseline for the perfbuf workload: libbpf's perf_buffer__consume draining
// per-CPU perf buffers filled while the consumer was idle. The producer is the
// same object as tsbpf's (test/bpf/perfbuf_producer.o, a raw_tp program
// test-run on CPU 0 with BPF_F_TEST_RUN_ON_CPU, bpf_perf_event_output in a
// bpf_loop); the callback reads one u64.
//
// The buffers are opened with perf_buffer__new_raw so that both sides can use
// the same wakeup_events (argument 6): libbpf's perf_buffer__new hard-codes 1,
// which makes the (untimed) fill cost an interrupt, i.e. a VM exit, per sample
// here. The event callback does what libbpf's perf_buffer__process_record does
// before calling a sample_cb (PERF_RECORD_SAMPLE: raw size + data; LOST: count).
//   usage: perfbuf <object> <runs> <count64> <count512> <pages> <wakeup_events>
// Prints JSON lines {"metric","value","unit"}, one per timed drain (the
// workload takes medians over several alternating sessions):
//   drain64.run / drain512.run             CPU time of the thread per record (ns)
//   drain64.wall.run / drain512.wall.run   wall-clock time per record (ns)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "perf-records.h"
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long sum, received, lost;

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	sum += *(unsigned long long *)data;
	received++;
}

static void on_lost(void *ctx, int cpu, __u64 n)
{
	lost += n;
}

static enum bpf_perf_event_ret on_event(void *ctx, int cpu, struct perf_event_header *e)
{
	return dispatch_perf_record(ctx, cpu, e, on_sample, on_lost);
}

static double now_ns(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* Fill CPU 0's buffer in chunks (each test run keeps its CPU busy with interrupts off). */
static int fill(int prog_fd, unsigned int count, unsigned int size)
{
	for (unsigned int done = 0; done < count;) {
		unsigned int n = count - done < 100000 ? count - done : 100000;
		__u64 args[4] = { done, n, size, 0 };
		LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args, .ctx_size_in = sizeof(args),
			    .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = 0);
		int err = bpf_prog_test_run_opts(prog_fd, &o);
		if (err || o.retval) {
			fprintf(stderr, "fill: err %d, %u refused\n", err, o.retval);
			return -1;
		}
		done += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "test/bpf/perfbuf_producer.o";
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	unsigned int counts[2] = { argc > 3 ? atoi(argv[3]) : 2000000, argc > 4 ? atoi(argv[4]) : 400000 };
	size_t pages = argc > 5 ? atoi(argv[5]) : 65536;
	unsigned int wakeup = argc > 6 ? atoi(argv[6]) : 1;
	unsigned int sizes[2] = { 64, 512 };

	if (runs < 1) runs = 5;
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) { perror(path); return 1; }
	if (bpf_object__load(obj)) { fprintf(stderr, "load failed\n"); return 1; }
	int prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "produce"));
	int map_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "events"));
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_period = 1,
		.sample_type = PERF_SAMPLE_RAW,
		.wakeup_events = wakeup,
	};
	struct perf_buffer *pb = perf_buffer__new_raw(map_fd, pages, &attr, on_event, NULL, NULL);
	if (!pb) { perror("perf_buffer__new"); return 1; }

	for (int k = 0; k < 2; k++) {
		if (fill(prog_fd, counts[k] / 10, sizes[k])) return 1;
		perf_buffer__consume(pb);
		for (int i = 0; i < runs; i++) {
			if (fill(prog_fd, counts[k], sizes[k])) return 1;
			unsigned long long before = received;
			double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);
			int err = perf_buffer__consume(pb);
			double w1 = now_ns(CLOCK_MONOTONIC), c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
			unsigned long long n = received - before;
			if (err || n != counts[k] || lost) { fprintf(stderr, "consumed %llu of %u, lost %llu\n", n, counts[k], lost); return 1; }
			printf("{\"metric\":\"drain%u.run\",\"value\":%.3f,\"unit\":\"ns/record\"}\n", sizes[k], (c1 - c0) / n);
			printf("{\"metric\":\"drain%u.wall.run\",\"value\":%.3f,\"unit\":\"ns/record\"}\n", sizes[k], (w1 - w0) / n);
		}
	}
	fprintf(stderr, "checksum %llu\n", sum);
	perf_buffer__free(pb);
	bpf_object__close(obj);
	return 0;
}
