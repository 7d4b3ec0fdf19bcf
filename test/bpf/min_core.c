// Relocated against its own BTF by test/gen-min-core-btf.test.ts (gen
// min_core_btf with the object as both INPUT and OBJECT): type relocations
// that follow pointers into a type tag and a forward declaration, which
// bpftool's btfgen refuses ("unsupported kind"). Loadable against the
// running kernel too (it has none of these types: the field access is dead).
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __user __attribute__((btf_type_tag("user")))

struct opaque;
typedef int (*user_fn)(int __user *p);
typedef struct opaque *opaque_ptr;
struct pair { int a; int b; int c; } __attribute__((preserve_access_index));

SEC("socket")
int min_core(void *ctx)
{
	struct pair *p = ctx;
	int r = bpf_core_type_exists(user_fn) + bpf_core_type_exists(opaque_ptr);

	if (bpf_core_field_exists(p->c))
		r += bpf_core_field_offset(p->c);
	return r;
}

char LICENSE[] SEC("license") = "GPL";
