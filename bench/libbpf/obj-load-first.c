// libbpf side of obj-load-first: ONE bpf_object__open_file + bpf_object__load
// in this (fresh) process, timed from before the open to after the load.
// argv: OBJECT [TARGET_BTF]; with TARGET_BTF, CO-RE relocates against that
// file (bpf_object_open_opts.btf_custom_path) instead of the running kernel's.
// Prints one JSON line {"metric":"open_load_first","value":ms,"unit":"ms"};
// bench/workloads/obj-load-first.ts takes the median over fresh processes.
#include <bpf/libbpf.h>
#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int quiet(enum libbpf_print_level l, const char *f, va_list a)
{
	return 0;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = argc > 2 ? argv[2] : NULL);
	libbpf_set_print(quiet);
	double t0 = now_ms();
	struct bpf_object *o = bpf_object__open_file(argv[1], &opts);
	if (!o || bpf_object__load(o)) {
		fprintf(stderr, "libbpf failed to load %s\n", argv[1]);
		return 1;
	}
	double t1 = now_ms();
	bpf_object__close(o);
	printf("{\"metric\":\"open_load_first\",\"value\":%.3f,\"unit\":\"ms\"}\n", t1 - t0);
	return 0;
}
