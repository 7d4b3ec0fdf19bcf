/**
 * Ring buffer reader against the real kernel. The producer is
 * test/bpf/ringbuf_producer.c: one BPF_PROG_TEST_RUN of `produce` writes
 * `count` sequence-numbered records (bpf_ringbuf_output or reserve+submit,
 * in a bpf_loop), so every test knows exactly what the kernel wrote.
 */
import { readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fork } from 'node:child_process';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { buildSync } from 'esbuild';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection, type Collection } from '../bpf/loader/collection.ts';
import { RingBufferReader } from '../bpf/events/ringbuf.ts';
import { RecordView } from '../bpf/events/record.ts';
import type { Program } from '../bpf/programs/program.ts';
import { BpfMap } from '../bpf/maps/map.ts';
import { livePlaceholders } from '../syscall/mmap.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { fdCount, BPFFS } from './helpers/env.ts';
import { ktest, pintest } from './helpers/kernel.ts';

const OBJ = resolve(__dirname, 'bpf/ringbuf_producer.o');
const RB_NO_WAKEUP = 1;
const RB_FORCE_WAKEUP = 2;
const MODE_OUTPUT = 0;
const MODE_RESERVE = 1;

interface Produce {
  seq?: number;
  count: number;
  size?: number;
  mode?: number;
  flags?: number;
  vary?: number;
  discardEvery?: number;
  ring?: number;
}

/** Run the producer once; returns what it reports (written includes discarded reservations). */
function produce(p: Program, a: Produce): { written: number; failed: number; discarded: number } {
  const ctx = new Uint8Array(56);
  const v = new DataView(ctx.buffer);
  v.setBigUint64(0, BigInt(a.seq ?? 0), true);
  const fields = [a.count, a.size ?? 24, a.mode ?? MODE_OUTPUT, a.flags ?? 0, a.vary ?? 0, a.discardEvery ?? 0, a.ring ?? 0];
  fields.forEach((x, i) => v.setUint32(8 + 4 * i, x, true));
  p.testRun({ ctx, repeat: 0 });
  return { written: v.getUint32(36, true), failed: v.getUint32(40, true), discarded: v.getUint32(44, true) };
}

/** The payload size the producer uses for `seq` in varying mode. */
const varySize = (seq: number, vary: number) => 16 + Number((BigInt(seq) * 40503n) % BigInt(vary));

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);
  g();
}

function ringMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('anon_inode:bpf-map')).length;
}

describe('RingBufferReader', () => {
  let coll: Collection;
  let prog: Program;
  let rb: BpfMap;
  let rb2: BpfMap;

  beforeAll(() => {
    if (process.getuid?.() !== 0 && !process.env.CI) return;
    coll = loadCollection(loadCollectionSpec(OBJ));
    prog = coll.programs.produce!;
    rb = coll.maps.rb!;
    rb2 = coll.maps.rb2!;
  });
  afterAll(() => coll?.close());

  /** A reader that starts from an empty ring (drains what earlier tests left). */
  function fresh(map = rb, opts = {}): RingBufferReader {
    const r = new RingBufferReader(map, opts);
    r.consume(() => {});
    return r;
  }

  ktest('every record exactly once, in order, across many wrap-arounds of a small ring (drained in rounds)', () => {
    using r = fresh();
    expect(r.size()).toBe(16384);
    const seen: number[] = [];
    let seq = 1_000_000;
    let expected: number[] = [];
    for (let round = 0; round < 60; round++) {
      // 300 records of 32 bytes (24 + 8 header) are 9600 bytes: the ring wraps every other round.
      const res = produce(prog, { seq, count: 300, size: 24 });
      expect(res).toEqual({ written: 300, failed: 0, discarded: 0 });
      for (let i = 0; i < 300; i++) expected.push(seq + i);
      seq += 300;
      const n = r.consume((rec) => {
        expect(rec.length).toBe(24);
        seen.push(rec.getUint64(0));
      });
      expect(n).toBe(300);
    }
    expect(seen).toEqual(expected);
    expect(r.pending()).toBe(0);
    // Overflow: the kernel refuses records once the ring is full; what it took arrives, in order.
    seen.length = 0;
    expected = [];
    for (let round = 0; round < 5; round++) {
      const res = produce(prog, { seq, count: 1000, size: 24 });
      // The kernel keeps the producer at most size - 1 bytes ahead: 511 records of 32 bytes.
      expect(res.written).toBe(16384 / 32 - 1);
      expect(res.failed).toBe(1000 - res.written);
      for (let i = 0; i < res.written; i++) expected.push(seq + i);
      seq += 1000;
      r.consume((rec) => void seen.push(rec.getUint64(0)));
    }
    expect(seen).toEqual(expected);
  });

  for (const acquireHeaders of [false, true]) {
    ktest(`records of varying sizes, including records that cross the end of the ring, arrive whole (acquireHeaders: ${acquireHeaders})`, () => {
      using r = fresh(rb, { acquireHeaders });
      const vary = 1500;
      let seq = 7;
      let got = 0;
      let crossed = 0;
      let pos = 0;
      for (let round = 0; round < 40; round++) {
        const res = produce(prog, { seq, count: 8, vary });
        expect(res.failed).toBe(0);
        const n = r.consume((rec) => {
          const s = rec.getUint64(0);
          expect(s).toBe(seq + got);
          const size = varySize(s, vary);
          expect(rec.length).toBe(size);
          expect(rec.getUint32(8)).toBe(size);
          expect(rec.getUint8(size - 1)).toBe(s & 0xff);
          const total = (size + 15) & ~7;
          if ((pos % 16384) + total > 16384) crossed++; // counted from an arbitrary start: about one per lap
          pos += total;
          got++;
        });
        expect(n).toBe(8);
        seq += 8;
        got = 0;
      }
      expect(crossed).toBeGreaterThan(5);
    });
  }

  ktest('discarded records are skipped (reserve + discard), for 16-, 64- and 512-byte records', () => {
    using r = fresh();
    for (const size of [16, 64, 512]) {
      const res = produce(prog, { seq: 1, count: 24, size, mode: MODE_RESERVE, discardEvery: 3 });
      expect(res).toEqual({ written: 24, failed: 0, discarded: 8 });
      const seen: number[] = [];
      r.consume((rec) => {
        expect(rec.length).toBe(size);
        expect(rec.getUint64(8)).toBe(size);
        seen.push(rec.getUint64(0));
      });
      expect(seen).toEqual(Array.from({ length: 24 }, (_, i) => i + 1).filter((s) => s % 3 !== 0));
    }
    // A ring holding only discarded records: nothing delivered, all consumed.
    produce(prog, { seq: 3, count: 1, size: 64, mode: MODE_RESERVE, discardEvery: 3 });
    expect(r.pending()).toBeGreaterThan(0);
    expect(r.consume(() => {})).toBe(0);
    expect(r.pending()).toBe(0);
  });

  ktest('the callback: false stops, a throw consumes its record and propagates, records expire, re-entry is refused', () => {
    using r = fresh();
    produce(prog, { seq: 1, count: 10 });
    const seen: number[] = [];
    expect(r.consume((rec) => (seen.push(rec.getUint64(0)), seen.length < 3))).toBe(3);
    expect(() =>
      r.consume((rec) => {
        seen.push(rec.getUint64(0));
        if (rec.getUint64(0) === 5) throw new Error('boom');
      }),
    ).toThrow('boom');
    let kept: RecordView | undefined;
    r.consume((rec) => {
      kept ??= rec;
      seen.push(rec.getUint64(0));
      expect(() => rec.getUint32(24)).toThrow(RangeError);
      expect(() => rec.getUint32(-1)).toThrow(RangeError);
      expect(() => r.consume(() => {})).toThrow(expect.objectContaining({ code: 'REENTRANT' }));
    });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Kept past its callback: every accessor throws instead of reading reused memory.
    expect(kept!.valid).toBe(false);
    expect(() => kept!.getUint64(0)).toThrow(expect.objectContaining({ code: 'RECORD_EXPIRED' }));
    expect(() => kept!.length).toThrow(expect.objectContaining({ code: 'RECORD_EXPIRED' }));
    expect(() => kept!.copy()).toThrow(expect.objectContaining({ code: 'RECORD_EXPIRED' }));
    expect(() => r.consume()).toThrow(expect.objectContaining({ code: 'NO_CALLBACK' }));
  });

  ktest('copy(), copyTo() and bytes() give the payload', () => {
    using r = fresh();
    produce(prog, { seq: 0x0102030405, count: 1, size: 16 });
    r.consume((rec) => {
      const c = rec.copy();
      expect(c.readBigUInt64LE(0)).toBe(0x0102030405n);
      expect(c.readUInt32LE(8)).toBe(16);
      expect(rec.copy(8, 12)).toEqual(Buffer.from([16, 0, 0, 0]));
      const dst = new Uint8Array(20);
      expect(rec.copyTo(dst, 4)).toBe(16);
      expect(Buffer.from(dst.subarray(4)).equals(c)).toBe(true);
      expect(Buffer.from(rec.bytes()).equals(c)).toBe(true);
      expect(rec.getBigUint64(0)).toBe(0x0102030405n);
      expect(rec.ring).toBe(0);
      expect(rec.cpu).toBe(-1);
    });
  });

  ktest('close() from inside a callback is deferred until consume() returns; then everything is released', () => {
    const fds = fdCount();
    const owned = ownedFdCount();
    const maps = ringMappings();
    const r = new RingBufferReader(rb);
    r.consume(() => {});
    expect(ringMappings()).toBe(maps + 2);
    produce(prog, { seq: 1, count: 5 });
    const seen: number[] = [];
    const n = r.consume((rec) => {
      seen.push(rec.getUint64(0));
      if (seen.length === 2) {
        r.close();
        expect(r.closed).toBe(true);
        // Still readable: the ring is unmapped only after consume() returns.
        expect(rec.getUint64(0)).toBe(2);
      }
    });
    expect(n).toBe(2);
    expect(seen).toEqual([1, 2]);
    expect(r.closed).toBe(true);
    expect(ringMappings()).toBe(maps);
    expect(fdCount()).toBe(fds);
    expect(ownedFdCount()).toBe(owned);
    expect(r.consume(() => {})).toBe(0);
    r.close();
    // The 3 records left are read by the next reader.
    using again = new RingBufferReader(rb);
    expect(again.consume(() => {})).toBe(3);
  });

  ktest('a zero-copy view kept past close() reads zeros instead of crashing; the placeholder goes with the view', () => {
    gc();
    const before = livePlaceholders();
    const r = fresh();
    produce(prog, { seq: 42, count: 1, size: 16 });
    let view: Uint8Array | undefined;
    r.consume((rec) => void (view = rec.bytes()));
    expect(Buffer.from(view!).readBigUInt64LE(0)).toBe(42n);
    r.close();
    expect(livePlaceholders()).toBe(before + 2); // the consumer page and the data area
    // The ring is gone: the old view now reads the anonymous placeholder, not freed memory.
    expect(Array.from(view!)).toEqual(new Array(16).fill(0));
    view = undefined;
    return new Promise<void>((done) => {
      const t0 = Date.now();
      const tick = () => {
        gc();
        // Every reader is closed and its views dropped: the GC lets every placeholder go, ours included.
        if (livePlaceholders() === 0 || Date.now() - t0 > 5000) {
          expect(livePlaceholders()).toBe(0);
          done();
        } else setTimeout(tick, 20);
      };
      setTimeout(tick, 0);
    });
  });

  ktest('leases: zero-copy batches committed once; cancel() gives them back; consume() waits for the lease', () => {
    using r = fresh();
    produce(prog, { seq: 1, count: 6, size: 64, mode: MODE_RESERVE, discardEvery: 4 });
    const l1 = r.lease();
    expect(l1.length).toBe(5);
    expect(l1.records.map((v) => Buffer.from(v.buffer, v.byteOffset, 8).readBigUInt64LE(0))).toEqual([1n, 2n, 3n, 5n, 6n]);
    expect(() => r.consume(() => {})).toThrow(expect.objectContaining({ code: 'LEASED' }));
    expect(() => r.lease()).toThrow(expect.objectContaining({ code: 'LEASED' }));
    const pending = r.pending();
    l1.cancel();
    expect(r.pending()).toBe(pending);
    {
      using l2 = r.lease(0, 2);
      expect(l2.length).toBe(2);
    } // disposed: committed
    const rest: number[] = [];
    r.consume((rec) => void rest.push(rec.getUint64(0)));
    expect(rest).toEqual([3, 5, 6]);
    const l3 = r.lease();
    expect(l3.length).toBe(0);
    l3.commit();
    l3.commit();
  });

  ktest('one reader serves several rings, each with its own callback, or one callback told the ring', () => {
    const a: number[] = [];
    const b: number[] = [];
    using r = new RingBufferReader();
    expect(r.add(rb, (rec) => void a.push(rec.getUint64(0)))).toBe(0);
    expect(r.add(rb2, (rec) => void b.push(rec.getUint64(0)))).toBe(1);
    r.consume();
    a.length = b.length = 0;
    produce(prog, { seq: 10, count: 3, ring: 0 });
    produce(prog, { seq: 20, count: 4, ring: 1 });
    expect(r.consume()).toBe(7);
    expect(a).toEqual([10, 11, 12]);
    expect(b).toEqual([20, 21, 22, 23]);
    produce(prog, { seq: 30, count: 2, ring: 1 });
    produce(prog, { seq: 40, count: 1, ring: 0 });
    const both: string[] = [];
    expect(r.consume((rec) => void both.push(`${rec.ring}:${rec.getUint64(0)}`))).toBe(3);
    expect(both).toEqual(['0:40', '1:30', '1:31']);
    expect(r.consumeRing(1, () => {})).toBe(0);
    expect(r.rings).toBe(2);
    expect(r.size(1)).toBe(4096);
  });

  ktest('poll() sleeps on epoll and wakes when the kernel commits a record', async () => {
    using r = fresh();
    const seen: number[] = [];
    setTimeout(() => produce(prog, { seq: 5, count: 3 }), 30);
    const t0 = performance.now();
    const n = await r.poll({ callback: (rec) => void seen.push(rec.getUint64(0)), timeout: 5000 });
    expect(n).toBe(3);
    expect(seen).toEqual([5, 6, 7]);
    expect(performance.now() - t0).toBeLessThan(4000);
    // Nothing ready and nothing coming: the timeout ends the wait.
    expect(await r.poll({ callback: () => {}, timeout: 30 })).toBe(0);
  });

  ktest('BPF_RB_NO_WAKEUP records do not wake epoll; the interval mode finds them; FORCE_WAKEUP wakes', async () => {
    {
      using r = fresh();
      setTimeout(() => produce(prog, { seq: 1, count: 2, flags: RB_NO_WAKEUP }), 20);
      expect(await r.wait({ timeout: 250 })).toBe(false);
      expect(r.ready()).toBe(true);
      expect(r.consume(() => {})).toBe(2);
    }
    {
      using r = fresh(rb, { interval: 10 });
      setTimeout(() => produce(prog, { seq: 1, count: 2, flags: RB_NO_WAKEUP }), 20);
      expect(await r.wait({ timeout: 3000 })).toBe(true);
      expect(r.consume(() => {})).toBe(2);
    }
    {
      using r = fresh(rb, { epoll: false, interval: 5 });
      setTimeout(() => produce(prog, { seq: 1, count: 1, flags: RB_FORCE_WAKEUP }), 20);
      expect(await r.wait({ timeout: 3000 })).toBe(true);
      expect(r.consume(() => {})).toBe(1);
    }
  });

  ktest('the async iterator yields copies in order while the producer runs; AbortSignal and close() end waits', async () => {
    const r = fresh();
    let seq = 0;
    const timer = setInterval(() => {
      produce(prog, { seq, count: 50, vary: 300 });
      seq += 50;
    }, 5);
    const got: Buffer[] = [];
    try {
      for await (const rec of r) {
        expect(rec.ring).toBe(0);
        got.push(rec.data);
        if (got.length === 500) break;
      }
    } finally {
      clearInterval(timer);
    }
    // Copies: still intact after the ring has moved on (and after close).
    r.close();
    got.forEach((d, i) => {
      expect(d.readBigUInt64LE(0)).toBe(BigInt(i));
      expect(d.length).toBe(varySize(i, 300));
      expect(d[d.length - 1]).toBe(i & 0xff);
    });

    // Abort: the pending wait rejects with the signal's reason.
    const r2 = fresh();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await expect(r2.wait({ signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const it = r2.records({ signal: AbortSignal.timeout(30) });
    await expect(it.next()).rejects.toMatchObject({ name: 'TimeoutError' });
    // close() while a wait and an iterator are pending: the wait resolves false, the iteration ends.
    const waiting = r2.wait();
    const iterating = (async () => {
      let n = 0;
      for await (const _ of r2) n++;
      return n;
    })();
    setTimeout(() => r2.close(), 20);
    expect(await waiting).toBe(false);
    expect(await iterating).toBe(0);
    expect(await r2.wait()).toBe(false);
  });

  ktest('several iterators of one reader share its queue: no record twice', async () => {
    using r = fresh();
    produce(prog, { seq: 0, count: 100 });
    const it1 = r.records();
    const it2 = r.records();
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) {
      seen.push(Number((await it1.next()).value!.data.readBigUInt64LE(0)));
      seen.push(Number((await it2.next()).value!.data.readBigUInt64LE(0)));
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await it1.return();
    await it2.return();
  });

  ktest('a reader closed mid-stream releases its fds and mappings; the ring outlives it', async () => {
    const fds = fdCount();
    const owned = ownedFdCount();
    const maps = ringMappings();
    for (let i = 0; i < 50; i++) {
      const r = new RingBufferReader(rb, { interval: 1 });
      r.add(rb2);
      produce(prog, { seq: 0, count: 200 });
      let k = 0;
      r.consume(() => ++k < 17);
      const w = r.wait();
      const it = r.records();
      const first = it.next();
      if (i % 2) r.close();
      else setTimeout(() => r.close(), 1);
      await w;
      await first;
      await it.return();
      r.close();
    }
    expect(fdCount()).toBe(fds);
    expect(ownedFdCount()).toBe(owned);
    expect(ringMappings()).toBe(maps);
  });

  ktest('refuses maps that are not ring buffers, and a closed reader', () => {
    using arr = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    const fds = fdCount();
    expect(() => new RingBufferReader(arr)).toThrow(expect.objectContaining({ code: 'BAD_MAP_TYPE' }));
    expect(fdCount()).toBe(fds);
    const r = new RingBufferReader(rb);
    r.close();
    expect(() => r.lease()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(() => r.add(rb2)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  // Records from another process. Attach is not available yet, so the producer
  // is a child process that loads the same object, reuses the ring pinned by
  // the parent (pinning by-name) and test-runs the producer in rounds, retrying
  // what did not fit, while the parent reads with the async iterator.
  pintest('records produced by another process, while this one reads', async () => {
    const pinDir = join(BPFFS, `tsbpf-rb-${process.pid}`);
    mkdirSync(pinDir, { recursive: true });
    const spec = loadCollectionSpec(OBJ);
    spec.maps.rb!.pinning = 'by-name';
    const shared = loadCollection(spec, { pinPath: pinDir });
    const root = resolve(__dirname, '..');
    const dir = join(root, 'node_modules', '.tsbpf-test');
    mkdirSync(dir, { recursive: true });
    const script = join(dir, `ringbuf-child-${process.pid}.mjs`);
    const child = `
      import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
      import { loadCollection } from '../bpf/loader/collection.ts';
      const [obj, pinDir, total] = process.argv.slice(2);
      process.on('disconnect', () => process.exit(3)); // the parent gave up
      const spec = loadCollectionSpec(obj);
      spec.maps.rb.pinning = 'by-name';
      const coll = loadCollection(spec, { pinPath: pinDir });
      const ctx = new Uint8Array(56);
      const v = new DataView(ctx.buffer);
      v.setUint32(48, 1, true); // stop at the first record that does not fit
      let seq = 0, rounds = 0, retries = 0;
      const N = Number(total);
      while (seq < N) {
        v.setBigUint64(0, BigInt(seq), true);
        v.setUint32(8, Math.min(200, N - seq), true);
        v.setUint32(12, 40, true);
        coll.programs.produce.testRun({ ctx, repeat: 0 });
        const written = v.getUint32(36, true);
        if (v.getUint32(40, true)) retries++;
        seq += written;
        rounds++;
        await new Promise((r) => setTimeout(r, written ? 1 : 5));
      }
      coll.close();
      process.send({ rounds, retries, pid: process.pid });
    `;
    const out = buildSync({
      stdin: { contents: child, resolveDir: join(root, 'test'), loader: 'ts', sourcefile: 'ringbuf-child.ts' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['koffi'],
      write: false,
    });
    writeFileSync(script, out.outputFiles[0]!.text);
    const total = 20_000;
    let proc: ReturnType<typeof fork> | undefined;
    try {
      using r = new RingBufferReader(shared.maps.rb!);
      proc = fork(script, [OBJ, pinDir, String(total)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const report = new Promise<{ rounds: number; retries: number; pid: number }>((res, rej) => {
        proc!.on('message', (m) => res(m as { rounds: number; retries: number; pid: number }));
        proc!.on('exit', (code) => code && rej(new Error(`child exited with ${code}`)));
      });
      let next = 0;
      for await (const rec of r.records({ signal: AbortSignal.timeout(30_000) })) {
        expect(rec.data.readBigUInt64LE(0)).toBe(BigInt(next));
        next++;
        if (next === total) break;
      }
      const rep = await report;
      expect(rep.pid).not.toBe(process.pid);
      expect(rep.rounds).toBeGreaterThanOrEqual(total / 200);
      expect(next).toBe(total);
    } finally {
      if (proc && proc.exitCode === null) proc.kill();
      shared.close();
      rmSync(script, { force: true });
      rmSync(pinDir, { recursive: true, force: true });
    }
  }, 60_000);
});
