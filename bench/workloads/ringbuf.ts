/**
 * ringbuf: draining a BPF ring buffer that was filled while the consumer was
 * idle, tsbpf's RingBufferReader.consume vs libbpf's ring_buffer__consume
 * (bench/libbpf/ringbuf.c), in ns per record.
 *
 * Both sides load the same object (test/bpf/ringbuf_producer.o) with the ring
 * resized to 256 MiB, fill it by test-running `produce` (bpf_loop, reserve +
 * submit with BPF_RB_NO_WAKEUP, sequence-numbered records), then time one
 * drain with a callback that reads one u64 of each record:
 *   drain64         2,000,000 records of 64 bytes: CPU time of the draining
 *                   thread per record
 *   drain512          400,000 records of 512 bytes: the same
 *   drain*.wall     the same drains in wall-clock time
 * Thread CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID) on both sides) is
 * the figure to compare: this 2-vCPU guest is shared, and a drain of a few
 * tens of ms is often preempted or stolen by the host (the kernel's paravirt
 * steal accounting keeps steal out of CPU time, not out of wall time), and
 * process CPU time would charge V8's background compiles to the drain. tsbpf and libbpf sessions alternate (tsbpf, libbpf, libbpf,
 * tsbpf), each with a warm-up and a few timed drains; every figure is the
 * median of all timed drains of a side.
 * Informational (tsbpf only): heap growth over a whole drain, in bytes, and
 * the number of garbage collections during it: the synchronous path must not
 * allocate per record, so both stay flat whatever the record count.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import type { Program } from '../../bpf/programs/program.ts';
import { RingBufferReader } from '../../bpf/events/ringbuf.ts';
import { threadCpuTimeNs } from '../../syscall/poll.ts';
import type { RecordView } from '../../bpf/events/record.ts';
import { median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const RB_NO_WAKEUP = 1;
const MODE_RESERVE = 1;

export function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Counts garbage collections between start() and stop() (entries arrive asynchronously). */
export class GcCounter {
  #entries: { start: number; kind: number }[] = [];
  #obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.#entries.push({ start: e.startTime, kind: (e as unknown as { detail?: { kind: number } }).detail?.kind ?? 0 });
  });
  constructor() {
    this.#obs.observe({ entryTypes: ['gc'] });
  }
  /** GCs that started within [t0, t1] (performance.now() times); waits for pending entries first. */
  async count(t0: number, t1: number): Promise<number> {
    await new Promise((r) => setTimeout(r, 10));
    return this.#entries.filter((e) => e.start >= t0 && e.start <= t1).length;
  }
  close(): void {
    this.#obs.disconnect();
  }
}

export interface DrainSample {
  cpu: number;
  wall: number;
  heap: number;
  gcs: number;
}

/**
 * Time one synchronous drain: CPU and wall time per record, heap growth (after
 * a forced GC before, none during), GCs during it.
 */
export async function timeDrain(gc: () => void, gcs: GcCounter, n: number, drain: () => number): Promise<DrainSample> {
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const c0 = threadCpuTimeNs();
  const t0 = performance.now();
  const got = drain();
  const t1 = performance.now();
  const c1 = threadCpuTimeNs();
  const h1 = process.memoryUsage().heapUsed;
  if (got !== n) throw new Error(`drained ${got} of ${n} records`);
  return { cpu: (c1 - c0) / n, wall: ((t1 - t0) * 1e6) / n, heap: h1 - h0, gcs: await gcs.count(t0, t1) };
}


/**
 * Alternate tsbpf and libbpf sessions (tsbpf, libbpf, libbpf, tsbpf) and
 * report medians per side. `ts(size)` runs one tsbpf session for a record size
 * and returns its timed drains; `c()` runs the C program once (both sizes).
 */
export async function alternate(
  ctx: BenchContext,
  workload: string,
  sizes: number[],
  ts: (size: number) => Promise<DrainSample[]>,
  c: () => Measurement[],
): Promise<Measurement[]> {
  const tsRuns = new Map<number, DrainSample[]>();
  const cRuns = new Map<string, number[]>();
  for (const side of ['tsbpf', 'libbpf', 'libbpf', 'tsbpf']) {
    if (side === 'tsbpf') {
      for (const size of sizes) tsRuns.set(size, [...(tsRuns.get(size) ?? []), ...(await ts(size))]);
    } else {
      for (const m of c()) {
        if (!m.metric.endsWith('.run')) continue;
        const key = m.metric.slice(0, -'.run'.length);
        cRuns.set(key, [...(cRuns.get(key) ?? []), m.value]);
      }
    }
  }
  const out: Measurement[] = [];
  const put = (impl: 'tsbpf' | 'libbpf', metric: string, value: number, unit: string) => out.push({ workload, impl, metric, value, unit });
  for (const size of sizes) {
    const r = tsRuns.get(size)!;
    put('tsbpf', `drain${size}`, median(r.map((x) => x.cpu)), 'ns/record');
    put('libbpf', `drain${size}`, median(cRuns.get(`drain${size}`) ?? [NaN]), 'ns/record');
    put('tsbpf', `drain${size}.wall`, median(r.map((x) => x.wall)), 'ns/record');
    put('libbpf', `drain${size}.wall`, median(cRuns.get(`drain${size}.wall`) ?? [NaN]), 'ns/record');
    put('tsbpf', `drain${size}.heap_growth`, Math.max(...r.map((x) => x.heap)), 'bytes/drain');
    put('tsbpf', `drain${size}.gcs`, Math.max(...r.map((x) => x.gcs)), 'count/drain');
    ctx.log(
      `drain${size}: tsbpf cpu ${r.map((x) => x.cpu.toFixed(1)).join(' ')} | wall ${r.map((x) => x.wall.toFixed(1)).join(' ')} ns/record; ` +
        `libbpf cpu ${(cRuns.get(`drain${size}`) ?? []).map((x) => x.toFixed(1)).join(' ')} | wall ${(cRuns.get(`drain${size}.wall`) ?? []).map((x) => x.toFixed(1)).join(' ')}; ` +
        `heap growth per drain ≤ ${Math.max(...r.map((x) => x.heap))} B, GCs ≤ ${Math.max(...r.map((x) => x.gcs))}`,
    );
  }
  return out;
}

/** One session of a drain workload: a loaded object and its reader. */
export interface DrainSession {
  /** Have the kernel write `count` records of `size` bytes. */
  fill(count: number, size: number): void;
  /** Drain every ready record through `cb`; returns how many. */
  drain(cb: (rec: RecordView) => void): number;
  /** Checked after each timed drain (throws on trouble). */
  check?(): void;
  close(): void;
}

export interface DrainWorkload {
  name: string;
  description: string;
  /** The BPF object, relative to the repository root. */
  object: string;
  /** Load the object (its path) and open a reader on it. */
  open(obj: string): DrainSession;
  /** Arguments of the C side after the object, the run count and the two record counts. */
  cArgs?: string[];
}

/**
 * A drain workload: per record size, sessions that warm up, then time `runs`
 * drains of a buffer filled while idle, with a callback that reads one u64 of
 * each record; tsbpf and libbpf sessions alternate (see alternate()).
 */
export function drainWorkload(w: DrainWorkload): Workload {
  return {
    name: w.name,
    description: w.description,
    async run(ctx: BenchContext): Promise<Measurement[]> {
      const runs = ctx.quick ? 2 : 3;
      const counts: Record<number, number> = { 64: ctx.quick ? 500_000 : 2_000_000, 512: ctx.quick ? 100_000 : 400_000 };
      const obj = join(ctx.root, w.object);
      const gc = getGc();
      const gcs = new GcCounter();
      // The checksum lives in a Float64Array: a closure variable holding a double would box a new
      // number per record (V8 keeps context slots tagged), which is the callback allocating, not the reader.
      const acc = new Float64Array(1);
      const cb = (rec: RecordView): void => {
        acc[0] += rec.getUint64(0);
      };
      const session = async (size: number): Promise<DrainSample[]> => {
        const s = w.open(obj);
        const n = counts[size]!;
        const out: DrainSample[] = [];
        try {
          // Warm up until V8 has optimized the drain and the walk with everything
          // inlined: many short drains, then a full one. (CPU time is process-wide,
          // so a background compile during a timed drain would count.)
          for (let i = 0; i < 40; i++) {
            s.fill(n / 100, size);
            s.drain(cb);
          }
          s.fill(n, size);
          s.drain(cb);
          for (let i = 0; i < runs; i++) {
            s.fill(n, size);
            out.push(await timeDrain(gc, gcs, n, () => s.drain(cb)));
            s.check?.();
          }
        } finally {
          s.close();
        }
        return out;
      };
      try {
        return await alternate(ctx, w.name, [64, 512], session, () =>
          ctx.runC(w.name, [obj, String(runs), String(counts[64]), String(counts[512]), ...(w.cArgs ?? [])]),
        );
      } finally {
        gcs.close();
        if (!(acc[0]! > 0)) throw new Error(`${w.name}: no checksum`);
      }
    },
  };
}

function fill(p: Program, count: number, size: number): void {
  const ctx = new Uint8Array(56);
  const v = new DataView(ctx.buffer);
  v.setUint32(8, count, true);
  v.setUint32(12, size, true);
  v.setUint32(16, MODE_RESERVE, true);
  v.setUint32(20, RB_NO_WAKEUP, true);
  p.testRun({ ctx, repeat: 0 });
  const written = v.getUint32(36, true);
  if (written !== count || v.getUint32(40, true)) throw new Error(`ringbuf fill: wrote ${written} of ${count}`);
}

export const ringbuf: Workload = drainWorkload({
  name: 'ringbuf',
  description: 'drain a ring buffer filled while idle: 2M × 64 B and 400k × 512 B records, ns/record',
  object: 'test/bpf/ringbuf_producer.o',
  open(obj) {
    const spec = loadCollectionSpec(obj);
    spec.maps.rb!.maxEntries = 1 << 28; // everything fits: 2M × 72 B = 144 MB
    const coll = loadCollection(spec);
    const reader = new RingBufferReader(coll.maps.rb!);
    const prog = coll.programs.produce!;
    return {
      fill: (count, size) => fill(prog, count, size),
      drain: (cb) => reader.consume(cb),
      close() {
        reader.close();
        coll.close();
      },
    };
  },
});

