/**
 * codec: decoding records through a BTF codec (btfCodec) against a
 * hand-written DataView decoder of the same struct, in the same run
 * (the baseline is `dataview`, not libbpf: libbpf has no decoder).
 *
 *   execsnoop_event.decode  struct event of examples/execsnoop.bpf.o (3 u32, char[16], char[256]) (ns/record)
 *   ten_fields.decode       a 10-field struct: u32, u32, u64, u64, s32, u16, u8, u8, u64, char[16] (ns/record)
 *   ten_fields.encode       the same struct encoded (with every range check) vs DataView setters (ns/record)
 *
 * Each decodes 4096 records laid end to end in one Buffer, as a ring buffer
 * drain sees them; the median of the rounds, alternating the two sides.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BtfBuilder } from '../../btf/builder.ts';
import { btfCodec, type Codec } from '../../btf/codec.ts';
import { loadBtf } from '../../btf/load.ts';
import { median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const RECORDS = 4096;

/** The hand-written string read: up to the NUL, UTF-8. */
function cstring(b: Buffer, o: number, n: number): string {
  let e = o;
  const end = o + n;
  while (e < end && b[e] !== 0) e++;
  return b.toString('utf8', o, e);
}

interface Event {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  filename: string;
}

function handEvent(b: Buffer, v: DataView, o: number): Event {
  return { pid: v.getUint32(o, true), ppid: v.getUint32(o + 4, true), uid: v.getUint32(o + 8, true), comm: cstring(b, o + 12, 16), filename: cstring(b, o + 28, 256) };
}

interface Ten {
  pid: number;
  tid: number;
  ts: bigint;
  bytes: bigint;
  ret: number;
  port: number;
  proto: number;
  flags: number;
  latency: bigint;
  comm: string;
}

function handTen(b: Buffer, v: DataView, o: number): Ten {
  return {
    pid: v.getUint32(o, true),
    tid: v.getUint32(o + 4, true),
    ts: v.getBigUint64(o + 8, true),
    bytes: v.getBigUint64(o + 16, true),
    ret: v.getInt32(o + 24, true),
    port: v.getUint16(o + 28, true),
    proto: v.getUint8(o + 30),
    flags: v.getUint8(o + 31),
    latency: v.getBigUint64(o + 32, true),
    comm: cstring(b, o + 40, 16),
  };
}

function handTenEncode(x: Ten, b: Buffer, v: DataView, o: number): void {
  v.setUint32(o, x.pid, true);
  v.setUint32(o + 4, x.tid, true);
  v.setBigUint64(o + 8, x.ts, true);
  v.setBigUint64(o + 16, x.bytes, true);
  v.setInt32(o + 24, x.ret, true);
  v.setUint16(o + 28, x.port, true);
  v.setUint8(o + 30, x.proto);
  v.setUint8(o + 31, x.flags);
  v.setBigUint64(o + 32, x.latency, true);
  b.fill(0, o + 40, o + 56);
  b.write(x.comm, o + 40, 16, 'utf8');
}

/** struct ten { ... } built with BtfBuilder (56 bytes). */
function tenCodec(): Codec<Ten> {
  const b = new BtfBuilder();
  const int = (name: string, size: number, signed: boolean) => b.add({ kind: 'int', name, size, encoding: signed ? 'signed' : 'none', bitOffset: 0, bits: size * 8 });
  const u8 = int('unsigned char', 1, false);
  const u16 = int('unsigned short', 2, false);
  const u32 = int('unsigned int', 4, false);
  const s32 = int('int', 4, true);
  const u64 = int('unsigned long long', 8, false);
  const char = int('char', 1, true);
  const comm = b.add({ kind: 'array', name: '', type: char, indexType: u32, nelems: 16 });
  const fields: [string, number, number][] = [['pid', u32, 0], ['tid', u32, 4], ['ts', u64, 8], ['bytes', u64, 16], ['ret', s32, 24], ['port', u16, 28], ['proto', u8, 30], ['flags', u8, 31], ['latency', u64, 32], ['comm', comm, 40]];
  const id = b.add({ kind: 'struct', name: 'ten', size: 56, kindFlag: false, members: fields.map(([name, type, off]) => ({ name, type, bitOffset: off * 8, bitfieldSize: 0 })) });
  return btfCodec<Ten>(b.build(), id);
}

/** ns per record of `fn` over the records buffer, median of `rounds` (each side alternating with the other). */
function race(rounds: number, a: () => number, b: () => number): [number, number] {
  const ta: number[] = [];
  const tb: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    for (const [fn, out] of r % 2 ? ([[a, ta], [b, tb]] as const) : ([[b, tb], [a, ta]] as const)) {
      const t0 = process.hrtime.bigint();
      sink += fn();
      out.push(Number(process.hrtime.bigint() - t0) / RECORDS);
    }
  }
  if (sink === 0.5) console.log(sink);
  return [median(ta), median(tb)];
}

export const codec: Workload = {
  name: 'codec',
  description: 'btfCodec decode/encode vs a hand-written DataView decoder of the same struct',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const rounds = ctx.quick ? 41 : 201;
    const out: Measurement[] = [];
    const m = (metric: string, [ts, hand]: [number, number]) => {
      out.push({ workload: 'codec', impl: 'tsbpf', metric, value: ts, unit: 'ns' });
      out.push({ workload: 'codec', impl: 'dataview', metric, value: hand, unit: 'ns' });
    };

    // execsnoop's event, from the shipped object's BTF.
    const btf = loadBtf(readFileSync(resolve(ctx.root, 'examples/execsnoop.bpf.o'))).btf;
    const ev = btfCodec<Event>(btf, btf.findIdByName('event', 'struct'));
    const esz = ev.size;
    const eb = Buffer.alloc(esz * RECORDS);
    const evv = new DataView(eb.buffer, eb.byteOffset, eb.byteLength);
    for (let i = 0; i < RECORDS; i++) ev.encode({ pid: i, ppid: 1, uid: 1000, comm: `proc${i % 97}`, filename: `/usr/bin/program-${i % 13}` }, eb, evv, i * esz);
    m('execsnoop_event.decode', race(
      rounds,
      () => {
        let s = 0;
        for (let i = 0; i < RECORDS; i++) s += ev.decode(eb, evv, i * esz).pid;
        return s;
      },
      () => {
        let s = 0;
        for (let i = 0; i < RECORDS; i++) s += handEvent(eb, evv, i * esz).pid;
        return s;
      },
    ));

    const ten = tenCodec();
    const tsz = ten.size;
    const tb = Buffer.alloc(tsz * RECORDS);
    const tv = new DataView(tb.buffer, tb.byteOffset, tb.byteLength);
    const vals: Ten[] = [];
    for (let i = 0; i < RECORDS; i++) {
      const x: Ten = { pid: i, tid: i + 1, ts: BigInt(i) * 1000n, bytes: 4096n, ret: -i, port: i & 0xffff, proto: 6, flags: i & 0xff, latency: 12345n, comm: `w${i % 31}` };
      vals.push(x);
      ten.encode(x, tb, tv, i * tsz);
    }
    m('ten_fields.decode', race(
      rounds,
      () => {
        let s = 0;
        for (let i = 0; i < RECORDS; i++) s += ten.decode(tb, tv, i * tsz).pid;
        return s;
      },
      () => {
        let s = 0;
        for (let i = 0; i < RECORDS; i++) s += handTen(tb, tv, i * tsz).pid;
        return s;
      },
    ));
    m('ten_fields.encode', race(
      rounds,
      () => {
        for (let i = 0; i < RECORDS; i++) ten.encode(vals[i]!, tb, tv, i * tsz);
        return tb[0]!;
      },
      () => {
        for (let i = 0; i < RECORDS; i++) handTenEncode(vals[i]!, tb, tv, i * tsz);
        return tb[0]!;
      },
    ));
    return out;
  },
};
