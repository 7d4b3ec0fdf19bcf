import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, BtfBuilder, BtfError, dumpRaw, loadBtf, marshalBtf, type BtfTypeInput } from '../btf/index.ts';
import { readElfSections } from './fixtures/btf/corpus.ts';
import { FIXTURES, VMLINUX, TESTMOD, hasVmlinux, hasCilium, corpusElfs, corpusVmlinux, kernelModules } from './fixtures/btf/corpus.ts';

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('round trip: parse + marshal gives identical bytes', () => {
  it.skipIf(!hasVmlinux)('vmlinux (and kernel modules on top of it)', () => {
    const raw = readFileSync(VMLINUX);
    const btf = Btf.parse(raw);
    expect(same(marshalBtf(btf), raw)).toBe(true);
    for (const m of kernelModules()) {
      const mraw = readFileSync(m);
      expect(same(marshalBtf(Btf.parse(mraw, { base: btf })), mraw)).toBe(true);
    }
  });

  it.skipIf(!hasCilium)('cilium vmlinux.btf and btf_testmod (split)', () => {
    const raw = corpusVmlinux();
    const base = Btf.parse(raw);
    expect(same(marshalBtf(base), raw)).toBe(true);
    const mraw = readFileSync(TESTMOD);
    expect(same(marshalBtf(Btf.parse(mraw, { base })), mraw)).toBe(true);
  });

  const objects = [...corpusElfs(), join(FIXTURES, 'core.o'), join(FIXTURES, 'core-eb.o')];
  for (const f of objects) {
    const data = readElfSections(readFileSync(f)).section('.BTF');
    if (!data) continue;
    it(f.split('/').pop()!, () => {
      const btf = Btf.parse(data);
      expect(same(marshalBtf(btf), data)).toBe(true);
      // The other byte order, and back.
      const swapped = marshalBtf(btf, { littleEndian: !btf.littleEndian });
      const back = Btf.parse(swapped);
      expect(back.littleEndian).toBe(!btf.littleEndian);
      expect([...back.types()]).toEqual([...btf.types()]);
      expect(same(marshalBtf(back, { littleEndian: btf.littleEndian }), data)).toBe(true);
      if (/-eb\.(elf|o)$/.test(f)) {
        const twin = readElfSections(readFileSync(f.replace(/-eb\.(elf|o)$/, (_, x) => `-el.${x}`).replace('core-el.o', 'core.o'))).section('.BTF')!;
        expect(same(swapped, twin)).toBe(true);
      }
    });
  }
});

describe('BtfBuilder', () => {
  it('builds BTF from scratch', () => {
    const b = new BtfBuilder();
    const int = b.add({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 });
    const u8 = b.add({ kind: 'int', name: 'unsigned char', size: 1, encoding: 'none', bitOffset: 0, bits: 8 });
    const chr = b.add({ kind: 'int', name: 'char', size: 1, encoding: 'char', bitOffset: 0, bits: 8 });
    const arr = b.add({ kind: 'array', name: '', type: chr, indexType: int, nelems: 16 });
    const ptr = b.add({ kind: 'ptr', name: '', type: 0 });
    const s = b.add({
      kind: 'struct', name: 'ev', size: 32, kindFlag: false,
      members: [
        { name: 'pid', type: int, bitOffset: 0, bitfieldSize: 0 },
        { name: 'a', type: u8, bitOffset: 32, bitfieldSize: 3 },
        { name: 'b', type: u8, bitOffset: 35, bitfieldSize: 5 },
        { name: 'comm', type: arr, bitOffset: 64, bitfieldSize: 0 },
        { name: 'p', type: ptr, bitOffset: 192, bitfieldSize: 0 },
      ],
    });
    const e64 = b.add({ kind: 'enum64', name: 'big', size: 8, signed: false, values: [{ name: 'BIG', value: 0xffffffff00000000n }] });
    const proto = b.add({ kind: 'func_proto', name: '', returnType: int, params: [{ name: 'e', type: s }, { name: '', type: 0 }] });
    b.add({ kind: 'func', name: 'handler', type: proto, linkage: 'global' });
    b.add({ kind: 'decl_tag', name: 'tag', type: s, componentIdx: 1, kindFlag: false });
    for (const le of [true, false]) {
      const btf = b.build({ littleEndian: le });
      expect(btf.littleEndian).toBe(le);
      expect(btf.count).toBe(10);
      const ev = btf.getByName('ev', 'struct');
      expect(ev.kindFlag).toBe(true); // bitfields force the flag
      expect(ev.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize])).toEqual([
        ['pid', 0, 0], ['a', 32, 3], ['b', 35, 5], ['comm', 64, 0], ['p', 192, 0],
      ]);
      expect(btf.typeName(arr)).toBe('char[16]');
      expect(btf.typeName(ptr)).toBe('void *');
      expect(btf.typeName(proto)).toBe('int (struct ev, ...)');
      expect(btf.typeName(btf.findIdByName('handler'))).toBe('int handler(struct ev, ...)');
      expect(btf.typeById(e64)).toMatchObject({ values: [{ name: 'BIG', value: 0xffffffff00000000n }] });
      expect(btf.sizeOf(s)).toBe(32);
      expect(btf.alignOf(s)).toBe(8);
      expect(dumpRaw(btf)).toContain(`[${s}] STRUCT 'ev' size=32 vlen=5\n\t'pid' type_id=1 bits_offset=0\n\t'a' type_id=2 bits_offset=32 bitfield_size=3`);
    }
  });

  it('edits parsed BTF: sanitising kinds an old kernel rejects', () => {
    const obj = loadBtf(readFileSync(join(FIXTURES, 'core.o'))).btf;
    const b = BtfBuilder.from(obj);
    // libbpf-style sanitisation: DECL_TAG -> INT, TYPE_TAG -> CONST, FLOAT -> STRUCT, ENUM64 -> UNION.
    for (const t of b.types()) {
      let r: BtfTypeInput | undefined;
      switch (t.kind) {
        case 'decl_tag':
          r = { kind: 'int', name: t.name, size: 1, encoding: 'none', bitOffset: 0, bits: 8 };
          break;
        case 'type_tag':
          r = { kind: 'const', name: '', type: t.type };
          break;
        case 'float':
          r = { kind: 'struct', name: t.name, size: t.size, members: [], kindFlag: false };
          break;
        case 'enum64':
          r = { kind: 'union', name: t.name, size: t.size, members: [], kindFlag: false };
          break;
      }
      if (r) b.replace(t.id, r);
    }
    const out = b.build();
    expect(out.count).toBe(obj.count);
    const kinds = new Set([...out.types()].map((t) => t.kind));
    for (const k of ['decl_tag', 'type_tag', 'float', 'enum64']) expect(kinds.has(k as never)).toBe(false);
    // Strings were reused, not duplicated.
    expect(b.strings.length).toBe(obj.strings.length);
  });

  it('adds strings once and continues split BTF ids and strings from the base', () => {
    const base = loadBtf(readFileSync(join(FIXTURES, 'core.o'))).btf;
    const b = new BtfBuilder({ base });
    expect(b.firstTypeId).toBe(base.length);
    const int = base.findIdByName('int', 'int');
    const t1 = b.add({ kind: 'typedef', name: 'my_int', type: int });
    const t2 = b.add({ kind: 'typedef', name: 'task', type: base.findIdByName('task', 'struct') }); // 'task' is a base string
    b.add({ kind: 'ptr', name: '', type: t1 });
    expect(b.strings.add('my_int')).toBe(b.strings.add('my_int'));
    const split = b.build();
    expect(split.firstTypeId).toBe(base.length);
    expect(split.typeName(t1)).toBe('my_int');
    expect(split.resolve(t2).name).toBe('task');
    expect(split.strings.toString('latin1')).toBe('my_int\0');
    expect(split.findByName('my_int')!.id).toBe(t1);
    expect(split.findByName('task', 'struct')!.id).toBeLessThan(base.length);
  });

  it('rejects bad types with BtfError', () => {
    const b = new BtfBuilder();
    b.add({ kind: 'ptr', name: '', type: 5 });
    expect(() => b.marshal()).toThrow(BtfError);
    expect(() => b.replace(7, { kind: 'ptr', name: '', type: 0 })).toThrow(BtfError);
    const c = new BtfBuilder();
    c.add({ kind: 'struct', name: 's', size: 4, kindFlag: true, members: [{ name: 'x', type: 0, bitOffset: 1 << 24, bitfieldSize: 1 }] });
    expect(() => c.marshal()).toThrow(BtfError);
  });
});
