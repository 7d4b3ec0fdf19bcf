/**
 * BTF codecs (btf/codec.ts), pure: round trips decode(encode(x)) = x for
 * every type of every test object and a sample of vmlinux, under each option;
 * the value model (structs, flattening, bitfields, strings, enums); every
 * refusal of encode with its field path; short buffers; hostile names.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, BtfBuilder, btfCodec, CodecError, loadBtf, type BtfCodecOptions, type BtfKind, type BtfValue, type Codec } from '../btf/index.ts';
import { thrown } from './helpers/thrown.ts';

const BPF_DIR = resolve(__dirname, 'bpf');
const objBtf = (file: string): Btf => loadBtf(readFileSync(resolve(BPF_DIR, file))).btf;
const types = objBtf('codec_types.o');
const id = (name: string, kind: BtfKind = 'struct') => types.findIdByName(name, kind);

/** A deterministic PRNG (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function buf(n: number): { b: Uint8Array; v: DataView } {
  const b = new Uint8Array(n);
  return { b, v: new DataView(b.buffer) };
}

function encode<T>(c: Codec<T>, x: T): Uint8Array {
  const { b, v } = buf(c.size);
  c.encode(x, b, v, 0);
  return b;
}

function decode<T>(c: Codec<T>, b: Uint8Array, off = 0): T {
  return c.decode(b, new DataView(b.buffer, b.byteOffset, b.byteLength), off);
}

const VALUE_KINDS = new Set<BtfKind>(['int', 'ptr', 'array', 'struct', 'union', 'enum', 'enum64', 'float', 'typedef', 'const', 'volatile', 'restrict', 'type_tag']);
const OPTION_SETS: BtfCodecOptions[] = [{}, { enumNames: true, typedArrays: true }, { u64AsNumber: true, strings: false }];

/**
 * Round-trip every value type of `btf` (or `ids`) from random bytes: x = decode(random),
 * then decode(encode(x)) must equal x. Strings decoded from invalid UTF-8 may no longer
 * fit their array once re-encoded (U+FFFD is 3 bytes), or clobber a union's other members: those retry with ASCII bytes.
 * (Under u64AsNumber: after one normalising trip.) Returns the kinds seen and the number of values checked.
 */
/** Whether a value of type `id` holds a union (not through a pointer): its views overlap. */
function holdsUnion(btf: Btf, id: number, seen = new Set<number>()): boolean {
  if (seen.has(id)) return false;
  seen.add(id);
  const t = btf.resolve(id);
  if (t.kind === 'union') return true;
  if (t.kind === 'struct') return t.members.some((m) => holdsUnion(btf, m.type, seen));
  if (t.kind === 'array') return holdsUnion(btf, t.type, seen);
  return false;
}

function roundTrips(btf: Btf, ids: Iterable<number>, seed: number, maxSize = 1 << 16): { kinds: Set<BtfKind>; checked: number } {
  const next = rng(seed);
  const kinds = new Set<BtfKind>();
  let checked = 0;
  for (const tid of ids) {
    const kind = btf.kindOf(tid);
    if (!VALUE_KINDS.has(kind)) continue;
    let size: number;
    try {
      size = btf.sizeOf(tid);
    } catch {
      continue; // a typedef of a function prototype, an array without a size
    }
    if (size > maxSize) continue;
    for (const opts of OPTION_SETS) {
      const c = btfCodec(btf, tid, opts);
      expect(c.size).toBe(size);
      for (const ascii of [false, true]) {
        const { b } = buf(size);
        for (let i = 0; i < size; i++) b[i] = ascii ? next() & 0x7f : next() & 0xff;
        let x = decode(c, b);
        // Invalid UTF-8 decodes lossily (U+FFFD): such bytes are not a value; retry with ASCII.
        if (!ascii && hasReplacement(x)) continue;
        let again: Uint8Array;
        try {
          // u64AsNumber rounds past 2^53, and a union's views overlap: its last view written wins
          // (a bool view writes 0 or 1 over the bytes of the others). One trip normalises, after
          // which the value must be stable.
          if (opts.u64AsNumber || holdsUnion(btf, tid)) x = decode(c, encode(c, x));
          again = encode(c, x);
        } catch (e) {
          if (!ascii && e instanceof CodecError && /longer than char|contains a NUL/.test(e.message)) continue;
          throw new Error(`type ${tid} (${btf.typeName(tid)}) ${JSON.stringify(opts)}: ${(e as Error).message}`);
        }
        expect(decode(c, again), `type ${tid} (${btf.typeName(tid)}) ${JSON.stringify(opts)}`).toEqual(x);
        checked++;
        break;
      }
    }
    kinds.add(kind);
  }
  return { kinds, checked };
}

function hasReplacement(x: unknown): boolean {
  if (typeof x === 'string') return x.includes('\uFFFD');
  if (x && typeof x === 'object') return Object.values(x).some(hasReplacement);
  return false;
}

const allIds = (btf: Btf) => Array.from({ length: btf.lastTypeId }, (_, i) => i + 1);

describe('round trips: decode(encode(x)) = x', () => {
  it('every value type of every test object, under each option set', () => {
    const kinds = new Set<BtfKind>();
    let checked = 0;
    const objs = readdirSync(BPF_DIR).filter((f) => f.endsWith('.o'));
    expect(objs.length).toBeGreaterThan(20);
    for (const f of objs) {
      let btf: Btf;
      try {
        btf = objBtf(f);
      } catch {
        continue; // an object without BTF
      }
      const r = roundTrips(btf, allIds(btf), f.length * 7919);
      for (const k of r.kinds) kinds.add(k);
      checked += r.checked;
    }
    for (const k of ['int', 'ptr', 'array', 'struct', 'union', 'enum', 'enum64', 'float', 'typedef', 'const', 'volatile'] as BtfKind[]) expect(kinds).toContain(k);
    expect(checked).toBeGreaterThan(1000);
  });

  it.skipIf(!existsSync('/sys/kernel/btf/vmlinux'))('a sample of 2000 vmlinux types', () => {
    const vm = Btf.parse(readFileSync('/sys/kernel/btf/vmlinux'));
    const next = rng(20251203);
    const pick = new Set<number>();
    const candidates = allIds(vm).filter((i) => VALUE_KINDS.has(vm.kindOf(i)));
    while (pick.size < 2000) pick.add(candidates[next() % candidates.length]!);
    const r = roundTrips(vm, pick, 42);
    expect(r.checked).toBeGreaterThan(4000);
    expect(r.kinds).toContain('struct');
    expect(r.kinds).toContain('union');
  }, 120_000);
});

describe('the value model', () => {
  const stats = btfCodec(types, id('stats'));
  const full = {
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
    ptr: 0xffff_8880_0000_1000n,
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

  it('structs are plain objects, anonymous members flattened, bitfields and char arrays decoded', () => {
    expect(stats.size).toBe(112);
    const b = encode(stats, full);
    expect(decode(stats, b)).toEqual(full);
    // The union member's two views of the same bytes agree.
    expect(decode(stats, encode(stats, { ...full, as_bytes: undefined as unknown as number[] }))).toEqual(full);
    expect(Object.keys(decode(stats, b) as object)).toEqual(Object.keys(full));
    // Padding and unused bits are zero: the bytes are what C would hold.
    expect(encode(stats, full)).toEqual(b);
  });

  it('options: enum names, typed arrays, u64 as number, no strings, zeroFill', () => {
    const named = btfCodec(types, id('stats'), { enumNames: true, typedArrays: true, u64AsNumber: true });
    const d = decode(named, encode(stats, full)) as Record<string, BtfValue>;
    expect(d.color).toBe('BLUE');
    expect(d.flags).toBe('BIG_HIGH');
    expect(d.count).toBe(1);
    expect(d.ports).toEqual(new Uint16Array([22, 80, 443, 65535]));
    expect(d.raw).toEqual(new Uint8Array([1, 2, 3]));
    expect(decode(named, encode(named, d))).toEqual(d);
    // Names are accepted on encode without the option too.
    expect((decode(stats, encode(stats, { ...full, color: 'GREEN' as unknown as number })) as { color: number }).color).toBe(2);
    const raw = btfCodec(types, id('stats'), { strings: false });
    expect((decode(raw, encode(stats, full)) as { comm: number[] }).comm.slice(0, 5)).toEqual([98, 97, 115, 104, 0]);
    const zero = btfCodec(types, id('stats'), { zeroFill: true });
    expect(decode(stats, encode(zero, { count: 9n }))).toMatchObject({ count: 9n, min_time: 0n, comm: '', where: { x: 0, y: 0 }, kind: 0 });
  });

  it('unions decode every member; encode takes any of them', () => {
    const either = btfCodec(types, id('either', 'union'));
    expect(decode(either, encode(either, { pt: { x: 1, y: -1 } }))).toEqual({ number: 0xffff0001n, pt: { x: 1, y: -1 } });
    expect(decode(either, encode(either, {}))).toEqual({ number: 0n, pt: { x: 0, y: 0 } });
  });

  it('the codec is compiled once per type and options', () => {
    expect(btfCodec(types, id('stats'))).toBe(stats);
    expect(btfCodec(types, id('stats'), { enumNames: true })).not.toBe(stats);
  });
});

describe('encode refuses, naming the field path', () => {
  const stats = btfCodec(types, id('stats'), { name: 'stats', zeroFill: true });
  const strict = btfCodec(types, id('stats'));
  const err = (c: Codec<BtfValue>, x: unknown) => {
    const e = thrown(() => encode(c, x as BtfValue));
    expect(e).toBeInstanceOf(CodecError);
    return { code: e.code, message: e.message, path: (e as CodecError).path };
  };

  it('integers out of range, of the wrong JS type', () => {
    expect(err(stats, { min_time: 2n ** 70n })).toEqual({ code: 'CODEC', path: 'stats.min_time', message: 'stats.min_time: 1180591620717411303424n does not fit in u64' });
    expect(err(stats, { min_time: 5 }).message).toBe('stats.min_time: 5 is a number: u64 takes a bigint (or the u64AsNumber option)');
    expect(err(stats, { count: -1n }).message).toBe('stats.count: -1n does not fit in u64');
    expect(err(stats, { delta: 2 ** 31 }).message).toBe('stats.delta: 2147483648 does not fit in s32');
    expect(err(stats, { delta: 1.5 }).message).toBe('stats.delta: 1.5 does not fit in s32');
    expect(err(stats, { delta: 1n }).message).toBe('stats.delta: 1n is a bigint: s32 takes a number');
    expect(err(stats, { delta: '1' }).message).toBe('stats.delta: expected a number for s32, got string "1"');
    expect(err(stats, { level: 256 }).message).toBe('stats.level: 256 does not fit in u8');
    expect(err(stats, { tiny: -129 }).message).toBe('stats.tiny: -129 does not fit in s8');
    expect(err(stats, { where: { x: 40000 } }).path).toBe('stats.where.x');
    expect(err(stats, { ports: [1, 2, -3, 4] }).message).toBe('stats.ports[2]: -3 does not fit in u16');
    expect(err(stats, { color: 'PURPLE' }).message).toBe('stats.color: enum color has no value named "PURPLE"');
    expect(err(stats, { on: 1 }).message).toBe('stats.on: expected a boolean, got number');
    expect(err(stats, { ratio: 1n }).path).toBe('stats.ratio');
    expect(err(stats, { ptr: 1 }).path).toBe('stats.ptr');
  });

  it('bitfields: bounds of their width', () => {
    const ok = (x: BtfValue) => decode(stats, encode(stats, x));
    expect(ok({ kind: 7, sign: -16, wide: 2n ** 40n - 1n })).toMatchObject({ kind: 7, sign: -16, wide: 2n ** 40n - 1n });
    expect(ok({ sign: 15 })).toMatchObject({ sign: 15 });
    expect(err(stats, { kind: 8 }).message).toBe('stats.kind: 8 does not fit in a 3-bit unsigned bitfield');
    expect(err(stats, { sign: 16 }).path).toBe('stats.sign');
    expect(err(stats, { sign: -17 }).path).toBe('stats.sign');
    expect(err(stats, { wide: 2n ** 40n }).path).toBe('stats.wide');
    expect(err(stats, { wide: 1 }).path).toBe('stats.wide');
  });

  it('64-bit edges, signed and unsigned', () => {
    const both = btfCodec(types, id('stats'), { zeroFill: true, u64AsNumber: true });
    expect(decode(both, encode(both, { count: Number.MAX_SAFE_INTEGER }))).toMatchObject({ count: Number.MAX_SAFE_INTEGER });
    expect(decode(stats, encode(both, { count: 2n ** 64n - 1n }))).toMatchObject({ count: 2n ** 64n - 1n });
    expect(err(both, { count: 2 ** 64 }).path).toBe('stats.count');
    expect(decode(stats, encode(both, { count: 2 ** 60 }))).toMatchObject({ count: 2n ** 60n });
    expect(err(both, { count: -1 }).path).toBe('stats.count');
  });

  it('strings: longer than the array, a NUL inside, not a string; multibyte UTF-8 fits by bytes', () => {
    expect(err(stats, { comm: 'x'.repeat(17) }).message).toBe('stats.comm: "xxxxxxxxxxxxxxxxx" is 17 bytes of UTF-8, longer than char[16]');
    expect(decode(stats, encode(stats, { comm: 'x'.repeat(16) }))).toMatchObject({ comm: 'x'.repeat(16) });
    expect(decode(stats, encode(stats, { comm: 'héllo wörld✓' }))).toMatchObject({ comm: 'héllo wörld✓' });
    expect(err(stats, { comm: 'é'.repeat(9) }).path).toBe('stats.comm');
    expect(err(stats, { comm: 'a\0b' }).message).toContain('contains a NUL');
    expect(err(stats, { comm: 5 }).message).toBe('stats.comm: expected a string, got number 5');
  });

  it('structure: unknown and missing fields, wrong lengths, wrong shapes', () => {
    expect(err(stats, { count: 1n, cuont: 2n }).message).toMatch(/^stats: struct stats has no field 'cuont' \(fields: count, min_time, /);
    expect(err(strict, { count: 1n })).toMatchObject({ path: 'stats.min_time', message: expect.stringContaining('stats.min_time: missing (struct stats needs every field') });
    expect(err(stats, { ports: [1, 2, 3] }).message).toBe('stats.ports: expected 4 elements for __u16[4], got 3');
    expect(err(stats, { ports: 'abcd' }).message).toBe('stats.ports: expected an array of 4 elements for __u16[4], got string "abcd"');
    expect(err(stats, { where: 1 }).message).toBe('stats.where: expected an object for struct point, got number 1');
    expect(err(stats, null).message).toBe('stats: expected an object for struct stats, got null');
    expect(err(stats, [1]).path).toBe('stats');
    expect(err(stats, { raw: new Uint16Array(3) }).path).toBe('stats.raw');
  });

  it('short buffers and bad offsets: CODEC_TRUNCATED, nothing read or written outside the value', () => {
    const c = btfCodec(types, id('point'));
    const b = new Uint8Array([1, 0, 2, 0, 0xee]);
    expect(decode(c, b, 1)).toEqual({ x: 0x200, y: 0xee00 - 0x10000 });
    for (const off of [2, -1, 0.5, NaN]) expect(thrown(() => decode(c, b, off)).code).toBe('CODEC_TRUNCATED');
    expect(thrown(() => decode(c, b.subarray(0, 3))).code).toBe('CODEC_TRUNCATED');
    expect(thrown(() => c.decode(undefined as unknown as Uint8Array, new DataView(new ArrayBuffer(4)), 0)).code).toBe('CODEC');
    const out = new Uint8Array(6).fill(0xaa);
    c.encode({ x: 1, y: 2 }, out, new DataView(out.buffer), 1);
    expect([...out]).toEqual([0xaa, 1, 0, 2, 0, 0xaa]);
    expect(thrown(() => c.encode({ x: 1, y: 2 }, out, new DataView(out.buffer), 3)).code).toBe('CODEC_TRUNCATED');
  });
});

describe('hostile BTF', () => {
  it('member names reach the generated code only as quoted strings', () => {
    const b = new BtfBuilder();
    const int = b.add({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 });
    const names = ['"); throw 1; ("', '__proto__', 'constructor', '\u2028x', 'a b', '${x}'];
    b.add({ kind: 'struct', name: 'evil', size: 4 * names.length, kindFlag: false, members: names.map((name, i) => ({ name, type: int, bitOffset: 32 * i, bitfieldSize: 0 })) });
    const btf = b.build();
    const c = btfCodec(btf, 2);
    const x = Object.fromEntries(names.map((n, i) => [n, i - 2]));
    const d = decode(c, encode(c, x)) as Record<string, number>;
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect(Object.keys(d)).toEqual(names);
    for (const [i, n] of names.entries()) expect(d[n]).toBe(i - 2);
  });

  it('two fields of one name (directly or through an anonymous member) are BTF_MALFORMED, not a value decoded one way and encoded another', () => {
    const b = new BtfBuilder();
    const int = b.add({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 });
    const chr = b.add({ kind: 'int', name: 'char', size: 1, encoding: 'char', bitOffset: 0, bits: 8 });
    const str = b.add({ kind: 'array', name: '', type: chr, indexType: int, nelems: 4 });
    const m = (name: string, type: number, bitOffset = 0) => ({ name, type, bitOffset, bitfieldSize: 0 });
    const twice = b.add({ kind: 'struct', name: 'twice', size: 8, kindFlag: false, members: [m('a', int), m('a', int, 32)] });
    const anon = b.add({ kind: 'union', name: '', size: 4, kindFlag: false, members: [m('a', str)] });
    const lifted = b.add({ kind: 'struct', name: 'lifted', size: 8, kindFlag: false, members: [m('a', int), m('', anon, 32)] });
    const btf = b.build();
    for (const id of [twice, lifted]) {
      const e = thrown(() => btfCodec(btf, id));
      expect(e.code).toBe('BTF_MALFORMED');
      expect(e.message).toContain('two fields named "a"');
    }
  });
});
