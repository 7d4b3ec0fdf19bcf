// Baseline for the btf-parse workload: libbpf parsing /sys/kernel/btf/vmlinux.
// Prints JSON lines {"metric","value","unit"} like every bench/libbpf program.
//   vmlinux.parse             btf__new() from a buffer already read (median, ms)
//   vmlinux.parse_file        btf__parse() of the file, read included (median, ms)
//   vmlinux.find_task_struct  btf__new() + btf__find_by_name_kind("task_struct") (median, ms)
//   vmlinux.peak_mem_delta    growth of the peak RSS (VmHWM) over one parse of the buffer (MB)
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

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

/* Peak RSS of this process image (VmHWM): unlike ru_maxrss, not inherited
 * from the parent across fork+exec (node spawning us is ~100 MB). */
static long peak_rss_kb(void) {
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
	fclose(f);
	return kb;
}

int main(int argc, char **argv) {
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	int runs = argc > 2 ? atoi(argv[2]) : 15;
	double xs[256];
	if (runs < 1 || runs > 256) runs = 15;

	/* Read the file into one exact-size buffer (no realloc peaks before the measurement). */
	struct stat st;
	FILE *f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st)) { perror(path); return 1; }
	size_t len = st.st_size;
	char *buf = malloc(len + 1);
	if (!buf || fread(buf, 1, len + 1, f) != len) { fprintf(stderr, "%s: short read\n", path); return 1; }
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
