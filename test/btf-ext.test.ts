import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BtfError, CORE_RELO_KINDS, loadBtf, parseBtfExt, type BtfExt, type Btf } from '../btf/index.ts';
import { readElfSections } from './fixtures/btf/corpus.ts';
import { FIXTURES, corpusElfs } from './fixtures/btf/corpus.ts';

const CORE_C = join(FIXTURES, 'core.c');
const OBJDUMP = '/usr/bin/llvm-objdump-16';

/** Checks that hold for any valid .BTF.ext of an object: offsets inside sections, ids and strings valid. */
function sanity(elf: Uint8Array, btf: Btf, ext: BtfExt): void {
  const secs = readElfSections(elf);
  const size = (name: string) => {
    const s = secs.section(name);
    expect(s, `section ${name}`).toBeDefined();
    return s!.length;
  };
  for (const s of ext.funcInfo) {
    const n = size(s.name);
    let prev = -1;
    for (const r of s.records) {
      expect(r.insnOff % 8).toBe(0);
      expect(r.insnOff).toBeLessThan(n);
      expect(r.insnOff).toBeGreaterThan(prev);
      prev = r.insnOff;
      expect(btf.kindOf(r.typeId)).toBe('func');
    }
  }
  for (const s of ext.lineInfo) {
    const n = size(s.name);
    for (const r of s.records) {
      expect(r.insnOff % 8).toBe(0);
      expect(r.insnOff).toBeLessThan(n);
      expect(typeof r.fileName).toBe('string');
      expect(typeof r.lineText).toBe('string');
    }
  }
  for (const s of ext.coreRelos) {
    const n = size(s.name);
    for (const r of s.records) {
      expect(r.insnOff % 8).toBe(0);
      expect(r.insnOff).toBeLessThan(n);
      expect(r.typeId).toBeGreaterThan(0);
      expect(r.typeId).toBeLessThan(btf.length);
      expect(r.kindName).toBeDefined();
      expect(r.accessStr).toMatch(/^\d+(:\d+)*$/);
    }
  }
}

describe('BTF.ext of the CO-RE fixture', () => {
  const el = readFileSync(join(FIXTURES, 'core.o'));
  const eb = readFileSync(join(FIXTURES, 'core-eb.o'));
  const a = loadBtf(el);
  const b = loadBtf(eb);

  it('decodes func_info, line_info and every CO-RE relocation kind', () => {
    const ext = a.ext!;
    expect(ext.littleEndian).toBe(true);
    expect([ext.funcInfoRecSize, ext.lineInfoRecSize, ext.coreReloRecSize]).toEqual([8, 16, 16]);
    const fi = Object.fromEntries(ext.funcInfo.map((s) => [s.name, s.records.map((r) => a.btf.nameOf(r.typeId))]));
    expect(fi).toEqual({ 'kprobe/do_sys_open': ['probe'], '.text': ['helper'], 'tracepoint/syscalls/sys_enter_open': ['tp'] });
    const kinds = new Set(ext.coreRelos.flatMap((s) => s.records.map((r) => r.kindName)));
    expect([...kinds].sort()).toEqual([...CORE_RELO_KINDS].sort());
    const relos = ext.coreRelos.find((s) => s.name === 'kprobe/do_sys_open')!.records;
    const off = relos.find((r) => r.accessStr === '0:5:1')!;
    expect(off.kindName).toBe('field_byte_offset');
    expect(a.btf.typeName(off.typeId)).toBe('struct task');
    sanity(el, a.btf, ext);
  });

  it('line_info points at the right source lines', () => {
    const src = readFileSync(CORE_C, 'utf8').split('\n');
    let n = 0;
    for (const s of a.ext!.lineInfo) {
      for (const r of s.records) {
        expect(r.fileName!.endsWith('core.c')).toBe(true);
        if (r.line === 0) expect(r.lineText).toBe('');
        else expect(src[r.line - 1]).toBe(r.lineText);
        n++;
      }
    }
    expect(n).toBeGreaterThan(10);
  });

  it('big-endian twin decodes to the same records', () => {
    expect(b.ext!.littleEndian).toBe(false);
    const strip = (e: BtfExt) => ({ ...e, littleEndian: undefined });
    expect(strip(b.ext!)).toEqual(strip(a.ext!));
  });

  it.skipIf(!existsSync(OBJDUMP))('func_info agrees with the ELF symbol table (llvm-objdump)', () => {
    // "0000000000000000 g     F kprobe/do_sys_open	00000000000001b8 probe"
    const out = execFileSync(OBJDUMP, ['-t', join(FIXTURES, 'core.o')], { encoding: 'utf8' });
    const funcs = new Map<string, { sec: string; value: number }>();
    for (const line of out.split('\n')) {
      const m = /^([0-9a-f]{16})\s.*\bF\s+(\S+)\s+[0-9a-f]+\s+(\S+)$/.exec(line);
      if (m) funcs.set(m[3]!, { sec: m[2]!, value: parseInt(m[1]!, 16) });
    }
    let n = 0;
    for (const s of a.ext!.funcInfo) {
      for (const r of s.records) {
        const sym = funcs.get(a.btf.nameOf(r.typeId));
        expect(sym).toEqual({ sec: s.name, value: r.insnOff });
        n++;
      }
    }
    expect(n).toBe(funcs.size);
  });

  it('rejects malformed blobs with BtfError', () => {
    const ext = readElfSections(el).section('.BTF.ext')!;
    const copy = () => new Uint8Array(ext);
    const dv = (u: Uint8Array) => new DataView(u.buffer, u.byteOffset, u.byteLength);
    const cases: [string, (u: Uint8Array) => Uint8Array][] = [
      ['BTF_BAD_MAGIC', (u) => ((u[0] = 0), u)],
      ['BTF_TRUNCATED', (u) => u.subarray(0, 6)],
      ['BTF_TRUNCATED', (u) => u.subarray(0, u.length - 4)],
      ['BTF_TRUNCATED', (u) => (dv(u).setUint32(12, 0xfffffff0, true), u)],
      ['BTF_MALFORMED', (u) => (dv(u).setUint32(4, 8, true), u)],
      ['BTF_MALFORMED', (u) => (dv(u).setUint32(dv(u).getUint32(4, true) + dv(u).getUint32(8, true), 3, true), u)],
    ];
    for (const [code, mutate] of cases) {
      let err: unknown;
      try {
        parseBtfExt(mutate(copy()), a.btf);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BtfError);
      expect((err as BtfError).code).toBe(code);
    }
  });

  it('reads the known prefix of larger records', () => {
    // Rewrite the func_info block with 12-byte records (a future compiler adding a field).
    const ext = readElfSections(el).section('.BTF.ext')!;
    const d = new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
    const hdrLen = d.getUint32(4, true);
    const fiOff = hdrLen + d.getUint32(8, true);
    const fiLen = d.getUint32(12, true);
    const out: number[] = [12];
    for (let p = fiOff + 4; p < fiOff + fiLen; ) {
      const name = d.getUint32(p, true);
      const num = d.getUint32(p + 4, true);
      out.push(name, num);
      for (let i = 0; i < num; i++) out.push(d.getUint32(p + 8 + 8 * i, true), d.getUint32(p + 12 + 8 * i, true), 0xdeadbeef);
      p += 8 + 8 * num;
    }
    const blob = new Uint8Array(32 + out.length * 4);
    const w = new DataView(blob.buffer);
    w.setUint16(0, 0xeb9f, true);
    blob[2] = 1;
    w.setUint32(4, 32, true);
    w.setUint32(8, 0, true);
    w.setUint32(12, out.length * 4, true);
    out.forEach((v, i) => w.setUint32(32 + 4 * i, v, true));
    const parsed = parseBtfExt(blob, a.btf);
    expect(parsed.funcInfoRecSize).toBe(12);
    expect(parsed.funcInfo).toEqual(a.ext!.funcInfo);
    expect(parsed.lineInfo).toEqual([]);
    expect(parsed.coreRelos).toEqual([]);
  });
});

describe('BTF.ext of the cilium corpus', () => {
  for (const f of corpusElfs()) {
    const bytes = readFileSync(f);
    const secs = readElfSections(bytes);
    if (!secs.section('.BTF') || !secs.section('.BTF.ext')) continue;
    it(f.split('/').pop()!, () => {
      const { btf, ext } = loadBtf(bytes);
      expect(ext).toBeDefined();
      sanity(bytes, btf, ext!);
      if (f.endsWith('-eb.elf')) {
        const twin = loadBtf(readFileSync(f.replace(/-eb\.elf$/, '-el.elf'))).ext!;
        expect({ ...ext!, littleEndian: true }).toEqual(twin);
      }
    });
  }
});
