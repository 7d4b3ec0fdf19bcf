/**
 * Decoding bytes into plain JS values through BTF: a struct becomes an object,
 * a char array a string, an integer a number (or a bigint past 32 bits), an
 * array an array. The plan is compiled once per type, so decoding a record
 * walks a flat list of field readers instead of the BTF.
 */
import type { Btf } from './btf.ts';
import { BtfError } from './errors.ts';
import type { BtfType } from './types.ts';

export type Decoded = number | bigint | boolean | string | null | Decoded[] | { [field: string]: Decoded };

export type Reader = (view: DataView, bytes: Uint8Array, offset: number) => Decoded;

export interface DecodeOptions {
  /** Decode char arrays as strings (default true). */
  strings?: boolean;
}

/** A decoder for values of BTF type `typeId`, and the byte size it reads. */
export function btfDecoder(btf: Btf, typeId: number, opts: DecodeOptions = {}): { size: number; decode(bytes: Uint8Array, offset?: number): Decoded } {
  const read = plan(btf, typeId, opts, 0);
  const size = btf.sizeOf(typeId);
  return {
    size,
    decode(bytes, offset = 0) {
      if (offset + size > bytes.byteLength) {
        throw new BtfError('BTF_TRUNCATED', `cannot decode ${btf.typeName(typeId)} (${size} bytes) from ${bytes.byteLength - offset} bytes`);
      }
      return read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes, offset);
    },
  };
}

const utf8 = new TextDecoder();

function plan(btf: Btf, id: number, opts: DecodeOptions, depth: number): Reader {
  if (depth > 64) throw new BtfError('BTF_LOOP', `type ${id} nests too deeply to decode`);
  const t: BtfType = btf.resolve(id);
  switch (t.kind) {
    case 'int': {
      if (t.encoding === 'bool') return (v, _b, o) => v.getUint8(o) !== 0;
      const signed = t.encoding === 'signed';
      switch (t.size) {
        case 1:
          return signed ? (v, _b, o) => v.getInt8(o) : (v, _b, o) => v.getUint8(o);
        case 2:
          return signed ? (v, _b, o) => v.getInt16(o, true) : (v, _b, o) => v.getUint16(o, true);
        case 4:
          return signed ? (v, _b, o) => v.getInt32(o, true) : (v, _b, o) => v.getUint32(o, true);
        case 8:
          return signed ? (v, _b, o) => v.getBigInt64(o, true) : (v, _b, o) => v.getBigUint64(o, true);
        default: {
          const n = t.size;
          return (_v, b, o) => {
            let x = 0n;
            for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + i]!);
            return signed ? BigInt.asIntN(n * 8, x) : x;
          };
        }
      }
    }
    case 'enum':
      return t.size === 8 ? (v, _b, o) => v.getBigInt64(o, true) : t.size === 2 ? (v, _b, o) => v.getUint16(o, true) : t.size === 1 ? (v, _b, o) => v.getUint8(o) : (v, _b, o) => v.getInt32(o, true);
    case 'enum64':
      return (v, _b, o) => v.getBigUint64(o, true);
    case 'float':
      return t.size === 4 ? (v, _b, o) => v.getFloat32(o, true) : (v, _b, o) => v.getFloat64(o, true);
    case 'ptr':
      return (v, _b, o) => v.getBigUint64(o, true);
    case 'array': {
      const elem = btf.resolve(t.type);
      const esz = btf.sizeOf(t.type);
      const n = t.nelems;
      if ((opts.strings ?? true) && elem.kind === 'int' && esz === 1 && (elem.encoding === 'char' || elem.name === 'char' || elem.name === 'unsigned char' || elem.name === 'signed char')) {
        return (_v, b, o) => {
          let end = o;
          while (end < o + n && b[end] !== 0) end++;
          return utf8.decode(b.subarray(o, end));
        };
      }
      const r = plan(btf, t.type, opts, depth + 1);
      return (v, b, o) => {
        const out: Decoded[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = r(v, b, o + i * esz);
        return out;
      };
    }
    case 'struct':
    case 'union': {
      const fields: { name: string; read: Reader; off: number }[] = [];
      const spread: { read: Reader; off: number }[] = [];
      for (const m of t.members) {
        if (m.bitfieldSize) {
          fields.push({ name: m.name, off: 0, read: bitfield(btf, m.type, m.bitOffset, m.bitfieldSize) });
          continue;
        }
        const r = plan(btf, m.type, opts, depth + 1);
        // Anonymous struct/union members lend their fields to the parent, as in C.
        if (!m.name) spread.push({ read: r, off: m.bitOffset / 8 });
        else fields.push({ name: m.name, read: r, off: m.bitOffset / 8 });
      }
      return (v, b, o) => {
        const out: { [k: string]: Decoded } = {};
        for (const f of fields) out[f.name] = f.read(v, b, o + f.off);
        for (const s of spread) Object.assign(out, s.read(v, b, o + s.off) as object);
        return out;
      };
    }
    case 'void':
    case 'func_proto':
    case 'fwd':
      return () => null;
    default:
      throw new BtfError('BTF_INVALID_TYPE', `cannot decode a ${t.kind} (${btf.typeName(id)})`);
  }
}

function bitfield(btf: Btf, typeId: number, bitOffset: number, bits: number): Reader {
  const t = btf.resolve(typeId);
  const signed = t.kind === 'int' ? t.encoding === 'signed' : t.kind === 'enum' && t.signed;
  const first = Math.floor(bitOffset / 8);
  const shift = bitOffset % 8;
  const nbytes = Math.ceil((shift + bits) / 8);
  return (_v, b, o) => {
    let x = 0n;
    for (let i = nbytes - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + first + i]!);
    x = (x >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
    if (signed) x = BigInt.asIntN(bits, x);
    return bits <= 32 ? Number(x) : x;
  };
}
