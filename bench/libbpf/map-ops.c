// Baseline for the map-ops workload: element and batch operations through
// libbpf's low-level API (bpf_map_*), timed with clock_gettime(CLOCK_MONOTONIC).
//
//   map-ops [N] [max_entries] [rounds] [warm_n]
//       standalone: one warm-up round over the first warm_n keys, then
//       `rounds` rounds over N keys; prints each metric's median as JSON lines
//       {"metric","value","unit"} (ns per operation) like every bench/libbpf
//       program.
//   map-ops serve N max_entries
//       reads "<metric> <lo> <hi> <n>" lines on stdin: run operations lo..hi-1
//       of that phase of a round over n keys, answer {"metric","value","unit",
//       "ops"} with the time in ns and the number of operations.
//       bench/workloads/map-ops.ts drives this, running the same slice of the
//       same phase itself in between, so that both sides see the same load
//       from the rest of the machine.
//
// The key sequence is the permutation key(i) = (i * P) % N of 0..N-1, P the
// first of 7919, 7921, ... coprime with N; values are key + 1. A round runs the
// phases in this order (the TypeScript side has the same phases):
//
//   hash (u32 -> u64):  update (empty -> full), lookup, get_next_key (full walk,
//     per key), iterate (get_next_key + lookup, per entry), lookup_batch (4096
//     per call, per element), delete (full -> empty), update_batch (4096 per
//     call, empty -> full, per element; then an unmeasured delete_batch back to
//     empty).
//   array (u32 -> u64, filled once): lookup of every index.
//   percpu_hash (u32 -> u64, one 8-byte slot per possible CPU): update (empty ->
//     full, the value replicated to every slot), lookup (every slot summed; then
//     an unmeasured delete_batch).
//   syscall.getpid: syscall(SYS_getpid), the bare round trip (informational).
//
// Walks (get_next_key, iterate, lookup_batch) go on from where the previous
// slice stopped; the slice that ends the round also takes the final call that
// reports the end (ENOENT), as a plain loop would.
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

/* Where a walk stands between slices. */
static uint32_t walk_key, walk_seen, batch_token, batch_total;
static int batch_started, batch_done;

/* Empty a hash map (unmeasured). */
static void drain(int fd, uint32_t n) {
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	for (uint32_t i = 0; i < n; i += BATCH) {
		uint32_t c = n - i < BATCH ? n - i : BATCH;
		int err = bpf_map_delete_batch(fd, keys + i, &c, &opts);
		if (err) die("delete_batch", err);
	}
}

/* A phase runs operations lo..hi-1 of a round over n keys; returns the ns taken and sets *ops. */
typedef uint64_t phase_fn(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops);

static uint64_t hash_update(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	(void)n;
	uint64_t t0 = now_ns();
	for (uint32_t i = lo; i < hi; i++) {
		uint32_t k = keys[i];
		uint64_t v = (uint64_t)k + 1;
		int err = bpf_map_update_elem(hash_fd, &k, &v, BPF_ANY);
		if (err) die("update", err);
	}
	*ops = hi - lo;
	return now_ns() - t0;
}

static uint64_t lookup_range(int fd, uint32_t lo, uint32_t hi, uint32_t *ops) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = lo; i < hi; i++) {
		uint32_t k = keys[i];
		uint64_t v;
		int err = bpf_map_lookup_elem(fd, &k, &v);
		if (err) die("lookup", err);
		sum += v;
	}
	uint64_t dt = now_ns() - t0;
	sink += sum;
	*ops = hi - lo;
	return dt;
}

static uint64_t hash_lookup(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	(void)n;
	return lookup_range(hash_fd, lo, hi, ops);
}

static uint64_t array_lookup(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	(void)n;
	return lookup_range(array_fd, lo, hi, ops);
}

/* Walk keys lo..hi-1 with get_next_key (and look each up when `with_values`). */
static uint64_t walk(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops, int with_values) {
	uint32_t next, seen = 0;
	uint64_t sum = 0;
	int err = 0;
	if (lo == 0) walk_seen = 0;
	uint64_t t0 = now_ns();
	for (uint32_t i = lo; i < hi; i++) {
		err = i == 0 ? bpf_map_get_next_key(hash_fd, NULL, &walk_key) : bpf_map_get_next_key(hash_fd, &walk_key, &next);
		if (err) break;
		if (i) walk_key = next;
		seen++;
		if (with_values) {
			uint64_t v;
			if (bpf_map_lookup_elem(hash_fd, &walk_key, &v) == 0) sum += v;
		}
	}
	if (!err && hi == n) err = bpf_map_get_next_key(hash_fd, &walk_key, &next); /* the call that finds the end */
	uint64_t dt = now_ns() - t0;
	if (err && err != -ENOENT) die("get_next_key", err);
	walk_seen += seen;
	if (hi == n && (err != -ENOENT || walk_seen != n)) die("get_next_key count", EINVAL);
	sink += sum;
	*ops = seen;
	return dt;
}

static uint64_t hash_next_key(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	return walk(lo, hi, n, ops, 0);
}

static uint64_t hash_iterate(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	return walk(lo, hi, n, ops, 1);
}

/* Batches of up to 4096 until hi - lo elements are read (or, for the last slice, the end). */
static uint64_t hash_lookup_batch(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t got = 0, count;
	uint64_t sum = 0;
	if (lo == 0) batch_started = batch_done = 0, batch_total = 0;
	uint64_t t0 = now_ns();
	while (!batch_done && (got < hi - lo || hi == n)) {
		count = BATCH;
		int err = bpf_map_lookup_batch(hash_fd, batch_started ? &batch_token : NULL, &batch_token, bkeys, bvals, &count, &opts);
		if (err && err != -ENOENT) die("lookup_batch", err);
		for (uint32_t j = 0; j < count; j++) sum += bvals[j];
		got += count;
		batch_started = 1;
		batch_done = err == -ENOENT;
	}
	uint64_t dt = now_ns() - t0;
	batch_total += got;
	if (hi == n && batch_total != n) die("lookup_batch count", EINVAL);
	sink += sum;
	*ops = got;
	return dt;
}

static uint64_t hash_delete(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	(void)n;
	uint64_t t0 = now_ns();
	for (uint32_t i = lo; i < hi; i++) {
		uint32_t k = keys[i];
		int err = bpf_map_delete_elem(hash_fd, &k);
		if (err) die("delete", err);
	}
	*ops = hi - lo;
	return now_ns() - t0;
}

static uint64_t hash_update_batch(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint64_t t0 = now_ns();
	for (uint32_t i = lo; i < hi; i += BATCH) {
		uint32_t c = hi - i < BATCH ? hi - i : BATCH;
		int err = bpf_map_update_batch(hash_fd, keys + i, vals + i, &c, &opts);
		if (err) die("update_batch", err);
	}
	uint64_t dt = now_ns() - t0;
	if (hi == n) drain(hash_fd, n);
	*ops = hi - lo;
	return dt;
}

static uint64_t pcpu_update(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	(void)n;
	uint64_t t0 = now_ns();
	for (uint32_t i = lo; i < hi; i++) {
		uint32_t k = keys[i];
		for (int c = 0; c < ncpu; c++) pv[c] = (uint64_t)k + 1;
		int err = bpf_map_update_elem(pcpu_fd, &k, pv, BPF_ANY);
		if (err) die("percpu update", err);
	}
	*ops = hi - lo;
	return now_ns() - t0;
}

static uint64_t pcpu_lookup(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = lo; i < hi; i++) {
		uint32_t k = keys[i];
		int err = bpf_map_lookup_elem(pcpu_fd, &k, pv);
		if (err) die("percpu lookup", err);
		for (int c = 0; c < ncpu; c++) sum += pv[c];
	}
	uint64_t dt = now_ns() - t0;
	sink += sum;
	if (hi == n) drain(pcpu_fd, n);
	*ops = hi - lo;
	return dt;
}

static uint64_t getpid_loop(uint32_t lo, uint32_t hi, uint32_t n, uint32_t *ops) {
	(void)n;
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = lo; i < hi; i++) sum += syscall(SYS_getpid);
	uint64_t dt = now_ns() - t0;
	sink += sum;
	*ops = hi - lo;
	return dt;
}

/* The phases of a round, in order. */
static const struct {
	const char *metric;
	phase_fn *run;
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

/* One whole phase over n keys, in ns per operation. */
static double whole(int i, uint32_t n) {
	uint32_t ops;
	uint64_t ns = phases[i].run(0, n, n, &ops);
	return (double)ns / ops;
}

static int serve(uint32_t max_n) {
	char line[256], metric[128];
	unsigned long lo, hi, n;
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%127s %lu %lu %lu", metric, &lo, &hi, &n) != 4 || n < 1 || n > max_n || lo >= hi || hi > n) {
			fprintf(stderr, "map-ops: bad command '%s'\n", line);
			return 2;
		}
		int i;
		for (i = 0; i < NPHASES && strcmp(phases[i].metric, metric); i++) {}
		if (i == NPHASES) {
			fprintf(stderr, "map-ops: unknown phase '%s'\n", metric);
			return 2;
		}
		uint32_t ops;
		uint64_t ns = phases[i].run((uint32_t)lo, (uint32_t)hi, (uint32_t)n, &ops);
		printf("{\"metric\":\"%s\",\"value\":%llu,\"unit\":\"ns\",\"ops\":%u}\n", metric, (unsigned long long)ns, ops);
		fflush(stdout);
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
	if (n < 1 || max_entries < n || rounds < 1 || rounds > MAX_ROUNDS || warm < 1 || warm > n) {
		fprintf(stderr, "usage: map-ops [N] [max_entries >= N] [rounds 1..%d] [warm_n <= N] | map-ops serve N max_entries\n", MAX_ROUNDS);
		return 2;
	}
	setup(n, max_entries);
	for (int i = 0; i < NPHASES; i++) whole(i, warm);

	static double xs[NPHASES][MAX_ROUNDS];
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < NPHASES; i++) xs[i][r] = whole(i, n);
	for (int i = 0; i < NPHASES; i++) printf("{\"metric\":\"%s\",\"value\":%.2f,\"unit\":\"ns/op\"}\n", phases[i].metric, median(xs[i], rounds));
	return 0;
}
