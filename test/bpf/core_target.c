// Target BTF for test/core.test.ts (only its .BTF is used): types that the
// programs of core_local.c relocate against.
struct amb { int a; int b; };
struct amb___v2 { int b; int a; };

struct same { int x; long y; };
struct same___v2 { int x; long long y; int z; };

/* Only a flavored name in the target. */
struct flav___v1 { int x; char pad; int y; };

enum big { BIG_B = 3, BIG_A = 0x200000000ULL };
enum colour { RED = 7 };

struct item { int a; int b; };
struct holder {
	enum colour c;
	short sh;
	unsigned short ush;
	long long wide;
	struct item items[8];
	int arr[4];
	union {
		int u1;
		long u2;
	};
	unsigned int bits : 3, more : 9;
};

struct opaque_m;
struct matchme { int a; struct opaque_m *p; enum big e; char name[8]; };
typedef unsigned int tgt_u32;

struct amb *p1;
struct amb___v2 *p2;
struct same *p3;
struct same___v2 *p4;
struct flav___v1 *p5;
enum big *p6;
struct holder *p7;
struct matchme *p8;
tgt_u32 *p9;
