/**
 * Misuse of maps through the public API: lying about sizes, wrong map types,
 * out-of-range integers, foreign batch tokens, wrong fds in fd maps. Each is
 * a typed error before any syscall (or, for constructors, impossible), never
 * a crash or a silently wrong answer.
 */
import { describe, expect } from 'vitest';
import { BpfMap, MapFlags, i32, i64, possibleCpuCount, u16, u32, u64, u8, type BatchCursor, type MapSpec } from '../lib/index.ts';
import { BpfCmd } from '../syscall/bpf.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';
import { thrownBeforeSyscall as before, withMap } from './helpers/syscalls.ts';
import { childJson, runSnippet } from './helpers/child-node.ts';

describe('constructing maps', () => {
  ktest('new BpfMap(fd, lying info) cannot corrupt memory: the constructor is internal, sizes are frozen (child process)', () => {
    const r = runSnippet(`
      import { BpfMap } from './lib/index.ts';
      const out: unknown[] = [];
      const big = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 65536, maxEntries: 1 });
      const pc = BpfMap.create({ type: 'PERCPU_ARRAY', keySize: 4, valueSize: 64, maxEntries: 1 });
      const h = BpfMap.create({ type: 'HASH', keySize: 64, valueSize: 4, maxEntries: 1 });
      const Ctor = BpfMap as unknown as new (...a: unknown[]) => BpfMap;
      const lies: Array<[BpfMap, object]> = [
        [big, { type: 2, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, name: 'small' }],
        [pc, { type: 2, keySize: 4, valueSize: 64, maxEntries: 1, flags: 0, name: 'plain' }],
        [h, { type: 1, keySize: 1, valueSize: 4, maxEntries: 1, flags: 0, name: 'key' }],
      ];
      for (const [m, info] of lies) {
        for (const args of [[m.fd, info], [undefined, m.fd, info], [Symbol('BpfMap.internal'), m.fd, info]]) {
          try {
            const x = new Ctor(...args);
            x.lookup(0); // aborted the process before (malloc(): invalid size, double free, SIGSEGV)
            x.lookup(Buffer.alloc(1));
            x.close();
            out.push('constructed');
          } catch (e) {
            out.push((e as { code?: string }).code);
          }
        }
        // A subclass cannot reach the constructor either.
        try {
          class Sub extends (BpfMap as unknown as new (...a: unknown[]) => object) {
            constructor() { super(m.fd, info); }
          }
          new Sub();
          out.push('subclassed');
        } catch (e) {
          out.push((e as { code?: string }).code);
        }
      }
      // The public ways take sizes from the kernel.
      const adopted = BpfMap.fromFd(big.fd);
      out.push(adopted.valueSize, adopted.lookup(0)!.length);
      // Sizes cannot be changed afterwards (the scratch block is laid out for them).
      try { (adopted as { valueSize: number }).valueSize = 4; } catch {}
      try { (adopted as { keySize: number }).keySize = 1; } catch {}
      out.push(adopted.valueSize, adopted.keySize, adopted.lookup(0)!.length);
      const bad = Buffer.alloc(1);
      try { adopted.lookupBatch({ done: false }, bad, bad, 1); out.push('batched'); } catch (e) { out.push((e as { code?: string }).code); }
      adopted.close();
      for (const m of [big, pc, h]) m.close();
      console.log(JSON.stringify(out));
    `);
    const ic = 'INTERNAL_CONSTRUCTOR';
    expect(childJson<unknown[]>(r)).toEqual([ic, ic, ic, ic, ic, ic, ic, ic, ic, ic, ic, ic, 65536, 65536, 65536, 4, 65536, 'BAD_SIZE']);
  });
});

describe('operations of other map types', () => {
  ktest('push, pop, peek, mayContain, stackTrace, innerMap and innerMapId on a HASH map are WRONG_MAP_TYPE before any syscall', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 }, (m) => {
      const ops: Array<[string, () => unknown]> = [
        ['push', () => m.push(1n)],
        ['pop', () => m.pop()],
        ['peek', () => m.peek()],
        ['mayContain', () => m.mayContain(1n)],
        ['stackTrace', () => m.stackTrace(0)],
        ['innerMap', () => m.innerMap(0)],
        ['innerMapId', () => m.innerMapId(0)],
      ];
      for (const [name, op] of ops) {
        const e = before(op, name);
        expect(e.code, name).toBe('WRONG_MAP_TYPE');
        expect(e.message, name).toMatch(/is HASH/);
      }
      // push() used to insert key 0.
      expect(m.lookup(0)).toBeUndefined();
    });
    // The right types still work.
    withMap({ type: 'QUEUE', keySize: 0, valueSize: 4, maxEntries: 4 }, (q) => {
      q.push(7);
      expect(q.peek()!.readUInt32LE()).toBe(7);
      expect(q.pop()!.readUInt32LE()).toBe(7);
      expect(before(() => q.mayContain(7)).code).toBe('WRONG_MAP_TYPE');
    });
  });

  ktest('per-CPU maps: lookupWith, typed and one-slot output buffers are refused; lookup and entries give every CPU', () => {
    const ncpu = possibleCpuCount();
    withMap({ type: 'PERCPU_HASH', keySize: 4, valueSize: 8, maxEntries: 4 }, (m) => {
      const slots = Array.from({ length: ncpu }, (_, i) => BigInt(10 + 22 * i));
      m.updatePerCpu(1, slots);
      expect(before(() => m.lookupWith(1, u64)).code).toBe('WRONG_MAP_TYPE');
      expect(before(() => m.typed(u32, u64)).code).toBe('WRONG_MAP_TYPE');
      if (ncpu > 1) expect(before(() => m.lookup(1, Buffer.alloc(8))).code).toBe('BAD_SIZE');
      const all = m.lookup(1)!;
      expect(all.length).toBe(8 * ncpu);
      expect(Array.from({ length: ncpu }, (_, c) => all.readBigUInt64LE(8 * c))).toEqual(slots);
      const [[k, v]] = [...m.entries()];
      expect(k.readUInt32LE()).toBe(1);
      expect(v.length).toBe(8 * ncpu);
    });
  });
});

describe('sizes, ranges and flags', () => {
  ktest("a codec's size must be the map's", () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 }, (m) => {
      m.update(1, 0x1_0000_0002n);
      expect(before(() => m.lookupWith(1, u32)).code).toBe('BAD_SIZE');
      expect(before(() => m.updateWith(1, 5, u32)).code).toBe('BAD_SIZE');
      expect(m.lookupWith(1, u64)).toBe(0x1_0000_0002n);
    });
  });

  ktest('unknown update flags are refused', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 4 }, (m) => {
      for (const f of ['SOMETIMES', 'toString', 1.5, -1, NaN] as never[]) {
        expect(before(() => m.update(1, 1, f), String(f)).code).toBe('BAD_FLAGS');
        expect(before(() => m.updateWith(1, 1, u32, f), String(f)).code).toBe('BAD_FLAGS');
      }
      expect(m.has(1)).toBe(false); // 'SOMETIMES' used to be sent as ANY
      m.update(1, 1, 'NOEXIST');
      expect(thrown(() => m.update(1, 1, 'NOEXIST')).code).toBe('EEXIST');
    });
  });

  ktest('integers out of range of their size are refused: -1 is not a u32 key', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 }, (m) => {
      for (const k of [-1, -1n, 2 ** 32, 1.5, NaN, Infinity]) expect(before(() => m.update(k, 1), `key ${k}`).code).toBe('OUT_OF_RANGE');
      for (const v of [-1, -1n, 2 ** 53, 2n ** 64n, 0.5, NaN]) expect(before(() => m.update(1, v), `value ${v}`).code).toBe('OUT_OF_RANGE');
      expect(m.has(0xffff_ffff)).toBe(false);
      const t = m.typed(u32, u64);
      expect(before(() => t.set(-1, 1n)).code).toBe('OUT_OF_RANGE');
      expect(before(() => t.set(1, -1n)).code).toBe('OUT_OF_RANGE');
      expect(before(() => t.set(1, 1 as never)).code).toBe('OUT_OF_RANGE');
    });
    // Signed codecs take negative numbers (keys through the codec, not as unsigned).
    withMap({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 }, (m) => {
      const t = m.typed(i32, i64);
      t.set(-1, -5n);
      expect(t.get(-1)).toBe(-5n);
      expect(m.lookup(0xffff_ffff)!.readBigInt64LE()).toBe(-5n);
    });
  });

  ktest('the integer codecs refuse what they cannot represent', () => {
    const b = new Uint8Array(8);
    const d = new DataView(b.buffer);
    const bad: Array<[{ encode(v: never, b: Uint8Array, d: DataView, o: number): void }, unknown]> = [
      [u8, 256], [u8, -1], [u8, 1.5], [u8, NaN], [u8, '1'],
      [u16, 70000], [u16, -1],
      [u32, 2 ** 32], [u32, -1], [u32, NaN], [u32, 1n],
      [i32, 2 ** 31], [i32, -(2 ** 31) - 1],
      [u64, -1n], [u64, 2n ** 64n], [u64, 5],
      [i64, 2n ** 63n], [i64, -(2n ** 63n) - 1n],
    ];
    for (const [c, v] of bad) {
      b.fill(0xaa);
      expect(thrown(() => c.encode(v as never, b, d, 0), String(v)).code, String(v)).toBe('OUT_OF_RANGE');
      expect([...b]).toEqual(Array(8).fill(0xaa)); // nothing written
    }
    u16.encode(0xffff, b, d, 0);
    i32.encode(-1, b, d, 4);
    expect([u16.decode(b, d, 0), i32.decode(b, d, 4)]).toEqual([0xffff, -1]);
  });

  ktest('create: an unknown type name is a typed error listing the valid ones; indexed maps need 4-byte keys', () => {
    const e = before(() => BpfMap.create({ type: 'HASHH' as never, keySize: 4, valueSize: 4, maxEntries: 1 }));
    expect(e.code).toBe('UNKNOWN_MAP_TYPE');
    expect(e.message).toMatch(/valid types: .*\bHASH\b.*\bARRAY\b/);
    expect(before(() => BpfMap.create({ type: 'toString' as never, keySize: 4, valueSize: 4, maxEntries: 1 })).code).toBe('UNKNOWN_MAP_TYPE');
    const a = before(() => BpfMap.create({ type: 'ARRAY', keySize: 8, valueSize: 4, maxEntries: 1 }));
    expect(a.code).toBe('BAD_SPEC');
    expect(a.message).toMatch(/keySize must be 4, got 8/);
    // 2^32 + 4 would wrap to 4 in the u32 attr field while the handle kept the larger size.
    expect(before(() => BpfMap.create({ type: 'HASH', keySize: 2 ** 32 + 4, valueSize: 4, maxEntries: 1 })).code).toBe('BAD_SPEC');
    expect(before(() => BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 1.5, maxEntries: 1 })).code).toBe('BAD_SPEC');
  });
});

describe('batch tokens', () => {
  ktest('a token must be one this map made: a 1-byte or foreign token is refused before the syscall', () => {
    for (const type of ['HASH', 'ARRAY'] as const) {
      withMap({ type, keySize: 4, valueSize: 4, maxEntries: 64 }, (m) => {
        withMap({ type, keySize: 4, valueSize: 4, maxEntries: 64 }, (other) => {
          for (let i = 0; i < 8; i++) m.update(i, i);
          const keys = Buffer.alloc(64 * 4);
          const values = Buffer.alloc(64 * 4);
          expect(before(() => m.lookupBatch({ token: Buffer.alloc(1), done: false }, keys, values, 4)).code).toBe('BAD_BATCH_TOKEN');
          expect(before(() => m.lookupAndDeleteBatch({ token: Buffer.alloc(8), done: false }, keys, values, 4)).code).toBe('BAD_BATCH_TOKEN');
          const c: BatchCursor = { done: false };
          m.lookupBatch(c, keys, values, 2);
          if (!c.done) {
            expect(before(() => other.lookupBatch({ token: c.token, done: false }, keys, values, 4)).code).toBe('BAD_BATCH_TOKEN');
            expect(before(() => m.lookupBatch({ token: Buffer.from(c.token!), done: false }, keys, values, 4)).code).toBe('BAD_BATCH_TOKEN');
          }
          // A whole walk with the map's own tokens still sees every entry once.
          const seen: number[] = [];
          const w: BatchCursor = { done: false };
          while (!w.done) {
            const n = m.lookupBatch(w, keys, values, 3);
            for (let i = 0; i < n; i++) seen.push(keys.readUInt32LE(4 * i));
          }
          expect(seen.sort((x, y) => x - y)).toEqual(type === 'HASH' ? [0, 1, 2, 3, 4, 5, 6, 7] : Array.from({ length: 64 }, (_, i) => i));
        });
      });
    }
  });
});

describe('fd maps', () => {
  ktest('an inner map unlike the template is refused saying what differs; a map fd in a PROG_ARRAY is refused', () => {
    withMap(
      { type: 'ARRAY_OF_MAPS', keySize: 4, valueSize: 4, maxEntries: 2, innerMap: { type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 4 } },
      (outer) => {
        withMap({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 4 }, (ok) => outer.update(0, ok));
        const cases: Array<[MapSpec, RegExp]> = [
          [{ type: 'ARRAY', keySize: 4, valueSize: 16, maxEntries: 4 }, /value size 16, the template's is 8/],
          [{ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 5 }, /max_entries 5, the template's is 4/],
          [{ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 }, /type HASH, the template's is ARRAY/],
          [{ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 4, flags: MapFlags.MMAPABLE }, /flags 0x400/],
        ];
        for (const [spec, why] of cases) {
          withMap(spec, (inner) => {
            const e = before(() => outer.update(1, inner), '', [BpfCmd.OBJ_GET_INFO_BY_FD]);
            expect(e.code).toBe('BAD_VALUE');
            expect(e.message).toMatch(why);
          });
        }
      },
    );
    withMap({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 2 }, (pa) => {
      withMap({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 }, (m) => {
        const e = before(() => pa.update(0, m.fd));
        expect(e.code).toBe('BAD_VALUE');
        expect(e.message).toMatch(/PROG_ARRAY: its values are program fds, fd \d+ is a BPF map/);
      });
    });
  });
});
