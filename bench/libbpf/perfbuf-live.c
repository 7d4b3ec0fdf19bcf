// Baseline for the perfbuf-live workload: libbpf's perf buffer read while a
// live producer writes (test/bpf/events_tp.o: one sample per getpgid(MAGIC)
// of the target process, from the syscall tracepoint; the producer is
// bench/libbpf/getpgid-producer.c pinned to one CPU).
//   usage: perfbuf-live <object> <producer> <count> <cpu> <pages> <watermark>
// watermark 0: perf_buffer__new, i.e. libbpf's wakeup_events = 1, one wake-up
// per sample; else perf_buffer__new_raw with a wake-up once that many bytes
// are ready. The consumer polls (100 ms timeout) until the producer has
// exited, then drains what is left. Prints JSON lines:
//   received, lost (samples), received_per_s (from the go byte to the end)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "perf-records.h"
#include <linux/perf_event.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long received, lost;

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
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

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: perfbuf-live <object> <producer> <count> <cpu> <pages> <watermark>\n");
		return 2;
	}
	int pages = atoi(argv[5]);
	int watermark = atoi(argv[6]);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "perfbuf-live: cannot load %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "on_getpgid");
	struct bpf_link *link = prog ? bpf_program__attach(prog) : NULL;
	struct bpf_map *pbm = bpf_object__find_map_by_name(obj, "pb");
	struct bpf_map *bss = NULL, *m;
	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);
		size_t len = strlen(name);
		if (len >= 4 && strcmp(name + len - 4, ".bss") == 0)
			bss = m;
	}
	if (!link || !pbm || !bss) {
		fprintf(stderr, "perfbuf-live: program, pb or .bss missing\n");
		return 1;
	}
	struct perf_buffer *pb;
	if (!watermark) {
		pb = perf_buffer__new(bpf_map__fd(pbm), pages, on_sample, on_lost, NULL, NULL);
	} else {
		struct perf_event_attr attr = {
			.type = PERF_TYPE_SOFTWARE,
			.config = PERF_COUNT_SW_BPF_OUTPUT,
			.sample_type = PERF_SAMPLE_RAW,
			.sample_period = 1,
			.watermark = 1,
			.wakeup_watermark = watermark,
		};
		pb = perf_buffer__new_raw(bpf_map__fd(pbm), pages, &attr, on_event, NULL, NULL);
	}
	if (!pb) {
		fprintf(stderr, "perfbuf-live: perf_buffer__new failed\n");
		return 1;
	}
	int go[2];
	if (pipe(go))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		dup2(go[0], 0);
		close(go[1]);
		execl(argv[2], argv[2], argv[3], argv[4], (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	/* target_tgid is .bss's first variable: set it through the map (this libbpf may keep .bss unmapped). */
	size_t sz;
	const void *init = bpf_map__initial_value(bss, &sz);
	char *val = calloc(1, sz > 4 ? sz : 4);
	if (init)
		memcpy(val, init, sz);
	*(__u32 *)val = child;
	int zero = 0;
	if (bpf_map_update_elem(bpf_map__fd(bss), &zero, val, 0)) {
		fprintf(stderr, "perfbuf-live: cannot set target_tgid\n");
		return 1;
	}
	double t0 = now();
	if (write(go[1], "g", 1) != 1)
		return 1;
	int status = 0;
	for (;;) {
		int err = perf_buffer__poll(pb, 100);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "perfbuf-live: poll: %d\n", err);
			return 1;
		}
		if (waitpid(child, &status, WNOHANG) == child)
			break;
	}
	perf_buffer__consume(pb);
	double secs = now() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "perfbuf-live: producer failed (%d)\n", status);
		return 1;
	}
	printf("{\"metric\":\"received\",\"value\":%llu,\"unit\":\"samples\"}\n", received);
	printf("{\"metric\":\"lost\",\"value\":%llu,\"unit\":\"samples\"}\n", lost);
	printf("{\"metric\":\"received_per_s\",\"value\":%.0f,\"unit\":\"samples/s\"}\n", received / secs);
	perf_buffer__free(pb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
