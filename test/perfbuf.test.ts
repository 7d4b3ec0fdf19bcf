/**
 * Perf buffer reader against the real kernel. The producer is
 * test/bpf/perfbuf_producer.c, a raw_tp program test-run on a chosen CPU
 * (BPF_F_TEST_RUN_ON_CPU) that writes `count` sequence-numbered samples with
 * bpf_perf_event_output(BPF_F_CURRENT_CPU) and returns how many failed.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection, type Collection } from '../bpf/loader/collection.ts';
import { PerfBufferReader, type PerfEvent } from '../bpf/events/perfbuf.ts';
import type { Program } from '../bpf/programs/program.ts';
import { BpfMap } from '../bpf/maps/map.ts';
import { onlineCpus, possibleCpuCount } from '../syscall/cpus.ts';
import { pageSize } from '../syscall/mmap.ts';
import { ownedFdCount } from '../syscall/fd.ts';
import { readFileSync } from 'node:fs';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const OBJ = resolve(__dirname, 'bpf/perfbuf_producer.o');
const BPF_F_TEST_RUN_ON_CPU = 1;

/** Payload size the producer uses for `seq` in varying mode. */
const varySize = (seq: number, vary: number) => 16 + Number((BigInt(seq) * 40503n) % BigInt(vary));
/** Bytes a sample of `size` payload bytes takes in the ring: header, u32 raw size, payload padded to 8. */
const recordBytes = (size: number) => 8 + ((size + 4 + 7) & ~7);

function perfMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('anon_inode:[perf_event]')).length;
}

describe('PerfBufferReader', () => {
  let coll: Collection;
  let prog: Program;
  let events: BpfMap;
  const cpus = onlineCpus();

  beforeAll(() => {
    if (process.getuid?.() !== 0 && !process.env.CI) return;
    const spec = loadCollectionSpec(OBJ);
    spec.maps.events!.maxEntries = possibleCpuCount();
    coll = loadCollection(spec);
    prog = coll.programs.produce!;
    events = coll.maps.events!;
  });
  afterAll(() => coll?.close());

  /** Write `count` samples on `cpu`; returns how many bpf_perf_event_output refused. */
  function produce(cpu: number, seq: number, count: number, size = 64, vary = 0): number {
    const ctx = new Uint8Array(32);
    const v = new DataView(ctx.buffer);
    v.setBigUint64(0, BigInt(seq), true);
    v.setBigUint64(8, BigInt(count), true);
    v.setBigUint64(16, BigInt(size), true);
    v.setBigUint64(24, BigInt(vary), true);
    return prog.testRun({ ctx, repeat: 0, flags: BPF_F_TEST_RUN_ON_CPU, cpu }).retval;
  }

  ktest('samples from every online CPU arrive tagged with their CPU, in order per CPU', () => {
    using r = new PerfBufferReader(events, { pages: 4 });
    expect(r.cpus).toEqual(cpus.filter((c) => c < possibleCpuCount()));
    expect(r.bufferSize).toBe(4 * pageSize());
    for (const cpu of cpus) expect(produce(cpu, cpu * 1000, 20)).toBe(0);
    const seen = new Map<number, number[]>();
    const n = r.consume((rec) => {
      expect(rec.getUint32(12)).toBe(rec.cpu); // the CPU the program ran on
      // The kernel pads the raw data to keep records 8-byte aligned; the raw size includes the padding.
      expect(rec.length).toBe(68);
      expect(rec.ring).toBe(-1);
      const l = seen.get(rec.cpu) ?? [];
      l.push(rec.getUint64(0));
      seen.set(rec.cpu, l);
    });
    expect(n).toBe(20 * cpus.length);
    for (const cpu of cpus) expect(seen.get(cpu)).toEqual(Array.from({ length: 20 }, (_, i) => cpu * 1000 + i));
    expect(r.lost).toBe(0);
  });

  ktest('received + lost == produced, with exact lost counts per CPU', () => {
    const lostCalls: [number, number][] = [];
    using r = new PerfBufferReader(events, { pages: 1, onLost: (cpu, n) => void lostCalls.push([cpu, n]) });
    const perRecord = recordBytes(64); // 80
    let produced = 0;
    let refused = 0;
    let received = 0;
    const refusedByCpu: Record<number, number> = {};
    for (const cpu of cpus) {
      const f = produce(cpu, 0, 500);
      refusedByCpu[cpu] = f;
      refused += f;
      produced += 500;
      // A 4 KiB buffer takes 51 records of 80 bytes (the kernel never fills the last bytes).
      expect(500 - f).toBe(Math.floor((pageSize() - 1) / perRecord));
    }
    received += r.consume(() => {});
    expect(r.lost).toBe(0); // not reported yet: the kernel writes PERF_RECORD_LOST ahead of the next sample that fits
    for (const cpu of cpus) expect(produce(cpu, 500, 1)).toBe(0);
    produced += cpus.length;
    received += r.consume(() => {});
    expect(received + r.lost).toBe(produced);
    expect(r.lost).toBe(refused);
    expect(r.lostByCpu).toEqual(refusedByCpu);
    expect(lostCalls.sort()).toEqual(cpus.map((c) => [c, refusedByCpu[c]]).sort());
  });

  ktest('records that wrap past the end of the ring are reassembled whole', () => {
    using r = new PerfBufferReader(events, { pages: 1 });
    const cpu = cpus[0]!;
    const size = pageSize();
    let seq = 0;
    let pos = 0;
    let wrapped = 0;
    for (let round = 0; round < 60; round++) {
      const count = 5;
      expect(produce(cpu, seq, count, 0, 700)).toBe(0);
      let k = 0;
      const n = r.consume((rec) => {
        const s = rec.getUint64(0);
        expect(s).toBe(seq + k);
        const payload = varySize(s, 700);
        expect(rec.length).toBe(((payload + 4 + 7) & ~7) - 4);
        expect(rec.getUint32(8)).toBe(payload);
        expect(rec.getUint8(payload - 1)).toBe(s & 0xff);
        expect(rec.copy().readBigUInt64LE(0)).toBe(BigInt(s));
        const bytes = recordBytes(payload);
        if ((pos % size) + bytes > size) wrapped++;
        pos += bytes;
        k++;
      });
      expect(n).toBe(count);
      seq += count;
    }
    expect(wrapped).toBeGreaterThan(10);
  });

  ktest('pause() drops (and counts) samples until resume()', () => {
    using r = new PerfBufferReader(events, { pages: 2, cpus: [cpus[0]!] });
    const cpu = cpus[0]!;
    r.pause();
    expect(produce(cpu, 0, 10)).toBe(10);
    expect(r.consume(() => {})).toBe(0);
    r.resume();
    expect(produce(cpu, 10, 3)).toBe(0);
    const seen: number[] = [];
    expect(r.consume((rec) => void seen.push(rec.getUint64(0)))).toBe(3);
    expect(seen).toEqual([10, 11, 12]);
    expect(r.lost).toBe(10);
    expect(r.lostByCpu).toEqual({ [cpu]: 10 });
  });

  ktest('poll() wakes on epoll; the async iterator yields copies and lost reports; AbortSignal and close() end waits', async () => {
    const r = new PerfBufferReader(events, { pages: 1 });
    const cpu = cpus[cpus.length - 1]!;
    setTimeout(() => produce(cpu, 1, 2), 20);
    const seen: number[] = [];
    expect(await r.poll({ callback: (rec) => void seen.push(rec.getUint64(0)), timeout: 5000 })).toBe(2);
    expect(seen).toEqual([1, 2]);
    expect(await r.poll({ callback: () => {}, timeout: 20 })).toBe(0);

    const refused = produce(cpu, 0, 100);
    expect(refused).toBeGreaterThan(0);
    const got: PerfEvent[] = [];
    setTimeout(() => produce(cpu, 100, 1), 20);
    for await (const e of r.records({ signal: AbortSignal.timeout(5000) })) {
      got.push(e);
      if (e.type === 'lost') break;
    }
    // The 100 - refused samples that fitted, then the report of the others ahead of sample 100.
    const samples = got.filter((e): e is PerfEvent & { type: 'sample' } => e.type === 'sample');
    expect(samples.map((e) => Number(e.data.readBigUInt64LE(0)))).toEqual(Array.from({ length: 100 - refused }, (_, i) => i));
    expect(samples.every((e) => e.cpu === cpu && e.data.length === 68)).toBe(true);
    expect(got[got.length - 1]).toEqual({ type: 'lost', cpu, lost: refused });
    expect(r.lost).toBe(refused);
    const last = await r.records().next();
    expect(last.value).toMatchObject({ type: 'sample', cpu });

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await expect(r.wait({ signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const waiting = r.wait();
    setTimeout(() => r.close(), 20);
    expect(await waiting).toBe(false);
    expect(await r.poll()).toBe(0);
  });

  ktest('close() from a callback is deferred; a reader closed mid-stream releases fds and mappings and leaves the map', async () => {
    const fds = fdCount();
    const owned = ownedFdCount();
    const maps = perfMappings();
    for (let i = 0; i < 20; i++) {
      const r = new PerfBufferReader(events, { pages: 2 });
      expect(perfMappings()).toBe(maps + r.cpus.length);
      for (const cpu of cpus) produce(cpu, 0, 30);
      let k = 0;
      const n = r.consume((rec) => {
        if (++k === 7) {
          r.close();
          expect(rec.getUint64(0)).toBe(6); // still readable until consume() returns
        }
      });
      expect(n).toBe(7);
      expect(r.closed).toBe(true);
      expect(perfMappings()).toBe(maps);
      const w = r.wait();
      expect(await w).toBe(false);
    }
    expect(fdCount()).toBe(fds);
    expect(ownedFdCount()).toBe(owned);
    // The fds were taken out of the map: output now finds no event.
    for (const cpu of cpus) expect(produce(cpu, 0, 3)).toBe(3);
  });

  ktest('refuses maps of other types, pages that are not a power of two, CPUs beyond the map', () => {
    const fds = fdCount();
    using arr = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(() => new PerfBufferReader(arr)).toThrow(expect.objectContaining({ code: 'BAD_MAP_TYPE' }));
    expect(() => new PerfBufferReader(events, { pages: 3 })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => new PerfBufferReader(events, { cpus: [possibleCpuCount()] })).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    arr.close();
    expect(fdCount()).toBe(fds);
  });
});
