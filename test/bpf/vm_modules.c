// VM-only (test/vm/modules.test.ts): CO-RE relocations that resolve through
// kernel module BTF (/sys/kernel/btf/<module>, split on vmlinux), which the
// host lacks. No vmlinux.h: every struct below exists only in module BTF of
// the guest's 6.1 kernel (virtio_pci, overlay, 9pnet/9pnet_virtio/9p), and is
// declared partially, in another member order, with preserve_access_index.
#define __TARGET_ARCH_x86
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define __pai __attribute__((preserve_access_index))

// Only in virtio_pci.
struct virtio_pci_device {
	unsigned int msix_vectors;
	_Bool is_legacy;
	int tsbpf_no_such_field;
} __pai;

// Only in overlay; a nested field path (config.xino).
struct ovl_config {
	_Bool metacopy;
	int xino;
} __pai;

struct ovl_fs {
	struct ovl_config config;
	unsigned int numlayer;
} __pai;

// In 9pnet, 9pnet_virtio and 9p (one candidate per module, same layout).
struct p9_trans_module {
	int maxsize;
	char *name;
} __pai;

struct p9_client {
	char name[65];
	struct p9_trans_module *trans_mod;
	unsigned char proto_version;
	unsigned int msize;
} __pai;

enum p9_proto_versions {
	p9_proto_2000L = 0,
};

enum p9_msg_t {
	P9_TVERSION = 0,
	P9_TWALK = 1,
};

// In no BTF at all.
struct tsbpf_no_such_type {
	int x;
} __pai;

// Relocated values, written by the syscall program (in this order).
__u64 out[16] = {};

SEC("syscall")
int core_values(void *ctx)
{
	out[0] = bpf_core_field_offset(struct virtio_pci_device, msix_vectors);
	out[1] = bpf_core_field_offset(struct virtio_pci_device, is_legacy);
	out[2] = bpf_core_field_size(struct virtio_pci_device, msix_vectors);
	out[3] = bpf_core_field_exists(struct virtio_pci_device, tsbpf_no_such_field);
	out[4] = bpf_core_type_exists(struct virtio_pci_device);
	out[5] = bpf_core_type_size(struct virtio_pci_device);
	out[6] = bpf_core_type_id_kernel(struct virtio_pci_device);
	out[7] = bpf_core_field_offset(struct ovl_fs, config.xino);
	out[8] = bpf_core_field_offset(struct ovl_fs, numlayer);
	out[9] = bpf_core_field_offset(struct p9_client, msize);
	out[10] = bpf_core_field_offset(struct p9_client, trans_mod);
	out[11] = bpf_core_field_offset(struct p9_trans_module, maxsize);
	out[12] = bpf_core_enum_value(enum p9_msg_t, P9_TWALK);
	out[13] = bpf_core_enum_value_exists(enum p9_msg_t, P9_TVERSION);
	out[14] = bpf_core_type_exists(struct tsbpf_no_such_type);
	out[15] = bpf_core_enum_value(enum p9_proto_versions, p9_proto_2000L);
	return 0;
}

// What p9_virtio_request (9pnet_virtio) saw in its p9_client, read with CO-RE through module BTF.
__u64 hits = 0;
__u32 seen_msize = 0;
__u32 seen_proto = 0;
__s32 seen_maxsize = 0;
char seen_trans[16] = {};

SEC("kprobe/p9_virtio_request")
int BPF_KPROBE(p9_request, struct p9_client *client)
{
	seen_msize = BPF_CORE_READ(client, msize);
	seen_proto = BPF_CORE_READ(client, proto_version);
	seen_maxsize = BPF_CORE_READ(client, trans_mod, maxsize);
	const char *name = BPF_CORE_READ(client, trans_mod, name);
	bpf_probe_read_kernel_str(seen_trans, sizeof(seen_trans), name);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
