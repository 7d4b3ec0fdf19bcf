// Maps whose BTF exercises `tsbpf map dump`'s formatter against bpftool's:
// ints of each size and sign, chars and char arrays, bool, enums, bitfields,
// nested structs, unions, arrays, pointers, a 128-bit int, per-CPU values, a
// queue, a prog array, and global data (.data/.bss/.rodata as DATASEC values).
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

enum colour { RED = 0, GREEN = 1, BLUE = -2 };
enum big { HUGE = 0x100000000ULL };

struct inner {
	unsigned short port;
	signed char delta;
	char tag;
};

struct rich {
	__u8 u8;
	__s16 s16;
	__u32 u32;
	__s64 s64;
	__u64 u64;
	char name[8];
	char raw[4];
	bool flag;
	enum colour colour;
	enum big big;
	unsigned int lo : 3, mid : 7, hi : 22;
	int neg : 5;
	struct inner in;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	} un;
	__u16 arr[3];
	struct inner pair[2];
	void *ptr;
	unsigned __int128 wide;
	const volatile __u32 cv;
};

struct key {
	__u32 a;
	__u16 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct key);
	__type(value, struct rich);
} rich_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct inner);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

__u64 hits = 7;
char greeting[6] = "hello";
__u32 zeroed;
const volatile int limit = -3;

SEC("socket")
int use_maps(struct __sk_buff *skb)
{
	struct key k = { .a = 1, .b = 2 };
	__u32 zero = 0;
	struct rich *r = bpf_map_lookup_elem(&rich_hash, &k);
	struct inner *i = bpf_map_lookup_elem(&pcpu, &zero);
	__u32 v = 5;

	bpf_map_push_elem(&fifo, &v, 0);
	if (r)
		hits += r->u32;
	if (i)
		zeroed += i->port;
	bpf_tail_call(skb, &progs, 0);
	bpf_perf_event_output(skb, &perf, BPF_F_CURRENT_CPU, &v, sizeof(v));
	return greeting[0] + limit;
}

char _license[] SEC("license") = "GPL";
