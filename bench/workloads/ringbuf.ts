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
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import type { Program } from '../../bpf/programs/program.ts';
import { RingBufferReader } from '../../bpf/events/ringbuf.ts';
import type { Workload } from '../harness.ts';
import { drainWorkload } from './drain.ts';

const RB_NO_WAKEUP = 1;
const MODE_RESERVE = 1;

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

