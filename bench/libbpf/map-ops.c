// Baseline for the map-ops workload: element and batch operations through
// libbpf's low-level API (bpf_map_*), timed with clock_gettime(CLOCK_MONOTONIC).
// Prints JSON lines {"metric","value","unit"} like every bench/libbpf program.
//
//   map-ops [N] [max_entries] [rounds] [warm_n] [all]
//       one warm-up round over the first warm_n keys, then `rounds` rounds over
//       N keys; prints each metric's median (ns per operation), or with a
//       fifth argument every round's figure.
//   map-ops serve N max_entries
//       reads "<metric> <n>" lines on stdin, runs that phase over the first n
//       keys and answers with one JSON line. bench/workloads/map-ops.ts drives
//       this and runs its own phase in between, so that both sides see the same
//       load from the rest of the machine, phase by phase.
//
// The key sequence is the permutation key(i) = (i * P) % N of 0..N-1, P the
// first of 7919, 7921, ... coprime with N; values are key + 1. A round runs the
// phases in this order (the TypeScript side has the same phases):
//
//   hash (u32 -> u64):  update (empty -> full), lookup, get_next_key (full walk,
//     per key), iterate (get_next_key + lookup, per entry), lookup_batch (4096,
//     per element), delete (full -> empty), update_batch (4096, empty -> full,
//     per element; then an unmeasured delete_batch back to empty).
//   array (u32 -> u64, filled once): lookup of every index.
//   percpu_hash (u32 -> u64, one 8-byte slot per possible CPU): update (empty ->
//     full, the value replicated to every slot), lookup (every slot summed;
//     then an unmeasured delete_batch).
//   syscall.getpid: syscall(SYS_getpid), the bare round trip (informational).
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH 4096
#define MAX_ROUNDS 64

static uint64_t now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *xs, int n) {
	double s[MAX_ROUNDS];
	memcpy(s, xs, n * sizeof(*xs));
	qsort(s, n, sizeof(*s), cmp);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static uint32_t gcd(uint32_t a, uint32_t b) {
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void die(const char *what, int err) {
	fprintf(stderr, "map-ops: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Results are summed into this so the compiler keeps every lookup. */
static volatile uint64_t sink;

static uint32_t *keys; /* the key sequence */
static uint64_t *vals; /* vals[i] = keys[i] + 1, packed for update_batch */
static uint32_t bkeys[BATCH]; /* lookup_batch output */
static uint64_t bvals[BATCH];
static int hash_fd, array_fd, pcpu_fd, ncpu;
static uint64_t *pv; /* one per-CPU value */

/* Empty a hash map (unmeasured). */
static void drain(int fd, uint32_t n) {
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	for (uint32_t i = 0; i < n; i += BATCH) {
		uint32_t c = n - i < BATCH ? n - i : BATCH;
		int err = bpf_map_delete_batch(fd, keys + i, &c, &opts);
		if (err) die("delete_batch", err);
	}
}

static double hash_update(uint32_t n) {
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		uint64_t v = (uint64_t)k + 1;
		int err = bpf_map_update_elem(hash_fd, &k, &v, BPF_ANY);
		if (err) die("update", err);
	}
	return (double)(now_ns() - t0) / n;
}

static double hash_lookup(uint32_t n) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		uint64_t v;
		int err = bpf_map_lookup_elem(hash_fd, &k, &v);
		if (err) die("lookup", err);
		sum += v;
	}
	double r = (double)(now_ns() - t0) / n;
	sink += sum;
	return r;
}

static double hash_next_key(uint32_t n) {
	uint32_t k, next, seen = 0;
	int err;
	uint64_t t0 = now_ns();
	for (err = bpf_map_get_next_key(hash_fd, NULL, &k); !err; err = bpf_map_get_next_key(hash_fd, &k, &next), k = next) seen++;
	double r = (double)(now_ns() - t0) / seen;
	if (err != -ENOENT) die("get_next_key", err);
	if (seen != n) die("get_next_key count", EINVAL);
	return r;
}

static double hash_iterate(uint32_t n) {
	uint32_t k, next, seen = 0;
	uint64_t sum = 0;
	int err;
	uint64_t t0 = now_ns();
	for (err = bpf_map_get_next_key(hash_fd, NULL, &k); !err; err = bpf_map_get_next_key(hash_fd, &k, &next), k = next) {
		uint64_t v;
		if (bpf_map_lookup_elem(hash_fd, &k, &v) == 0) {
			sum += v;
			seen++;
		}
	}
	double r = (double)(now_ns() - t0) / seen;
	if (err != -ENOENT) die("iterate", err);
	if (seen != n) die("iterate count", EINVAL);
	sink += sum;
	return r;
}

static double hash_lookup_batch(uint32_t n) {
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t token, total = 0, count;
	uint64_t sum = 0;
	void *in = NULL;
	int err;
	uint64_t t0 = now_ns();
	do {
		count = BATCH;
		err = bpf_map_lookup_batch(hash_fd, in, &token, bkeys, bvals, &count, &opts);
		if (err && err != -ENOENT) die("lookup_batch", err);
		for (uint32_t j = 0; j < count; j++) sum += bvals[j];
		total += count;
		in = &token;
	} while (!err);
	double r = (double)(now_ns() - t0) / total;
	if (total != n) die("lookup_batch count", EINVAL);
	sink += sum;
	return r;
}

static double hash_delete(uint32_t n) {
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		int err = bpf_map_delete_elem(hash_fd, &k);
		if (err) die("delete", err);
	}
	return (double)(now_ns() - t0) / n;
}

static double hash_update_batch(uint32_t n) {
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i += BATCH) {
		uint32_t c = n - i < BATCH ? n - i : BATCH;
		int err = bpf_map_update_batch(hash_fd, keys + i, vals + i, &c, &opts);
		if (err) die("update_batch", err);
	}
	double r = (double)(now_ns() - t0) / n;
	drain(hash_fd, n);
	return r;
}

static double array_lookup(uint32_t n) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		uint64_t v;
		int err = bpf_map_lookup_elem(array_fd, &k, &v);
		if (err) die("array lookup", err);
		sum += v;
	}
	double r = (double)(now_ns() - t0) / n;
	sink += sum;
	return r;
}

static double pcpu_update(uint32_t n) {
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		for (int c = 0; c < ncpu; c++) pv[c] = (uint64_t)k + 1;
		int err = bpf_map_update_elem(pcpu_fd, &k, pv, BPF_ANY);
		if (err) die("percpu update", err);
	}
	return (double)(now_ns() - t0) / n;
}

static double pcpu_lookup(uint32_t n) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		int err = bpf_map_lookup_elem(pcpu_fd, &k, pv);
		if (err) die("percpu lookup", err);
		for (int c = 0; c < ncpu; c++) sum += pv[c];
	}
	double r = (double)(now_ns() - t0) / n;
	sink += sum;
	drain(pcpu_fd, n);
	return r;
}

static double getpid_loop(uint32_t n) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) sum += syscall(SYS_getpid);
	double r = (double)(now_ns() - t0) / n;
	sink += sum;
	return r;
}

/* The phases of a round, in order. */
static const struct {
	const char *metric;
	double (*run)(uint32_t n);
} phases[] = {
	{ "hash.update", hash_update },
	{ "hash.lookup", hash_lookup },
	{ "hash.get_next_key", hash_next_key },
	{ "hash.iterate", hash_iterate },
	{ "hash.lookup_batch", hash_lookup_batch },
	{ "hash.delete", hash_delete },
	{ "hash.update_batch", hash_update_batch },
	{ "array.lookup", array_lookup },
	{ "percpu_hash.update", pcpu_update },
	{ "percpu_hash.lookup", pcpu_lookup },
	{ "syscall.getpid", getpid_loop },
};
#define NPHASES (int)(sizeof(phases) / sizeof(phases[0]))

static void print(const char *metric, double v) {
	printf("{\"metric\":\"%s\",\"value\":%.2f,\"unit\":\"ns/op\"}\n", metric, v);
	fflush(stdout);
}

static void setup(uint32_t n, uint32_t max_entries) {
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	uint32_t p = 7919;
	while (gcd(p, n) != 1) p += 2;
	keys = malloc(sizeof(*keys) * n);
	vals = malloc(sizeof(*vals) * n);
	if (!keys || !vals) die("malloc", ENOMEM);
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = (uint32_t)(((uint64_t)i * p) % n);
		vals[i] = (uint64_t)keys[i] + 1;
	}
	ncpu = libbpf_num_possible_cpus();
	if (ncpu < 1) die("libbpf_num_possible_cpus", ncpu);
	pv = calloc(ncpu, sizeof(*pv));

	hash_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_hash", 4, 8, max_entries, NULL);
	if (hash_fd < 0) die("create hash", hash_fd);
	array_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_array", 4, 8, n, NULL);
	if (array_fd < 0) die("create array", array_fd);
	pcpu_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "bench_pcpu", 4, 8, max_entries, NULL);
	if (pcpu_fd < 0) die("create percpu_hash", pcpu_fd);
	for (uint32_t k = 0; k < n; k++) {
		uint64_t v = (uint64_t)k + 1;
		int err = bpf_map_update_elem(array_fd, &k, &v, BPF_ANY);
		if (err) die("array fill", err);
	}
}

static int serve(uint32_t n) {
	char line[256], metric[128];
	unsigned long m;
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%127s %lu", metric, &m) != 2 || m < 1 || m > n) {
			fprintf(stderr, "map-ops: bad command '%s'\n", line);
			return 2;
		}
		int i;
		for (i = 0; i < NPHASES && strcmp(phases[i].metric, metric); i++) {}
		if (i == NPHASES) {
			fprintf(stderr, "map-ops: unknown phase '%s'\n", metric);
			return 2;
		}
		print(metric, phases[i].run((uint32_t)m));
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 4 && !strcmp(argv[1], "serve")) {
		uint32_t n = strtoul(argv[2], NULL, 0), max_entries = strtoul(argv[3], NULL, 0);
		if (n < 1 || max_entries < n) return 2;
		setup(n, max_entries);
		return serve(n);
	}

	uint32_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	uint32_t max_entries = argc > 2 ? strtoul(argv[2], NULL, 0) : n;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	uint32_t warm = argc > 4 ? strtoul(argv[4], NULL, 0) : (n < 65536 ? n : 65536);
	int all = argc > 5;
	if (n < 1 || max_entries < n || rounds < 1 || rounds > MAX_ROUNDS || warm < 1 || warm > n) {
		fprintf(stderr, "usage: map-ops [N] [max_entries >= N] [rounds 1..%d] [warm_n <= N] [all] | map-ops serve N max_entries\n", MAX_ROUNDS);
		return 2;
	}
	setup(n, max_entries);
	for (int i = 0; i < NPHASES; i++) phases[i].run(warm);

	static double xs[NPHASES][MAX_ROUNDS];
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < NPHASES; i++) xs[i][r] = phases[i].run(n);
	for (int i = 0; i < NPHASES; i++) {
		if (all) {
			for (int r = 0; r < rounds; r++) print(phases[i].metric, xs[i][r]);
		} else {
			print(phases[i].metric, median(xs[i], rounds));
		}
	}
	return 0;
}
