// Baseline for the map-ops workload: element and batch operations through
// libbpf's low-level API (bpf_map_*), timed with clock_gettime(CLOCK_MONOTONIC).
// Prints JSON lines {"metric","value","unit"} like every bench/libbpf program.
//
//   usage: map-ops [N] [max_entries] [rounds] [warm_n] [all]
//
// Every metric is the median over `rounds` measured rounds (ns per operation),
// after one warm-up round over the first warm_n keys; with a fifth argument,
// every round's figure is printed instead (one line per metric and round). The key sequence is the
// permutation key(i) = (i * P) % N of 0..N-1, P the first of 7919, 7927, ...
// coprime with N; bench/workloads/map-ops.ts uses the same sequence, values and
// round structure, so both sides do the same kernel work:
//
//   hash (u32 -> u64):  update (empty -> full), lookup, get_next_key (full walk,
//     per key), iterate (get_next_key + lookup, per entry), lookup_batch (4096,
//     per element), delete (full -> empty), update_batch (4096, empty -> full,
//     per element), then an unmeasured delete_batch back to empty.
//   array (u32 -> u64): lookup of every index (filled once, unmeasured).
//   percpu_hash (u32 -> u64, one 8-byte slot per possible CPU): update (empty ->
//     full, the value replicated to every slot), lookup (every slot summed), then
//     an unmeasured delete_batch.
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

/* Results are folded into this so the compiler keeps every lookup. */
static volatile uint64_t sink;

enum {
	M_UPDATE, M_LOOKUP, M_NEXT_KEY, M_ITERATE, M_LOOKUP_BATCH, M_DELETE, M_UPDATE_BATCH,
	M_ARRAY_LOOKUP, M_PCPU_UPDATE, M_PCPU_LOOKUP, M_GETPID, M_COUNT
};
static const char *names[M_COUNT] = {
	"hash.update", "hash.lookup", "hash.get_next_key", "hash.iterate", "hash.lookup_batch",
	"hash.delete", "hash.update_batch", "array.lookup", "percpu_hash.update", "percpu_hash.lookup",
	"syscall.getpid",
};

static uint32_t *keys; /* the key sequence */
static uint64_t *vals; /* vals[i] = keys[i] + 1, packed for update_batch */
static uint32_t *bkeys; /* lookup_batch output */
static uint64_t *bvals;

/* Empty a hash map (unmeasured). */
static void drain(int fd, uint32_t n) {
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	for (uint32_t i = 0; i < n; i += BATCH) {
		uint32_t c = n - i < BATCH ? n - i : BATCH;
		int err = bpf_map_delete_batch(fd, keys + i, &c, &opts);
		if (err) die("delete_batch", err);
	}
}

/* One round of every hash operation over the first n keys; ns/op into out (or nothing when out is NULL). */
static void hash_round(int fd, uint32_t n, double *out) {
	uint64_t t0, sum = 0;
	int err;

	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		uint64_t v = (uint64_t)k + 1;
		err = bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		if (err) die("update", err);
	}
	if (out) out[M_UPDATE] = (double)(now_ns() - t0) / n;

	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		uint64_t v;
		err = bpf_map_lookup_elem(fd, &k, &v);
		if (err) die("lookup", err);
		sum += v;
	}
	if (out) out[M_LOOKUP] = (double)(now_ns() - t0) / n;

	uint32_t k, next, seen = 0;
	t0 = now_ns();
	for (err = bpf_map_get_next_key(fd, NULL, &k); !err; err = bpf_map_get_next_key(fd, &k, &next), k = next) seen++;
	if (err != -ENOENT) die("get_next_key", err);
	if (seen != n) die("get_next_key count", EINVAL);
	if (out) out[M_NEXT_KEY] = (double)(now_ns() - t0) / seen;

	seen = 0;
	t0 = now_ns();
	for (err = bpf_map_get_next_key(fd, NULL, &k); !err; err = bpf_map_get_next_key(fd, &k, &next), k = next) {
		uint64_t v;
		if (bpf_map_lookup_elem(fd, &k, &v) == 0) {
			sum += k + v;
			seen++;
		}
	}
	if (err != -ENOENT) die("iterate", err);
	if (seen != n) die("iterate count", EINVAL);
	if (out) out[M_ITERATE] = (double)(now_ns() - t0) / seen;

	{
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t token, total = 0, count;
		void *in = NULL;
		t0 = now_ns();
		do {
			count = BATCH;
			err = bpf_map_lookup_batch(fd, in, &token, bkeys, bvals, &count, &opts);
			if (err && err != -ENOENT) die("lookup_batch", err);
			for (uint32_t j = 0; j < count; j++) sum += bvals[j];
			total += count;
			in = &token;
		} while (!err);
		if (total != n) die("lookup_batch count", EINVAL);
		if (out) out[M_LOOKUP_BATCH] = (double)(now_ns() - t0) / total;
	}

	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		err = bpf_map_delete_elem(fd, &k);
		if (err) die("delete", err);
	}
	if (out) out[M_DELETE] = (double)(now_ns() - t0) / n;

	{
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		t0 = now_ns();
		for (uint32_t i = 0; i < n; i += BATCH) {
			uint32_t c = n - i < BATCH ? n - i : BATCH;
			err = bpf_map_update_batch(fd, keys + i, vals + i, &c, &opts);
			if (err) die("update_batch", err);
		}
		if (out) out[M_UPDATE_BATCH] = (double)(now_ns() - t0) / n;
	}

	drain(fd, n);
	sink += sum;
}

static void array_round(int fd, uint32_t n, double *out) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		uint64_t v;
		if (bpf_map_lookup_elem(fd, &k, &v)) die("array lookup", errno);
		sum += v;
	}
	if (out) out[M_ARRAY_LOOKUP] = (double)(now_ns() - t0) / n;
	sink += sum;
}

static void percpu_round(int fd, uint32_t n, int ncpu, uint64_t *pv, double *out) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		for (int c = 0; c < ncpu; c++) pv[c] = (uint64_t)k + 1;
		int err = bpf_map_update_elem(fd, &k, pv, BPF_ANY);
		if (err) die("percpu update", err);
	}
	if (out) out[M_PCPU_UPDATE] = (double)(now_ns() - t0) / n;

	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = keys[i];
		int err = bpf_map_lookup_elem(fd, &k, pv);
		if (err) die("percpu lookup", err);
		for (int c = 0; c < ncpu; c++) sum += pv[c];
	}
	if (out) out[M_PCPU_LOOKUP] = (double)(now_ns() - t0) / n;

	drain(fd, n);
	sink += sum;
}

static void getpid_round(uint32_t n, double *out) {
	uint64_t sum = 0, t0 = now_ns();
	for (uint32_t i = 0; i < n; i++) sum += syscall(SYS_getpid);
	if (out) out[M_GETPID] = (double)(now_ns() - t0) / n;
	sink += sum;
}

int main(int argc, char **argv) {
	uint32_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	uint32_t max_entries = argc > 2 ? strtoul(argv[2], NULL, 0) : n;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	uint32_t warm = argc > 4 ? strtoul(argv[4], NULL, 0) : (n < 65536 ? n : 65536);
	int all = argc > 5;
	if (n < 1 || max_entries < n || rounds < 1 || rounds > MAX_ROUNDS || warm > n) {
		fprintf(stderr, "usage: map-ops [N] [max_entries >= N] [rounds 1..%d] [warm_n <= N]\n", MAX_ROUNDS);
		return 2;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);

	uint32_t p = 7919;
	while (gcd(p, n) != 1) p += 2;
	keys = malloc(sizeof(*keys) * n);
	vals = malloc(sizeof(*vals) * n);
	bkeys = malloc(sizeof(*bkeys) * BATCH);
	bvals = malloc(sizeof(*bvals) * BATCH);
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = (uint32_t)(((uint64_t)i * p) % n);
		vals[i] = (uint64_t)keys[i] + 1;
	}

	int ncpu = libbpf_num_possible_cpus();
	if (ncpu < 1) die("libbpf_num_possible_cpus", ncpu);
	uint64_t *pv = calloc(ncpu, sizeof(*pv));

	int hash = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_hash", 4, 8, max_entries, NULL);
	if (hash < 0) die("create hash", hash);
	int array = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_array", 4, 8, n, NULL);
	if (array < 0) die("create array", array);
	int pcpu = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "bench_pcpu", 4, 8, max_entries, NULL);
	if (pcpu < 0) die("create percpu_hash", pcpu);
	for (uint32_t k = 0; k < n; k++) {
		uint64_t v = (uint64_t)k + 1;
		if (bpf_map_update_elem(array, &k, &v, BPF_ANY)) die("array fill", errno);
	}

	hash_round(hash, warm, NULL);
	array_round(array, warm, NULL);
	percpu_round(pcpu, warm, ncpu, pv, NULL);
	getpid_round(warm, NULL);

	static double xs[M_COUNT][MAX_ROUNDS];
	for (int r = 0; r < rounds; r++) {
		double out[M_COUNT];
		hash_round(hash, n, out);
		array_round(array, n, out);
		percpu_round(pcpu, n, ncpu, pv, out);
		getpid_round(n, out);
		for (int m = 0; m < M_COUNT; m++) xs[m][r] = out[m];
	}
	for (int m = 0; m < M_COUNT; m++) {
		if (all) {
			for (int r = 0; r < rounds; r++) printf("{\"metric\":\"%s\",\"value\":%.2f,\"unit\":\"ns/op\"}\n", names[m], xs[m][r]);
		} else {
			printf("{\"metric\":\"%s\",\"value\":%.2f,\"unit\":\"ns/op\"}\n", names[m], median(xs[m], rounds));
		}
	}
	close(hash);
	close(array);
	close(pcpu);
	return 0;
}
