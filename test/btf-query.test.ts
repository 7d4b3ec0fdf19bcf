import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, BtfBuilder, BtfError, loadBtf } from '../btf/index.ts';
import { readElfSections } from './fixtures/btf/corpus.ts';
import { FIXTURES } from './fixtures/btf/corpus.ts';
import { codeOf } from './helpers/thrown.ts';

const code = (f: () => unknown) => codeOf(BtfError, f);

const core = loadBtf(readFileSync(join(FIXTURES, 'core.o'))).btf;

describe('query API on the CO-RE fixture', () => {
  const task = core.getByName('task', 'struct');

  it('decodes every kind', () => {
    const kinds = new Set([...core.types()].map((t) => t.kind));
    expect([...kinds].sort()).toEqual(
      ['array', 'const', 'datasec', 'decl_tag', 'enum', 'enum64', 'float', 'func', 'func_proto', 'fwd', 'int', 'ptr',
        'restrict', 'struct', 'type_tag', 'typedef', 'union', 'var', 'volatile'].sort(),
    );
  });

  it('names types like C', () => {
    const m = (n: string) => core.typeName(core.findMember(task.id, n)!.member.type);
    expect(m('pid')).toBe('u32');
    expect(m('counter')).toBe('volatile long');
    expect(m('comm')).toBe('const char *restrict');
    expect(m('in')).toBe('struct inner');
    expect(m('fwd')).toBe('struct fwd_only *');
    expect(m('fwdu')).toBe('union fwd_union *');
    expect(m('uptr')).toBe('int *');
    expect(m('sm')).toBe('enum small');
    expect(m('bg')).toBe('enum big');
    expect(m('cb')).toBe('int (*)(int, ...)');
    expect(core.typeName(core.findIdByName('helper'))).toBe('int helper(struct task *)');
    expect(core.typeName(core.findIdByName('global_counter'))).toBe('int global_counter');
    expect(core.typeName(core.findIdByName('LICENSE'))).toBe('char LICENSE[4]');
    expect(core.typeName(core.findIdByName('.maps', 'datasec'))).toBe('datasec .maps');
    expect(core.typeName(task.id)).toBe('struct task');
    expect(core.typeName(0)).toBe('void');
  });

  it('lays out members, bitfields and anonymous unions', () => {
    const a = core.findMember(task.id, 'flag_a')!;
    const b = core.findMember(task.id, 'flag_b')!;
    expect([a.bitOffset, a.member.bitfieldSize, b.bitOffset, b.member.bitfieldSize]).toEqual([32, 3, 35, 5]);
    const f = core.findMember(task.id, 'f')!; // inside the anonymous union
    expect(f.path.length).toBe(2);
    expect(core.typeName(f.member.type)).toBe('float');
    expect(f.bitOffset % 64).toBe(0);
    expect(core.findMember(task.id, 'nope')).toBeUndefined();
    const name = core.findMember(core.getByName('inner', 'struct').id, 'name')!;
    expect(name.bitOffset).toBe(32);
    expect(core.sizeOf(name.member.type)).toBe(16);
    expect(core.alignOf(name.member.type)).toBe(1);
    expect(core.sizeOf(task.id)).toBe(task.size);
    expect(core.alignOf(task.id)).toBe(8);
    expect(core.pointerSize).toBe(8);
  });

  it('resolves and classifies', () => {
    const pid = core.findMember(task.id, 'pid')!.member.type;
    expect(core.kindOf(pid)).toBe('typedef');
    expect(core.resolve(pid)).toMatchObject({ kind: 'int', name: 'unsigned int' });
    expect(core.skipQualifiers(core.findMember(task.id, 'counter')!.member.type).kind).toBe('int');
    const sm = core.getByName('small', 'enum');
    expect(sm.signed).toBe(true);
    expect(sm.values).toEqual([{ name: 'SMALL_A', value: -1 }, { name: 'SMALL_B', value: 2 }]);
    const big = core.getByName('big', 'enum64');
    expect(big.values.map((v) => v.value)).toEqual([0x1ffffffffn, 0xffffffff00000000n]);
    expect(code(() => core.sizeOf(core.findIdByName('helper')))).toBe('BTF_INVALID_TYPE');
    expect(code(() => core.sizeOf(core.getByName('fwd_only', 'fwd').id))).toBe('BTF_INVALID_TYPE');
    expect(code(() => core.typeById(-1))).toBe('BTF_NOT_FOUND');
    expect(code(() => core.typeById(1.5))).toBe('BTF_NOT_FOUND');
    expect(code(() => core.typeOfKind(task.id, 'union'))).toBe('BTF_INVALID_TYPE');
    expect(code(() => core.findByName('x', 'bogus' as never))).toBe('BTF_INVALID_TYPE');
    expect(core.findByName('')).toBeUndefined();
    expect(core.findString('task')).toBeGreaterThan(0);
    expect(core.stringAt(core.findString('task')!)).toBe('task');
    expect(core.findString('no such string at all')).toBeUndefined();
  });

  it('finds the lowest id first and all matches', () => {
    const b = new BtfBuilder();
    const i = b.add({ kind: 'int', name: 'dup', size: 4, encoding: 'none', bitOffset: 0, bits: 32 });
    const s = b.add({ kind: 'struct', name: 'dup', size: 0, members: [], kindFlag: false });
    const t = b.add({ kind: 'typedef', name: 'dup', type: i });
    const btf = b.build();
    expect(btf.findIdByName('dup')).toBe(i);
    expect(btf.findIdByName('dup', 'typedef')).toBe(t);
    expect(btf.findAllByName('dup').map((x) => x.id)).toEqual([i, s, t]);
    expect(btf.findAllByName('dup', 'struct').map((x) => x.id)).toEqual([s]);
    // Index state survives a mix of partial and full lookups.
    const fresh = b.build();
    expect(fresh.findIdByName('dup', 'struct')).toBe(s);
    expect(fresh.findIdByName('dup')).toBe(i);
    expect(fresh.findAllByName('dup').length).toBe(3);
    expect(fresh.findIdByName('dup', 'typedef')).toBe(t);
  });
});

describe('hostile input', () => {
  it('loops are BTF_LOOP, not hangs', () => {
    const b = new BtfBuilder();
    // 1: typedef a -> 2, 2: typedef b -> 1; 3: ptr -> 3; 4: struct containing itself by value; 5: array of itself
    b.add({ kind: 'typedef', name: 'a', type: 2 });
    b.add({ kind: 'typedef', name: 'b', type: 1 });
    b.add({ kind: 'ptr', name: '', type: 3 });
    b.add({ kind: 'struct', name: 's', size: 8, members: [{ name: 'me', type: 4, bitOffset: 0, bitfieldSize: 0 }], kindFlag: false });
    b.add({ kind: 'array', name: '', type: 5, indexType: 0, nelems: 1 });
    b.add({ kind: 'const', name: '', type: 6 });
    const btf = b.build();
    expect(code(() => btf.resolve(1))).toBe('BTF_LOOP');
    expect(code(() => btf.sizeOf(1))).toBe('BTF_LOOP');
    expect(code(() => btf.typeName(1))).toBe('BTF_LOOP'); // the cycle fails the typedef's decode
    expect(code(() => btf.typeName(6))).toBe('BTF_LOOP');
    expect(code(() => btf.typeName(5))).toBe('BTF_LOOP');
    expect(code(() => btf.typeName(3))).toBe('BTF_LOOP');
    expect(btf.sizeOf(3)).toBe(8);
    expect(code(() => btf.alignOf(4))).toBe('BTF_LOOP');
    expect(code(() => btf.alignOf(4))).toBe('BTF_LOOP'); // memo does not poison
    expect(code(() => btf.sizeOf(5))).toBe('BTF_LOOP');
    expect(code(() => btf.resolve(6))).toBe('BTF_LOOP');
    expect(code(() => btf.findMember(4, 'x'))).toBeUndefined();
  });

  it('header errors', () => {
    const raw = new Uint8Array(readElfSections(readFileSync(join(FIXTURES, 'core.o'))).section('.BTF')!);
    const dv = () => new DataView(raw.buffer);
    const mut = (f: (u: Uint8Array, d: DataView) => void) => {
      const u = new Uint8Array(raw);
      f(u, new DataView(u.buffer));
      return u;
    };
    void dv;
    expect(code(() => Btf.parse(raw.subarray(0, 4)))).toBe('BTF_TRUNCATED');
    expect(code(() => Btf.parse(mut((u) => (u[0] = 1))))).toBe('BTF_BAD_MAGIC');
    expect(code(() => Btf.parse(mut((u) => (u[2] = 2))))).toBe('BTF_BAD_VERSION');
    expect(code(() => Btf.parse(mut((_, d) => d.setUint32(20, 0xfffffff0, true))))).toBe('BTF_TRUNCATED');
    expect(code(() => Btf.parse(mut((_, d) => d.setUint32(12, 0xfffffff0, true))))).toBe('BTF_TRUNCATED');
    expect(code(() => Btf.parse(mut((_, d) => d.setUint32(4, 0xffffffff, true))))).toBe('BTF_TRUNCATED');
    expect(code(() => Btf.parse(mut((_, d) => d.setUint32(4, 4, true))))).toBe('BTF_MALFORMED');
    expect(code(() => Btf.parse(mut((_, d) => d.setUint32(24 + 4, (25 << 24) >>> 0, true))))).toBe('BTF_UNKNOWN_KIND');
    expect(code(() => Btf.parse(mut((_, d) => d.setUint32(24 + 4, ((4 << 24) | 0xffff) >>> 0, true))))).toBe('BTF_TRUNCATED');
    expect(code(() => Btf.parse(mut((u) => (u[u.length - 1] = 65))))).toBe('BTF_MALFORMED');
    const err = (() => {
      try {
        Btf.parse(mut((_, d) => d.setUint32(24 + 4, (25 << 24) >>> 0, true)));
      } catch (e) {
        return e as BtfError;
      }
    })()!;
    expect(err.message).toMatch(/type 1 has unknown kind 25/);
    expect(err.typeId).toBe(1);
    // A bad name offset fails when the type is decoded, not at parse (lazy).
    const lazy = Btf.parse(mut((_, d) => d.setUint32(24, 0xffffff, true)));
    expect(code(() => lazy.typeById(1))).toBe('BTF_MALFORMED');
  });
});
