/**
 * What an object file names is data: a map called '../x' must not pin
 * outside CollectionOptions.pinPath, control bytes and invalid UTF-8 are not
 * pinned as they are. And global variables take only values that fit them.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { Variable, loadCollection, setVariable } from '../bpf/loader/collection.ts';
import { badPinName } from '../bpf/pin.ts';
import type { Mapping } from '../syscall/mmap.ts';
import { BPFFS } from './helpers/env.ts';
import { ktest, pintest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const BPF_DIR = new URL('./bpf/', import.meta.url).pathname;
const obj = (name: string) => join(BPF_DIR, `${name}.o`);

/** loader_pinning.o with its map renamed (in the ELF symbol table and the BTF strings alike) to `name` (14 bytes). */
function renamedPinObject(name: Buffer): Buffer {
  const orig = Buffer.from('ld_pin_counter');
  expect(name.length).toBe(orig.length);
  const b = Buffer.from(readFileSync(obj('loader_pinning')));
  let n = 0;
  for (let i = b.indexOf(orig); i >= 0; i = b.indexOf(orig, i + 1), n++) name.copy(b, i);
  expect(n).toBeGreaterThan(0);
  return b;
}

describe('pinning by name with hostile names', () => {
  let parent = '';
  let dir = '';
  beforeAll(() => {
    if (!existsSync(BPFFS) || process.getuid?.() !== 0) return;
    try {
      // parent/dir, so that '../x' from dir lands in parent (ours to inspect and remove).
      parent = mkdtempSync(join(BPFFS, `tsbpf-hostile-${process.pid}-`));
      dir = mkdtempSync(join(parent, 'pins-'));
    } catch {
      parent = dir = '';
    }
  });
  afterAll(() => {
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  const hostile: Array<[string, Buffer]> = [
    ["'../' escapes the pin path", Buffer.from('../ld_pin_cntr')],
    ['a control byte', Buffer.from('ld_pin\x1bcounter', 'latin1')],
    ['invalid UTF-8', Buffer.concat([Buffer.from('ld_pin_'), Buffer.from([0xff, 0xfe]), Buffer.from('unter')])],
  ];
  for (const [what, name] of hostile) {
    pintest(`a map name with ${what} is refused with a PinPathError; nothing is pinned anywhere`, () => {
      const spec = loadCollectionSpec(renamedPinObject(name), { name: 'hostile' });
      const [mapName] = Object.keys(spec.maps).filter((k) => spec.maps[k]!.pinning === 'by-name');
      expect(mapName).toBeDefined();
      const e = thrown(() => loadCollection(spec, { pinPath: dir }).close());
      expect(e.name).toBe('PinPathError');
      expect(e.code).toBe('BAD_PIN_PATH');
      expect(e.message).toMatch(/pinning by name/);
      expect(readdirSync(dir)).toEqual([]);
      expect(readdirSync(parent).filter((n) => !n.startsWith('pins-'))).toEqual([]);
    });
  }

  ktest('badPinName: what a pin name may not contain', () => {
    for (const n of ['', '.', '..', '../x', 'a/b', 'a\0b', 'a\nb', 'a\x7fb', 'a\ufffdb', 'a\ud800b', 'x.y']) expect(badPinName(n), JSON.stringify(n)).toBeDefined();
    for (const n of ['ld_pin_counter', 'maps_π', 'x-y']) expect(badPinName(n), n).toBeUndefined();
  });
});

describe('global variables take values that fit', () => {
  ktest('setVariable: out of range for the BTF type (u32) and non-numbers are refused; the initial bytes stay', () => {
    const spec = loadCollectionSpec(obj('loader'));
    const data = spec.maps['.rodata']!.data!;
    const v = spec.variables.ro_magic!;
    const bytes = () => Buffer.from(data.subarray(v.offset, v.offset + v.size));
    const was = bytes();
    for (const bad of [2 ** 40, 2 ** 32, -1, 1.5, NaN, 2n ** 32n, -1n]) {
      expect(thrown(() => setVariable(spec, 'ro_magic', bad as number), String(bad)).code).toBe('OUT_OF_RANGE');
    }
    expect(thrown(() => setVariable(spec, 'ro_magic', '1' as never)).code).toBe('BAD_VALUE');
    expect(bytes()).toEqual(was);
    setVariable(spec, 'ro_magic', 0xffff_ffff);
    expect(bytes().readUInt32LE()).toBe(0xffff_ffff);
  });

  ktest('Variable.set: a u16 refuses 70000 and strings; a loaded u32/u64 refuses what does not fit', () => {
    const buf = new ArrayBuffer(8);
    const fake = { buffer: buf } as unknown as Mapping;
    const u16var = new Variable({ name: 'port', map: '.data', offset: 2, size: 2 }, () => fake, true, false);
    for (const bad of [70000, 65536, -1, 1.5, 2n ** 16n]) expect(thrown(() => u16var.set(bad), String(bad)).code).toBe('OUT_OF_RANGE');
    expect(thrown(() => u16var.set('1' as never)).code).toBe('BAD_VALUE');
    expect(new Uint8Array(buf)).toEqual(new Uint8Array(8));
    u16var.set(65535);
    expect(new DataView(buf).getUint16(2, true)).toBe(65535);

    using c = loadCollection(loadCollectionSpec(obj('loader')));
    const d = c.variables.data_var!; // __u64
    const before = d.get();
    for (const bad of [-1n, 2n ** 64n, -1, 2 ** 64]) expect(thrown(() => d.set(bad), String(bad)).code).toBe('OUT_OF_RANGE');
    expect(thrown(() => d.set('1' as never)).code).toBe('BAD_VALUE');
    expect(d.get()).toEqual(before);
    d.set(2n ** 64n - 1n);
    expect(d.get()).toBe(2n ** 64n - 1n);
  });
});
