/**
 * The drain harness shared by the ringbuf and perfbuf workloads: a session
 * fills a buffer while idle and drains it; sessions warm up, time a few
 * drains (thread CPU time, wall time, heap growth, GCs per drain) and
 * alternate with the libbpf side, and every figure is a median per side.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { threadCpuTimeNs } from '../../syscall/clock.ts';
import type { RecordView } from '../../bpf/events/record.ts';
import { getGc, median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

/** Counts garbage collections within a span of performance.now() times (entries arrive asynchronously). */
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
