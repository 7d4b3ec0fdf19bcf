import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, BtfError, dumpRaw, dumpJson, loadBtf, type BtfType } from '../btf/index.ts';
import {
  VMLINUX, TESTMOD, hasVmlinux, hasCilium, hasBpftool, corpusElfs, corpusVmlinux, kernelModules, bpftool,
} from './fixtures/btf/corpus.ts';

describe.skipIf(!hasVmlinux)('vmlinux', () => {
  const buf = readFileSync(VMLINUX);
  const btf = Btf.parse(buf);

  it('parses every type', () => {
    expect(btf.count).toBeGreaterThan(1000);
    expect(btf.firstTypeId).toBe(1);
    expect(btf.length).toBe(btf.count + 1);
    let n = 0;
    for (const t of btf.types({ cache: false })) {
      expect(t.id).toBe(btf.firstTypeId + n++);
    }
    expect(n).toBe(btf.count);
  });

  it('finds and lays out task_struct', () => {
    const ts = btf.findByName('task_struct', 'struct')!;
    expect(ts).toBeDefined();
    expect(ts.kind).toBe('struct');
    expect(btf.typeName(ts.id)).toBe('struct task_struct');
    expect(btf.sizeOf(ts.id)).toBe(ts.size);
    expect(btf.alignOf(ts.id)).toBeGreaterThanOrEqual(8);
    const comm = btf.findMember(ts.id, 'comm')!;
    expect(btf.typeName(comm.member.type)).toBe('char[16]');
    expect(comm.bitOffset % 8).toBe(0);
    const pid = btf.findMember(ts.id, 'pid')!;
    expect(btf.typeName(pid.member.type)).toBe('pid_t');
    expect(btf.resolve(pid.member.type)).toMatchObject({ kind: 'int', name: 'int', size: 4, encoding: 'signed' });
    expect(btf.findByName('task_struct', 'union')).toBeUndefined();
    expect(btf.findAllByName('task_struct').map((t) => t.kind)).toContain('struct');
    expect(btf.getByName('task_struct').id).toBe(ts.id);
    expect(() => btf.getByName('no_such_type_xyz')).toThrow(BtfError);
  });

  it('has bitfields, enums, functions', () => {
    const ts = btf.getByName('task_struct', 'struct');
    expect(ts.members.some((m) => m.bitfieldSize > 0)).toBe(true);
    const f = btf.getByName('vfs_read', 'func');
    expect(f.kind).toBe('func');
    expect(btf.kindOf(f.type)).toBe('func_proto');
    const e = btf.getByName('bpf_cmd', 'enum');
    expect(e.values[0]).toEqual({ name: 'BPF_MAP_CREATE', value: 0 });
    expect(btf.typeById(0).kind).toBe('void');
    expect(() => btf.typeById(btf.length)).toThrow(BtfError);
  });

  it.skipIf(!hasBpftool)('raw and JSON dumps equal bpftool byte for byte', () => {
    const raw = bpftool(['btf', 'dump', 'file', VMLINUX]);
    expect(raw).toBeDefined();
    expect(dumpRaw(btf) === raw).toBe(true);
    const json = bpftool(['-j', 'btf', 'dump', 'file', VMLINUX]);
    expect(dumpJson(btf) === json).toBe(true);
  });
});

describe.skipIf(!hasCilium)('cilium corpus', () => {
  const elfs = corpusElfs();
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-btf-'));

  it('split BTF (btf_testmod on vmlinux.btf)', () => {
    const base = Btf.parse(corpusVmlinux());
    const mod = Btf.parse(readFileSync(TESTMOD), { base });
    expect(mod.base).toBe(base);
    expect(mod.firstTypeId).toBe(base.length);
    for (const t of mod.types()) expect(t.id).toBeGreaterThanOrEqual(base.length);
    if (hasBpftool) {
      const basePath = join(tmp, 'vmlinux.btf');
      writeFileSync(basePath, corpusVmlinux());
      expect(dumpRaw(base) === bpftool(['btf', 'dump', 'file', basePath])).toBe(true);
      expect(dumpRaw(mod) === bpftool(['btf', 'dump', 'file', TESTMOD, '-B', basePath])).toBe(true);
      expect(dumpJson(mod) === bpftool(['-j', 'btf', 'dump', 'file', TESTMOD, '-B', basePath])).toBe(true);
    }
  });

  for (const f of elfs) {
    const name = f.split('/').pop()!;
    it(`${name}`, () => {
      const bytes = readFileSync(f);
      let loaded;
      try {
        loaded = loadBtf(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(BtfError);
        expect((e as BtfError).code).toBe('BTF_NO_BTF');
        return;
      }
      const { btf } = loaded;
      const el = f.replace(/-eb\.elf$/, '-el.elf');
      if (hasBpftool) {
        expect(dumpRaw(btf)).toBe(bpftool(['btf', 'dump', 'file', el]));
        expect(dumpJson(btf)).toBe(bpftool(['-j', 'btf', 'dump', 'file', el]));
      }
      if (el !== f) {
        const twin = loadBtf(readFileSync(el)).btf;
        expect(btf.littleEndian).toBe(false);
        expect(twin.littleEndian).toBe(true);
        const all = (b: Btf) => [...b.types()] as BtfType[];
        expect(all(btf)).toEqual(all(twin));
      }
    });
  }
});

describe('kernel modules', () => {
  const mods = kernelModules();
  it.skipIf(!mods.length || !hasVmlinux)('parse as split BTF and dump like bpftool', () => {
    const base = Btf.parse(readFileSync(VMLINUX));
    for (const m of mods) {
      const btf = Btf.parse(readFileSync(m), { base });
      expect(btf.firstTypeId).toBe(base.length);
      if (hasBpftool) expect(dumpRaw(btf) === bpftool(['btf', 'dump', 'file', m, '-B', VMLINUX])).toBe(true);
    }
  });
});

describe('tsbpf btf dump', async () => {
  const { btfDump, btfDumpCommand } = await import('../lib/commands/btf.ts');
  const core = new URL('./fixtures/btf/core.o', import.meta.url).pathname;

  it.skipIf(!hasBpftool)('raw and json formats equal bpftool for an object', () => {
    expect(btfDump(core)).toBe(bpftool(['btf', 'dump', 'file', core]));
    expect(btfDump(core, { format: 'json' })).toBe(bpftool(['-j', 'btf', 'dump', 'file', core]));
  });

  it.skipIf(!hasCilium || !hasBpftool)('--base for split BTF', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-btf-'));
    const basePath = join(tmp, 'vmlinux.btf');
    writeFileSync(basePath, corpusVmlinux());
    expect(btfDump(TESTMOD, { base: basePath }) === bpftool(['btf', 'dump', 'file', TESTMOD, '-B', basePath])).toBe(true);
  });

  it('reports errors as BtfError and bad usage as exit code 2', async () => {
    expect(() => btfDump('/nonexistent/file')).toThrow(BtfError);
    expect(() => btfDump(core, { format: 'yaml' as never })).toThrow(BtfError);
    const err = process.stderr.write;
    process.stderr.write = (() => true) as never;
    try {
      // Bad usage is a UsageError, which the dispatcher prints with the usage line and exits 2 for.
      await expect(btfDumpCommand.run([])).rejects.toMatchObject({ code: 'USAGE' });
      await expect(btfDumpCommand.run([core, '--format', 'yaml'])).rejects.toMatchObject({ code: 'USAGE' });
      await expect(btfDumpCommand.run([core, '--base'])).rejects.toMatchObject({ code: 'USAGE' });
    } finally {
      process.stderr.write = err;
    }
  });
});
