/**
 * dumpC (BTF -> C header, `bpftool btf dump file FILE format c`).
 *
 * - vmlinux, split module BTF and every .BTF of the cilium/ebpf corpus are
 *   compared with bpftool 7.1 byte for byte. There is no known difference:
 *   KNOWN_DIFFERENCES is empty, and any difference fails.
 * - Targeted cases built with BtfBuilder are compared with the text bpftool
 *   prints for them (recorded below, and re-checked against bpftool when it
 *   is installed).
 * - The vmlinux.h we write for the running kernel must compile with clang
 *   for a BPF program using CO-RE reads of task_struct, a tracepoint context
 *   struct and enum values. Without clang the test is skipped with the
 *   reason, except under CI (env CI) where it fails.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { Btf, BtfBuilder, BtfError, loadBtf } from '../btf/index.ts';
import { dumpC, dumpCView } from '../btf/dump-c.ts';
import { rawView } from '../btf/dump-c-raw.ts';
import { primerTypes, primerView } from '../btf/dump-c-primer.ts';
import { BPFTOOL, VMLINUX, TESTMOD, hasVmlinux, hasCilium, hasBpftool, corpusElfs, corpusVmlinux } from './fixtures/btf/corpus.ts';

/**
 * Differences from bpftool we accept, as [input, line of bpftool, our line].
 * Empty: the output is byte-identical for every input tested.
 */
const KNOWN_DIFFERENCES: [string, string, string][] = [];

const HEADER =
  '#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
  '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n';
const FOOTER = '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n';

function bpftoolC(file: string, base?: string): string {
  return execFileSync(BPFTOOL, ['btf', 'dump', 'file', file, ...(base ? ['-B', base] : []), 'format', 'c'], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Lines that differ (ignoring KNOWN_DIFFERENCES for `input`); [] when identical. */
function differences(input: string, expected: string, got: string): string[] {
  if (expected === got) return [];
  const a = expected.split('\n');
  const b = got.split('\n');
  const allowed = new Set(KNOWN_DIFFERENCES.filter(([i]) => i === input).map(([, x, y]) => `${x}\0${y}`));
  const out: string[] = [];
  if (a.length !== b.length) out.push(`${input}: ${a.length} lines from bpftool, ${b.length} from dumpC`);
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < 10; i++) {
    if (a[i] !== b[i] && !allowed.has(`${a[i]}\0${b[i]}`)) out.push(`${input}:${i + 1}: bpftool ${JSON.stringify(a[i])} dumpC ${JSON.stringify(b[i])}`);
  }
  return out;
}

/** Skip with a reason, or fail under CI, when a tool is missing. */
function needTool(ctx: TestContext, path: string | undefined, what: string): string {
  if (path && existsSync(path)) return path;
  const reason = `${what} is not installed`;
  if (process.env.CI) throw new Error(`cannot run under CI: ${reason}`);
  ctx.skip(`skipped: ${reason}`);
  return '';
}

function findClang(): string | undefined {
  for (const c of ['/usr/bin/clang-16', '/usr/bin/clang-19', '/usr/bin/clang-18', '/usr/bin/clang-17', '/usr/bin/clang']) if (existsSync(c)) return c;
  return undefined;
}

// ---------------------------------------------------------------- targeted cases

type Build = (b: BtfBuilder) => void;
const int = (b: BtfBuilder, name = 'int', size = 4, encoding: 'signed' | 'none' | 'char' | 'bool' = 'signed') =>
  b.add({ kind: 'int', name, size, encoding, bitOffset: 0, bits: size * 8 });
const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0) => ({ name, type, bitOffset, bitfieldSize });

const CASES: Record<string, Build> = {
  /** Packing, bitfields, padding, anonymous nested unions/structs, empty structs, floats, __int128. */
  layout: (b) => {
    const i = int(b);
    const ch = int(b, 'char', 1, 'char');
    const l = int(b, 'long', 8);
    const s = int(b, 'short', 2);
    const u = int(b, 'unsigned int', 4, 'none');
    b.add({ kind: 'struct', name: 'packed', size: 5, kindFlag: false, members: [m('c', ch, 0), m('i', i, 8)] });
    b.add({ kind: 'struct', name: 'bits', size: 16, kindFlag: true, members: [m('a', u, 0, 3), m('b', u, 3, 5), m('c', u, 32, 1), m('d', l, 64, 40)] });
    b.add({ kind: 'struct', name: 'gaps', size: 32, kindFlag: false, members: [m('c', ch, 0), m('l', l, 128), m('s', s, 192)] });
    b.add({ kind: 'struct', name: 'empty', size: 0, kindFlag: false, members: [] });
    b.add({ kind: 'struct', name: 'onlypad', size: 16, kindFlag: false, members: [] });
    const inner = b.add({ kind: 'union', name: '', size: 8, kindFlag: false, members: [m('x', l, 0), m('y', i, 0)] });
    const inner2 = b.add({ kind: 'struct', name: '', size: 8, kindFlag: false, members: [m('p', i, 0), m('', inner, 0)] });
    b.add({ kind: 'struct', name: 'nest', size: 24, kindFlag: false, members: [m('', inner, 0), m('named', inner2, 64), m('tail', ch, 128)] });
    const pk = b.add({ kind: 'struct', name: 'pk2', size: 9, kindFlag: false, members: [m('c', ch, 0), m('l', l, 8)] });
    b.add({ kind: 'struct', name: 'haspk', size: 16, kindFlag: false, members: [m('c', ch, 0), m('p', pk, 8)] });
    b.add({ kind: 'struct', name: 'aligned', size: 64, kindFlag: false, members: [m('c', ch, 0), m('l', i, 256)] });
    b.add({ kind: 'struct', name: 'bf2', size: 8, kindFlag: true, members: [m('a', ch, 0, 2), m('b', i, 40, 4)] });
    const f = b.add({ kind: 'float', name: 'double', size: 8 });
    b.add({ kind: 'union', name: 'uf', size: 8, kindFlag: false, members: [m('d', f, 0)] });
    const i128 = int(b, '__int128', 16);
    b.add({ kind: 'struct', name: 'big', size: 32, kindFlag: false, members: [m('c', ch, 0), m('x', i128, 128)] });
  },
  /** enum and enum64, signed and unsigned, duplicate enumerators, anonymous enums inline and at top level. */
  enums: (b) => {
    int(b);
    b.add({ kind: 'enum', name: 'e1', size: 4, signed: true, values: [{ name: 'A', value: -1 }, { name: 'B', value: 2147483647 }, { name: 'C', value: -2147483648 }] });
    b.add({ kind: 'enum', name: 'e2', size: 4, signed: false, values: [{ name: 'X', value: 4294967295 }, { name: 'Y', value: 0 }] });
    b.add({ kind: 'enum', name: 'e3', size: 1, signed: false, values: [{ name: 'SMALL', value: 1 }] });
    b.add({ kind: 'enum', name: 'e4', size: 8, signed: false, values: [{ name: 'BIG4', value: 1 }] });
    b.add({
      kind: 'enum64', name: 'e5', size: 8, signed: true,
      values: [{ name: 'N1', value: -1n }, { name: 'N2', value: -9223372036854775808n }, { name: 'N3', value: 5n }, { name: 'N4', value: 0x100000000n }, { name: 'N5', value: -0x100000000n }],
    });
    b.add({ kind: 'enum64', name: 'e6', size: 8, signed: false, values: [{ name: 'U1', value: 18446744073709551615n }, { name: 'U2', value: 7n }, { name: 'U3', value: 0x20000000000000n }] });
    b.add({ kind: 'enum64', name: 'e7', size: 8, signed: false, values: [{ name: 'W1', value: 1n }] });
    b.add({ kind: 'enum', name: '', size: 4, signed: false, values: [{ name: 'ANON1', value: 1 }] });
    b.add({ kind: 'enum', name: 'empty', size: 4, signed: false, values: [] });
    b.add({ kind: 'enum', name: 'e1', size: 4, signed: false, values: [{ name: 'A', value: 7 }] });
    const anon = b.add({ kind: 'enum', name: '', size: 4, signed: false, values: [{ name: 'IN1', value: 1 }] });
    b.add({ kind: 'struct', name: 'holder', size: 8, kindFlag: false, members: [m('x', anon, 0), m('y', anon, 32)] });
    b.add({ kind: 'typedef', name: 'A', type: 1 });
  },
  /** Function pointers: named/unnamed params, pointers to them, arrays of them, (void), variadic, returning pointers to arrays. */
  funcptrs: (b) => {
    const i = int(b);
    const ch = int(b, 'char', 1, 'char');
    const pc = b.add({ kind: 'ptr', name: '', type: ch });
    const fp = b.add({ kind: 'func_proto', name: '', returnType: i, params: [{ name: 'x', type: i }, { name: '', type: pc }] });
    const pfp = b.add({ kind: 'ptr', name: '', type: fp });
    const ppfp = b.add({ kind: 'ptr', name: '', type: pfp });
    const arr = b.add({ kind: 'array', name: '', type: pfp, indexType: i, nelems: 4 });
    const pfv = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'func_proto', name: '', returnType: 0, params: [] }) });
    const fvar = b.add({ kind: 'func_proto', name: '', returnType: i, params: [{ name: 'fmt', type: pc }, { name: '', type: 0 }] });
    const pfvar = b.add({ kind: 'ptr', name: '', type: fvar });
    const a3 = b.add({ kind: 'array', name: '', type: i, indexType: i, nelems: 3 });
    const pa3 = b.add({ kind: 'ptr', name: '', type: a3 });
    const pfra = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'func_proto', name: '', returnType: pa3, params: [{ name: '', type: pfp }] }) });
    const a23 = b.add({ kind: 'array', name: '', type: a3, indexType: i, nelems: 2 });
    const pf1v = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'func_proto', name: '', returnType: pfp, params: [{ name: '', type: 0 }] }) });
    const cpf = b.add({ kind: 'const', name: '', type: pfp });
    const vol = b.add({ kind: 'volatile', name: '', type: i });
    const rp = b.add({ kind: 'restrict', name: '', type: pc });
    b.add({
      kind: 'struct', name: 'ops', size: 160, kindFlag: false,
      members: [m('f', pfp, 0), m('pf', ppfp, 64), m('arr', arr, 128), m('v', pfv, 384), m('printf', pfvar, 448), m('ra', pfra, 512),
        m('m', a23, 576), m('g', pf1v, 768), m('cf', cpf, 832), m('vi', vol, 896), m('r', rp, 960)],
    });
    b.add({ kind: 'typedef', name: 'handler_t', type: pfp });
    b.add({ kind: 'typedef', name: 'fn_t', type: fp });
    b.add({ kind: 'func', name: 'myfunc', type: fp, linkage: 'global' });
  },
  /** Forward declarations: FWD kinds, structs used only by pointer, a typedef'd self pointer, duplicate names, va_list typedefs. */
  fwds: (b) => {
    const i = int(b);
    const fw = b.add({ kind: 'fwd', name: 'opaque', fwdKind: 'struct' });
    const fwu = b.add({ kind: 'fwd', name: 'uopaque', fwdKind: 'union' });
    const pfw = b.add({ kind: 'ptr', name: '', type: fw });
    const pfwu = b.add({ kind: 'ptr', name: '', type: fwu });
    const pl = b.add({ kind: 'ptr', name: '', type: 9 });
    b.add({ kind: 'struct', name: 'user', size: 24, kindFlag: false, members: [m('o', pfw, 0), m('u', pfwu, 64), m('l', pl, 128)] });
    b.add({ kind: 'typedef', name: 'self_p', type: 10 });
    b.add({ kind: 'struct', name: 'later', size: 8, kindFlag: false, members: [m('n', 8, 0)] }); // id 9
    b.add({ kind: 'ptr', name: '', type: 9 }); // id 10
    b.add({ kind: 'struct', name: 'opaque', size: 4, kindFlag: false, members: [m('x', i, 0)] });
    b.add({ kind: 'struct', name: 'later', size: 4, kindFlag: false, members: [m('dup', i, 0)] });
    b.add({ kind: 'typedef', name: '__builtin_va_list', type: pfw });
    b.add({ kind: 'typedef', name: '__gnuc_va_list', type: 0 });
    b.add({ kind: 'int', name: '__Poly8_t', size: 1, encoding: 'none', bitOffset: 0, bits: 8 });
    b.add({ kind: 'typedef', name: 'self_p', type: i });
  },
  /** Type tags (placed like bpftool 7.1 does, quirks included) and decl tags (not written). */
  typetag: (b) => {
    const i = int(b);
    const tag = b.add({ kind: 'type_tag', name: 'user', type: i, kindFlag: false });
    const p = b.add({ kind: 'ptr', name: '', type: tag });
    const c = b.add({ kind: 'const', name: '', type: i });
    const p2 = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'type_tag', name: 'rcu', type: c, kindFlag: false }) });
    const p3 = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'const', name: '', type: tag }) });
    const p4 = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'type_tag', name: 'percpu', type: p, kindFlag: false }) });
    const p5 = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'type_tag', name: 'vtag', type: 0, kindFlag: false }) });
    const s = b.add({ kind: 'struct', name: 's', size: 40, kindFlag: false, members: [m('a', p, 0), m('b', p2, 64), m('c', p3, 128), m('d', p4, 192), m('e', p5, 256)] });
    const td = b.add({ kind: 'typedef', name: 'tagged_int', type: tag });
    b.add({ kind: 'decl_tag', name: 'member_tag', type: s, componentIdx: 0, kindFlag: false });
    b.add({ kind: 'decl_tag', name: 'type_tag_on_typedef', type: td, componentIdx: -1, kindFlag: false });
  },
  /** GCC's __Poly ints get a typedef; a typedef met first through a pointer waits for its turn. */
  poly: (b) => {
    const p8 = b.add({ kind: 'int', name: '__Poly8_t', size: 1, encoding: 'none', bitOffset: 0, bits: 8 });
    const i = int(b);
    const ti = b.add({ kind: 'typedef', name: 'myint', type: i });
    const pti = b.add({ kind: 'ptr', name: '', type: ti });
    const arr = b.add({ kind: 'array', name: '', type: p8, indexType: i, nelems: 8 });
    b.add({ kind: 'struct', name: 'first', size: 8, kindFlag: false, members: [m('p', pti, 0)] });
    b.add({ kind: 'typedef', name: 'poly8x8_t', type: arr });
    b.add({ kind: 'typedef', name: 'another', type: ti });
  },
};

/** What bpftool 7.1 prints for each case, between the header and the footer. */
const EXPECTED: Record<string, string> = {
  layout: `struct packed {
	char c;
	int i;
} __attribute__((packed));

struct bits {
	unsigned int a: 3;
	unsigned int b: 5;
	int: 24;
	unsigned int c: 1;
	long: 31;
	long d: 40;
};

struct gaps {
	char c;
	long: 64;
	long l;
	short s;
};

struct empty {};

struct onlypad {
	long: 64;
	long: 64;
};

struct nest {
	union {
		long x;
		int y;
	};
	struct {
		int p;
		union {
			long x;
			int y;
		};
	} named;
	char tail;
};

struct pk2 {
	char c;
	long l;
} __attribute__((packed));

struct haspk {
	char c;
	struct pk2 p;
	long: 0;
};

struct aligned {
	char c;
	long: 64;
	long: 64;
	long: 64;
	int l;
	long: 64;
	long: 64;
	long: 64;
};

struct bf2 {
	char a: 2;
	int: 30;
	char: 8;
	int b: 4;
};

union uf {
	double d;
};

struct big {
	char c;
	long: 64;
	__int128 x;
};

`,
  enums: `enum e1 {
	A = -1,
	B = 2147483647,
	C = -2147483648,
};

enum e2 {
	X = 4294967295,
	Y = 0,
};

enum e3 {
	SMALL = 1,
};

enum e4 {
	BIG4 = 1,
};

enum e5 {
	N1 = -1LL,
	N2 = -9223372036854775808LL,
	N3 = 5LL,
	N4 = 4294967296LL,
	N5 = -4294967296LL,
};

enum e6 {
	U1 = 18446744073709551615ULL,
	U2 = 7ULL,
	U3 = 9007199254740992ULL,
};

enum e7 {
	W1 = 1ULL,
};

enum {
	ANON1 = 1,
};

enum empty;

enum e1___2 {
	A___2 = 7,
};

struct holder {
	enum {
		IN1 = 1,
	} x;
	enum {
		IN1___2 = 1,
	} y;
};

typedef int A___3;

`,
  funcptrs: `struct ops {
	int (*f)(int x, char *);
	int (**pf)(int x, char *);
	int (*arr[4])(int x, char *);
	void (*v)(void);
	int (*printf)(char *fmt, ...);
	int (* (*ra)(int (*)(int x, char *)))[3];
	int m[2][3];
	int (* (*g)(void))(int x, char *);
	int (* const cf)(int x, char *);
	volatile int vi;
	char * restrict r;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
};

typedef int (*handler_t)(int x, char *);

typedef int fn_t(int x, char *);

`,
  fwds: `struct opaque;

union uopaque;

struct later;

struct user {
	struct opaque *o;
	union uopaque *u;
	struct later *l;
};

typedef struct later *self_p;

struct later {
	self_p n;
};

struct opaque {
	int x;
};

struct later___2 {
	int dup;
};

typedef __builtin_va_list __gnuc_va_list;

typedef int self_p___2;

`,
  typetag: `struct s {
	int __attribute__((btf_type_tag("user"))) *a;
	const int __attribute__((btf_type_tag("rcu"))) *b;
	intconst  __attribute__((btf_type_tag("user"))) *c;
	int __attribute__((btf_type_tag("user"))) * __attribute__((btf_type_tag("percpu"))) *d;
	void __attribute__((btf_type_tag("vtag"))) *e;
};

typedef int __attribute__((btf_type_tag("user"))) tagged_int;

`,
  poly: `typedef int myint;

struct first {
	myint *p;
};

typedef unsigned char __Poly8_t;

typedef __Poly8_t poly8x8_t[8];

typedef myint another;

`,
};

describe('targeted cases (BtfBuilder)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-dumpc-'));

  for (const [name, build] of Object.entries(CASES)) {
    it(`${name}: the text bpftool prints`, () => {
      const b = new BtfBuilder();
      build(b);
      const btf = b.build();
      const got = dumpC(btf);
      expect(got.startsWith(HEADER) && got.endsWith(FOOTER)).toBe(true);
      expect(dumpC(btf, { header: false })).toBe(EXPECTED[name]);
      expect(got).toBe(HEADER + EXPECTED[name] + FOOTER);
      expect(dumpCView(rawView(btf, true))).toBe(got);
      if (hasBpftool) {
        const file = join(tmp, `${name}.btf`);
        writeFileSync(file, b.marshal());
        expect(differences(name, bpftoolC(file), got)).toEqual([]);
      }
    });
  }

  it('bitfields, packed structs, anonymous nested unions, function-pointer members, enum64, structs used only by pointer', () => {
    const text = EXPECTED.layout! + EXPECTED.enums! + EXPECTED.funcptrs! + EXPECTED.fwds!;
    expect(text).toContain('\tunsigned int b: 5;\n\tint: 24;\n\tunsigned int c: 1;\n\tlong: 31;\n\tlong d: 40;\n');
    expect(text).toContain('struct packed {\n\tchar c;\n\tint i;\n} __attribute__((packed));');
    expect(text).toContain('struct nest {\n\tunion {\n\t\tlong x;\n\t\tint y;\n\t};\n\tstruct {\n\t\tint p;\n\t\tunion {\n');
    expect(text).toContain('\tint (*arr[4])(int x, char *);\n\tvoid (*v)(void);\n\tint (*printf)(char *fmt, ...);\n\tint (* (*ra)(int (*)(int x, char *)))[3];\n');
    expect(text).toContain('\tN2 = -9223372036854775808LL,\n');
    expect(text).toContain('\tU1 = 18446744073709551615ULL,\n');
    expect(text).toContain('struct opaque;\n\nunion uopaque;\n\nstruct later;\n\nstruct user {\n\tstruct opaque *o;');
    expect(text).toContain('struct later___2 {');
  });

  it('an unsatisfiable cycle (structs containing each other) is BTF_LOOP', () => {
    const b = new BtfBuilder();
    b.add({ kind: 'struct', name: 'A', size: 4, kindFlag: false, members: [m('b', 2, 0)] });
    b.add({ kind: 'struct', name: 'B', size: 4, kindFlag: false, members: [m('a', 1, 0)] });
    const btf = b.build();
    expect(() => dumpC(btf)).toThrow(BtfError);
    try {
      dumpC(btf);
    } catch (e) {
      expect((e as BtfError).code).toBe('BTF_LOOP');
      expect((e as Error).message).toBe('unsatisfiable type cycle, id:[1]');
    }
    // The dumper is usable again after a failure.
    const ok = new BtfBuilder();
    CASES.poly!(ok);
    expect(dumpC(ok.build(), { header: false })).toBe(EXPECTED.poly);
  });

  it('the primer (dumped before big dumps to warm the JIT) is a valid case too', () => {
    const b = new BtfBuilder();
    for (const t of primerTypes()) b.add(t);
    const btf = b.build();
    const got = dumpC(btf);
    expect(dumpCView(primerView()) === got).toBe(true);
    expect(got).toContain('struct node;\n\ntypedef struct node node_t;\n\nstruct peer;\n\nstruct node {\n');
    expect(got).toContain('\tchar *arr[2][4];\n\tint (*fns[3])(int x, char *);\n');
    if (hasBpftool) {
      const file = join(tmp, 'primer.btf');
      writeFileSync(file, b.marshal());
      expect(differences('primer', bpftoolC(file), got)).toEqual([]);
    }
  });

  it('rejects a guard that is not a C identifier', () => {
    const b = new BtfBuilder();
    CASES.poly!(b);
    expect(() => dumpC(b.build(), { guard: 'no good' })).toThrow(BtfError);
  });

  it('roots: only the named types and what they need, in the order given', () => {
    const b = new BtfBuilder();
    CASES.fwds!(b);
    const btf = b.build();
    const user = btf.getByName('user', 'struct').id;
    expect(dumpC(btf, { roots: [user], header: false })).toBe(
      'struct opaque;\n\nunion uopaque;\n\nstruct later;\n\nstruct user {\n\tstruct opaque *o;\n\tunion uopaque *u;\n\tstruct later *l;\n};\n\n',
    );
    const later = btf.findAllByName('later', 'struct')[0]!.id;
    expect(dumpC(btf, { roots: [later], header: false })).toBe('struct later;\n\ntypedef struct later *self_p;\n\nstruct later {\n\tself_p n;\n};\n\n');
    expect(dumpC(btf, { roots: [], header: false })).toBe('');
    expect(dumpC(btf, { roots: [] })).toBe(HEADER + FOOTER);
    expect(dumpC(btf, { roots: [], guard: 'MY_H' })).toContain('#ifndef MY_H\n#define MY_H\n');
    expect(() => dumpC(btf, { roots: [btf.length] })).toThrow(/no type id/);
  });
});

// ---------------------------------------------------------------- whole inputs vs bpftool

describe.skipIf(!hasVmlinux)('vmlinux (/sys/kernel/btf/vmlinux)', () => {
  const btf = Btf.parse(readFileSync(VMLINUX));
  let ours: string | undefined;
  const header = () => (ours ??= dumpC(btf));

  it('is byte-identical to bpftool btf dump ... format c', (ctx) => {
    needTool(ctx, hasBpftool ? BPFTOOL : undefined, 'bpftool');
    expect(differences('vmlinux', bpftoolC(VMLINUX), header())).toEqual([]);
  });

  it('takes the word-level path, and the decoded fallback writes the same header', () => {
    expect(rawView(btf).path).toBe('words');
    const view = rawView(btf, true);
    expect(view.path).toBe('decoded');
    expect(dumpCView(view) === header()).toBe(true);
  });

  it('compiles: a CO-RE BPF program (task_struct, tracepoint context, enum values) with clang -target bpf', (ctx) => {
    const clang = needTool(ctx, findClang(), 'clang');
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-vmlinux-h-'));
    try {
      writeFileSync(join(dir, 'vmlinux.h'), header());
      writeFileSync(join(dir, 'prog.bpf.c'), PROG_C);
      compile(clang, dir, 'prog.bpf.c');
      expect(existsSync(join(dir, 'prog.bpf.o'))).toBe(true);
      // The object's BTF has the CO-RE relocated types, as libbpf would see them.
      const obj = loadBtf(readFileSync(join(dir, 'prog.bpf.o')));
      expect(obj.btf.findByName('task_struct', 'struct')).toBeDefined();
      expect(obj.btf.findByName('trace_event_raw_sched_process_exec', 'struct')).toBeDefined();
      expect(obj.ext?.coreRelos.reduce((n, sec) => n + sec.records.length, 0)).toBeGreaterThan(0);

      // roots: a header of just the types a program names (and what they need) compiles too.
      const ids = ['task_struct', 'trace_event_raw_sched_process_exec'].map((n) => btf.getByName(n, 'struct').id);
      ids.push(btf.getByName('bpf_map_type', 'enum').id);
      const small = dumpC(btf, { roots: ids });
      expect(small.length).toBeLessThan(header().length / 2);
      writeFileSync(join(dir, 'vmlinux.h'), small);
      writeFileSync(join(dir, 'roots.bpf.c'), ROOTS_C);
      compile(clang, dir, 'roots.bpf.c');
      const relos = loadBtf(readFileSync(join(dir, 'roots.bpf.o'))).ext?.coreRelos ?? [];
      expect(relos.reduce((n, sec) => n + sec.records.length, 0)).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.skipIf(!hasCilium)('cilium/ebpf corpus', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-dumpc-'));

  it('split BTF (btf_testmod on its vmlinux): the same as bpftool -B, base types included as bpftool does', (ctx) => {
    const base = Btf.parse(corpusVmlinux());
    const mod = Btf.parse(readFileSync(TESTMOD), { base });
    const got = dumpC(mod);
    expect(dumpCView(rawView(mod, true)) === got).toBe(true);
    // Every base type comes first, exactly as in the base's own dump; the module's follow.
    const baseText = dumpC(base);
    expect(got.startsWith(baseText.slice(0, baseText.length - FOOTER.length))).toBe(true);
    expect(got).toContain('struct module___2 {');
    needTool(ctx, hasBpftool ? BPFTOOL : undefined, 'bpftool');
    const basePath = join(tmp, 'vmlinux.btf');
    writeFileSync(basePath, corpusVmlinux());
    expect(differences('vmlinux.btf', bpftoolC(basePath), baseText)).toEqual([]);
    expect(differences('btf_testmod.btf', bpftoolC(TESTMOD, basePath), got)).toEqual([]);
  });

  it('every object with .BTF is the same as bpftool', (ctx) => {
    needTool(ctx, hasBpftool ? BPFTOOL : undefined, 'bpftool');
    let n = 0;
    const diffs: string[] = [];
    for (const file of corpusElfs()) {
      let btf: Btf;
      try {
        btf = loadBtf(readFileSync(file)).btf;
      } catch (e) {
        if ((e as BtfError).code === 'BTF_NO_BTF') continue;
        throw e;
      }
      n++;
      diffs.push(...differences(file.split('/').pop()!, bpftoolC(file), dumpC(btf)));
    }
    expect(diffs).toEqual([]);
    expect(n).toBeGreaterThan(10);
  });
});

function compile(clang: string, dir: string, src: string): void {
  try {
    execFileSync(clang, ['-target', 'bpf', '-O2', '-g', '-Wall', '-Werror', '-c', src, '-o', src.replace(/\.c$/, '.o'), '-I', dir, '-I', `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (e) {
    throw new Error(`clang failed on ${src}:\n${(e as { stderr?: string }).stderr ?? e}`);
  }
}

/** Uses only types (no libbpf headers): compiled against a roots-only header. */
const ROOTS_C = `#include "vmlinux.h"

__attribute__((section("tracepoint/sched/sched_process_exec"), used))
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx;

	return ctx->pid + task->pid + (BPF_MAP_TYPE_HASH == 1);
}
`;

/** The program the vmlinux.h must compile for: CO-RE reads, a tracepoint context, enum values. */
const PROG_C = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
	int pid;
	int ppid;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = ctx->pid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	if (bpf_core_field_exists(task->flags) && BPF_MAP_TYPE_RINGBUF != BPF_MAP_TYPE_HASH)
		e->pid += BPF_CORE_READ(task, flags) & 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`;
