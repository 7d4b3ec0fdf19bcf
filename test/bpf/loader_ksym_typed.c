// A typed __ksym: a per-CPU variable of the kernel, resolved through the
// kernel's BTF into an ld_imm64 BPF_PSEUDO_BTF_ID. The kernel then needs the
// variable's address from kallsyms, which kernels built without
// CONFIG_KALLSYMS_ALL lack (libbpf and tsbpf are refused alike: ENOENT).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int bpf_prog_active __ksym;

SEC("socket")
int typed_ksym(struct __sk_buff *skb)
{
	int *p = bpf_per_cpu_ptr(&bpf_prog_active, 0);

	return p ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
