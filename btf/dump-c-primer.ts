/**
 * A small BTF that takes the C dumper through every path it has: every kind,
 * qualifiers and type tags in declarations, arrays of arrays and of function
 * pointers, variadic and void prototypes, bitfields and padding, packed
 * structs, anonymous unions/enums written inline, enum64, duplicate names,
 * forward declarations from pointer cycles, typedefs needed early.
 *
 * Why: a big dump (vmlinux) runs once per process. V8 optimises the
 * dumper's functions after the first few hundred types, which are mostly
 * ints, typedefs and plain structs; each path first met later (a restrict
 * qualifier, an enum64, a datasec...) throws the optimised code away and
 * optimises again, which costs more than the dump itself on a loaded
 * machine. Dumping this first (a fraction of a millisecond, output
 * discarded) records how every path is used before anything is optimised.
 * It is also a test case (compared with bpftool in test/btf-dump-c.test.ts).
 */
import { encodeTypes, type RawBtfView } from './dump-c-raw.ts';
import type { BtfMember, BtfTypeInput } from './types.ts';

const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0): BtfMember => ({ name, type, bitOffset, bitfieldSize });

/** The types, id = index + 1. */
export function primerTypes(): BtfTypeInput[] {
  const t: BtfTypeInput[] = [];
  const add = (x: BtfTypeInput): number => t.push(x);
  const int = (name: string, size: number, encoding: 'signed' | 'none' | 'char' | 'bool') =>
    add({ kind: 'int', name, size, encoding, bitOffset: 0, bits: size * 8 });
  const ptr = (type: number) => add({ kind: 'ptr', name: '', type });

  const i = int('int', 4, 'signed');
  const ch = int('char', 1, 'char');
  const l = int('long', 8, 'signed');
  const u = int('unsigned int', 4, 'none');
  const b = int('_Bool', 1, 'bool');
  const dbl = add({ kind: 'float', name: 'double', size: 8 });
  const pc = ptr(ch);
  const ci = add({ kind: 'const', name: '', type: i });
  const vi = add({ kind: 'volatile', name: '', type: i });
  const rpc = add({ kind: 'restrict', name: '', type: pc });
  const pci = ptr(ci);
  const cpc = add({ kind: 'const', name: '', type: pc });
  const a4 = add({ kind: 'array', name: '', type: pc, indexType: i, nelems: 4 });
  const a24 = add({ kind: 'array', name: '', type: a4, indexType: i, nelems: 2 });
  const fp = add({ kind: 'func_proto', name: '', returnType: i, params: [{ name: 'x', type: i }, { name: '', type: pc }] });
  const pfp = ptr(fp);
  const ppfp = ptr(pfp);
  const fv = add({ kind: 'func_proto', name: '', returnType: 0, params: [] });
  const pfv = ptr(fv);
  const fvar = add({ kind: 'func_proto', name: '', returnType: i, params: [{ name: 'fmt', type: pc }, { name: '', type: 0 }] });
  const pfvar = ptr(fvar);
  const afp = add({ kind: 'array', name: '', type: pfp, indexType: i, nelems: 3 });
  const a3 = add({ kind: 'array', name: '', type: i, indexType: i, nelems: 3 });
  const pa3 = ptr(a3);
  const fra = add({ kind: 'func_proto', name: '', returnType: pa3, params: [{ name: '', type: pfp }] });
  const pfra = ptr(fra);
  const f1v = add({ kind: 'func_proto', name: '', returnType: pfp, params: [{ name: '', type: 0 }] });
  const pf1v = ptr(f1v);
  const tag = add({ kind: 'type_tag', name: 'user', type: i, kindFlag: false });
  const ptag = ptr(tag);
  const ctag = add({ kind: 'const', name: '', type: tag });
  const pctag = ptr(ctag);
  const ptagp = ptr(add({ kind: 'type_tag', name: 'percpu', type: ptag, kindFlag: false }));
  const pvtag = ptr(add({ kind: 'type_tag', name: 'vtag', type: 0, kindFlag: false }));
  const fw = add({ kind: 'fwd', name: 'opaque', fwdKind: 'struct' });
  const fwu = add({ kind: 'fwd', name: 'uopaque', fwdKind: 'union' });
  const pfw = ptr(fw);
  const pfwu = ptr(fwu);
  const color = add({ kind: 'enum', name: 'color', size: 4, signed: true, values: [{ name: 'RED', value: -1 }, { name: 'GREEN', value: 2 }] });
  const anonEnum = add({ kind: 'enum', name: '', size: 4, signed: false, values: [{ name: 'INL', value: 1 }] });
  add({ kind: 'enum', name: '', size: 4, signed: false, values: [{ name: 'TOP', value: 1 }] });
  add({ kind: 'enum', name: 'color', size: 4, signed: false, values: [{ name: 'RED', value: 7 }] });
  add({ kind: 'enum', name: 'none', size: 4, signed: false, values: [] });
  const big = add({ kind: 'enum64', name: 'big', size: 8, signed: false, values: [{ name: 'B1', value: 1n << 40n }, { name: 'B2', value: 18446744073709551615n }] });
  add({ kind: 'enum64', name: 'sbig', size: 8, signed: true, values: [{ name: 'S1', value: -5n }, { name: 'S2', value: -(1n << 40n) }] });
  const un = add({ kind: 'union', name: '', size: 8, kindFlag: false, members: [m('ul', l, 0), m('ui', i, 0)] });
  const st = add({ kind: 'struct', name: '', size: 16, kindFlag: false, members: [m('sp', i, 0), m('', un, 64)] });
  // struct node { struct node *next; node_t *alias; struct peer *peer; int val; }, typedef struct node node_t;
  const node = t.length + 1;
  const pnode = node + 1;
  const nodeT = node + 2;
  const pnodeT = node + 3;
  const peer = node + 4;
  const ppeer = node + 5;
  add({ kind: 'struct', name: 'node', size: 32, kindFlag: false, members: [m('next', pnode, 0), m('alias', pnodeT, 64), m('peer', ppeer, 128), m('val', i, 192)] });
  ptr(node);
  add({ kind: 'typedef', name: 'node_t', type: node });
  ptr(nodeT);
  add({ kind: 'struct', name: 'peer', size: 40, kindFlag: false, members: [m('n', node, 0), m('v', vi, 256)] });
  ptr(peer);
  const packed = add({ kind: 'struct', name: 'packed', size: 5, kindFlag: false, members: [m('c', ch, 0), m('i', i, 8)] });
  add({
    kind: 'struct', name: 'all', size: 232, kindFlag: true,
    members: [
      m('a', u, 0, 3), m('b', u, 3, 5), m('c', u, 32, 1), m('d', l, 64, 40), m('e', ch, 128), m('f', l, 192),
      m('g', rpc, 256), m('h', pci, 320), m('k', cpc, 384), m('arr', a24, 448), m('fns', afp, 960), m('pf', ppfp, 1152),
      m('v', pfv, 1216), m('pr', pfvar, 1280), m('ra', pfra, 1344), m('g1', pf1v, 1408), m('', st, 1472),
      m('e1', anonEnum, 1600), m('e2', color, 1632), m('big', big, 1664), m('d1', dbl, 1728), m('ok', b, 1792), m('pk', packed, 1800),
    ],
  });
  add({ kind: 'struct', name: 'tags', size: 48, kindFlag: false, members: [m('a', ptag, 0), m('b', pctag, 64), m('c', ptagp, 128), m('d', pvtag, 192), m('o', pfw, 256), m('u', pfwu, 320)] });
  add({ kind: 'struct', name: 'empty', size: 0, kindFlag: false, members: [] });
  add({ kind: 'struct', name: 'pad', size: 16, kindFlag: false, members: [] });
  add({ kind: 'typedef', name: 'handler_t', type: pfp });
  add({ kind: 'typedef', name: 'fn_t', type: fp });
  add({ kind: 'typedef', name: 'tagged_int', type: tag });
  add({ kind: 'typedef', name: '__builtin_va_list', type: pc });
  add({ kind: 'typedef', name: '__gnuc_va_list', type: 0 });
  const poly = add({ kind: 'int', name: '__Poly8_t', size: 1, encoding: 'none', bitOffset: 0, bits: 8 });
  add({ kind: 'typedef', name: 'poly8x8_t', type: add({ kind: 'array', name: '', type: poly, indexType: i, nelems: 8 }) });
  add({ kind: 'typedef', name: 'node_t', type: i });
  const fn = add({ kind: 'func', name: 'fn', type: fp, linkage: 'global' });
  const v = add({ kind: 'var', name: 'counter', type: i, linkage: 'global' });
  add({ kind: 'datasec', name: '.data', size: 4, vars: [{ type: v, offset: 0, size: 4 }] });
  add({ kind: 'decl_tag', name: 'arg', type: fn, componentIdx: 0, kindFlag: false });
  return t;
}

let view: RawBtfView | undefined;

/** The primer as a view (built once). */
export function primerView(): RawBtfView {
  if (!view) {
    const types = primerTypes();
    view = encodeTypes(types.length + 1, (id) => types[id - 1]!);
  }
  return view;
}
