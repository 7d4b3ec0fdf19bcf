// USDT tests (test/usdt.test.ts): programs using libbpf's <bpf/usdt.bpf.h>,
// whose __bpf_usdt_specs map tsbpf's attachUsdt fills. Everything is keyed by
// the process (tgid) so a test reads exactly what its child process did.
#define __TARGET_ARCH_x86
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* usdt.bpf.h's helpers are __weak __hidden global functions. libbpf verifies a
 * hidden global function as a static one (it rewrites its BTF FUNC linkage to
 * static), so the verifier checks it in its caller's context; tsbpf's loader
 * does not do that yet, and as a global function bpf_usdt_arg() fails
 * verification (`*res = 0` on a pointer that may be NULL). Until it does, the
 * helpers are compiled as plain static functions (and the maps as strong
 * definitions). */
#undef __weak
#define __weak
#undef __hidden
#define __hidden static
#include <bpf/usdt.bpf.h>

#define MAX_ARGS 12

struct rec_key {
	__u32 pid;
	__u32 probe; /* bpf_usdt_cookie(): the test attaches probe #k with cookie k */
};

struct rec {
	__u64 count;
	__s32 arg_cnt;
	__s32 errors; /* bpf_usdt_arg() calls that failed */
	__s64 first[MAX_ARGS];
	__s64 last[MAX_ARGS];
	__s64 sum[MAX_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct rec_key);
	__type(value, struct rec);
} records SEC(".maps");

/* Every probe: arg count, each argument (first, last and sum), by (pid, cookie). */
SEC("usdt")
int on_usdt(struct pt_regs *ctx)
{
	struct rec_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .probe = bpf_usdt_cookie(ctx) };
	struct rec zero = {};
	struct rec *r = bpf_map_lookup_elem(&records, &k);
	if (!r) {
		bpf_map_update_elem(&records, &k, &zero, BPF_NOEXIST);
		r = bpf_map_lookup_elem(&records, &k);
		if (!r)
			return 0;
	}
	int n = bpf_usdt_arg_cnt(ctx);
	r->arg_cnt = n;
	for (int i = 0; i < MAX_ARGS; i++) {
		long v;
		if (i >= n)
			break;
		if (bpf_usdt_arg(ctx, i, &v)) {
			r->errors++;
			continue;
		}
		if (r->count == 0)
			r->first[i] = v;
		r->last[i] = v;
		r->sum[i] += v;
	}
	r->count++;
	return 0;
}

struct str_key {
	__u32 pid;
	__u32 len; /* the probe's second argument */
};

struct str_rec {
	__u64 count;
	__s64 read; /* what bpf_probe_read_user_str returned (length + 1) */
	char last[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct str_key);
	__type(value, struct str_rec);
} strs SEC(".maps");

/* tsbpf:str(const char *msg, int len), through the BPF_USDT macro: the string behind the pointer. */
SEC("usdt")
int BPF_USDT(on_str, const char *msg, int len)
{
	struct str_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .len = len };
	struct str_rec zero = {};
	struct str_rec *r = bpf_map_lookup_elem(&strs, &k);
	if (!r) {
		bpf_map_update_elem(&strs, &k, &zero, BPF_NOEXIST);
		r = bpf_map_lookup_elem(&strs, &k);
		if (!r)
			return 0;
	}
	r->read = bpf_probe_read_user_str(r->last, sizeof(r->last), msg);
	r->count++;
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} auto_sum SEC(".maps");

/* Auto-attached by Collection.attachAll: the test builds the binary under
 * this name and puts its directory on PATH (as libbpf, a name without a
 * slash is looked up in the library directories and PATH).
 * Sums k * 1000 + i over the calls of tsbpf:konst(42, i). */
SEC("usdt/tsbpf-usdt-auto:tsbpf:konst")
int BPF_USDT(auto_konst, int k, int i)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 add = (__u64)k * 1000 + i;
	__u64 *v = bpf_map_lookup_elem(&auto_sum, &pid);
	if (v)
		__sync_fetch_and_add(v, add);
	else
		bpf_map_update_elem(&auto_sum, &pid, &add, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
