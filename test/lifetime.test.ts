/**
 * Lifetime: fds come back. The process's fd count (/proc/self/fd) and the
 * library's own count of owned fds return to their baseline after thousands of
 * create/close cycles, after failed creates and opens, and after walks that
 * were abandoned half-way.
 */
import { openSync, closeSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { BpfMap, BtfHandle, MapFlags, type MapSpec } from '../lib/index.ts';
import { pageSize } from '../syscall/mmap.ts';
import { tinyIntBtf } from '../bpf/btf/handle.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const assorted: MapSpec[] = [
  { type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 64, name: 'lt_hash' },
  { type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 64, name: 'lt_array' },
  { type: 'PERCPU_ARRAY', keySize: 4, valueSize: 4, maxEntries: 8 },
  { type: 'LRU_HASH', keySize: 4, valueSize: 4, maxEntries: 16 },
  { type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16, flags: MapFlags.NO_PREALLOC },
  { type: 'QUEUE', keySize: 0, valueSize: 4, maxEntries: 4 },
  { type: 'BLOOM_FILTER', keySize: 0, valueSize: 4, maxEntries: 16 },
  { type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 },
  {
    type: 'ARRAY_OF_MAPS',
    keySize: 4,
    valueSize: 4,
    maxEntries: 4,
    name: 'lt_outer',
    innerMap: { type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 4 },
  },
  { type: 'HASH_OF_MAPS', keySize: 4, valueSize: 4, maxEntries: 4, innerMap: { type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 } },
];

function baseline(): { fds: number; owned: number } {
  return { fds: fdCount(), owned: ownedFdCount() };
}

function expectBaseline(b: { fds: number; owned: number }): void {
  expect(ownedFdCount()).toBe(b.owned);
  expect(fdCount()).toBe(b.fds);
}

describe('fd lifetime', () => {
  ktest('5,000 create/close cycles of assorted map types (maps of maps included) leak no fd', () => {
    const ring = assorted.find((s) => s.type === 'RINGBUF')!;
    ring.maxEntries = pageSize();
    // Warm up: first use binds libc, allocates the shared attr block, probes.
    for (const s of assorted) BpfMap.create(s).close();
    const b = baseline();
    for (let i = 0; i < 5000; i++) {
      const m = BpfMap.create(assorted[i % assorted.length]!);
      if (i % 7 === 0) m.close(); // sometimes twice
      m.close();
    }
    expectBaseline(b);
  });

  ktest('a map of maps closes its template inner map at once; inserted maps live on in the outer map', () => {
    const s = assorted.find((x) => x.type === 'ARRAY_OF_MAPS')!;
    BpfMap.create(s).close();
    const b = baseline();
    const outer = BpfMap.create(s);
    expect(ownedFdCount()).toBe(b.owned + 1); // only the outer map's fd
    expect(fdCount()).toBe(b.fds + 1);
    const inner = BpfMap.create(s.innerMap!);
    inner.update(1, 42);
    outer.update(0, inner);
    const id = inner.info().id;
    inner.close();
    // The outer map holds the inner one: it can still be opened by id.
    const again = outer.innerMap(0)!;
    expect(again.info().id).toBe(id);
    expect(again.lookup(1)!.readUInt32LE()).toBe(42);
    again.close();
    outer.close();
    expectBaseline(b);
  });

  ktest('failed creates and opens leak no fd', () => {
    const file = openSync('/proc/self/status', 'r');
    const btfBlob = tinyIntBtf();
    const btfObj = BtfHandle.load(btfBlob);
    const failing: Array<() => unknown> = [
      () => BpfMap.create({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16 }), // no NO_PREALLOC: EINVAL
      () => BpfMap.create({ type: 999, keySize: 4, valueSize: 4, maxEntries: 1 }), // NotSupportedError
      () => BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 0 }), // EINVAL
      () => BpfMap.create({ type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 1000 }), // EINVAL
      // The template inner map is created, then the outer map fails: the template must be closed.
      () => BpfMap.create({ type: 'ARRAY_OF_MAPS', keySize: 8, valueSize: 4, maxEntries: 1, innerMap: { type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 } }),
      // The template inner map itself fails.
      () => BpfMap.create({ type: 'HASH_OF_MAPS', keySize: 4, valueSize: 4, maxEntries: 1, innerMap: { type: 'HASH', keySize: 0, valueSize: 4, maxEntries: 1 } }),
      // Local storage with BTF, bad type ids (index SLOW).
      () => {
        using btf = BtfHandle.load(btfBlob);
        return BpfMap.create(
          { type: 'SK_STORAGE', keySize: 4, valueSize: 4, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfKeyTypeId: 7, btfValueTypeId: 7 },
          { btfFd: btf.fd },
        );
      },
      () => BtfHandle.load(new Uint8Array(64)), // rejected BTF, retried with a log
      () => BpfMap.fromId(0x7fff_fff0), // ENOENT
      () => BpfMap.fromFd(file), // a duplicate is made, then info fails: the duplicate must be closed
      () => BpfMap.fromFd(100_000), // EBADF on dup
      () => BpfMap.fromFd(btfObj.fd), // NOT_A_MAP: the duplicate must be closed
      () => BpfMap.fromPin('/sys/fs/bpf/tsbpf-does-not-exist'),
    ];
    const SLOW = 6;
    try {
      for (const f of failing) {
        try {
          f();
        } catch {
          /* expected */
        }
      }
      const b = baseline();
      for (let i = 0; i < 100; i++) {
        for (const [j, f] of failing.entries()) {
          // A failed local-storage create waits for an RCU grace period in the kernel (~20 ms): fewer rounds.
          if (j === SLOW && i % 20 !== 0) continue;
          let failed = false;
          try {
            const r = f() as { close?: () => void } | undefined;
            r?.close?.();
          } catch {
            failed = true;
          }
          expect(failed).toBe(true);
        }
      }
      expectBaseline(b);
    } finally {
      closeSync(file);
      btfObj.close();
    }
  });

  ktest('failed element operations leak no fd', () => {
    using m = BpfMap.create({ type: 'HASH_OF_MAPS', keySize: 4, valueSize: 4, maxEntries: 2, innerMap: { type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 } });
    using progs = BpfMap.create({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 2 });
    const b = baseline();
    for (let i = 0; i < 200; i++) {
      expect(() => m.update(0, { fd: 100_000 })).toThrow();
      expect(() => progs.update(0, { fd: m.fd })).toThrow();
      expect(m.innerMap(1)).toBeUndefined();
    }
    expectBaseline(b);
  });

  ktest('walks abandoned half-way leak nothing and leave the map usable', () => {
    const m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 1000 });
    for (let i = 0; i < 1000; i++) m.update(i, BigInt(i));
    const b = baseline();
    const pending: Array<Generator<unknown>> = [];
    for (let i = 0; i < 500; i++) {
      let n = 0;
      for (const _ of m.keys()) if (++n === 10) break;
      for (const _ of m.entries()) if (++n === 20) break;
      for (const _ of m.batches(64)) break;
      // Started and never finished nor returned.
      const g = m.keys();
      g.next();
      if (i % 100 === 0) pending.push(g);
    }
    expectBaseline(b);
    // The map still works and a full walk sees every key once.
    expect(new Set([...m.keys()].map((k) => k.readUInt32LE())).size).toBe(1000);
    m.close();
    // Abandoned walks resumed after close end quietly.
    for (const g of pending) expect(g.next().done).toBe(true);
    expect(ownedFdCount()).toBe(b.owned - 1);
    expect(fdCount()).toBe(b.fds - 1);
  });

  ktest('handles opened by id, fd and from maps of maps are released', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 4 });
    const id = m.info().id;
    BpfMap.fromId(id).close();
    BpfMap.fromFd(m.fd).close();
    const b = baseline();
    for (let i = 0; i < 500; i++) {
      BpfMap.fromId(id).close();
      using dup = BpfMap.fromFd(m.fd);
      expect(dup.info().id).toBe(id);
    }
    expectBaseline(b);
  });
});
