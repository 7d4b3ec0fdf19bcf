/**
 * Bad input to the event-stream APIs gets a typed error (a TsbpfError with a
 * stable code) before it reaches a system call or a mapped view, and loses
 * nothing: a refused lease does not block the ring, a submit after close is
 * refused loudly, abort() stops an iterator at once.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection, type Collection } from '../bpf/loader/collection.ts';
import { RingBufferReader } from '../bpf/events/ringbuf.ts';
import { PerfBufferReader } from '../bpf/events/perfbuf.ts';
import { UserRingBuffer } from '../bpf/events/user-ringbuf.ts';
import { BpfMap } from '../bpf/maps/map.ts';
import type { Program } from '../bpf/programs/program.ts';
import { TsbpfError } from '../errors.ts';
import { possibleCpuCount } from '../syscall/cpus.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const RING_OBJ = resolve(__dirname, 'bpf/ringbuf_producer.o');

/** `count` 24-byte records from ringbuf_producer.c into its first ring. */
function produce(p: Program, count: number): void {
  const ctx = new Uint8Array(56);
  const v = new DataView(ctx.buffer);
  v.setUint32(8, count, true);
  v.setUint32(12, 24, true);
  p.testRun({ ctx, repeat: 0 });
}

function typed(e: unknown, code: string): void {
  expect(e).toBeInstanceOf(TsbpfError);
  expect((e as TsbpfError).code).toBe(code);
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const BAD_TIMEOUTS: unknown[] = [2 ** 40, NaN, 'abc', -1, Infinity];

describe('event-stream input validation', () => {
  let coll: Collection;
  let prog: Program;
  let rb: BpfMap;

  beforeAll(() => {
    if (process.getuid?.() !== 0 && !process.env.CI) return;
    coll = loadCollection(loadCollectionSpec(RING_OBJ));
    prog = coll.programs.produce!;
    rb = coll.maps.rb!;
  });
  afterAll(() => coll?.close());

  ktest('lease() refuses a bad max or ring index, and the ring stays usable', () => {
    using r = new RingBufferReader(rb);
    produce(prog, 3);
    for (const max of [-1, 0, 1.5, NaN, '2']) typed(thrown(() => r.lease(0, max as number), `max ${String(max)}`), 'BAD_ARGUMENT');
    for (const ring of [-1, 1, 0.5, NaN]) typed(thrown(() => r.lease(ring), `ring ${ring}`), 'BAD_ARGUMENT');
    typed(thrown(() => r.consumeRing(7, () => {})), 'BAD_ARGUMENT');
    typed(thrown(() => r.pending(-1)), 'BAD_ARGUMENT');
    // A callback that is not a function is refused before a record is taken (not consumed by a TypeError).
    typed(thrown(() => r.consume(42 as never)), 'BAD_ARGUMENT');
    // Nothing was left leased: all three records are there.
    expect(r.consume(() => {})).toBe(3);
  });

  ktest('wait(), poll() and records() refuse a timeout that is not a finite number in range', async () => {
    using r = new RingBufferReader(rb);
    for (const timeout of BAD_TIMEOUTS) {
      typed(await rejected(r.wait({ timeout: timeout as number })), 'BAD_OPTION');
      typed(await rejected(r.poll({ timeout: timeout as number, callback: () => {} })), 'BAD_OPTION');
      typed(await rejected(r.records({ timeout: timeout as number }).next()), 'BAD_OPTION');
    }
    // A good one still works, and times out.
    expect(await r.wait({ timeout: 1 })).toBe(false);
    typed(thrown(() => new RingBufferReader(rb, { interval: NaN })), 'BAD_OPTION');
  });

  ktest('after abort() the iterator yields nothing more, and the waiting records stay in the ring', async () => {
    using r = new RingBufferReader(rb);
    produce(prog, 400);
    const ac = new AbortController();
    const it = r.records({ signal: ac.signal });
    const first = await it.next();
    expect(first.done).toBe(false);
    ac.abort(new Error('stop'));
    const after = await rejected(it.next());
    expect((after as Error).message).toBe('stop');
    // The 399 not yielded are not consumed: another reader style still gets them.
    expect(r.consume(() => {})).toBe(399);
  });

  ktest('PerfBufferReader refuses a CPU listed twice, bad CPU numbers, bad pages and wake-up counts', () => {
    const before = fdCount();
    using pa = BpfMap.create({ type: 'PERF_EVENT_ARRAY', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount() });
    const bad: Record<string, unknown>[] = [
      { cpus: [0, 0] },
      { cpus: [-1] },
      { cpus: [0.5] },
      { cpus: ['0'] },
      { pages: 2 ** 40 },
      { pages: 3 },
      { pages: NaN },
      { wakeupEvents: 0 },
      { wakeupEvents: 2 ** 33 },
      { watermark: -1 },
      { interval: -5 },
    ];
    for (const opts of bad) typed(thrown(() => new PerfBufferReader(pa, opts), JSON.stringify(opts)), 'BAD_OPTION');
    using p = new PerfBufferReader(pa, { cpus: [0] });
    typed(thrown(() => p.pending(1.5)), 'BAD_ARGUMENT');
    p.close();
    pa.close();
    expect(fdCount()).toBe(before);
  });

  ktest('UserRingBuffer: bad lengths are typed, a submit after close is refused, bad timeouts too', async () => {
    using urb = BpfMap.create({ type: 'USER_RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 });
    const w = new UserRingBuffer(urb);
    typed(thrown(() => w.reserve(-1)), 'BAD_ARGUMENT');
    typed(thrown(() => w.reserve(1.5)), 'BAD_ARGUMENT');
    typed(thrown(() => w.reserve(NaN)), 'BAD_ARGUMENT');
    typed(thrown(() => w.reserve(2 ** 31)), 'E2BIG');
    for (const timeout of BAD_TIMEOUTS) typed(await rejected(w.reserveAsync(8, { timeout: timeout as number })), 'BAD_OPTION');
    const rec = w.reserve(8)!;
    w.close();
    typed(thrown(() => rec.submit()), 'CLOSED');
    w.close();
  });
});
