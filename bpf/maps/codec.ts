/**
 * Codecs turn map keys and values into bytes and back. Maps move bytes;
 * codecs give them types. Integer codecs are built in; later, BTF supplies
 * codecs for structs (btf/codec.ts, where the Codec interface lives: btf/ is
 * below bpf/), so decoding stays separate from transport.
 */
import { TsbpfError } from '../../errors.ts';
import type { Codec } from '../../btf/codec.ts';

export type { Codec };

/** An integer that does not fit the size it is written as (negative for unsigned, too large, fractional, NaN, or the wrong JS type). */
export class ValueRangeError extends TsbpfError {
  declare readonly code: 'OUT_OF_RANGE';
  constructor(message: string) {
    super('OUT_OF_RANGE', message);
  }
}

const int = <T>(size: number, enc: Codec<T>['encode'], dec: Codec<T>['decode']): Codec<T> => ({ size, encode: enc, decode: dec });

/** A number codec over [min, max]: DataView setters wrap out-of-range values silently, so check first. */
function num(name: string, size: number, min: number, max: number, set: (d: DataView, o: number, v: number) => void, get: Codec<number>['decode']): Codec<number> {
  return int(
    size,
    (v, _b, d, o) => {
      // `v >= min && v <= max` is false for NaN; Number.isInteger is false for non-numbers.
      if (!(Number.isInteger(v) && v >= min && v <= max)) throw new ValueRangeError(`${name}: ${typeof v === 'number' ? v : `a ${typeof v}`} is not an integer in [${min}, ${max}]`);
      set(d, o, v);
    },
    get,
  );
}

function big(name: string, min: bigint, max: bigint, set: (d: DataView, o: number, v: bigint) => void, get: Codec<bigint>['decode']): Codec<bigint> {
  return int(
    8,
    (v, _b, d, o) => {
      if (typeof v !== 'bigint') throw new ValueRangeError(`${name}: expected a bigint, got a ${typeof v}`);
      if (v < min || v > max) throw new ValueRangeError(`${name}: ${v} is out of range [${min}, ${max}]`);
      set(d, o, v);
    },
    get,
  );
}

export const u8: Codec<number> = num('u8', 1, 0, 0xff, (d, o, v) => d.setUint8(o, v), (b, _d, o) => b[o]!);
export const u16: Codec<number> = num('u16', 2, 0, 0xffff, (d, o, v) => d.setUint16(o, v, true), (_b, d, o) => d.getUint16(o, true));
export const u32: Codec<number> = num('u32', 4, 0, 0xffff_ffff, (d, o, v) => d.setUint32(o, v, true), (_b, d, o) => d.getUint32(o, true));
export const i32: Codec<number> = num('i32', 4, -0x8000_0000, 0x7fff_ffff, (d, o, v) => d.setInt32(o, v, true), (_b, d, o) => d.getInt32(o, true));
export const u64: Codec<bigint> = big('u64', 0n, (1n << 64n) - 1n, (d, o, v) => d.setBigUint64(o, v, true), (_b, d, o) => d.getBigUint64(o, true));
export const i64: Codec<bigint> = big('i64', -(1n << 63n), (1n << 63n) - 1n, (d, o, v) => d.setBigInt64(o, v, true), (_b, d, o) => d.getBigInt64(o, true));

/** Raw bytes of a fixed size; decode copies. */
export function bytes(size: number): Codec<Buffer> {
  return {
    size,
    encode(v, b, _d, o) {
      if (!(v instanceof Uint8Array)) throw new ValueRangeError(`bytes(${size}): expected a Uint8Array, got a ${typeof v}`);
      if (v.byteLength !== size) throw new TsbpfError('BAD_SIZE', `bytes(${size}): expected ${size} bytes, got ${v.byteLength}`);
      b.set(v, o);
    },
    decode: (b, _d, o) => Buffer.from(b.subarray(o, o + size)),
  };
}

/**
 * A per-CPU value: `cpus` values of `codec`, each in its own slot of
 * `codec.size` rounded up to 8 bytes, as the kernel lays them out. Decodes to
 * an array (index = CPU number); encode takes one value per CPU.
 */
export function perCpuCodec<T>(codec: Codec<T>, cpus: number): Codec<T[]> {
  if (!Number.isInteger(cpus) || cpus < 1) throw new TsbpfError('BAD_VALUE', `perCpuCodec: cpus must be a whole number >= 1, got ${cpus}`);
  const stride = (codec.size + 7) & ~7;
  return {
    size: stride * cpus,
    decode(b, d, o) {
      const out: T[] = new Array(cpus);
      for (let c = 0; c < cpus; c++) out[c] = codec.decode(b, d, o + c * stride);
      return out;
    },
    encode(v, b, d, o) {
      if (!Array.isArray(v) || v.length !== cpus) throw new ValueRangeError(`per-CPU value: expected an array of ${cpus} values (one per possible CPU), got ${Array.isArray(v) ? v.length : typeof v}`);
      b.fill(0, o, o + stride * cpus);
      for (let c = 0; c < cpus; c++) codec.encode(v[c]!, b, d, o + c * stride);
    },
  };
}

type Summable = number | bigint | readonly Summable[] | { readonly [k: string]: Summable } | string | boolean | null;

/**
 * The sum of per-CPU values: numbers and bigints add up, arrays and objects
 * field by field (other values, such as strings, are CPU 0's).
 */
export function sumPerCpu<T extends Summable>(values: readonly T[]): T {
  if (!values.length) throw new TsbpfError('BAD_VALUE', 'sumPerCpu: no values');
  let acc = values[0] as T;
  for (let i = 1; i < values.length; i++) acc = add(acc, values[i]!) as T;
  return acc;
}

function add(a: Summable, b: Summable): Summable {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) return a.map((x: Summable, i) => add(x, b[i] as Summable));
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const out = (a as unknown as { slice(): Record<number, number | bigint> & { length: number } }).slice();
    const bb = b as unknown as ArrayLike<number | bigint>;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (bb[i] as number);
    return out as unknown as Summable;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const out: Record<string, Summable> = {};
    for (const [k, v] of Object.entries(a)) out[k] = add(v as Summable, (b as Record<string, Summable>)[k]!);
    return out;
  }
  return a;
}
