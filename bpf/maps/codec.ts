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
