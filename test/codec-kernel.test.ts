/**
 * BTF codecs where values cross into the kernel, on test/bpf/codec_types.o:
 * map.typed() with no codecs (BTF-defined maps, and a map reopened by id
 * whose BTF comes back through BTF_GET_FD_BY_ID), per-CPU values for every
 * CPU, global variables decoded and encoded (rodata fixed at load), and ring
 * and perf buffer records decoded through records({ codec }) and
 * RecordView.decode. A test run of `emit` writes one record of each.
 */
import { resolve } from 'node:path';
import { describe, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { BpfMap, CodecError, PerfBufferReader, RingBufferReader, btfCodec, loadCollection, loadCollectionSpec, possibleCpuCount, setVariable, sumPerCpu, type BtfValue, type Collection } from '../lib/index.ts';
import { fdCount, which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const OBJ = resolve(__dirname, 'bpf/codec_types.o');
const BPF_F_TEST_RUN_ON_CPU = 1;

function emit(c: Collection, pid: number, inc: number, cpu?: number): void {
  const ctx = new Uint8Array(16);
  const v = new DataView(ctx.buffer);
  v.setBigUint64(0, BigInt(pid), true);
  v.setBigUint64(8, BigInt(inc), true);
  // raw_tp test runs take no repeat count.
  const r = c.programs.emit!.testRun(cpu === undefined ? { ctx, repeat: 0 } : { ctx, repeat: 0, flags: BPF_F_TEST_RUN_ON_CPU, cpu });
  expect(r.retval).toBe(0);
}

const stats = {
  count: 1n,
  min_time: 2n,
  delta: -3,
  level: 4,
  on: true,
  comm: 'bash',
  ports: [22, 80, 443, 65535],
  where: { x: -1, y: 2 },
  color: -3,
  flags: 0x100000000n,
  ratio: 0.5,
  scale: 1.5,
  ptr: 0n,
  kind: 5,
  sign: -16,
  wide: 0xff_ffff_fffen,
  as_u32: 0x04030201,
  as_bytes: [1, 2, 3, 4],
  inner_a: 7,
  inner_b: 8,
  tiny: -128,
  raw: [1, 2, 3],
};

describe('BTF codecs against the kernel', () => {
  ktest('map.typed() of a BTF-defined hash: struct keys and values both ways, entries and batches', () => {
    const fds = fdCount();
    {
      using c = loadCollection(loadCollectionSpec(OBJ));
      const m = c.maps.stats_by_key!.typed<{ pid: number; name: string }, typeof stats>();
      m.set({ pid: 1, name: 'one' }, stats);
      m.set({ pid: 2, name: 'two' }, { ...stats, comm: 'zsh', count: 99n });
      expect(m.get({ pid: 1, name: 'one' })).toEqual(stats);
      expect(m.get({ pid: 1, name: 'two' })).toBeUndefined();
      const all = new Map([...m.entries()].map(([k, v]) => [`${k.pid}/${k.name}`, v.count]));
      expect(all).toEqual(new Map([['1/one', 1n], ['2/two', 99n]]));
      expect([...m.entries()].map(([k]) => k.pid).sort()).toEqual([1, 2]);
      // Refused before the syscall, with the path.
      const e = thrown(() => m.set({ pid: 3, name: 'x' }, { ...stats, level: 300 }));
      expect(e).toBeInstanceOf(CodecError);
      expect(e.message).toBe('stats_by_key.value.level: 300 does not fit in u8');
      expect(thrown(() => m.set({ pid: 3, name: 'a name too long' }, stats)).message).toContain('stats_by_key.key.name');
      expect(m.get({ pid: 3, name: 'x' })).toBeUndefined();
      // A map without key and value BTF says so.
      expect(thrown(() => c.maps.rb!.typed()).code).toBe('NO_BTF');
    }
    expect(fdCount()).toBe(fds);
  });

  ktest('a map reopened by id is typed from the BTF the kernel reports for it', () => {
    const fds = fdCount();
    {
      using c = loadCollection(loadCollectionSpec(OBJ));
      c.maps.stats_by_key!.typed().set({ pid: 5, name: 'five' }, stats);
      using again = BpfMap.fromId(c.maps.stats_by_key!.info().id);
      const m = again.typed();
      expect(m.get({ pid: 5, name: 'five' })).toEqual(stats);
      expect([...m.keys()]).toEqual([{ pid: 5, name: 'five' }]);
      if (which('bpftool')) {
        // bpftool cannot format floats: it prints "(unsupported-kind" and stops there, so compare the fields before `ratio`.
        const raw = execFileSync('bpftool', ['map', 'dump', 'id', String(again.info().id), '-j'], { encoding: 'utf8' });
        const dump = JSON.parse(raw.replace('(unsupported-kind', 'null')) as { formatted?: { key: { pid: number; name: string }; value: Record<string, unknown> } }[];
        const f = dump[0]!.formatted!;
        expect(f.key).toEqual({ pid: 5, name: 'five' });
        expect(f.value).toEqual({ count: 1, min_time: 2, delta: -3, level: 4, on: true, comm: 'bash', ports: [22, 80, 443, 65535], where: { x: -1, y: 2 }, color: 'BLUE', flags: 'BIG_HIGH', ratio: null });
      }
    }
    expect(fdCount()).toBe(fds);
  });

  ktest('per-CPU arrays decode to one value per possible CPU; sumPerCpu adds them up', () => {
    using c = loadCollection(loadCollectionSpec(OBJ));
    const m = c.maps.counters!.typed<number, bigint[]>();
    const n = possibleCpuCount();
    expect(m.get(0)).toEqual(new Array(n).fill(0n));
    emit(c, 1, 5, 0);
    emit(c, 1, 2, n > 1 ? 1 : 0);
    const per = m.get(0)!;
    expect(per.length).toBe(n);
    expect(per[0]).toBe(n > 1 ? 5n : 7n);
    expect(sumPerCpu(per)).toBe(7n);
    m.set(1, Array.from({ length: n }, (_, i) => BigInt(i)));
    expect(m.get(1)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i)));
    expect(thrown(() => m.set(1, [1n])).code).toBe('OUT_OF_RANGE');
    expect(sumPerCpu([{ a: 1, b: [1n, 2n] }, { a: 2, b: [3n, 4n] }] as BtfValue[] as { a: number; b: bigint[] }[])).toEqual({ a: 3, b: [4n, 6n] });
  });

  ktest('variables: get() decodes, set() encodes with checks; .rodata only before load', () => {
    const spec = loadCollectionSpec(OBJ);
    setVariable(spec, 'origin', { x: 5, y: -6 });
    expect(thrown(() => setVariable(spec, 'origin', { x: 5 })).message).toBe("origin.y: missing (struct point needs every field; the zeroFill option writes zeros instead)");
    using c = loadCollection(spec);
    const v = c.variables;
    expect(v.origin!.get()).toEqual({ x: 5, y: -6 });
    expect(v.limit!.get()).toBe(10);
    expect(v.global_stats!.get()).toMatchObject({ count: 7n, comm: 'init', color: 2, where: { x: 0, y: 0 } });
    expect(thrown(() => v.origin!.set({ x: 1, y: 1 })).code).toBe('READ_ONLY');
    v.global_stats!.set({ ...stats, comm: 'from js' });
    emit(c, 1, 1);
    expect(v.global_stats!.get()).toEqual({ ...stats, comm: 'from js', count: 2n, where: { x: 5, y: -6 } });
    expect(v.last_comm!.get()).toBe('from js');
    expect(v.seen!.get()).toBe(11n);
    const e = thrown(() => v.global_stats!.set({ ...stats, min_time: 2n ** 70n }));
    expect(e.code).toBe('CODEC');
    expect(e.message).toBe('global_stats.min_time: 1180591620717411303424n does not fit in u64');
    expect(v.global_stats!.get()).toMatchObject({ comm: 'from js' }); // unchanged
    v.last_comm!.set('hi');
    expect(v.last_comm!.get()).toBe('hi');
  });

  ktest('ring and perf buffer records decoded through a codec', async () => {
    const spec = loadCollectionSpec(OBJ);
    using c = loadCollection(spec);
    const event = btfCodec<{ pid: number; seq: number; comm: string; where: { x: number; y: number }; color: number }>(spec.btf!, spec.btf!.findIdByName('event', 'struct'), { enumNames: true });
    using ring = new RingBufferReader(c.maps.rb!);
    using perf = new PerfBufferReader(c.maps.perf!);
    emit(c, 42, 1, 0);
    emit(c, 43, 1, 0);
    const want = (pid: number, seq: number) => ({ pid, seq, comm: 'ev', where: { x: 3, y: -1 }, color: 'BLUE' });
    // Zero-copy: decoded in place from the ring.
    const seen: unknown[] = [];
    expect(ring.consume((rec) => void seen.push(rec.decode(event)))).toBe(2);
    expect(seen).toEqual([want(42, 11), want(43, 22)]);
    // The async iterator of decoded values.
    emit(c, 44, 1, 0);
    for await (const e of ring.records({ codec: event, timeout: 5000 })) {
      expect(e).toEqual(want(44, 33));
      break;
    }
    const got: unknown[] = [];
    for await (const e of perf.records({ codec: event, timeout: 5000 })) {
      got.push(e);
      if (got.length === 3) break;
    }
    expect(got).toEqual([want(42, 11), want(43, 22), want(44, 33)]);
    expect(thrown(() => ring.records({ codec: {} as never })).code).toBe('BAD_OPTION');
  });
});
