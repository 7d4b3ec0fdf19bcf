// Baseline for the btf-parse workload: libbpf parsing /sys/kernel/btf/vmlinux.
// Prints JSON lines {"metric","value","unit"} like every bench/libbpf program.
//   vmlinux.parse             btf__new() from a buffer already read (median, ms)
//   vmlinux.parse_file        btf__parse() of the file, read included (median, ms)
//   vmlinux.find_task_struct  btf__new() + btf__find_by_name_kind("task_struct") (median, ms)
//   vmlinux.peak_rss_delta    growth of the peak RSS over one parse of the buffer (MB)
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

static double now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *xs, int n) {
	qsort(xs, n, sizeof(*xs), cmp);
	return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

static long peak_rss_kb(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int main(int argc, char **argv) {
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	int runs = argc > 2 ? atoi(argv[2]) : 15;
	double xs[256];
	if (runs < 1 || runs > 256) runs = 15;

	FILE *f = fopen(path, "rb");
	if (!f) { perror(path); return 1; }
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len == cap) buf = realloc(buf, cap *= 2);
		size_t n = fread(buf + len, 1, cap - len, f);
		if (!n) break;
		len += n;
	}
	fclose(f);

	/* Peak memory of one parse, measured before anything else grows the heap. */
	long rss0 = peak_rss_kb();
	struct btf *b = btf__new(buf, len);
	if (!b) { fprintf(stderr, "btf__new failed\n"); return 1; }
	long rss1 = peak_rss_kb();
	btf__free(b);

	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		b = btf__new(buf, len);
		xs[i] = now_ms() - t0;
		if (!b) return 1;
		btf__free(b);
	}
	printf("{\"metric\":\"vmlinux.parse\",\"value\":%.4f,\"unit\":\"ms\"}\n", median(xs, runs));

	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		b = btf__parse(path, NULL);
		xs[i] = now_ms() - t0;
		if (!b) return 1;
		btf__free(b);
	}
	printf("{\"metric\":\"vmlinux.parse_file\",\"value\":%.4f,\"unit\":\"ms\"}\n", median(xs, runs));

	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		b = btf__new(buf, len);
		int id = b ? btf__find_by_name_kind(b, "task_struct", BTF_KIND_STRUCT) : -1;
		xs[i] = now_ms() - t0;
		if (id <= 0) { fprintf(stderr, "task_struct not found\n"); return 1; }
		btf__free(b);
	}
	printf("{\"metric\":\"vmlinux.find_task_struct\",\"value\":%.4f,\"unit\":\"ms\"}\n", median(xs, runs));
	printf("{\"metric\":\"vmlinux.peak_mem_delta\",\"value\":%.2f,\"unit\":\"MB\"}\n", (rss1 - rss0) / 1024.0);
	free(buf);
	return 0;
}
