/**
 * perfbuf-live: a perf buffer read while a live producer writes, tsbpf's
 * PerfBufferReader.poll against libbpf's perf_buffer__poll
 * (bench/libbpf/perfbuf-live.c), 64 pages per CPU on both sides.
 *
 * The producer is one C process for both (bench/libbpf/getpgid-producer.c):
 * pinned to the last online CPU, it calls getpgid(MAGIC) as fast as it can;
 * test/bpf/events_tp.o writes one 16-byte sample per call from the syscall
 * tracepoint. The consumer polls (100 ms timeout) until the producer exits,
 * then drains what is left.
 *
 *   wakeup.*        wakeup_events = 1 (libbpf's perf_buffer__new): one
 *                   wake-up per sample
 *   watermark32k.*  a wake-up once 32 KiB are ready (perf watermark)
 *   *.dropped_pct   samples the consumer did not get, of those produced
 *                   (the seq counter is exact: the kernel's LOST reports
 *                   come only ahead of a later sample)
 *   *.received_per_s  samples received per second, from the go byte to the
 *                   end of the drain (higher is better: a ratio below 1x is slower)
 * Sessions alternate between the two sides; medians.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { PerfBufferReader } from '../../bpf/events/perfbuf.ts';
import { onlineCpus } from '../../syscall/cpus.ts';
import { buildC, median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const PAGES = 64;
const WATERMARK = 32 << 10;

interface Session {
  received: number;
  perSecond: number;
}

/** One tsbpf session: the reader, the producer, poll until it exits, drain. */
async function tsbpfSession(obj: string, producer: string, count: number, cpu: number, watermark: number): Promise<Session> {
  using coll = loadCollection(loadCollectionSpec(obj));
  coll.attachAll();
  using perf = new PerfBufferReader(coll.maps.pb!, watermark ? { pages: PAGES, watermark } : { pages: PAGES, wakeupEvents: 1 });
  const child = spawn(producer, [String(count), String(cpu)], { stdio: ['pipe', 'ignore', 'inherit'] });
  let exited: number | null | undefined;
  const done = new Promise<void>((resolve) => child.on('exit', (code) => ((exited = code), resolve())));
  coll.variables.target_tgid!.set(child.pid!);
  let received = 0;
  const cb = (): void => {
    received++;
  };
  const t0 = process.hrtime.bigint();
  child.stdin!.write('g');
  while (exited === undefined) await perf.poll({ callback: cb, timeout: 100 });
  await done;
  perf.consume(cb);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (exited !== 0) throw new Error(`perfbuf-live: producer exited with ${exited}`);
  return { received, perSecond: received / secs };
}

export const perfbufLive: Workload = {
  name: 'perfbuf-live',
  description: 'perf buffer with a live producer: dropped % and samples/s, one wake-up per sample and a 32 KiB watermark',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const obj = join(ctx.root, 'test/bpf/events_tp.o');
    const producer = buildC(ctx.root, 'getpgid-producer');
    const cpus = onlineCpus();
    const cpu = cpus[cpus.length - 1]!;
    const runs = ctx.quick ? 3 : 5;
    const out: Measurement[] = [];
    for (const [name, watermark, count] of [['wakeup', 0, ctx.quick ? 20_000 : 50_000], ['watermark32k', WATERMARK, ctx.quick ? 100_000 : 400_000]] as const) {
      const ts: Session[] = [];
      const lb: Session[] = [];
      for (let i = 0; i < runs; i++) {
        ts.push(await tsbpfSession(obj, producer, count, cpu, watermark));
        const c = ctx.runC('perfbuf-live', [obj, producer, String(count), String(cpu), String(PAGES), String(watermark)]);
        const get = (metric: string) => c.find((m) => m.metric === metric)!.value;
        lb.push({ received: get('received'), perSecond: get('received_per_s') });
      }
      const dropped = (s: Session[]) => median(s.map((x) => (100 * (count - x.received)) / count));
      const rate = (s: Session[]) => median(s.map((x) => x.perSecond));
      out.push({ workload: 'perfbuf-live', impl: 'tsbpf', metric: `${name}.dropped_pct`, value: dropped(ts), unit: '%' });
      out.push({ workload: 'perfbuf-live', impl: 'libbpf', metric: `${name}.dropped_pct`, value: dropped(lb), unit: '%' });
      out.push({ workload: 'perfbuf-live', impl: 'tsbpf', metric: `${name}.received_per_s`, value: rate(ts), unit: 'samples/s' });
      out.push({ workload: 'perfbuf-live', impl: 'libbpf', metric: `${name}.received_per_s`, value: rate(lb), unit: 'samples/s' });
      ctx.log(`${name}: ${count} samples a session; tsbpf received ${ts.map((s) => s.received).join(', ')}; libbpf ${lb.map((s) => s.received).join(', ')}`);
    }
    return out;
  },
};
