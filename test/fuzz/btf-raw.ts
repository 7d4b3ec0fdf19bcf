/**
 * Raw little-endian BTF from words, for hostile inputs no builder would write
 * (the builder and the marshaller refuse or fix up what these tests need).
 */
export const K = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, TYPEDEF: 8, CONST: 10, FLOAT: 16 } as const;

/** btf_type.info */
export const info = (kind: number, vlen = 0, kflag = false): number => ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;

/** A BTF blob: `types` are the words of types 1..n, `strings` the string section after the leading NUL. */
export function rawBtf(types: readonly (readonly number[])[], strings = 'a\0'): Uint8Array {
  const words = types.flat();
  const str = new TextEncoder().encode('\0' + strings);
  const out = new Uint8Array(24 + words.length * 4 + str.length);
  const d = new DataView(out.buffer);
  d.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  d.setUint32(4, 24, true);
  d.setUint32(8, 0, true);
  d.setUint32(12, words.length * 4, true);
  d.setUint32(16, words.length * 4, true);
  d.setUint32(20, str.length, true);
  words.forEach((w, i) => d.setUint32(24 + 4 * i, w >>> 0, true));
  out.set(str, 24 + words.length * 4);
  return out;
}

/** Name offset of 'a' in rawBtf's default strings. */
export const A = 1;
/** An `int` (4 bytes, signed, 32 bits) named 'a'. */
export const INT32 = [A, info(K.INT), 4, (1 << 24) | 32] as const;
