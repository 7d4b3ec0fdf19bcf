/**
 * Codecs turn map keys and values into bytes and back. Maps move bytes;
 * codecs give them types. Integer codecs are built in; later, BTF supplies
 * codecs for structs, so decoding stays separate from transport.
 */
export interface Codec<T> {
  /** Encoded size in bytes. */
  readonly size: number;
  /** Write `value` at `offset` of `bytes`/`view` (the same memory). */
  encode(value: T, bytes: Uint8Array, view: DataView, offset: number): void;
  /** Read a value at `offset`; must copy out anything that outlives the call. */
  decode(bytes: Uint8Array, view: DataView, offset: number): T;
}

const int = <T>(size: number, enc: Codec<T>['encode'], dec: Codec<T>['decode']): Codec<T> => ({ size, encode: enc, decode: dec });

export const u8: Codec<number> = int(1, (v, b, _d, o) => void (b[o] = v), (b, _d, o) => b[o]!);
export const u16: Codec<number> = int(2, (v, _b, d, o) => d.setUint16(o, v, true), (_b, d, o) => d.getUint16(o, true));
export const u32: Codec<number> = int(4, (v, _b, d, o) => d.setUint32(o, v, true), (_b, d, o) => d.getUint32(o, true));
export const i32: Codec<number> = int(4, (v, _b, d, o) => d.setInt32(o, v, true), (_b, d, o) => d.getInt32(o, true));
export const u64: Codec<bigint> = int(8, (v, _b, d, o) => d.setBigUint64(o, v, true), (_b, d, o) => d.getBigUint64(o, true));
export const i64: Codec<bigint> = int(8, (v, _b, d, o) => d.setBigInt64(o, v, true), (_b, d, o) => d.getBigInt64(o, true));

/** Raw bytes of a fixed size; decode copies. */
export function bytes(size: number): Codec<Buffer> {
  return {
    size,
    encode(v, b, _d, o) {
      if (v.byteLength !== size) throw new RangeError(`expected ${size} bytes, got ${v.byteLength}`);
      b.set(v, o);
    },
    decode: (b, _d, o) => Buffer.from(b.subarray(o, o + size)),
  };
}
