/**
 * Event streams fed by an attached program and another process: a child
 * process calls getpgid(MAGIC) N times; the tracepoint program writes a sequence
 * number per call into a ring buffer and a perf buffer. The ring buffer
 * delivers every record exactly once and in order; for the perf buffer,
 * received + lost equals produced.
 */
import { spawn } from 'node:child_process';
import { describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { PerfBufferReader } from '../bpf/events/perfbuf.ts';
import { RingBufferReader } from '../bpf/events/ringbuf.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const OBJ = new URL('./bpf/events_tp.o', import.meta.url).pathname;
const N = 20_000;

/** A child that waits for a line on stdin, then calls getpgid(MAGIC) `n` times and exits. */
function getpidChild(n: number) {
  const code = `process.stdin.once('data', () => { const k = require('koffi'); const g = k.load('libc.so.6').func('long syscall(long, long)'); for (let i = 0; i < ${n}; i++) g(121, 0x7ffffff0); process.exit(0); });`;
  return spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'inherit', 'inherit'], cwd: new URL('..', import.meta.url).pathname });
}

describe('records from an attached tracepoint, triggered by another process', () => {
  ktest('ring buffer: all N records, once each, in order; perf buffer: received + lost == N', async () => {
    const before = fdCount();
    {
      using coll = loadCollection(loadCollectionSpec(OBJ));
      coll.attachAll();
      using ring = new RingBufferReader(coll.maps.rb!);
      using perf = new PerfBufferReader(coll.maps.pb!, { pages: 256 }); // 1 MiB per CPU > N × 32 bytes
      const child = getpidChild(N);
      coll.variables.target_tgid!.set(child.pid!);
      const exited = new Promise<number | null>((res) => child.on('exit', res));
      child.stdin!.write('go\n');

      let next = 0n;
      let bad = 0;
      let perfSeen = 0;
      const ringCb = (r: { getBigUint64(o: number): bigint; getUint32(o: number): number }) => {
        if (r.getBigUint64(0) !== next || r.getUint32(8) !== child.pid) bad++;
        next++;
      };
      const perfCb = () => void perfSeen++;
      // Wait for the condition, not for a time: every record is in the ring
      // buffer, and the perf buffers hold them all too (pages: 256 above, so no sample
      // can be lost, so none can be lost unreported behind the last one).
      while (next < BigInt(N)) await ring.poll({ callback: ringCb });
      while (perfSeen + perf.lost < N) await perf.poll({ callback: perfCb });
      expect(await exited).toBe(0);
      expect(bad).toBe(0);
      expect(next).toBe(BigInt(N));
      expect(perfSeen + Number(perf.lost)).toBe(N);
    }
    expect(fdCount()).toBe(before);
  }, { timeout: 60_000 });
});
