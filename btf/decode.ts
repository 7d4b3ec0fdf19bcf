/**
 * btfDecoder: the decode half of a BTF codec (./codec.ts) behind the older
 * `decode(bytes, offset)` signature, for callers that only read. One
 * implementation: this compiles and caches through btfCodec.
 */
import type { Btf } from './btf.ts';
import { btfCodec, type BtfValue } from './codec.ts';
import { BtfError } from './errors.ts';

export type Decoded = BtfValue;

export interface DecodeOptions {
  /** Decode char arrays as strings (default true). */
  strings?: boolean;
}

/** A decoder for values of BTF type `typeId`, and the byte size it reads. */
export function btfDecoder(btf: Btf, typeId: number, opts: DecodeOptions = {}): { size: number; decode(bytes: Uint8Array, offset?: number): Decoded } {
  const codec = btfCodec(btf, typeId, { strings: opts.strings });
  const size = codec.size;
  const root = btf.typeName(typeId);
  return {
    size,
    decode(bytes, offset = 0) {
      if (!ArrayBuffer.isView(bytes)) {
        throw new BtfError('BTF_INVALID_TYPE', `cannot decode ${root}: expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`, { typeId });
      }
      const view = bytes as ArrayBufferView;
      const u8 = view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      if (!Number.isInteger(offset) || offset < 0 || offset + size > u8.byteLength) {
        throw new BtfError('BTF_TRUNCATED', `cannot decode ${root} (${size} bytes) at offset ${offset} of ${u8.byteLength} bytes`, { typeId });
      }
      return codec.decode(u8, new DataView(u8.buffer, u8.byteOffset, u8.byteLength), offset);
    },
  };
}
