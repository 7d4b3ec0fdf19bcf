// CO-RE programs relocated against core_target.o's BTF (and cilium's
// testdata vmlinux + btf_testmod module BTF) by test/core.test.ts. Never
// loaded: every section only has to relocate.
typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __pai __attribute__((preserve_access_index))

struct amb { int a; int b; } __pai;
struct same { int x; long y; int z; } __pai;
struct flav { int x; int y; } __pai;
enum big { BIG_A = 0x100000000ULL, BIG_B = 1 };
enum color { RED = 1 };
struct item { int b; int a; } __pai;
struct holder {
	enum color c;	/* 'enum colour' in the target: incompatible */
	int sh;		/* short (signed) in the target: cannot be narrowed */
	unsigned int ush;	/* unsigned short in the target: narrowed */
	long long wide;
	struct item items[4];
	int arr[10];	/* 4 elements in the target */
	int u1;		/* in an anonymous union in the target */
	long u2;
	unsigned int more : 9;
} __pai;

struct opaque_m;
struct matchme { int a; } __pai;
struct matchme___ptr { struct opaque_m *p; } __pai;
struct matchme___sign { unsigned int a; } __pai;
struct matchme___enum { enum big e; } __pai;
struct matchme___arr { char name[8]; } __pai;
struct matchme___arrlen { char name[4]; } __pai;
typedef unsigned int tgt_u32;
typedef int tgt_u32___s;

/* Module BTF (cilium's btf_testmod.btf) */
struct bpf_testmod_test_read_ctx { char *buf; long off; unsigned long len; } __pai;
struct task_struct { int pid; } __pai;

SEC("tc/amb")
int amb(struct amb *a) { return a->b; }

SEC("tc/same")
int same(struct same *s) { return s->z + s->x + (int)s->y; }

SEC("tc/flav")
int flav(struct flav *f) { return f->y + bpf_core_type_exists(struct flav) + bpf_core_type_size(struct flav); }

SEC("tc/holder")
long holder(struct holder *h)
{
	long r = h->ush;
	r += h->wide;
	r += h->items[2].a;
	r += h->u1 + h->u2;
	r += BPF_CORE_READ_BITFIELD(h, more);
	return r;
}

SEC("tc/holder_poison")
long holder_poison(struct holder *h)
{
	long r = h->c;
	r += h->sh;
	r += h->arr[6];
	return r;
}

SEC("tc/enums")
long enums(void *ctx)
{
	return bpf_core_enum_value(enum big, BIG_A) + bpf_core_enum_value(enum big, BIG_B) +
	       bpf_core_enum_value_exists(enum color, RED);
}

SEC("tc/matches")
int matches(void *ctx)
{
	return bpf_core_type_matches(struct matchme) | bpf_core_type_matches(struct matchme___ptr) << 1 |
	       bpf_core_type_matches(struct matchme___sign) << 2 | bpf_core_type_matches(struct matchme___enum) << 3 |
	       bpf_core_type_matches(struct matchme___arr) << 4 | bpf_core_type_matches(struct matchme___arrlen) << 5 |
	       bpf_core_type_matches(tgt_u32) << 6 | bpf_core_type_matches(tgt_u32___s) << 7;
}

SEC("tc/module")
long module(struct bpf_testmod_test_read_ctx *c, struct task_struct *t)
{
	return c->len + t->pid + bpf_core_type_id_kernel(struct bpf_testmod_test_read_ctx) +
	       bpf_core_type_id_kernel(struct task_struct);
}

char LICENSE[] SEC("license") = "GPL";
