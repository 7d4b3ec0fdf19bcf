/**
 * Writing BTF: type objects (./types.ts) + a string table -> header, type
 * section and string section bytes, in either byte order.
 */
import { BtfError } from './errors.ts';
import type { StringTable } from './strings.ts';
import {
  BTF_KIND,
  BTF_MAX_VLEN,
  type BtfType,
  type BtfTypeInput,
} from './types.ts';

export interface MarshalOptions {
  /** Byte order of the output; default: the host's (little-endian on x86/arm64). */
  littleEndian?: boolean;
  /** btf_header.hdr_len (>= 24; extra header bytes are zero). Default 24. */
  hdrLen?: number;
  /** btf_header.flags. Default 0. */
  flags?: number;
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type AnyType = BtfTypeInput | Exclude<BtfType, { kind: 'void' }>;

const INT_ENC = { none: 0, signed: 1, char: 2, bool: 4 } as const;
const FUNC_LINKAGE = { static: 0, global: 1, extern: 2 } as const;
const VAR_LINKAGE = { static: 0, global: 1, extern: 2 } as const;

/** Number of 32-bit words a type occupies in the type section. */
export function typeWords(t: AnyType): number {
  switch (t.kind) {
    case 'int':
    case 'var':
    case 'decl_tag':
      return 4;
    case 'array':
      return 6;
    case 'struct':
    case 'union':
      return 3 + 3 * t.members.length;
    case 'enum':
      return 3 + 2 * t.values.length;
    case 'enum64':
      return 3 + 3 * t.values.length;
    case 'func_proto':
      return 3 + 2 * t.params.length;
    case 'datasec':
      return 3 + 3 * t.vars.length;
    default:
      return 3;
  }
}

const u32 = (v: number, what: string): number => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BtfError('BTF_MALFORMED', `${what} ${v} is not a u32`);
  return v;
};

/**
 * Encode `t` into `w` at word `o` (native endianness). `str` gives name
 * offsets; `maxId` bounds type references. Returns the next word offset.
 */
export function encodeType(t: AnyType, w: Uint32Array, o: number, str: (s: string) => number, maxId: number, id: number): number {
  const ref = (r: number) => {
    if (!Number.isInteger(r) || r < 0 || r > maxId) {
      throw new BtfError('BTF_MALFORMED', `type ${id} (${t.kind}) references type ${r}, beyond the last type ${maxId}`, { typeId: id });
    }
    return r;
  };
  const vlen = (n: number) => {
    if (n > BTF_MAX_VLEN) throw new BtfError('BTF_MALFORMED', `type ${id} (${t.kind}) has ${n} entries, more than ${BTF_MAX_VLEN}`, { typeId: id });
    return n;
  };
  const info = (kind: number, n: number, kflag: boolean) => ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen(n)) >>> 0;
  w[o] = str(t.name);
  const p = o + 3;
  switch (t.kind) {
    case 'int': {
      const enc = INT_ENC[t.encoding];
      if (enc === undefined) throw new BtfError('BTF_MALFORMED', `type ${id}: bad int encoding '${t.encoding as string}'`, { typeId: id });
      if (t.bits > 128 || t.bitOffset > 255 || t.bits < 0 || t.bitOffset < 0) {
        throw new BtfError('BTF_MALFORMED', `type ${id}: bad int bits ${t.bits} / offset ${t.bitOffset}`, { typeId: id });
      }
      w[o + 1] = info(BTF_KIND.INT, 0, false);
      w[o + 2] = u32(t.size, 'size');
      w[p] = ((enc << 24) | (t.bitOffset << 16) | t.bits) >>> 0;
      return p + 1;
    }
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag': {
      const k = { ptr: BTF_KIND.PTR, typedef: BTF_KIND.TYPEDEF, volatile: BTF_KIND.VOLATILE, const: BTF_KIND.CONST, restrict: BTF_KIND.RESTRICT, type_tag: BTF_KIND.TYPE_TAG }[t.kind];
      w[o + 1] = info(k, 0, t.kind === 'type_tag' && t.kindFlag);
      w[o + 2] = ref(t.type);
      return p;
    }
    case 'array':
      w[o + 1] = info(BTF_KIND.ARRAY, 0, false);
      w[o + 2] = 0;
      w[p] = ref(t.type);
      w[p + 1] = ref(t.indexType);
      w[p + 2] = u32(t.nelems, 'nelems');
      return p + 3;
    case 'struct':
    case 'union': {
      const ms = t.members;
      const kflag = t.kindFlag || ms.some((m) => m.bitfieldSize > 0);
      w[o + 1] = info(t.kind === 'struct' ? BTF_KIND.STRUCT : BTF_KIND.UNION, ms.length, kflag);
      w[o + 2] = u32(t.size, 'size');
      let q = p;
      for (const m of ms) {
        w[q] = str(m.name);
        w[q + 1] = ref(m.type);
        if (kflag) {
          if (m.bitOffset > 0xffffff || m.bitOffset < 0 || m.bitfieldSize > 0xff || m.bitfieldSize < 0) {
            throw new BtfError('BTF_MALFORMED', `type ${id}: member '${m.name}' offset ${m.bitOffset}/bitfield ${m.bitfieldSize} does not fit`, { typeId: id });
          }
          w[q + 2] = ((m.bitfieldSize << 24) | m.bitOffset) >>> 0;
        } else {
          w[q + 2] = u32(m.bitOffset, 'member offset');
        }
        q += 3;
      }
      return q;
    }
    case 'enum': {
      w[o + 1] = info(BTF_KIND.ENUM, t.values.length, t.signed);
      w[o + 2] = u32(t.size, 'size');
      let q = p;
      for (const v of t.values) {
        w[q] = str(v.name);
        w[q + 1] = v.value >>> 0;
        q += 2;
      }
      return q;
    }
    case 'enum64': {
      w[o + 1] = info(BTF_KIND.ENUM64, t.values.length, t.signed);
      w[o + 2] = u32(t.size, 'size');
      let q = p;
      for (const v of t.values) {
        const u = BigInt.asUintN(64, v.value);
        w[q] = str(v.name);
        w[q + 1] = Number(u & 0xffffffffn);
        w[q + 2] = Number(u >> 32n);
        q += 3;
      }
      return q;
    }
    case 'fwd':
      w[o + 1] = info(BTF_KIND.FWD, 0, t.fwdKind === 'union');
      w[o + 2] = 0;
      return p;
    case 'func':
      w[o + 1] = info(BTF_KIND.FUNC, FUNC_LINKAGE[t.linkage], false);
      w[o + 2] = ref(t.type);
      return p;
    case 'func_proto': {
      w[o + 1] = info(BTF_KIND.FUNC_PROTO, t.params.length, false);
      w[o + 2] = ref(t.returnType);
      let q = p;
      for (const a of t.params) {
        w[q] = str(a.name);
        w[q + 1] = ref(a.type);
        q += 2;
      }
      return q;
    }
    case 'var':
      w[o + 1] = info(BTF_KIND.VAR, 0, false);
      w[o + 2] = ref(t.type);
      w[p] = VAR_LINKAGE[t.linkage];
      return p + 1;
    case 'datasec': {
      w[o + 1] = info(BTF_KIND.DATASEC, t.vars.length, false);
      w[o + 2] = u32(t.size, 'size');
      let q = p;
      for (const v of t.vars) {
        w[q] = ref(v.type);
        w[q + 1] = u32(v.offset, 'offset');
        w[q + 2] = u32(v.size, 'size');
        q += 3;
      }
      return q;
    }
    case 'float':
      w[o + 1] = info(BTF_KIND.FLOAT, 0, false);
      w[o + 2] = u32(t.size, 'size');
      return p;
    case 'decl_tag':
      w[o + 1] = info(BTF_KIND.DECL_TAG, 0, t.kindFlag);
      w[o + 2] = ref(t.type);
      w[p] = t.componentIdx >>> 0;
      return p + 1;
    default:
      throw new BtfError('BTF_UNKNOWN_KIND', `type ${id}: cannot encode kind '${(t as { kind: string }).kind}'`, { typeId: id });
  }
}

/**
 * Serialise types (ids `firstTypeId`...) and a string table into a BTF blob:
 * header, then the type section, then the string section.
 */
export function marshalTypes(
  types: readonly AnyType[],
  strings: StringTable,
  firstTypeId = 1,
  opts: MarshalOptions = {},
): Uint8Array {
  const le = opts.littleEndian ?? HOST_LE;
  const hdrLen = opts.hdrLen ?? 24;
  if (hdrLen < 24 || hdrLen % 4) throw new BtfError('BTF_MALFORMED', `bad header length ${hdrLen}`);
  let nw = 0;
  for (const t of types) nw += typeWords(t);
  const words = new Uint32Array(nw);
  const maxId = firstTypeId + types.length - 1;
  const str = (s: string) => strings.add(s);
  let o = 0;
  for (let i = 0; i < types.length; i++) o = encodeType(types[i]!, words, o, str, maxId, firstTypeId + i);
  const strBytes = strings.bytes();
  if (le === HOST_LE) return btfBlob(new Uint8Array(words.buffer, 0, nw * 4), strBytes, { hdrLen, flags: opts.flags });
  const out = btfBlob(new Uint8Array(nw * 4), strBytes, { littleEndian: le, hdrLen, flags: opts.flags });
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nw; i++) dv.setUint32(hdrLen + 4 * i, words[i]!, le);
  return out;
}

/**
 * A BTF blob from its two sections, already encoded in the blob's byte order
 * (native unless told): the header, then types, then strings.
 */
export function btfBlob(
  typeBytes: Uint8Array,
  strBytes: Uint8Array,
  opts: { littleEndian?: boolean; hdrLen?: number; flags?: number } = {},
): Uint8Array {
  const le = opts.littleEndian ?? HOST_LE;
  const hdrLen = opts.hdrLen ?? 24;
  const typeLen = typeBytes.length;
  const out = new Uint8Array(hdrLen + typeLen + strBytes.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, le);
  out[2] = 1;
  out[3] = opts.flags ?? 0;
  dv.setUint32(4, hdrLen, le);
  dv.setUint32(8, 0, le);
  dv.setUint32(12, typeLen, le);
  dv.setUint32(16, typeLen, le);
  dv.setUint32(20, strBytes.length, le);
  out.set(typeBytes, hdrLen);
  out.set(strBytes, hdrLen + typeLen);
  return out;
}
