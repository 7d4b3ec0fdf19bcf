/**
 * entries() and the typed walks read through BPF_MAP_LOOKUP_BATCH where the
 * map type and kernel allow (and fall back to get_next_key + lookup
 * otherwise); typed nextKey/keys and lookupPerCpuWith decode straight from
 * the scratch block.
 */
import { describe, expect } from 'vitest';
import { BpfMap, i32, possibleCpuCount, u32, u64 } from '../lib/index.ts';
import { setBpfBackend } from '../lib/testing.ts';
import { BpfCmd } from '../syscall/bpf.ts';
import { ktest } from './helpers/kernel.ts';
import { countingSyscalls, withMap } from './helpers/syscalls.ts';

const BATCH = new Set<number>([BpfCmd.MAP_LOOKUP_BATCH, BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH, BpfCmd.MAP_UPDATE_BATCH, BpfCmd.MAP_DELETE_BATCH]);

describe('batched iteration', () => {
  ktest('entries() of a hash map of 1,000 reads in batches, each entry once, entries safe to keep', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 1000 }, (m) => {
      for (let i = 0; i < 1000; i++) m.update(i, BigInt(i) * 7n);
      const { result, cmds } = countingSyscalls(() => [...m.entries()]);
      expect(cmds.every((c) => c === BpfCmd.MAP_LOOKUP_BATCH)).toBe(true);
      expect(cmds.length).toBeLessThanOrEqual(6);
      expect(result).toHaveLength(1000);
      const seen = new Map(result.map(([k, v]) => [k.readUInt32LE(), v.readBigUInt64LE()]));
      expect(seen.size).toBe(1000);
      for (let i = 0; i < 1000; i++) expect(seen.get(i)).toBe(BigInt(i) * 7n);
    });
  });

  ktest('typed entries(), keys() and nextKey() agree with the raw walk', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 300 }, (m) => {
      const t = m.typed(u32, u64);
      for (let i = 0; i < 300; i++) t.set(i, BigInt(i) + 2n ** 40n);
      const entries = new Map(t.entries());
      expect(entries.size).toBe(300);
      for (let i = 0; i < 300; i++) expect(entries.get(i)).toBe(BigInt(i) + 2n ** 40n);
      const keys = [...t.keys()];
      expect(new Set(keys)).toEqual(new Set(entries.keys()));
      const walked: number[] = [];
      for (let k = t.nextKey(); k !== undefined; k = t.nextKey(k)) walked.push(k);
      expect(walked).toEqual(keys);
      expect(new Map(t)).toEqual(entries);
    });
  });

  ktest('signed keys are encoded without a buffer per call', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 8 }, (m) => {
      const t = m.typed(i32, i32);
      t.set(-5, -7);
      t.set(3, 4);
      expect(t.get(-5)).toBe(-7);
      expect(new Map(t.entries())).toEqual(new Map([[-5, -7], [3, 4]]));
      expect(t.delete(-5)).toBe(true);
      expect([...t.keys()]).toEqual([3]);
    });
  });

  ktest('per-CPU maps: entries() batches every slot; lookupPerCpuWith decodes each CPU', () => {
    const ncpu = possibleCpuCount();
    withMap({ type: 'PERCPU_HASH', keySize: 4, valueSize: 8, maxEntries: 16 }, (m) => {
      m.updatePerCpu(1, Array.from({ length: ncpu }, (_, c) => BigInt(c + 10)));
      const { result } = countingSyscalls(() => [...m.entries()]);
      expect(result).toHaveLength(1);
      expect(result[0]![1].length).toBe(m.valueBytes);
      expect(m.lookupPerCpuWith(1, u64)).toEqual(Array.from({ length: ncpu }, (_, c) => BigInt(c + 10)));
      const out: bigint[] = [];
      expect(m.lookupPerCpuWith(1, u64, out)).toBe(out);
      expect(m.lookupPerCpuWith(2, u64)).toBeUndefined();
      expect(m.lookupPerCpu(1)!.map((b) => b.readBigUInt64LE())).toEqual(out);
    });
  });

  ktest('arrays batch too; a kernel without batch commands falls back to get_next_key', () => {
    withMap({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 600 }, (m) => {
      for (let i = 0; i < 600; i++) m.update(i, i * 3);
      const batched = countingSyscalls(() => [...m.typed(u32, u32).entries()]);
      expect(batched.result).toHaveLength(600);
      expect(batched.cmds.every((c) => c === BpfCmd.MAP_LOOKUP_BATCH)).toBe(true);
      const cmds: number[] = [];
      const prev = setBpfBackend((cmd, attr, size) => {
        cmds.push(cmd);
        return BATCH.has(cmd) ? -22 : prev(cmd, attr, size);
      });
      try {
        const old = [...m.entries()];
        expect(old).toHaveLength(600);
        expect(new Map(old.map(([k, v]) => [k.readUInt32LE(), v.readUInt32LE()]))).toEqual(new Map(batched.result));
      } finally {
        setBpfBackend(prev);
      }
      expect(cmds.filter((c) => c === BpfCmd.MAP_GET_NEXT_KEY).length).toBeGreaterThanOrEqual(600);
    });
  });

  ktest('4,096 entries: typed keys() and batched entries() see each once', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 4096 }, (m) => {
      for (let i = 0; i < 4096; i++) m.update(i, i);
      expect(new Set([...m.typed(u32, u32).keys()]).size).toBe(4096);
      expect([...m.entries()]).toHaveLength(4096);
    });
  });

  ktest('closing the map inside entries() ends the walk', () => {
    const m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 600 });
    for (let i = 0; i < 600; i++) m.update(i, i);
    let n = 0;
    for (const _ of m.entries()) {
      if (++n === 3) m.close();
    }
    expect(n).toBe(3);
  });
});
