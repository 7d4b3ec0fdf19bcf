/**
 * User ring buffer producer against the real kernel: JS writes, the BPF
 * program test/bpf/ringbuf_user.c drains with bpf_user_ringbuf_drain (a
 * SEC("syscall") program run with BPF_PROG_TEST_RUN) and checks every sample.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection, type Collection } from '../bpf/loader/collection.ts';
import { UserRingBuffer, type UserRecord } from '../bpf/events/user-ringbuf.ts';
import type { Program } from '../bpf/programs/program.ts';
import { BpfMap } from '../bpf/maps/map.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const OBJ = resolve(__dirname, 'bpf/ringbuf_user.o');

interface Drained {
  next: number;
  sum: number;
  count: number;
  bad: number;
  ret: number;
}

function drain(p: Program, next: number): Drained {
  const ctx = new Uint8Array(32);
  const v = new DataView(ctx.buffer);
  v.setBigUint64(0, BigInt(next), true);
  p.testRun({ ctx, repeat: 0 });
  return {
    next: Number(v.getBigUint64(0, true)),
    sum: Number(v.getBigUint64(8, true)),
    count: v.getUint32(16, true),
    bad: v.getUint32(20, true),
    ret: Number(v.getBigInt64(24, true)),
  };
}

/** Fill a record the way the drain program checks it: u64 seq, u32 length, last byte seq & 0xff. */
function fill(rec: UserRecord, seq: number): void {
  const d = rec.data;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  v.setBigUint64(0, BigInt(seq), true);
  v.setUint32(8, d.byteLength, true);
  d[d.byteLength - 1] = seq & 0xff;
}

function record(seq: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(seq), true);
  v.setUint32(8, len, true);
  b[len - 1] = seq & 0xff;
  return b;
}

describe('UserRingBuffer', () => {
  let coll: Collection;
  let prog: Program;
  let urb: BpfMap;
  let next = 0;

  beforeAll(() => {
    if (process.getuid?.() !== 0 && !process.env.CI) return;
    coll = loadCollection(loadCollectionSpec(OBJ));
    prog = coll.programs.drain!;
    urb = coll.maps.urb!;
  });
  afterAll(() => coll?.close());

  ktest('records of varying sizes written from JS are drained by the kernel in order, across wrap-arounds', () => {
    using w = new UserRingBuffer(urb);
    expect(w.size).toBe(4096);
    expect(w.free()).toBe(4096);
    let total = 0;
    for (let round = 0; round < 50; round++) {
      let n = 0;
      let sum = 0;
      for (;;) {
        const len = 13 + ((next * 37) % 300);
        if (!w.write(record(next, len))) break;
        sum += next;
        next++;
        n++;
      }
      expect(n).toBeGreaterThan(5);
      const d = drain(prog, next - n);
      expect(d).toEqual({ next, sum, count: n, bad: 0, ret: n });
      expect(w.free()).toBe(4096);
      total += n;
    }
    expect(total).toBeGreaterThan(1000);
  });

  ktest('reserve/submit in place; discarded records are skipped; the kernel stops at a record not yet submitted', () => {
    using w = new UserRingBuffer(urb);
    const a = w.reserve(40)!;
    fill(a, next);
    const b = w.reserve(16)!;
    fill(b, next + 1);
    const c = w.reserve(64)!;
    c.discard();
    b.submit();
    expect(w.outstanding).toBe(1);
    // `a` is still busy: nothing can be drained past it.
    expect(drain(prog, next)).toMatchObject({ count: 0, ret: 0 });
    a.submit();
    expect(() => a.submit()).toThrow(expect.objectContaining({ code: 'SETTLED' }));
    expect(drain(prog, next)).toEqual({ next: next + 2, sum: 2 * next + 1, count: 2, bad: 0, ret: 2 });
    next += 2;
    expect(w.free()).toBe(4096);
  });

  ktest('a full ring: reserve() says undefined, reserveAsync() waits on epoll for the kernel to drain', async () => {
    using w = new UserRingBuffer(urb);
    let n = 0;
    while (w.write(record(next + n, 500))) n++;
    expect(n).toBe(8); // 8 × round_up(8 + 500, 8) = 4096: user space may fill the ring completely
    expect(w.free()).toBe(0);
    expect(w.reserve(1)).toBeUndefined();
    expect(await w.reserveAsync(1, { timeout: 30 })).toBeUndefined();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    await expect(w.reserveAsync(1, { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    let drained: Drained | undefined;
    setTimeout(() => (drained = drain(prog, next)), 30);
    const rec = await w.reserveAsync(100, { timeout: 5000 });
    expect(rec).toBeDefined();
    expect(drained).toEqual({ next: next + 8, sum: 8 * next + 28, count: 8, bad: 0, ret: 8 });
    next += 8;
    fill(rec!, next);
    rec!.submit();
    expect(await w.writeAsync(record(next + 1, 13))).toBe(true);
    expect(drain(prog, next)).toMatchObject({ count: 2, bad: 0 });
    next += 2;
  });

  ktest('close() discards what is still reserved, so the kernel is not stuck behind it; fds come back', () => {
    const fds = fdCount();
    const owned = ownedFdCount();
    const w = new UserRingBuffer(urb);
    const held = w.reserve(30)!;
    fill(held, 999);
    w.close();
    w.close();
    expect(() => w.reserve(8)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    // Too late: close() discarded it; the caller is told, not left believing it was sent.
    expect(() => held.submit()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(fdCount()).toBe(fds);
    expect(ownedFdCount()).toBe(owned);
    using w2 = new UserRingBuffer(urb);
    expect(w2.write(record(next, 20))).toBe(true);
    expect(drain(prog, next)).toEqual({ next: next + 1, sum: next, count: 1, bad: 0, ret: 1 });
    next++;
  });

  ktest('refuses records that can never fit, bad lengths, and maps of other types', () => {
    using w = new UserRingBuffer(urb);
    expect(() => w.reserve(4096)).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    expect(() => w.reserve(-1)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => w.reserve(1.5)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    using rb = BpfMap.create({ type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 });
    expect(() => new UserRingBuffer(rb)).toThrow(expect.objectContaining({ code: 'BAD_MAP_TYPE' }));
  });
});
