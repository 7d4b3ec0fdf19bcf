/**
 * The typed API's tutorial scenarios, written as a user of the package would
 * (imports from the public entry only, no byte offset, no DataView, no `as`):
 * syscall counters in an ARRAY and a PERCPU_ARRAY, per-process stats with a
 * `char comm[16]`, ring buffer events, versioned filters in a HASH_OF_MAPS,
 * and an LPM trie, stack, queue, bloom filter and LRU hash filled from user
 * space. The program (test/bpf/tutorials.c) counts getpgid(MAGIC + k) calls of
 * this process, which the test makes through koffi.
 */
import koffi from 'koffi';
import { describe, expect } from 'vitest';
import { BpfMap, btfCodec, loadCollection, loadCollectionSpec, possibleCpuCount, RingBufferReader, setVariable, sumPerCpu, u32 } from '../lib/index.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const OBJ = new URL('./bpf/tutorials.o', import.meta.url).pathname;
const MAGIC = 0x7ffffff0;
const syscall = koffi.load('libc.so.6').func('long syscall(long, long)') as (nr: number, arg: number) => number;
const getpgid = (arg: number) => syscall(121, arg); // x86_64 __NR_getpgid; fails with ESRCH, the tracepoint still fires

interface ProcStats {
  calls: bigint;
  last_arg: bigint;
  pid: number;
  comm: string;
}
interface Event {
  pid: number;
  seq: number;
  arg: bigint;
  comm: string;
}
interface LpmV4 {
  prefixlen: number;
  addr: number[];
}

describe.skipIf(process.arch !== 'x64')('tutorial scenarios, typed end to end', () => {
  ktest('counters, per-CPU counters, stats with comm, ring buffer events, versioned filters', async () => {
    const before = fdCount();
    {
      const spec = loadCollectionSpec(OBJ);
      setVariable(spec, 'target_tgid', process.pid); // const volatile: set before load
      using coll = loadCollection(spec);
      coll.attachAll();
      using reader = new RingBufferReader(coll.maps.events!);

      // Versioned filters: build version 1 of the allow list beside the one the
      // object installed, swap it in, then point the program at it.
      using v1 = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 16, name: 'allow_v1' });
      v1.typed(u32, u32).set(process.pid, 1);
      coll.maps.filters!.typed(u32, u32).set(1, v1.fd);
      coll.variables.filter_version!.set(1);

      const calls = [0, 1, 1, 2, 2, 2, 3];
      for (const k of calls) getpgid(MAGIC + k);

      const counts = coll.maps.counts!.typed<number, bigint>();
      expect([0, 1, 2, 3].map((k) => counts.get(k))).toEqual([1n, 2n, 3n, 1n]);

      const pcpu = coll.maps.pcpu_counts!.typed<number, bigint[]>();
      const slot2 = pcpu.get(2)!;
      expect(slot2.length).toBe(possibleCpuCount());
      expect(sumPerCpu(slot2)).toBe(3n);
      expect(sumPerCpu([...pcpu.entries()].map(([, v]) => sumPerCpu(v)))).toBe(BigInt(calls.length));

      const stats = coll.maps.stats!.typed<number, ProcStats>();
      const mine = stats.get(process.pid)!;
      expect(mine).toMatchObject({ calls: BigInt(calls.length), last_arg: BigInt(MAGIC + 3), pid: process.pid });
      expect(mine.comm.length).toBeGreaterThan(0);
      expect(mine.comm.length).toBeLessThan(16);

      const btf = spec.btf!; // undefined only for an object compiled without -g
      const codec = btfCodec<Event>(btf, btf.findIdByName('event', 'struct'));
      const events: Event[] = [];
      for await (const e of reader.records({ codec })) {
        events.push(e);
        if (events.length === calls.length) break;
      }
      expect(events.map((e) => e.arg)).toEqual(calls.map((k) => BigInt(MAGIC + k)));
      expect(events.map((e) => e.seq)).toEqual(calls.map((_, i) => i));
      for (const e of events) expect(e).toMatchObject({ pid: process.pid, comm: mine.comm });

      expect(coll.variables.filtered!.get()).toBe(BigInt(calls.length));
      expect(coll.variables.seq!.get()).toBe(calls.length);
    }
    expect(fdCount()).toBe(before);
  });

  ktest('LPM trie, stack, queue, bloom filter and LRU hash through their BTF types', () => {
    const before = fdCount();
    {
      using coll = loadCollection(loadCollectionSpec(OBJ));
      const routes = coll.maps.routes!.typed<LpmV4, number>();
      routes.set({ prefixlen: 8, addr: [10, 0, 0, 0] }, 1);
      routes.set({ prefixlen: 24, addr: [10, 1, 2, 0] }, 2);
      expect(routes.get({ prefixlen: 32, addr: [10, 1, 2, 3] })).toBe(2);
      expect(routes.get({ prefixlen: 32, addr: [10, 9, 9, 9] })).toBe(1);
      expect(routes.get({ prefixlen: 32, addr: [192, 168, 0, 1] })).toBeUndefined();
      expect(() => routes.set({ prefixlen: 8, addr: [10, 0, 0, 256] }, 1)).toThrow(/addr\[3\].*256/);

      const lifo = coll.maps.lifo!.typed<null, bigint>();
      for (const v of [1n, 2n, 3n]) lifo.push(v);
      expect([lifo.peek(), lifo.pop(), lifo.pop(), lifo.pop(), lifo.pop()]).toEqual([3n, 3n, 2n, 1n, undefined]);

      const fifo = coll.maps.fifo!.typed<null, Event>();
      fifo.push({ pid: 1, seq: 0, arg: 5n, comm: 'first' });
      fifo.push({ pid: 2, seq: 1, arg: 6n, comm: 'second' });
      expect(fifo.pop()).toEqual({ pid: 1, seq: 0, arg: 5n, comm: 'first' });
      expect(() => fifo.push({ pid: 3, seq: 2, arg: 7n, comm: 'a name longer than sixteen' })).toThrow(/comm/);
      expect(fifo.pop()).toEqual({ pid: 2, seq: 1, arg: 6n, comm: 'second' });

      const seen = coll.maps.seen!.typed<null, number>();
      for (const v of [7, 11, 13]) seen.push(v);
      expect([7, 11, 13].every((v) => seen.mayContain(v))).toBe(true);

      const recent = coll.maps.recent!.typed<number, ProcStats>();
      for (let pid = 1; pid <= 6; pid++) recent.set(pid, { calls: BigInt(pid), last_arg: 0n, pid, comm: `p${pid}` });
      const kept = [...recent.entries()];
      expect(kept.length).toBeLessThanOrEqual(4); // LRU: the oldest went
      for (const [pid, s] of kept) expect(s).toEqual({ calls: BigInt(pid), last_arg: 0n, pid, comm: `p${pid}` });
    }
    expect(fdCount()).toBe(before);
  });
});
