// Baseline for the ringbuf workload: libbpf's ring_buffer__consume draining a
// ring filled while the consumer was idle. The producer is the same object as
// tsbpf's (test/bpf/ringbuf_producer.o, `produce` test-run with bpf_loop,
// reserve + submit with BPF_RB_NO_WAKEUP); the callback reads one u64.
//   usage: ringbuf <object> <runs> <count64> <count512>
// Prints JSON lines {"metric","value","unit"}, one per timed drain (the
// workload takes medians over several alternating sessions):
//   drain64.run / drain512.run             CPU time of the thread per record (ns)
//   drain64.wall.run / drain512.wall.run   wall-clock time per record (ns)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct args {
	unsigned long long seq;
	unsigned int count, size, mode, flags, vary, discard_every, ring;
	unsigned int written, failed, discarded, stop;
};

static unsigned long long sum;

static int on_record(void *ctx, void *data, size_t size)
{
	sum += *(unsigned long long *)data;
	return 0;
}

static double now_ns(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int fill(int prog_fd, unsigned long long seq, unsigned int count, unsigned int size)
{
	struct args a = { .seq = seq, .count = count, .size = size, .mode = 1, .flags = BPF_RB_NO_WAKEUP };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof(a));
	int err = bpf_prog_test_run_opts(prog_fd, &o);
	if (err || a.written != count || a.failed) {
		fprintf(stderr, "fill: err %d, written %u of %u\n", err, a.written, count);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "test/bpf/ringbuf_producer.o";
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	unsigned int counts[2] = { argc > 3 ? atoi(argv[3]) : 2000000, argc > 4 ? atoi(argv[4]) : 400000 };
	unsigned int sizes[2] = { 64, 512 };

	if (runs < 1) runs = 5;
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) { perror(path); return 1; }
	struct bpf_map *rb = bpf_object__find_map_by_name(obj, "rb");
	bpf_map__set_max_entries(rb, 1u << 28);
	if (bpf_object__load(obj)) { fprintf(stderr, "load failed\n"); return 1; }
	int prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "produce"));
	struct ring_buffer *r = ring_buffer__new(bpf_map__fd(rb), on_record, NULL, NULL);
	if (!r) { perror("ring_buffer__new"); return 1; }

	for (int k = 0; k < 2; k++) {
		/* Warm up (page faults of the consumer's mapping, caches) with one small round. */
		if (fill(prog_fd, 0, counts[k] / 10, sizes[k])) return 1;
		ring_buffer__consume(r);
		for (int i = 0; i < runs; i++) {
			if (fill(prog_fd, 0, counts[k], sizes[k])) return 1;
			double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);
			int n = ring_buffer__consume(r);
			double w1 = now_ns(CLOCK_MONOTONIC), c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
			if (n != (int)counts[k]) { fprintf(stderr, "consumed %d of %u\n", n, counts[k]); return 1; }
			printf("{\"metric\":\"drain%u.run\",\"value\":%.3f,\"unit\":\"ns/record\"}\n", sizes[k], (c1 - c0) / n);
			printf("{\"metric\":\"drain%u.wall.run\",\"value\":%.3f,\"unit\":\"ns/record\"}\n", sizes[k], (w1 - w0) / n);
		}
	}
	fprintf(stderr, "checksum %llu\n", sum);
	ring_buffer__free(r);
	bpf_object__close(obj);
	return 0;
}
