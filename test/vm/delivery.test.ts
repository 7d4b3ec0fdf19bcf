/**
 * Ring buffer and perf buffer delivery on the kernel under test: a tracepoint
 * program (test/bpf/vm_delivery.c, no bpf_loop or SEC("syscall"), so it loads
 * on every kernel of the matrix) sends one record per getpid(2) of this
 * process through a RINGBUF (5.8) and a PERF_EVENT_ARRAY. The host's
 * ringbuf/perfbuf tests use a producer that needs 5.17. VM only (see helpers.ts).
 */
import { describe, expect } from 'vitest';
import { attachTracepoint } from '../../bpf/link/tracepoint.ts';
import { PerfBufferReader } from '../../bpf/events/perfbuf.ts';
import { RingBufferReader } from '../../bpf/events/ringbuf.ts';
import { ifSupported } from '../helpers/kernel-features.ts';
import { loadWithTarget, sys, vmtest } from './helpers.ts';

const N = 50;

describe('ring and perf buffer delivery in the guest (vm_delivery.o)', () => {
  vmtest(`${N} getpid calls: ${N} records (at least) in order through the ring buffer, the same through the perf buffer; nothing lost`, async (ctx) => {
    using c = await ifSupported(ctx, () => loadWithTarget('vm_delivery'));
    using ring = new RingBufferReader(c.maps.ring!);
    using perf = new PerfBufferReader(c.maps.perf!, { pages: 8 });
    const link = attachTracepoint(c.programs.deliver!, 'syscalls', 'sys_enter_getpid');
    try {
      for (let i = 0; i < N; i++) expect(sys('getpid')).toBe(process.pid);
    } finally {
      // Detached before reading, so a getpid of another thread cannot land in one buffer and not the other.
      link.close();
    }

    const fromRing: number[] = [];
    ring.consume((rec) => {
      expect(rec.length).toBe(16);
      expect(rec.getUint32(8)).toBe(process.pid);
      fromRing.push(rec.getUint64(0));
    });
    // Every getpid of the process counts, also one from another of its threads: at least N, numbered without a gap.
    expect(fromRing.length).toBeGreaterThanOrEqual(N);
    expect(fromRing).toEqual(Array.from({ length: fromRing.length }, (_, i) => i));

    const fromPerf: number[] = [];
    perf.consume((rec) => {
      expect(rec.getUint32(8)).toBe(process.pid);
      expect(rec.getUint32(12)).toBe(rec.cpu);
      fromPerf.push(rec.getUint64(0));
    });
    // Per CPU in order; across CPUs the reader interleaves, so compare as a set.
    expect(fromPerf.sort((a, b) => a - b)).toEqual(fromRing);
    expect(perf.lost).toBe(0);
  });
});
