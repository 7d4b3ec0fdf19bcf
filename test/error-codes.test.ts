/**
 * Error codes: the one union ErrorCode (errors.ts) covers the errno names the
 * syscall layer reports, and the sites that threw a plain Error now throw a
 * TsbpfError with a code. The @ts-expect-error lines are checked by
 * `npm run typecheck`: a code outside the union does not compile.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { ERRNO_NAMES, type ErrnoName, type ErrorCode } from '../errors.ts';
import { BpfError, ElfError, MapSizeError, NotSupportedError, TsbpfError } from '../lib/index.ts';
import { coldAttr } from '../syscall/attr.ts';
import { parseCpuList } from '../syscall/cpus.ts';
import { errnoName } from '../syscall/errno.ts';
import { PROT_READ, mmapFd } from '../syscall/mmap.ts';
import { RingMapping } from '../syscall/mmap.ts';
import { resolveAttachType, resolveProgType, type AttachTypeName, type ProgTypeName } from '../bpf/programs/types.ts';
import { thrown } from './helpers/thrown.ts';

// Compiled, never run: what the types accept and refuse.
export function typeChecks(): ErrorCode[] {
  // @ts-expect-error a code outside the union
  new TsbpfError('NO_SUCH_CODE', 'x');
  // @ts-expect-error ElfError takes ELF codes only
  new ElfError('BTF_MALFORMED', 'x');
  // @ts-expect-error BpfError hints are keyed by errno name
  new BpfError('BPF_MAP_CREATE', 1, { hints: { ENOSPCC: 'x' } });
  const size: 'BAD_SIZE' = new MapSizeError('x').code;
  const errno: ErrnoName = new BpfError('BPF_MAP_CREATE', 1).code;
  const feature: 'NOT_SUPPORTED' = new NotSupportedError('x').code;
  return [size, errno, feature];
}

describe('error codes', () => {
  it('ERRNO_NAMES holds every name of the C library errno table, so errnoName reports only union members', () => {
    const table = koffi.os.errno as Record<string, number>;
    const known = new Set<string>(ERRNO_NAMES);
    expect(Object.keys(table).filter((n) => !known.has(n))).toEqual([]);
    for (const value of Object.values(table)) expect(known.has(errnoName(value))).toBe(true);
  });

  it('former plain Error throws carry a code', () => {
    expect(thrown(() => parseCpuList('0-x'))).toMatchObject({ code: 'BAD_CPU_LIST', message: "bad CPU list '0-x'" });
    expect(thrown(() => resolveProgType('NOPE' as ProgTypeName))).toMatchObject({ code: 'UNKNOWN_PROGRAM_TYPE', message: "unknown program type 'NOPE'" });
    expect(thrown(() => resolveAttachType('NOPE' as AttachTypeName))).toMatchObject({ code: 'UNKNOWN_ATTACH_TYPE', message: "unknown attach type 'NOPE'" });
    const big = thrown(() => coldAttr(1 << 20));
    expect(big).toBeInstanceOf(TsbpfError);
    expect(big.code).toBe('ATTR_TOO_LARGE');
  });

  it('a mapping used after unmap throws UNMAPPED (plain mmap and ring mapping of a file)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-codes-'));
    const file = join(dir, 'page');
    writeFileSync(file, Buffer.alloc(4096));
    const fd = openSync(file, 'r');
    try {
      const m = mmapFd(fd, 4096, PROT_READ);
      expect(m.buffer.byteLength).toBe(4096);
      m.unmap();
      expect(thrown(() => m.buffer)).toMatchObject({ code: 'UNMAPPED', message: 'tsbpf: mapping used after unmap' });
      const r = RingMapping.map(fd, 4096, PROT_READ, 0, 'mmap');
      r.release();
      expect(thrown(() => r.buffer)).toMatchObject({ code: 'UNMAPPED', message: 'tsbpf: ring mapping used after release' });
      for (const e of [thrown(() => m.buffer), thrown(() => r.buffer)]) expect(e).toBeInstanceOf(TsbpfError);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });
});
