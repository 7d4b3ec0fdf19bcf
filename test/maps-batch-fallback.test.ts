/**
 * Batch operations on a kernel that predates them (before 5.6), simulated by a
 * backend that answers the batch commands with EINVAL, as such a kernel does
 * for any command it does not know, and forwards everything else to the real
 * kernel. In its own file: the library caches what it learns about the kernel
 * (that EINVAL from a batch on a kernel with batch ops is reported as such is
 * checked in maps-ops.test.ts).
 */
import { describe, expect } from 'vitest';
import { BpfMap } from '../lib/index.ts';
import { setBpfBackend, type BpfBackend } from '../lib/testing.ts';
import { BpfCmd } from '../syscall/bpf.ts';
import { ktest } from './helpers/kernel.ts';

const BATCH = new Set<number>([BpfCmd.MAP_LOOKUP_BATCH, BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH, BpfCmd.MAP_UPDATE_BATCH, BpfCmd.MAP_DELETE_BATCH]);

function withOldKernel<T>(fn: (cmds: number[]) => T): T {
  const cmds: number[] = [];
  const prev: BpfBackend = setBpfBackend((cmd, attr, size) => {
    cmds.push(cmd);
    return BATCH.has(cmd) ? -22 : prev(cmd, attr, size);
  });
  try {
    return fn(cmds);
  } finally {
    setBpfBackend(prev);
  }
}

const pack = (n: number, size: number, f: (i: number) => number) => {
  const b = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) b.writeUIntLE(f(i), i * size, size);
  return b;
};

describe('batch operations without kernel support', () => {
  ktest('fall back to element operations with the same results', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 64 });
    withOldKernel((cmds) => {
      expect(m.updateBatch(pack(40, 4, (i) => i), pack(40, 4, (i) => i * 10))).toBe(40);
      expect(cmds.filter((c) => c === BpfCmd.MAP_UPDATE_ELEM)).toHaveLength(40);
      const seen = new Map<number, number>();
      for (const { keys, values, count } of m.batches(16)) {
        for (let i = 0; i < count; i++) seen.set(keys.readUInt32LE(i * 4), values.readUInt32LE(i * 4));
      }
      expect(seen.size).toBe(40);
      for (const [k, v] of seen) expect(v).toBe(k * 10);
      expect(m.deleteBatch(pack(10, 4, (i) => i))).toBe(10);
      const cursor = { done: false };
      const kb = Buffer.alloc(64 * 4);
      const vb = Buffer.alloc(64 * 4);
      let drained = 0;
      while (!cursor.done) drained += m.lookupAndDeleteBatch(cursor, kb, vb);
      expect(drained).toBe(30);
    });
    expect(m.nextKey()).toBeUndefined();
  });

});
