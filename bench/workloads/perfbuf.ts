/**
 * perfbuf: draining per-CPU perf buffers filled while the consumer was idle,
 * tsbpf's PerfBufferReader.consume vs libbpf's perf_buffer__consume
 * (bench/libbpf/perfbuf.c), in ns per record.
 *
 * Both sides load test/bpf/perfbuf_producer.o, open a buffer of 65,536 pages
 * (256 MiB) on every CPU (sample_period 1, PERF_SAMPLE_RAW, wakeup_events
 * 65,536), fill CPU 0's buffer by test-running the raw_tp `produce` on CPU 0
 * (BPF_F_TEST_RUN_ON_CPU, bpf_perf_event_output in a bpf_loop, in chunks of
 * 100,000), then time one drain with a callback that reads one u64:
 *   drain64    2,000,000 samples of 64 bytes (80 bytes in the ring)
 *   drain512     400,000 samples of 512 bytes (528 bytes in the ring)
 * CPU time per record, sessions alternating, medians: see ringbuf.ts; also
 * drain*.wall, and (tsbpf only) heap growth and GCs over a whole drain.
 *
 * wakeup_events is not libbpf's 1 (perf_buffer__new hard-codes it): with 1,
 * every sample queues an irq_work whose self-interrupt is a VM exit here, and
 * the untimed fill takes minutes. The drain does not depend on it.
 */
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import type { Program } from '../../bpf/programs/program.ts';
import { PerfBufferReader } from '../../bpf/events/perfbuf.ts';
import { possibleCpuCount } from '../../syscall/cpus.ts';
import type { Workload } from '../harness.ts';
import { drainWorkload } from './drain.ts';

const BPF_F_TEST_RUN_ON_CPU = 1;
const PAGES = 65536;
/** wakeup_events on both sides (see the file comment). */
const WAKEUP_EVENTS = 65536;

function fill(p: Program, count: number, size: number): void {
  const ctx = new Uint8Array(32);
  const v = new DataView(ctx.buffer);
  for (let done = 0; done < count; ) {
    const n = Math.min(100_000, count - done);
    v.setBigUint64(0, BigInt(done), true);
    v.setBigUint64(8, BigInt(n), true);
    v.setBigUint64(16, BigInt(size), true);
    const refused = p.testRun({ ctx, repeat: 0, flags: BPF_F_TEST_RUN_ON_CPU, cpu: 0 }).retval;
    if (refused) throw new Error(`perfbuf fill: ${refused} samples refused`);
    done += n;
  }
}

export const perfbuf: Workload = drainWorkload({
  name: 'perfbuf',
  description: 'drain a perf buffer filled while idle: 2M × 64 B and 400k × 512 B samples, ns/record',
  object: 'test/bpf/perfbuf_producer.o',
  cArgs: [String(PAGES), String(WAKEUP_EVENTS)],
  open(obj) {
    const spec = loadCollectionSpec(obj);
    spec.maps.events!.maxEntries = possibleCpuCount();
    const coll = loadCollection(spec);
    const reader = new PerfBufferReader(coll.maps.events!, { pages: PAGES, wakeupEvents: WAKEUP_EVENTS });
    const prog = coll.programs.produce!;
    return {
      fill: (count, size) => fill(prog, count, size),
      drain: (cb) => reader.consume(cb),
      check() {
        if (reader.lost) throw new Error(`perfbuf: ${reader.lost} samples lost`);
      },
      close() {
        reader.close();
        coll.close();
      },
    };
  },
});
