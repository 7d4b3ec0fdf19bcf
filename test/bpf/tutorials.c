// The tutorial scenarios of the typed API, in one object: syscall counters
// in an ARRAY and a PERCPU_ARRAY, per-process stats with `char comm[16]`, ring
// buffer events, versioned filters in a HASH_OF_MAPS, and the LPM trie, stack,
// queue, bloom filter and LRU hash a user fills from user space. Every
// getpgid(MAGIC + k) of the target process counts in slot k & 3.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAGIC 0x7ffffff0UL

struct sys_enter_ctx {
	__u64 common;
	long id;
	unsigned long args[6];
};

const volatile __u32 target_tgid = 0;
__u32 filter_version;
__u64 filtered;
__u32 seq;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_counts SEC(".maps");

struct proc_stats {
	__u64 calls;
	__u64 last_arg;
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct proc_stats);
} stats SEC(".maps");

struct event {
	__u32 pid;
	__u32 seq;
	__u64 arg;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

// The ring buffer's record type, named for BTF (and the skeleton generator).
struct event *unused_event __attribute__((unused));

struct allow_list {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} allow_v0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct allow_list);
} filters SEC(".maps") = {
	.values = { [0] = &allow_v0 },
};

struct lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4);
	__type(value, __u32);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u64);
} lifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, struct event);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u32);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct proc_stats);
} recent SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpgid")
int count_getpgid(struct sys_enter_ctx *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	unsigned long arg = ctx->args[0];
	__u32 k = arg & 3;
	__u64 *c;

	if (!target_tgid || tgid != target_tgid || (arg & ~0xfUL) != MAGIC)
		return 0;
	c = bpf_map_lookup_elem(&counts, &k);
	if (c)
		__sync_fetch_and_add(c, 1);
	c = bpf_map_lookup_elem(&pcpu_counts, &k);
	if (c)
		*c += 1;

	struct proc_stats *s = bpf_map_lookup_elem(&stats, &tgid);
	if (!s) {
		struct proc_stats z = {};
		z.pid = tgid;
		bpf_get_current_comm(z.comm, sizeof(z.comm));
		bpf_map_update_elem(&stats, &tgid, &z, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&stats, &tgid);
		if (!s)
			return 0;
	}
	__sync_fetch_and_add(&s->calls, 1);
	s->last_arg = arg;

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = tgid;
		e->seq = seq++; // one producer thread in the tutorial
		e->arg = arg;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}

	__u32 v = filter_version;
	void *allow = bpf_map_lookup_elem(&filters, &v);
	if (allow) {
		__u32 *ok = bpf_map_lookup_elem(allow, &tgid);
		if (ok && *ok)
			__sync_fetch_and_add(&filtered, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
