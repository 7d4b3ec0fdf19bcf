/**
 * No wake-up is ever missed: a consumer that waits with no timeout gets every
 * record of a producer that writes one record at a time, each with its own
 * wake-up (wakeup_events = 1), on every CPU in turn. The producer is another
 * process in lock step with the reader: it moves itself to the next CPU, calls
 * getpgid(MAGIC) (test/bpf/events_tp.c writes one sample into the perf buffer
 * of the CPU it runs on), then blocks until the reader acknowledges the
 * record. One lost wake-up stalls both for good, and the test times out.
 */
import { spawn } from 'node:child_process';
import { describe, expect } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { PerfBufferReader } from '../bpf/events/perfbuf.ts';
import { onlineCpus } from '../syscall/cpus.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const OBJ = new URL('./bpf/events_tp.o', import.meta.url).pathname;
const N = 100_000;

/** Waits for a line, then N times: pin itself to the next CPU, getpgid(MAGIC), read one ack byte from stdin. */
function lockStepChild(n: number, cpus: number[]) {
  const code = `
    const k = require('koffi');
    const fs = require('fs');
    const libc = k.load('libc.so.6');
    const getpgid = libc.func('int getpgid(int)');
    const setaff = libc.func('int sched_setaffinity(int, size_t, void *)');
    const cpus = ${JSON.stringify(cpus)};
    const masks = cpus.map((c) => { const m = Buffer.alloc(128); m[c >> 3] |= 1 << (c & 7); return m; });
    const ack = Buffer.alloc(1);
    const readAck = () => { for (;;) { try { if (fs.readSync(0, ack, 0, 1) === 1) return; process.exit(3); } catch (e) { if (e.code !== 'EAGAIN') throw e; } } };
    readAck();
    for (let i = 0; i < ${n}; i++) {
      if (cpus.length > 1 && setaff(0, 128, masks[i % cpus.length]) !== 0) process.exit(2);
      getpgid(0x7ffffff0);
      readAck();
    }
    process.exit(0);`;
  return spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'inherit', 'inherit'], cwd: new URL('..', import.meta.url).pathname });
}

describe('PerfBufferReader wake-ups', () => {
  ktest(`a consumer with no timeout receives each of ${N} records written one at a time, one wake-up each, on every CPU`, async () => {
    const before = fdCount();
    const cpus = onlineCpus();
    {
      using coll = loadCollection(loadCollectionSpec(OBJ));
      coll.attachAll();
      using perf = new PerfBufferReader(coll.maps.pb!, { pages: 8, wakeupEvents: 1 });
      const child = lockStepChild(N, cpus);
      const exited = new Promise<number | null>((res) => child.on('exit', res));
      coll.variables.target_tgid!.set(child.pid!);
      const perCpu = new Map<number, number>();
      let received = 0;
      let bad = 0;
      const onRecord = (r: { cpu: number; getBigUint64(o: number): bigint }) => {
        if (r.getBigUint64(0) !== BigInt(received)) bad++;
        perCpu.set(r.cpu, (perCpu.get(r.cpu) ?? 0) + 1);
        received++;
      };
      try {
        child.stdin!.write('g');
        while (received + perf.lost < N) {
          const n = await perf.poll({ callback: onRecord });
          if (n > 0) child.stdin!.write(Buffer.alloc(n));
        }
      } finally {
        child.stdin!.end();
      }
      expect(await exited).toBe(0);
      expect(bad).toBe(0);
      expect(perf.lost).toBe(0);
      expect(received).toBe(N);
      for (const c of cpus) expect(perCpu.get(c), `records on CPU ${c}`).toBe(N / cpus.length);
    }
    expect(fdCount()).toBe(before);
  }, { timeout: 300_000 });
});
