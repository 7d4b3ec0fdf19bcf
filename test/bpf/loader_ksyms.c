// __ksym variables: an untyped one resolved through /proc/kallsyms, weak ones
// the kernel lacks (typed and untyped: both zero), and a weak missing kconfig.
// (A typed ksym the kernel has is loader_ksym_typed.c.)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const void bpf_prog_test_run_skb __ksym;           /* untyped: a text symbol */
extern const void tsbpf_no_such_symbol __ksym __weak;     /* untyped, missing */
extern const int tsbpf_no_such_percpu __ksym __weak;      /* typed, missing */
extern unsigned int CONFIG_TSBPF_NO_SUCH_OPTION __kconfig __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} ksym_out SEC(".maps");

static void put(__u32 k, __u64 v)
{
	bpf_map_update_elem(&ksym_out, &k, &v, BPF_ANY);
}

SEC("socket")
int ksyms(struct __sk_buff *skb)
{
	put(0, (__u64)(unsigned long)&bpf_prog_test_run_skb);
	put(1, (__u64)(unsigned long)&tsbpf_no_such_symbol);
	put(2, (__u64)(unsigned long)&tsbpf_no_such_percpu);
	put(3, CONFIG_TSBPF_NO_SUCH_OPTION + 100);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
