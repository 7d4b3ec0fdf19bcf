// Types for the BTF codec tests: one of every BTF kind a value can hold
// (ints of each size, bool, char arrays, other arrays, enum, enum64, float,
// pointer, bitfields, nested, anonymous struct and union members, union) in
// BTF-defined maps (HASH with struct key and value, PERCPU_ARRAY, ringbuf,
// perf buffer) and global variables (.data, .rodata, .bss). A test run of
// `emit` (SEC("raw_tp"), args[0] = pid, args[1] = a counter increment)
// writes one record of each.
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

enum color { RED = 1, GREEN = 2, BLUE = -3 };
enum big_flags { BIG_LOW = 1, BIG_HIGH = 0x100000000ULL };

struct point {
	__s16 x, y;
};

struct stats {
	__u64 count;
	__u64 min_time;
	__s32 delta;
	__u8 level;
	bool on;
	char comm[16];
	__u16 ports[4];
	struct point where;
	enum color color;
	enum big_flags flags;
	double ratio;
	float scale;
	void *ptr;
	unsigned int kind : 3;
	int sign : 5;
	unsigned long long wide : 40;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	};
	struct {
		__u32 inner_a;
		__u32 inner_b;
	};
	__s8 tiny;
	__u8 raw[3];
};

struct key {
	__u32 pid;
	char name[12];
};

union either {
	__u64 number;
	struct point pt;
};

struct event {
	__u32 pid;
	__u32 seq;
	char comm[16];
	struct point where;
	enum color color;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct key);
	__type(value, struct stats);
} stats_by_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, union either);
} eithers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

/* The conventional unused pointer: puts struct event in BTF for user space. */
struct event *unused_event __attribute__((unused));

struct stats global_stats = { .count = 7, .comm = "init", .color = GREEN };
const volatile struct point origin = { .x = 3, .y = -4 };
const volatile __u32 limit = 10;
__u64 seen = 0;
char last_comm[16] = {};

SEC("raw_tp")
int emit(__u64 *ctx)
{
	__u32 pid = ctx[0];
	__u64 inc = ctx[1];
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&counters, &zero);
	if (c)
		*c += inc;
	seen += inc + limit;
	global_stats.count += 1;
	global_stats.where.x = origin.x;
	global_stats.where.y = origin.y;
	__builtin_memcpy(last_comm, global_stats.comm, sizeof(last_comm));

	struct event e = { .pid = pid, .seq = (__u32)seen, .color = BLUE };
	e.comm[0] = 'e';
	e.comm[1] = 'v';
	e.where.x = origin.x;
	e.where.y = -1;
	bpf_ringbuf_output(&rb, &e, sizeof(e), 0);
	bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
