/**
 * Map operations against the real kernel: update flags and their errors,
 * iteration (also while the map changes), batch operations and their
 * fallback, per-CPU batches, BPF_F_LOCK, freeze, size checks before any
 * syscall, integer keys and values, typed views.
 */
import { describe, expect } from 'vitest';
import { BpfError, IterationRestartedError, MapFlags, MapSizeError, NotSupportedError, UpdateFlags, ValueRangeError, possibleCpuCount, u32, u64, u8, type BatchCursor, type MapSpec } from '../lib/index.ts';
import { BpfCmd } from '../syscall/bpf.ts';
import { ktest } from './helpers/kernel.ts';
import { skipIfNotSupported } from './helpers/kernel-features.ts';
import { kernelAtLeast, notSupported, since } from '../bpf/features.ts';
import { thrown } from './helpers/thrown.ts';
import { countingSyscalls, thrownBeforeSyscall, withMap } from './helpers/syscalls.ts';

/** BPF_MAP_LOOKUP_AND_DELETE_ELEM on hash maps (5.14; the VM matrix's 5.10 predates it). */
const HASH_LOOKUP_AND_DELETE = kernelAtLeast(since('lookupAndDelete on hash maps')!);

const hash = (maxEntries: number, valueSize = 8, name = 'h'): MapSpec => ({ type: 'HASH', keySize: 4, valueSize, maxEntries, name });

function packU32(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v, i * 4));
  return b;
}

function packU64(values: bigint[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
  return b;
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('element operations', () => {
  ktest('update ANY / NOEXIST / EXIST and their errors with hints', () => {
    withMap(hash(8), (m) => {
      m.update(1, 1n, 'NOEXIST');
      const e1 = thrown(() => m.update(1, 2n, 'NOEXIST'));
      expect(e1).toBeInstanceOf(BpfError);
      expect(e1).toMatchObject({ code: 'EEXIST', errno: 17, command: 'BPF_MAP_UPDATE_ELEM', object: 'h' });
      expect((e1 as BpfError).hint).toMatch(/already exists/);
      expect(m.lookup(1)!.readBigUInt64LE()).toBe(1n);
      const e2 = thrown(() => m.update(2, 2n, 'EXIST'));
      expect(e2).toMatchObject({ code: 'ENOENT', errno: 2 });
      expect((e2 as BpfError).hint).toMatch(/does not exist/);
      expect(m.has(2)).toBe(false);
      m.update(1, 3n, 'EXIST');
      m.update(1, 4n, UpdateFlags.ANY);
      m.update(2, 5n); // ANY by default
      expect(m.lookup(1)!.readBigUInt64LE()).toBe(4n);
      expect(m.lookup(2)!.readBigUInt64LE()).toBe(5n);
    });
  });

  ktest('a full hash fails with E2BIG and says "full"; an array index past the end says "out of range"', () => {
    withMap(hash(4), (m) => {
      for (let i = 0; i < 4; i++) m.update(i, BigInt(i));
      const e = thrown(() => m.update(99, 0n));
      expect(e).toMatchObject({ code: 'E2BIG', errno: 7 });
      expect(e.message).toMatch(/full/);
      m.update(3, 33n); // replacing works when full
      expect(m.lookup(3)!.readBigUInt64LE()).toBe(33n);
    });
    withMap({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 4 }, (m) => {
      const e = thrown(() => m.update(4, 0));
      expect(e.code).toBe('E2BIG');
      expect(e.message).toMatch(/out of range/);
      expect(thrown(() => m.update(0, 0, 'NOEXIST')).code).toBe('EEXIST'); // array slots always exist
    });
  });

  ktest('missing keys: lookup undefined, has false, delete false, lookupAndDelete undefined', () => {
    withMap(hash(8), (m) => {
      expect(m.lookup(5)).toBeUndefined();
      expect(m.has(5)).toBe(false);
      expect(m.delete(5)).toBe(false);
      if (HASH_LOOKUP_AND_DELETE) expect(m.lookupAndDelete(5)).toBeUndefined();
      else expect(thrown(() => m.lookupAndDelete(5))).toMatchObject({ code: 'NOT_SUPPORTED', feature: 'lookupAndDelete on hash maps', since: '5.14' });
      expect(m.lookupWith(5, u64)).toBeUndefined();
    });
  });

  ktest('lookupAndDelete returns the value and removes the key', async (ctx) => {
    if (!HASH_LOOKUP_AND_DELETE) skipIfNotSupported(ctx, notSupported('lookupAndDelete on hash maps'));
    withMap(hash(8), (m) => {
      m.update(5, 0xfeedn);
      expect(m.lookupAndDelete(5)!.readBigUInt64LE()).toBe(0xfeedn);
      expect(m.has(5)).toBe(false);
      m.update(6, 7n);
      const out = Buffer.alloc(8);
      expect(m.lookupAndDelete(6, out)).toBe(out);
      expect(out.readBigUInt64LE()).toBe(7n);
      expect(m.lookupAndDelete(6)).toBeUndefined();
    });
  });

  ktest('nextKey: from undefined gives the first key, from the last gives undefined', () => {
    withMap(hash(8), (m) => {
      expect(m.nextKey()).toBeUndefined(); // empty
      m.update(42, 1n);
      const first = m.nextKey()!;
      expect(first.readUInt32LE()).toBe(42);
      expect(m.nextKey(first)).toBeUndefined();
      m.update(43, 1n);
      const a = m.nextKey()!;
      const b = m.nextKey(a)!;
      expect(new Set([a.readUInt32LE(), b.readUInt32LE()])).toEqual(new Set([42, 43]));
      expect(m.nextKey(b)).toBeUndefined();
      const out = Buffer.alloc(4);
      expect(m.nextKey(undefined, out)).toBe(out);
      expect(out).toEqual(a);
    });
    withMap({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 3 }, (m) => {
      expect(m.nextKey()!.readUInt32LE()).toBe(0);
      expect(m.nextKey(0)!.readUInt32LE()).toBe(1);
      expect(m.nextKey(2)).toBeUndefined();
    });
  });

  ktest('BPF_F_LOCK on a map without a spin lock is a typed EINVAL', () => {
    withMap(hash(8), (m) => {
      m.update(1, 1n);
      const e = thrown(() => m.update(1, 2n, 'LOCK'));
      expect(e).toBeInstanceOf(BpfError);
      expect(e).toMatchObject({ code: 'EINVAL', command: 'BPF_MAP_UPDATE_ELEM' });
      const l = thrown(() => m.lookup(1, Buffer.alloc(8), UpdateFlags.LOCK));
      expect(l).toMatchObject({ code: 'EINVAL', command: 'BPF_MAP_LOOKUP_ELEM' });
      expect(m.lookup(1)!.readBigUInt64LE()).toBe(1n);
    });
  });

  ktest('freeze: user-space writes fail with EPERM, lookups still work', () => {
    withMap(hash(8), (m) => {
      m.update(1, 10n);
      m.freeze();
      const e = thrown(() => m.update(1, 11n));
      expect(e).toBeInstanceOf(BpfError);
      expect(e).toMatchObject({ code: 'EPERM', command: 'BPF_MAP_UPDATE_ELEM' });
      expect((e as BpfError).hint).toMatch(/frozen/);
      expect(thrown(() => m.update(2, 1n)).code).toBe('EPERM');
      expect(thrown(() => m.delete(1)).code).toBe('EPERM');
      expect(m.lookup(1)!.readBigUInt64LE()).toBe(10n);
      expect([...m.keys()].length).toBe(1);
      // Already frozen: 6.18 sees a read-only map (EPERM); 5.10 and 6.1 check `frozen` first (EBUSY).
      expect(['EPERM', 'EBUSY']).toContain(thrown(() => m.freeze()).code);
    });
  });
});

describe('iteration', () => {
  ktest('keys() and entries() over 10,000 entries see each exactly once', () => {
    const n = 10_000;
    withMap(hash(n), (m) => {
      expect(m.updateBatch(packU32(range(n)), packU64(range(n).map((i) => BigInt(i) * 3n)))).toBe(n);
      const seen = new Set<number>();
      let count = 0;
      for (const k of m.keys()) {
        seen.add(k.readUInt32LE());
        count++;
      }
      expect(count).toBe(n);
      expect(seen.size).toBe(n);
      const values = new Map<number, bigint>();
      for (const [k, v] of m.entries()) values.set(k.readUInt32LE(), v.readBigUInt64LE());
      expect(values.size).toBe(n);
      for (let i = 0; i < n; i += 997) expect(values.get(i)).toBe(BigInt(i) * 3n);
      expect([...values.values()].reduce((a, b) => a + b, 0n)).toBe((BigInt(n) * BigInt(n - 1) / 2n) * 3n);
      let viaIterator = 0;
      for (const _ of m) viaIterator++;
      expect(viaIterator).toBe(n);
    });
  });

  ktest('deleting the current key inside keys() deletes everything without repeats', () => {
    const n = 10_000;
    withMap(hash(n, 4), (m) => {
      m.updateBatch(packU32(range(n)), packU32(range(n)));
      const seen = new Set<number>();
      for (const k of m.keys()) {
        const v = k.readUInt32LE();
        expect(seen.has(v)).toBe(false);
        seen.add(v);
        expect(m.delete(k)).toBe(true);
      }
      expect(seen.size).toBe(n);
      expect(m.nextKey()).toBeUndefined();
    });
  });

  ktest('deleting the current key inside entries() deletes everything too', () => {
    withMap(hash(1000, 4), (m) => {
      m.updateBatch(packU32(range(1000)), packU32(range(1000, 5000)));
      let count = 0;
      for (const [k, v] of m.entries()) {
        expect(v.readUInt32LE()).toBe(k.readUInt32LE() + 5000);
        m.delete(k);
        count++;
      }
      expect(count).toBe(1000);
      expect(m.nextKey()).toBeUndefined();
    });
  });

  /*
   * Observed on Linux 6.18 (hash maps): get_next_key on a key that is gone
   * restarts from the first key of the map. So:
   *  - deleting the key the walk will visit next (its successor) makes the
   *    walk restart; tsbpf notices and throws IterationRestartedError
   *    (code ITERATION_RESTARTED);
   *  - deleting other keys (ahead of or behind the walk) just completes, each
   *    key seen at most once, the deleted ones never or before their deletion;
   *  - under churn that keeps the map full while restarting the walk, the walk
   *    stops after max_entries keys with code ITERATION_ABORTED.
   * In no case does the loop run forever.
   */
  ktest('deleting the successor of the current key: IterationRestartedError, no repeats', () => {
    withMap(hash(1000, 4), (m) => {
      m.updateBatch(packU32(range(1000)), packU32(range(1000)));
      const seen: number[] = [];
      const e = thrown(() => {
        for (const k of m.keys()) {
          seen.push(k.readUInt32LE());
          const next = m.nextKey(k);
          if (next) m.delete(next);
        }
      });
      expect(e).toBeInstanceOf(IterationRestartedError);
      expect(e.code).toBe('ITERATION_RESTARTED');
      expect(new Set(seen).size).toBe(seen.length);
    });
  });

  ktest('deleting other keys concurrently terminates and never yields a key twice', () => {
    const n = 10_000;
    for (let round = 0; round < 5; round++) {
      withMap(hash(n, 4), (m) => {
        m.updateBatch(packU32(range(n)), packU32(range(n)));
        const seen = new Set<number>();
        let yielded = 0;
        let outcome = 'completed';
        try {
          let i = 0;
          for (const k of m.keys()) {
            seen.add(k.readUInt32LE());
            yielded++;
            m.delete((i++ * 7919 + round * 101 + 13) % n); // some other key, ahead or behind
          }
        } catch (e) {
          outcome = (e as { code?: string }).code ?? String(e);
        }
        expect(['completed', 'ITERATION_RESTARTED', 'ITERATION_ABORTED']).toContain(outcome);
        expect(yielded).toBeLessThanOrEqual(n);
        expect(seen.size).toBe(yielded); // no silent repeats
      });
    }
  });

  ktest('churn that keeps restarting the walk ends with ITERATION_RESTARTED or ITERATION_ABORTED', () => {
    withMap(hash(1000, 4), (m) => {
      m.updateBatch(packU32(range(1000)), packU32(range(1000)));
      let fresh = 100_000;
      let yielded = 0;
      const e = thrown(() => {
        for (const k of m.keys()) {
          yielded++;
          // Delete the first key and the successor, insert two new keys: the map stays full.
          const first = m.nextKey()!;
          const next = m.nextKey(k);
          if (next && m.delete(next)) m.update(fresh++, 0, 'NOEXIST');
          if (!first.equals(k) && m.delete(first)) m.update(fresh++, 0, 'NOEXIST');
        }
      });
      expect(['ITERATION_RESTARTED', 'ITERATION_ABORTED']).toContain(e.code);
      expect(yielded).toBeLessThanOrEqual(1000);
    });
  });
});

describe('batch operations', () => {
  ktest('HASH: updateBatch, lookupBatch, deleteBatch, lookupAndDeleteBatch with exact counts and contents', () => {
    const n = 1000;
    withMap(hash(1024), (m) => {
      const keys = packU32(range(n, 1));
      const values = packU64(range(n, 1).map((i) => BigInt(i) << 20n));
      expect(m.updateBatch(keys, values)).toBe(n);
      expect(m.updateBatch(keys.subarray(0, 40), values.subarray(0, 80), 'ANY', 10)).toBe(10);
      // Read everything in batches of 128.
      const got = new Map<number, bigint>();
      let steps = 0;
      for (const { keys: kb, values: vb, count } of m.batches(128)) {
        steps++;
        expect(count).toBeLessThanOrEqual(128);
        for (let i = 0; i < count; i++) got.set(kb.readUInt32LE(i * 4), vb.readBigUInt64LE(i * 8));
      }
      expect(steps).toBeGreaterThanOrEqual(Math.ceil(n / 128));
      expect(got.size).toBe(n);
      for (let i = 1; i <= n; i++) expect(got.get(i)).toBe(BigInt(i) << 20n);
      // The kernel takes no NOEXIST/EXIST in batch element flags (only BPF_F_LOCK): EINVAL.
      for (const f of ['NOEXIST', 'EXIST'] as const) {
        const e = thrown(() => m.updateBatch(keys.subarray(0, 4), values.subarray(0, 8), f));
        expect(e).toMatchObject({ code: 'EINVAL', command: 'BPF_MAP_UPDATE_BATCH' });
      }
      // Delete the first 100.
      expect(m.deleteBatch(keys.subarray(0, 400))).toBe(100);
      expect(m.has(1)).toBe(false);
      expect(m.has(101)).toBe(true);
      // Deleting a missing key fails with ENOENT.
      expect(thrown(() => m.deleteBatch(keys.subarray(0, 4))).code).toBe('ENOENT');
      // Drain the rest.
      const cursor: BatchCursor = { done: false };
      const kb = Buffer.alloc(256 * 4);
      const vb = Buffer.alloc(256 * 8);
      const drained = new Map<number, bigint>();
      while (!cursor.done) {
        const c = m.lookupAndDeleteBatch(cursor, kb, vb);
        for (let i = 0; i < c; i++) drained.set(kb.readUInt32LE(i * 4), vb.readBigUInt64LE(i * 8));
      }
      expect(drained.size).toBe(n - 100);
      for (let i = 101; i <= n; i++) expect(drained.get(i)).toBe(BigInt(i) << 20n);
      expect(m.nextKey()).toBeUndefined();
      // A finished cursor reads nothing more.
      expect(m.lookupBatch(cursor, kb, vb)).toBe(0);
    });
  });

  ktest('HASH: a batch smaller than a bucket is ENOSPC with a hint; the cursor can go on with a larger batch', () => {
    withMap(hash(1000, 4), (m) => {
      m.updateBatch(packU32(range(1000)), packU32(range(1000)));
      const cursor: BatchCursor = { done: false };
      const kb = Buffer.alloc(64 * 4);
      const vb = Buffer.alloc(64 * 4);
      const seen = new Set<number>();
      let err: (Error & { code?: string }) | undefined;
      while (!cursor.done && !err) {
        try {
          const c = m.lookupBatch(cursor, kb, vb, 1);
          for (let i = 0; i < c; i++) seen.add(kb.readUInt32LE(i * 4));
        } catch (e) {
          err = e as Error;
        }
      }
      // 1000 keys in 1024 buckets: some bucket holds two keys, which a batch of one cannot take.
      expect(err).toBeInstanceOf(BpfError);
      expect(err!.code).toBe('ENOSPC');
      expect((err as BpfError).hint).toMatch(/larger batch/);
      expect(cursor.done).toBe(false);
      while (!cursor.done) {
        const c = m.lookupBatch(cursor, kb, vb, 64);
        for (let i = 0; i < c; i++) seen.add(kb.readUInt32LE(i * 4));
      }
      expect(seen.size).toBe(1000);
    });
  });

  ktest('ARRAY: updateBatch and lookupBatch; deletes are refused with typed errors', () => {
    withMap({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 100, name: 'arr' }, (m) => {
      expect(m.updateBatch(packU32(range(50, 25)), packU64(range(50, 25).map((i) => BigInt(i * i))))).toBe(50);
      const got: bigint[] = [];
      for (const { keys, values, count } of m.batches(32)) {
        for (let i = 0; i < count; i++) {
          expect(keys.readUInt32LE(i * 4)).toBe(got.length);
          got.push(values.readBigUInt64LE(i * 8));
        }
      }
      expect(got.length).toBe(100);
      got.forEach((v, i) => expect(v).toBe(i >= 25 && i < 75 ? BigInt(i * i) : 0n));
      // The kernel has no delete batch for arrays (ENOTSUPP); the element-wise fallback reports why.
      const d = thrown(() => m.deleteBatch(packU32([1])));
      expect(d).toMatchObject({ code: 'EINVAL', command: 'BPF_MAP_DELETE_ELEM' });
      expect((d as BpfError).hint).toMatch(/cannot be deleted/);
      const ld = thrown(() => m.lookupAndDeleteBatch({ done: false }, Buffer.alloc(16), Buffer.alloc(32)));
      expect(ld).toBeInstanceOf(BpfError);
      expect(ld.code).toBe('ENOTSUPP');
      expect(m.lookup(30)!.readBigUInt64LE()).toBe(900n);
      // Out of range in a batch.
      expect(thrown(() => m.updateBatch(packU32([100]), packU64([1n]))).code).toBe('E2BIG');
    });
  });

  ktest('per-CPU values in batches: one 8-byte slot per possible CPU', () => {
    const ncpu = possibleCpuCount();
    for (const type of ['PERCPU_HASH', 'PERCPU_ARRAY'] as const) {
      withMap({ type, keySize: 4, valueSize: 4, maxEntries: 16 }, (m) => {
        const n = 10;
        const values = Buffer.alloc(n * m.valueBytes);
        for (let i = 0; i < n; i++) for (let c = 0; c < ncpu; c++) values.writeUInt32LE(i * 100 + c, i * m.valueBytes + c * 8);
        expect(m.updateBatch(packU32(range(n)), values)).toBe(n);
        for (let i = 0; i < n; i++) expect(m.lookupPerCpu(i)!.map((b) => b.readUInt32LE())).toEqual(range(ncpu, i * 100));
        const kb = Buffer.alloc(16 * 4);
        const vb = Buffer.alloc(16 * m.valueBytes);
        const total = m.lookupBatch({ done: false }, kb, vb, 16);
        expect(total).toBe(type === 'PERCPU_ARRAY' ? 16 : n);
        for (let j = 0; j < total; j++) {
          const k = kb.readUInt32LE(j * 4);
          for (let c = 0; c < ncpu; c++) {
            expect(vb.readUInt32LE(j * m.valueBytes + c * 8)).toBe(k < n ? k * 100 + c : 0);
          }
        }
        // A values buffer sized for valueSize instead of valueBytes is refused before any syscall.
        expect(thrownBeforeSyscall(() => m.updateBatch(packU32(range(n)), Buffer.alloc(n * 4))).code).toBe('BAD_SIZE');
      });
    }
  });

  /*
   * Batch support per map type (Linux 6.18): HASH family and ARRAY family have
   * batch ops (arrays lack delete and lookup-and-delete batches: ENOTSUPP);
   * LPM_TRIE has lookup/update/delete batches but no lookup-and-delete batch;
   * QUEUE, STACK, BLOOM_FILTER and the fd maps (DEVMAP, ...) have none. On
   * ENOTSUPP tsbpf falls back to element-wise operations; for maps without
   * keys, which cannot be walked, it throws NotSupportedError.
   */
  ktest('LPM_TRIE: lookup/update/delete batches from the kernel; lookup-and-delete batch falls back and fails clearly', () => {
    withMap({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16, flags: MapFlags.NO_PREALLOC }, (m) => {
      const keys = Buffer.alloc(3 * 8);
      [8, 16, 24].forEach((len, i) => {
        keys.writeUInt32LE(len, i * 8);
        keys.set([10, 1, 2, 0], i * 8 + 4);
      });
      expect(m.updateBatch(keys, packU32([8, 16, 24]))).toBe(3);
      const kb = Buffer.alloc(8 * 8);
      const vb = Buffer.alloc(8 * 4);
      const read = countingSyscalls(() => m.lookupBatch({ done: false }, kb, vb, 8));
      expect(read.result).toBe(3);
      expect(read.cmds[0]).toBe(BpfCmd.MAP_LOOKUP_BATCH);
      const vals = range(3).map((i) => vb.readUInt32LE(i * 4)).sort((a, b) => a - b);
      expect(vals).toEqual([8, 16, 24]);
      // No lookup-and-delete batch (ENOTSUPP); the element-wise fallback meets the same
      // refusal for single elements and reports it, deleting nothing.
      const drain = countingSyscalls(() => thrown(() => m.lookupAndDeleteBatch({ done: false }, kb, vb, 8)));
      expect(drain.cmds[0]).toBe(BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH);
      expect(drain.results[0]).toBe(-524);
      expect(drain.result).toBeInstanceOf(BpfError);
      expect(drain.result).toMatchObject({ code: 'ENOTSUPP', command: 'BPF_MAP_LOOKUP_AND_DELETE_ELEM' });
      expect([...m.keys()].length).toBe(3);
      const del = countingSyscalls(() => m.deleteBatch(keys.subarray(0, 16)));
      expect(del.result).toBe(2);
      // 5.10's LPM trie has no batch delete: the element-wise fallback does it.
      expect(del.cmds).toEqual(kernelAtLeast('6.1') ? [BpfCmd.MAP_DELETE_BATCH] : expect.arrayContaining([BpfCmd.MAP_DELETE_BATCH]));
      expect([...m.keys()]).toEqual([keys.subarray(16, 24)]);
    });
  });

  ktest('DEVMAP: no batch ops in the kernel; lookupBatch falls back to get_next_key + lookup', () => {
    withMap({ type: 'DEVMAP', keySize: 4, valueSize: 4, maxEntries: 8 }, (m) => {
      m.update(2, 1);
      m.update(5, 1);
      const kb = Buffer.alloc(8 * 4);
      const vb = Buffer.alloc(8 * 4);
      const r = countingSyscalls(() => m.lookupBatch({ done: false }, kb, vb, 8));
      expect(r.results[0]).toBe(-524);
      expect(r.result).toBe(2);
      expect([kb.readUInt32LE(0), kb.readUInt32LE(4)]).toEqual([2, 5]);
      expect([vb.readUInt32LE(0), vb.readUInt32LE(4)]).toEqual([1, 1]);
    });
  });

  ktest('QUEUE: no batch ops; updateBatch pushes one by one, lookupBatch is NotSupportedError', () => {
    withMap({ type: 'QUEUE', keySize: 0, valueSize: 4, maxEntries: 8 }, (m) => {
      const r = countingSyscalls(() => m.updateBatch(Buffer.alloc(0), packU32([7, 8, 9]), 0, 3));
      expect(r.results[0]).toBe(-524);
      expect(r.result).toBe(3);
      expect(m.pop()!.readUInt32LE()).toBe(7);
      const e = thrown(() => m.lookupBatch({ done: false }, Buffer.alloc(0), Buffer.alloc(32), 8));
      expect(e).toBeInstanceOf(NotSupportedError);
      expect(e.code).toBe('NOT_SUPPORTED');
      expect(m.pop()!.readUInt32LE()).toBe(8); // nothing was consumed
    });
  });
});

describe('sizes and integer encoding', () => {
  ktest('wrong key and value sizes are refused with MapSizeError before any syscall', () => {
    withMap(hash(8), (m) => {
      const cases: Array<() => unknown> = [
        () => m.lookup(Buffer.alloc(3)),
        () => m.has(Buffer.alloc(5)),
        () => m.update(Buffer.alloc(3), 1n),
        () => m.update(1, Buffer.alloc(4)),
        () => m.update(1, Buffer.alloc(9)),
        () => m.delete(Buffer.alloc(8)),
        () => m.lookupAndDelete(Buffer.alloc(2)),
        () => m.nextKey(Buffer.alloc(1)),
        () => m.lookup(1, Buffer.alloc(4)), // output buffer too small
        () => m.lookupAndDelete(1, Buffer.alloc(16)),
        () => m.updateBatch(Buffer.alloc(8), Buffer.alloc(8)), // two keys, one value
        () => m.lookupBatch({ done: false }, Buffer.alloc(8), Buffer.alloc(8), 2),
        () => m.deleteBatch(Buffer.alloc(8), 3),
        () => m.typed(u8, u64),
        () => m.typed(u32, u32),
      ];
      for (const c of cases) {
        const e = thrownBeforeSyscall(c);
        expect(e).toBeInstanceOf(MapSizeError);
        expect(e.code).toBe('BAD_SIZE');
      }
    });
    withMap({ type: 'QUEUE', keySize: 0, valueSize: 4, maxEntries: 2 }, (m) => {
      m.push(1);
      for (const c of [() => m.push(Buffer.alloc(2)), () => m.pop(Buffer.alloc(3)), () => m.peek(Buffer.alloc(8))]) {
        expect(thrownBeforeSyscall(c)).toBeInstanceOf(MapSizeError);
      }
      expect(m.pop()!.readUInt32LE()).toBe(1); // the bad pop did not consume the element
    });
  });

  ktest('numbers and bigints as 1, 2, 4 and 8-byte keys and values (little-endian, unsigned)', () => {
    const cases: Array<[number, Array<number | bigint>, (b: Buffer) => bigint]> = [
      [1, [0, 1, 0x7f, 0xff, 200n], (b) => BigInt(b.readUInt8())],
      [2, [0, 0x1234, 0xffff, 0xbeefn], (b) => BigInt(b.readUInt16LE())],
      [4, [0, 0xdeadbeef, 0xffff_ffff, 0x1234_5678n], (b) => BigInt(b.readUInt32LE())],
      [8, [0, 2 ** 53 - 1, 0xffff_ffff_ffff_ffffn, 0x0123_4567_89ab_cdefn], (b) => b.readBigUInt64LE()],
    ];
    for (const [size, values, read] of cases) {
      withMap({ type: 'HASH', keySize: size, valueSize: size, maxEntries: 16 }, (m) => {
        for (const v of values) {
          const expected = BigInt.asUintN(size * 8, BigInt(v));
          m.update(v, v);
          const got = m.lookup(v)!;
          expect(got.length).toBe(size);
          expect(read(got)).toBe(expected);
          // The same key given as bytes finds the element.
          const kb = Buffer.alloc(size);
          for (let i = 0; i < size; i++) kb[i] = Number((expected >> BigInt(8 * i)) & 0xffn);
          expect(m.has(kb)).toBe(true);
          expect(m.nextKey(kb) === undefined || m.nextKey(kb)!.length === size).toBe(true);
        }
      });
    }
  });

  ktest('out-of-range, negative and non-integer numbers are refused before any syscall', () => {
    const bad: Array<[number, number | bigint]> = [
      [1, 256],
      [1, -129],
      [1, -1],
      [1, -3n],
      [2, -1],
      [4, -1],
      [4, -2n],
      [8, -1],
      [8, -5],
      [8, -(2n ** 63n)],
      [8, 2 ** 53],
      [1, 256n],
      [2, 0x1_0000],
      [2, -0x8001],
      [4, 2 ** 32],
      [4, -(2 ** 31) - 1],
      [4, 2n ** 32n],
      [4, 1.5],
      [4, NaN],
      [8, 2n ** 64n],
      [8, -(2n ** 63n) - 1n],
      [8, 2 ** 64],
      [8, 0.5],
    ];
    for (const [size, v] of bad) {
      withMap({ type: 'HASH', keySize: size, valueSize: size, maxEntries: 4 }, (m) => {
        expect(thrownBeforeSyscall(() => m.update(v, 0), `${size}-byte key ${v}`)).toBeInstanceOf(ValueRangeError);
        expect(thrownBeforeSyscall(() => m.update(0, v), `${size}-byte value ${v}`)).toBeInstanceOf(ValueRangeError);
        expect(thrownBeforeSyscall(() => m.lookup(v), `${size}-byte lookup key ${v}`)).toBeInstanceOf(ValueRangeError);
      });
    }
    // A 3-byte key cannot be given as a number.
    withMap({ type: 'HASH', keySize: 3, valueSize: 4, maxEntries: 4 }, (m) => {
      expect(thrownBeforeSyscall(() => m.update(1, 1)).message).toMatch(/Uint8Array/);
      m.update(Buffer.from([1, 2, 3]), 9);
      expect(m.lookup(Buffer.from([1, 2, 3]))!.readUInt32LE()).toBe(9);
    });
  });

  ktest('typed() with u32 keys and u64 values', () => {
    withMap(hash(16), (m) => {
      const t = m.typed(u32, u64);
      t.set(1, 2n ** 63n + 5n);
      t.set(2, 7n);
      expect(t.get(1)).toBe(2n ** 63n + 5n);
      expect(t.get(3)).toBeUndefined();
      expect(m.lookup(2)!.readBigUInt64LE()).toBe(7n); // the same bytes seen untyped
      expect(() => t.set(2, 8n, 'NOEXIST')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(new Map(t.entries())).toEqual(new Map([[1, 2n ** 63n + 5n], [2, 7n]]));
      expect(t.delete(1)).toBe(true);
      expect(t.delete(1)).toBe(false);
      expect([...t.entries()]).toEqual([[2, 7n]]);
    });
  });

  ktest('updateWith() on a per-CPU map writes the value to every CPU; typed() refuses per-CPU maps', () => {
    const ncpu = possibleCpuCount();
    withMap({ type: 'PERCPU_ARRAY', keySize: 4, valueSize: 4, maxEntries: 4 }, (m) => {
      m.updatePerCpu(1, range(ncpu, 7)); // leaves distinct per-CPU bytes in the scratch block
      m.updateWith(0, 5, u32);
      expect(m.lookupPerCpu(0)!.map((b) => b.readUInt32LE())).toEqual(Array(ncpu).fill(5));
      expect(m.lookupPerCpu(1)!.map((b) => b.readUInt32LE())).toEqual(range(ncpu, 7));
      // A codec would decode CPU 0's slot only.
      expect((thrownBeforeSyscall(() => m.typed(u32, u32)) as { code?: string }).code).toBe('WRONG_MAP_TYPE');
    });
  });
});
