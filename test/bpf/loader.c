// Exercises the loader: BTF-defined maps of several types with initial values,
// global data in .data/.rodata/.bss, static and global subprograms, a bpf_loop
// callback, .kconfig externs, and programs of several types.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner1 SEC(".maps"), inner2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { &inner1, &inner2 },
};

int tail_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (struct __sk_buff *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

volatile __u64 data_var = 0x1122334455667788ULL;
const volatile __u32 ro_magic = 7;
__u64 bss_var;
static volatile __u32 static_counter;

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern unsigned int CONFIG_HZ __kconfig __weak;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_DOES_NOT_EXIST __kconfig __weak;

static __noinline __u64 add_static(__u64 a, __u64 b)
{
	static_counter++;
	return a + b;
}

__noinline int global_sub(int x)
{
	return x * 3;
}

static int loop_cb(__u32 idx, __u64 *sum)
{
	*sum += idx;
	return 0;
}

SEC("socket")
int run_socket(struct __sk_buff *skb)
{
	__u32 k0 = 0, k1 = 1, k2 = 2, k3 = 3;
	__u64 sum = 0;
	__u64 v;

	bpf_loop(10, loop_cb, &sum, 0); /* 45 */
	v = add_static(sum, ro_magic);   /* 52 */
	bpf_map_update_elem(&results, &k0, &v, BPF_ANY);
	v = global_sub(7);               /* 21 */
	bpf_map_update_elem(&results, &k1, &v, BPF_ANY);
	v = data_var;
	bpf_map_update_elem(&results, &k2, &v, BPF_ANY);
	v = ((__u64)LINUX_KERNEL_VERSION << 32) | (CONFIG_BPF_SYSCALL ? 1 : 0) | (CONFIG_DOES_NOT_EXIST ? 2 : 0) | ((CONFIG_HZ & 0xffff) << 8);
	bpf_map_update_elem(&results, &k3, &v, BPF_ANY);
	bss_var += 1;
	data_var += 1;
	return 0;
}

SEC("socket")
int tail_target(struct __sk_buff *skb)
{
	return 42;
}

SEC("socket")
int do_tail_call(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jumps, 1);
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	__u32 key = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *val;

	val = bpf_map_lookup_elem(&counts, &key);
	if (val)
		__sync_fetch_and_add(val, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return 0;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&percpu, &k);
	if (v)
		*v += 1;
	return XDP_PASS;
}

SEC("raw_tp/sys_enter")
int emit_event(void *ctx)
{
	__u64 *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	*e = bss_var;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
