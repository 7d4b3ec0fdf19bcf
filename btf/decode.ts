/**
 * Decoding bytes into plain JS values through BTF: a struct becomes an object,
 * a char array a string, an integer a number (or a bigint past 32 bits), an
 * array an array. The plan is compiled once per type, so decoding a record
 * walks a flat list of field readers instead of the BTF.
 *
 * The BTF is untrusted: the plan knows how many bytes each reader touches and
 * checks, field by field, that they lie inside the enclosing type's size, so a
 * decode reads nothing outside the value's bytes. Plans are shared per type
 * id, and the number of values a decode may produce is bounded by the size.
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

/** A compiled reader, the bytes it may touch from its offset, and the values it produces. */
interface Plan {
  read: Reader;
  extent: number;
  values: number;
}

/** Values one decode may produce beyond one per byte (zero-sized members, empty structs). */
const VALUES_ALLOWANCE = 1 << 16;
const MAX_DEPTH = 64;

/** A decoder for values of BTF type `typeId`, and the byte size it reads. */
export function btfDecoder(btf: Btf, typeId: number, opts: DecodeOptions = {}): { size: number; decode(bytes: Uint8Array, offset?: number): Decoded } {
  const size = btf.sizeOf(typeId);
  const root = btf.typeName(typeId);
  const p = new Planner(btf, opts).plan(typeId, root, 0);
  if (p.extent > size) fieldError(root, `reads ${p.extent} bytes of a ${size}-byte value`, typeId);
  if (p.values > VALUES_ALLOWANCE + 8 * size) {
    throw new BtfError('BTF_INVALID_TYPE', `${root}: ${p.values} values in ${size} bytes is too many to decode`, { typeId });
  }
  const read = p.read;
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
      return read(new DataView(u8.buffer, u8.byteOffset, u8.byteLength), u8, offset);
    },
  };
}

function fieldError(path: string, what: string, typeId: number): never {
  throw new BtfError('BTF_MALFORMED', `cannot decode ${path}: ${what}`, { typeId });
}

const utf8 = new TextDecoder();

class Planner {
  private readonly memo = new Map<number, Plan>();
  private readonly active = new Set<number>();
  constructor(
    private readonly btf: Btf,
    private readonly opts: DecodeOptions,
  ) {}

  /** The plan of type `id`; `path` names the field for errors (`struct foo.bar[]`). */
  plan(id: number, path: string, depth: number): Plan {
    const done = this.memo.get(id);
    if (done) return done;
    if (depth > MAX_DEPTH || this.active.has(id)) throw new BtfError('BTF_LOOP', `${path}: type ${id} nests too deeply (or contains itself) to decode`, { typeId: id });
    this.active.add(id);
    try {
      const p = this.compile(id, path, depth);
      this.memo.set(id, p);
      return p;
    } finally {
      this.active.delete(id);
    }
  }

  private compile(id: number, path: string, depth: number): Plan {
    const btf = this.btf;
    const t: BtfType = btf.resolve(id);
    const leaf = (extent: number, read: Reader): Plan => ({ read, extent, values: 1 });
    switch (t.kind) {
      case 'int': {
        if (t.encoding === 'bool') return leaf(1, (v, _b, o) => v.getUint8(o) !== 0);
        const signed = t.encoding === 'signed';
        switch (t.size) {
          case 1:
            return leaf(1, signed ? (v, _b, o) => v.getInt8(o) : (v, _b, o) => v.getUint8(o));
          case 2:
            return leaf(2, signed ? (v, _b, o) => v.getInt16(o, true) : (v, _b, o) => v.getUint16(o, true));
          case 4:
            return leaf(4, signed ? (v, _b, o) => v.getInt32(o, true) : (v, _b, o) => v.getUint32(o, true));
          case 8:
            return leaf(8, signed ? (v, _b, o) => v.getBigInt64(o, true) : (v, _b, o) => v.getBigUint64(o, true));
          default: {
            // Odd sizes up to 16 bytes (the parser rejects wider INTs).
            const n = t.size;
            return leaf(n, (_v, b, o) => {
              let x = 0n;
              for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + i]!);
              return signed ? BigInt.asIntN(n * 8, x) : x;
            });
          }
        }
      }
      case 'enum':
        switch (t.size) {
          case 8:
            return leaf(8, (v, _b, o) => v.getBigInt64(o, true));
          case 2:
            return leaf(2, (v, _b, o) => v.getUint16(o, true));
          case 1:
            return leaf(1, (v, _b, o) => v.getUint8(o));
          default:
            return leaf(4, (v, _b, o) => v.getInt32(o, true));
        }
      case 'enum64':
        return leaf(8, (v, _b, o) => v.getBigUint64(o, true));
      case 'float':
        return t.size === 4 ? leaf(4, (v, _b, o) => v.getFloat32(o, true)) : leaf(8, (v, _b, o) => v.getFloat64(o, true));
      case 'ptr':
        return btf.pointerSize === 4 ? leaf(4, (v, _b, o) => BigInt(v.getUint32(o, true))) : leaf(8, (v, _b, o) => v.getBigUint64(o, true));
      case 'array': {
        const elem = btf.resolve(t.type);
        const esz = btf.sizeOf(t.type);
        const n = t.nelems;
        if ((this.opts.strings ?? true) && elem.kind === 'int' && esz === 1 && (elem.encoding === 'char' || elem.name === 'char' || elem.name === 'unsigned char' || elem.name === 'signed char')) {
          return leaf(n, (_v, b, o) => {
            let end = o;
            while (end < o + n && b[end] !== 0) end++;
            return utf8.decode(b.subarray(o, end));
          });
        }
        const r = this.plan(t.type, `${path}[]`, depth + 1);
        if (r.extent > esz) fieldError(`${path}[]`, `element reads ${r.extent} bytes of ${esz}`, id);
        const read = r.read;
        return {
          extent: n ? (n - 1) * esz + r.extent : 0,
          values: 1 + n * r.values,
          read: (v, b, o) => {
            const out: Decoded[] = new Array(n);
            for (let i = 0; i < n; i++) out[i] = read(v, b, o + i * esz);
            return out;
          },
        };
      }
      case 'struct':
      case 'union': {
        const fields: { name: string; read: Reader; off: number }[] = [];
        const spread: { read: Reader; off: number }[] = [];
        let values = 1;
        for (const m of t.members) {
          const mpath = `${path}.${m.name || '(anon)'}`;
          const mt = btf.resolve(m.type);
          // Legacy (non-kind_flag) bitfields: ints narrower than their size, or not byte aligned.
          const legacy = !m.bitfieldSize && mt.kind === 'int' && (mt.bits !== mt.size * 8 || m.bitOffset % 8 !== 0 || mt.bitOffset !== 0);
          if (m.bitfieldSize || legacy) {
            const start = legacy && mt.kind === 'int' ? m.bitOffset + mt.bitOffset : m.bitOffset;
            const bits = legacy && mt.kind === 'int' ? mt.bits : m.bitfieldSize;
            if (start + bits > t.size * 8) fieldError(mpath, `bits [${start}, +${bits}) are outside the ${t.size}-byte ${t.kind}`, id);
            if (m.name) fields.push({ name: m.name, off: 0, read: bitfield(btf, m.type, start, bits) });
            values++;
            continue;
          }
          if (m.bitOffset % 8) fieldError(mpath, `bit offset ${m.bitOffset} is not byte aligned`, id);
          const off = m.bitOffset / 8;
          const r = this.plan(m.type, mpath, depth + 1);
          if (off + r.extent > t.size) fieldError(mpath, `bytes [${off}, +${r.extent}) are outside the ${t.size}-byte ${t.kind}`, id);
          values += r.values;
          // Anonymous struct/union members lend their fields to the parent, as in C.
          if (m.name) fields.push({ name: m.name, read: r.read, off });
          else if (mt.kind === 'struct' || mt.kind === 'union') spread.push({ read: r.read, off });
        }
        return {
          extent: t.size,
          values,
          read: (v, b, o) => {
            const out: { [k: string]: Decoded } = {};
            for (const f of fields) out[f.name] = f.read(v, b, o + f.off);
            for (const s of spread) Object.assign(out, s.read(v, b, o + s.off) as object);
            return out;
          },
        };
      }
      case 'void':
      case 'func_proto':
      case 'fwd':
        return { extent: 0, values: 1, read: () => null };
      default:
        throw new BtfError('BTF_INVALID_TYPE', `cannot decode ${path}: a ${t.kind} (${btf.typeName(id)})`, { typeId: id });
    }
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
