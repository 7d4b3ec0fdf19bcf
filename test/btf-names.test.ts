/**
 * The name index (btf/name-index.ts): exact and essential-name (CO-RE
 * flavor) lookups against a brute-force walk over decoded types, on vmlinux,
 * split BTF and hand-made blobs (tail-shared strings, flavors, enum/enum64).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Btf, BtfBuilder, type BtfKind, type BtfType } from '../btf/index.ts';
import { essentialName } from '../btf/core.ts';
import { candidatesIn } from '../btf/core-cands.ts';
import { VMLINUX, TESTMOD, hasVmlinux, hasCilium, corpusVmlinux } from './fixtures/btf/corpus.ts';

/** Every type of btf (base first) as decoded objects. */
function allTypes(btf: Btf): BtfType[] {
  const out: BtfType[] = [];
  for (let id = 1; id < btf.length; id++) out.push(btf.typeById(id));
  return out;
}

/** Check every query shape on `btf` for a sample of names, each on a fresh parse too (index built piecemeal). */
function crossCheck(btf: Btf, fresh: () => Btf, names: { name: string; kind?: BtfKind }[]): void {
  // Brute force: group every named type by name and by essential name.
  const byName = new Map<string, BtfType[]>();
  const byEss = new Map<string, BtfType[]>();
  for (const t of allTypes(btf)) {
    if (t.name === '') continue;
    const add = (m: Map<string, BtfType[]>, k: string) => (m.get(k) ?? m.set(k, []).get(k)!).push(t);
    add(byName, t.name);
    add(byEss, essentialName(t.name));
  }
  for (const { name, kind } of names) {
    const want = (byName.get(name) ?? []).filter((t) => kind === undefined || t.kind === kind).map((t) => t.id);
    const f = fresh();
    expect(f.findIdByName(name, kind), `first ${kind ?? 'any'} ${name}`).toBe(want[0] ?? 0);
    expect(f.findAllByName(name, kind).map((t) => t.id), `all ${kind ?? 'any'} ${name}`).toEqual(want);
    expect(btf.findIdByName(name, kind)).toBe(want[0] ?? 0);
    expect(btf.findAllByName(name, kind).map((t) => t.id)).toEqual(want);
    const ess = essentialName(name);
    const kinds: BtfKind[] = kind === 'enum' || kind === 'enum64' ? ['enum', 'enum64'] : [kind ?? 'struct'];
    const wantEss = (byEss.get(ess) ?? []).filter((t) => kinds.includes(t.kind)).map((t) => t.id);
    expect(fresh().findIdsByEssentialName(ess, kinds), `essential ${kinds} ${ess}`).toEqual(wantEss);
    expect(btf.findIdsByEssentialName(ess, kinds)).toEqual(wantEss);
  }
}

/** A raw BTF blob with a given string section and types (each [name_off, info, size_or_type, ...extra words]). */
function rawBtf(strings: string, types: number[][]): Uint8Array {
  const str = Buffer.from(strings, 'latin1');
  const words = types.flat();
  const out = Buffer.alloc(24 + words.length * 4 + str.length);
  out.writeUInt16LE(0xeb9f, 0);
  out[2] = 1;
  out.writeUInt32LE(24, 4);
  out.writeUInt32LE(0, 8);
  out.writeUInt32LE(words.length * 4, 12);
  out.writeUInt32LE(words.length * 4, 16);
  out.writeUInt32LE(str.length, 20);
  words.forEach((w, i) => out.writeUInt32LE(w >>> 0, 24 + 4 * i));
  str.copy(out, 24 + words.length * 4);
  return out;
}

const STRUCT = 4 << 24;
const ENUM = 6 << 24;
const TYPEDEF = 8 << 24;
const ENUM64 = 19 << 24;

describe('name index', () => {
  it('tail-shared names, flavors and enum/enum64 partitions (hand-made blob)', () => {
    //            0 1234567890123456789012345678
    const strs = '\0xxtask_struct___v1\0task_struct\0a___b___c\0foo____bar\0___x\0x___\0e\0a___b\0';
    const off = (s: string) => strs.indexOf(s);
    const types = [
      [off('task_struct\0'), STRUCT, 0], // 1 task_struct
      [off('task_struct___v1'), STRUCT, 0], // 2 task_struct___v1, a tail of xxtask_struct___v1
      [off('xxtask_struct___v1'), STRUCT, 0], // 3 xxtask_struct___v1
      [off('a___b___c'), STRUCT, 0], // 4 essential a___b
      [off('b___c'), STRUCT, 0], // 5 essential b (tail of a___b___c)
      [off('foo____bar'), STRUCT, 0], // 6 four underscores: no flavor
      [off('___x'), STRUCT, 0], // 7 no character before ___: no flavor
      [off('x___'), STRUCT, 0], // 8 nothing after ___: no flavor
      [off('task_struct\0'), TYPEDEF, 1], // 9 typedef task_struct
      [off('e\0'), ENUM | 0, 4], // 10 enum e
      [off('e\0'), ENUM64 | 0, 8], // 11 enum64 e
      [off('_v1'), STRUCT, 0], // 12 "_v1"
      [off('a___b___c'), TYPEDEF, 4], // 13 typedef a___b___c: essential a___b
      [strs.indexOf('\0a___b\0') + 1, STRUCT, 0], // 14 a___b: essential a, no match for a___b
    ];
    const bytes = rawBtf(strs, types);
    const btf = Btf.parse(bytes);
    expect(btf.nameOf(2)).toBe('task_struct___v1');
    expect(btf.findIdsByEssentialName('task_struct', ['struct'])).toEqual([1, 2]);
    expect(btf.findIdsByEssentialName('task_struct', ['typedef'])).toEqual([9]);
    expect(btf.findIdsByEssentialName('task_struct', ['struct', 'typedef'])).toEqual([1, 2, 9]);
    expect(btf.findIdsByEssentialName('xxtask_struct', ['struct'])).toEqual([3]);
    expect(btf.findIdsByEssentialName('a___b', ['struct'])).toEqual([4]);
    expect(btf.findIdsByEssentialName('a___b', ['typedef'])).toEqual([13]);
    expect(btf.findIdsByEssentialName('a', ['typedef'])).toEqual([]);
    expect(btf.findIdsByEssentialName('a', ['struct'])).toEqual([14]);
    expect(btf.findIdsByEssentialName('b', ['struct'])).toEqual([5]);
    expect(btf.findIdsByEssentialName('foo____bar', ['struct'])).toEqual([6]);
    expect(btf.findIdsByEssentialName('___x', ['struct'])).toEqual([7]);
    expect(btf.findIdsByEssentialName('x___', ['struct'])).toEqual([8]);
    expect(btf.findIdsByEssentialName('e', ['enum', 'enum64'])).toEqual([10, 11]);
    expect(btf.findIdsByEssentialName('e', ['enum64'])).toEqual([11]);
    expect(btf.findIdsByEssentialName('', ['struct'])).toEqual([]);
    expect(btf.findAllByName('e').map((t) => t.kind)).toEqual(['enum', 'enum64']);
    expect(btf.findIdByName('e', 'enum64')).toBe(11);
    expect(btf.findIdByName('task_struct___v1')).toBe(2);
    expect(btf.findIdByName('a___b___c')).toBe(4);
    expect(btf.findIdByName('a___b')).toBe(14);
    expect(btf.findIdByName('_v1')).toBe(12);
    expect(btf.findIdByName('task_struct', 'typedef')).toBe(9);
    crossCheck(btf, () => Btf.parse(bytes), [
      ...['task_struct', 'task_struct___v1', 'xxtask_struct___v1', 'a___b___c', 'a___b', 'b___c', 'foo____bar', '___x', 'x___', '_v1', 'nope'].flatMap((name) => [
        { name },
        { name, kind: 'struct' as BtfKind },
      ]),
      { name: 'e', kind: 'enum' },
      { name: 'e', kind: 'enum64' },
      { name: 'task_struct', kind: 'typedef' },
    ]);
    // candidatesIn keeps kinds apart, except enums.
    const local = new BtfBuilder();
    const le = local.add({ kind: 'enum', name: 'e___local', size: 4, signed: false, values: [] });
    expect(candidatesIn(local.build().typeById(le), btf, 1).map((c) => c.id)).toEqual([10, 11]);
  });

  it('grows its tables past many colliding and distinct names', () => {
    const b = new BtfBuilder();
    const ids: number[] = [];
    for (let i = 0; i < 5000; i++) ids.push(b.add({ kind: 'struct', name: `s${i % 1700}${i % 3 ? '___f' + i : ''}`, size: 0, members: [], kindFlag: false }));
    const btf = b.build();
    expect(btf.findIdsByEssentialName('s7', ['struct'])).toEqual(ids.filter((_, i) => i % 1700 === 7));
    expect(btf.findAllByName('s7', 'struct').map((t) => t.id)).toEqual(ids.filter((_, i) => i % 1700 === 7 && i % 3 === 0));
    expect(btf.findIdByName('s1599___f4999')).toBe(ids[4999]);
    expect(btf.findIdByName('s1599___f4998')).toBe(0);
  });

  it.skipIf(!hasVmlinux)('agrees with a walk over every vmlinux type', () => {
    const bytes = readFileSync(VMLINUX);
    const btf = Btf.parse(bytes);
    const named = allTypes(btf).filter((t) => t.name !== '');
    const sample: { name: string; kind?: BtfKind }[] = [];
    for (let i = 0; i < named.length; i += 997) sample.push({ name: named[i]!.name }, { name: named[i]!.name, kind: named[i]!.kind });
    for (const t of named) if (t.name.includes('___')) sample.push({ name: t.name, kind: t.kind }, { name: essentialName(t.name), kind: t.kind });
    sample.push(
      { name: 'task_struct', kind: 'struct' },
      { name: 'long int', kind: 'int' },
      { name: 'long', kind: 'int' },
      { name: 'no such type' },
      { name: 'bpf_map_type', kind: 'enum' },
    );
    crossCheck(btf, () => Btf.parse(bytes), sample);
  });

  it.skipIf(!hasCilium)('split BTF: base and own types, ownOnly', () => {
    const baseBytes = corpusVmlinux();
    const base = Btf.parse(baseBytes);
    const modBytes = readFileSync(TESTMOD);
    const mod = Btf.parse(modBytes, { base });
    const own = [...mod.types()].filter((t) => t.name !== '');
    const sample: { name: string; kind?: BtfKind }[] = own.filter((_, i) => i % 7 === 0).map((t) => ({ name: t.name, kind: t.kind }));
    sample.push({ name: 'task_struct', kind: 'struct' }, { name: 'task_struct' }, { name: 'bpf_testmod_test_read_ctx', kind: 'struct' });
    crossCheck(mod, () => Btf.parse(modBytes, { base: Btf.parse(baseBytes) }), sample);
    const all = mod.findIdsByEssentialName('task_struct', ['struct']);
    expect(all.length).toBe(2);
    expect(mod.findIdsByEssentialName('task_struct', ['struct'], true)).toEqual(all.filter((id) => id >= mod.firstTypeId));
  });
});
