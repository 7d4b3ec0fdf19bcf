/**
 * Programs and links opened from what they are not, testRun options checked
 * before the kernel sees them, and a program too complex to verify: reported
 * as E2BIG, with the verifier run at most twice (counted through the bpf(2)
 * backend seam, on the real kernel).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { afterAll, describe, expect } from 'vitest';
import { BpfMap } from '../bpf/maps/map.ts';
import { Program } from '../bpf/programs/program.ts';
import { FdLink } from '../bpf/link/link.ts';
import { VerifierError } from '../bpf/programs/verifier.ts';
import { asm, encodeInsns, Op, type Insn } from '../bpf/programs/insn.ts';
import { BpfCmd, setBpfBackend, type BpfBackend } from '../syscall/bpf.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { fdCount } from './helpers/env.ts';
import { ktest, pintest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ret0 = () => Program.load({ name: 'ret0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });

describe('from* checks what the fd is', () => {
  pintest('Program.fromPin refuses a pinned map, FdLink.fromPin a pinned program', () => {
    const dir = mkdtempSync('/sys/fs/bpf/tsbpf-hard-');
    dirs.push(dir);
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    using p = ret0();
    m.pin(`${dir}/m`);
    p.pin(`${dir}/p`);
    expect(thrown(() => Program.fromPin(`${dir}/m`)).code).toBe('NOT_A_PROGRAM');
    expect(thrown(() => FdLink.fromPin(`${dir}/p`)).code).toBe('NOT_A_LINK');
    expect(thrown(() => FdLink.fromPin(`${dir}/m`)).code).toBe('NOT_A_LINK');
    // A real link pin opens as a link, and is refused as a program.
    using coll = loadCollection(loadCollectionSpec(resolve(__dirname, 'bpf/loader.o')));
    const link = coll.attachAll().count_getpid!;
    link.pin(`${dir}/l`);
    expect(thrown(() => Program.fromPin(`${dir}/l`)).code).toBe('NOT_A_PROGRAM');
    using l = FdLink.fromPin(`${dir}/l`);
    expect(l.info().id).toBe(link.info().id);
    l.close();
    using again = Program.fromPin(`${dir}/p`);
    expect(again.info().id).toBe(p.info().id);
    again.close();
  });

  ktest('Program.fromFd refuses a map fd and a non-BPF fd; FdLink.fromFd a program fd', () => {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    using p = ret0();
    const before = { fds: fdCount(), owned: ownedFdCount() };
    const e = thrown(() => Program.fromFd(m.fd));
    expect(e.code).toBe('NOT_A_PROGRAM');
    expect(e.message).toContain('a BPF map');
    expect(thrown(() => Program.fromFd(0)).code).toBe('NOT_A_PROGRAM');
    expect(thrown(() => FdLink.fromFd(p.fd)).code).toBe('NOT_A_LINK');
    using q = Program.fromFd(p.fd);
    expect(q.type).toBe(p.type);
    q.close();
    expect({ fds: fdCount(), owned: ownedFdCount() }).toEqual(before);
  });
});

describe('testRun options', () => {
  ktest('every size, count and flag is checked with a typed error', () => {
    using p = ret0();
    const data = new Uint8Array(64);
    for (const bad of [
      { ctxOutSize: -1 },
      { ctxOutSize: 1.5 },
      { dataOutSize: -1 },
      { dataOutSize: 2 ** 40 },
      { data, dataOutSize: Number.NaN },
      { data, repeat: -1 },
      { data, repeat: 2 ** 32 },
      { data, cpu: -2 },
      { data, flags: 0.5 },
      { data: [1, 2, 3] as unknown as Uint8Array },
      { ctx: 'x' as unknown as Uint8Array },
    ]) {
      const e = thrown(() => p.testRun(bad), JSON.stringify(bad));
      expect(e.code, JSON.stringify(bad)).toBe('BAD_OPTION');
    }
    // Still usable, and an explicit small out buffer is what the kernel is told.
    expect(p.testRun({ data }).retval).toBe(0);
    expect(p.testRun({ data, dataOutSize: 128 }).data?.byteLength).toBe(64);
  });

  ktest('load options are checked too', () => {
    const spec = { name: 'ret0', type: 'SOCKET_FILTER' as const, instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' };
    expect(thrown(() => Program.load(spec, { maxLogSize: Number.NaN })).code).toBe('BAD_OPTION');
    expect(thrown(() => Program.load(spec, { maxLogSize: 2 ** 31 })).code).toBe('BAD_OPTION');
    expect(thrown(() => Program.load(spec, { logLevel: 3 as 1 })).code).toBe('BAD_OPTION');
  });
});

/** r0 counts to ten million one at a time: bounded, but far past the verifier's 1M-instruction budget. */
function tooComplex(): Uint8Array {
  const jlt = (dst: number, imm: number, off: number): Insn => ({ code: Op.JMP | 0xa0 | Op.K, dst, src: 0, off, imm });
  return encodeInsns([asm.mov64Imm(0, 0), asm.add64Imm(0, 1), jlt(0, 10_000_000, -2), asm.mov64Imm(0, 0), asm.exit()]);
}

describe('a program too complex to verify', () => {
  ktest(
    'is E2BIG with the verifier summary, after at most two verifier runs',
    () => {
      let loads = 0;
      const real: BpfBackend = setBpfBackend(undefined);
      setBpfBackend((cmd, attr, size) => {
        if (cmd === BpfCmd.PROG_LOAD) loads++;
        return real(cmd, attr, size);
      });
      let e: VerifierError;
      try {
        e = thrown(() => Program.load({ name: 'too_complex', type: 'SOCKET_FILTER', instructions: tooComplex(), license: 'GPL' }));
      } finally {
        setBpfBackend(real);
      }
      expect(e).toBeInstanceOf(VerifierError);
      expect(e.code).toBe('E2BIG');
      expect(e.message).toContain('too large or too complex');
      expect(e.summary).toMatch(/BPF program is too large|processed \d+ insns/i);
      expect(e.hint).toContain('1M instructions');
      expect(loads).toBeLessThanOrEqual(2);
    },
    { timeout: 120_000 },
  );

  ktest(
    'alwaysLog: the verdict is still E2BIG, not ENOSPC, in at most two runs',
    () => {
      let loads = 0;
      const real: BpfBackend = setBpfBackend(undefined);
      setBpfBackend((cmd, attr, size) => {
        if (cmd === BpfCmd.PROG_LOAD) loads++;
        return real(cmd, attr, size);
      });
      let e: VerifierError;
      try {
        e = thrown(() => Program.load({ name: 'too_complex', type: 'SOCKET_FILTER', instructions: tooComplex(), license: 'GPL' }, { alwaysLog: true, maxLogSize: 1 << 20 }));
      } finally {
        setBpfBackend(real);
      }
      expect(e.code).toBe('E2BIG');
      expect(e.truncated).toBe(true);
      expect(loads).toBeLessThanOrEqual(2);
    },
    { timeout: 120_000 },
  );
});
