// libbpf side of obj-load: bpf_object__open_file, then bpf_object__load, timed
// separately; libbpf parses the kernel's vmlinux BTF on every load.
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int quiet(enum libbpf_print_level l, const char *f, va_list a)
{
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argv[1];
	int runs = argc > 2 ? atoi(argv[2]) : 25;
	double *open = calloc(runs, sizeof(double)), *load = calloc(runs, sizeof(double));

	libbpf_set_print(quiet);
	for (int i = -3; i < runs; i++) {
		double t0 = now_ms();
		struct bpf_object *o = bpf_object__open_file(path, NULL);
		double t1 = now_ms();
		if (!o || bpf_object__load(o)) {
			fprintf(stderr, "libbpf failed to load %s\n", path);
			return 1;
		}
		double t2 = now_ms();
		bpf_object__close(o);
		if (i >= 0) {
			open[i] = t1 - t0;
			load[i] = t2 - t0;
		}
	}
	printf("{\"metric\":\"open\",\"value\":%.3f,\"unit\":\"ms\"}\n", median(open, runs));
	printf("{\"metric\":\"open_load\",\"value\":%.3f,\"unit\":\"ms\"}\n", median(load, runs));
	printf("{\"metric\":\"open_load_cold\",\"value\":%.3f,\"unit\":\"ms\"}\n", median(load, runs));
	return 0;
}
