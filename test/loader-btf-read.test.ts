/**
 * readBtfFile: /sys/kernel/btf files mapped read-only (Linux 6.16+) or read,
 * other files read; the bytes are the file's either way, and stay valid for
 * as long as they are reachable.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf } from '../btf/btf.ts';
import { dropKernelBtfCache, kernelBtf, readBtfFile } from '../bpf/btf/kernel.ts';
import { VMLINUX, hasVmlinux } from './fixtures/btf/corpus.ts';

describe('readBtfFile', () => {
  it.skipIf(!hasVmlinux)('gives the bytes of /sys/kernel/btf/vmlinux, past the mapping cap too', () => {
    const want = readFileSync(VMLINUX);
    // More calls than live mappings are allowed: later ones are copies.
    const all = Array.from({ length: 40 }, () => readBtfFile(VMLINUX));
    for (const b of all) expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(want)).toBe(true);
    const btf = Btf.parse(all[0]!);
    expect(btf.findByName('task_struct', 'struct')?.kind).toBe('struct');
  });

  it.skipIf(!hasVmlinux)('backs kernelBtf(), which outlives a dropped cache', () => {
    dropKernelBtfCache();
    const k = kernelBtf();
    dropKernelBtfCache();
    const k2 = kernelBtf();
    expect(k2 === k).toBe(false); // not .not.toBe: vitest would format both Btfs
    expect(k.typeName(k.findIdByName('task_struct', 'struct'))).toBe('struct task_struct');
    expect(k.length).toBe(k2.length);
  });

  it('reads other files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-btf-'));
    try {
      const p = join(dir, 'x.btf');
      writeFileSync(p, Buffer.from([1, 2, 3]));
      expect([...readBtfFile(p)]).toEqual([1, 2, 3]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
