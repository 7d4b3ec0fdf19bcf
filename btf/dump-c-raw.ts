/**
 * A flat, word-level view of a Btf (base types included) for the C dumper.
 *
 * The C dump touches every type and most members of vmlinux (~126k types);
 * decoding each into objects costs more than the whole dump should. This view
 * gives the dumper the BTF type section as native-endian 32-bit words plus the
 * word offset of every type id, so it reads fields in place.
 *
 * Fast path: the parsed Btf already holds exactly that (`Btf.rawTypes()`,
 * or on a Btf without that method the fields it returns); we read them
 * without copying (split BTF: base and own words are concatenated once).
 * Fallback, when a Btf exposes neither: the types are re-encoded from the
 * public `typeById` objects, with a private string table. Both give the same
 * dump (tested).
 */
import { Buffer } from 'node:buffer';
import type { Btf } from './btf.ts';
import { BTF_KIND, type BtfType, type BtfTypeInput } from './types.ts';

export interface RawBtfView {
  /** Number of type ids, void included: ids are 0..n-1. */
  readonly n: number;
  /** Native-endian type words. */
  readonly words: Uint32Array;
  /** Word offset of each type id in `words` (index 0, void, is unused). */
  readonly toff: Uint32Array;
  /**
   * String section bytes, offsets as found in `words` (split BTF: the base's
   * strings followed by the own ones, as their offsets continue).
   */
  readonly strs: Buffer;
  /** Which path built the view (for tests). */
  readonly path: 'words' | 'decoded';
}

interface BtfInternals {
  rawTypes?: () => { readonly words: Uint32Array; readonly offsets: Uint32Array };
  words?: unknown;
  offsets?: unknown;
}

/** The chain base..btf, base-most first. */
function chainOf(btf: Btf): Btf[] {
  const chain: Btf[] = [];
  for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b);
  return chain;
}

/** A blob's words and type offsets: Btf.rawTypes() where there is one, else the fields it returns. */
function internals(b: Btf): { words: Uint32Array; offsets: Uint32Array } | undefined {
  const i = b as unknown as BtfInternals;
  const raw = typeof i.rawTypes === 'function' ? i.rawTypes() : { words: i.words, offsets: i.offsets };
  if (raw.words instanceof Uint32Array && raw.offsets instanceof Uint32Array && raw.offsets.length === b.count) {
    return { words: raw.words, offsets: raw.offsets };
  }
  return undefined;
}

/** Build the view (`forceDecode` takes the fallback path: for tests). */
export function rawView(btf: Btf, forceDecode = false): RawBtfView {
  const chain = chainOf(btf);
  const parts = forceDecode ? undefined : chain.map(internals);
  if (parts && parts.every((p) => p !== undefined)) {
    const ps = parts as { words: Uint32Array; offsets: Uint32Array }[];
    const n = btf.length;
    const toff = new Uint32Array(n);
    let words: Uint32Array;
    if (ps.length === 1) {
      words = ps[0]!.words;
      toff.set(ps[0]!.offsets, 1);
    } else {
      let total = 0;
      for (const p of ps) total += p.words.length;
      words = new Uint32Array(total);
      let wbase = 0;
      for (let c = 0; c < ps.length; c++) {
        const p = ps[c]!;
        words.set(p.words, wbase);
        const first = chain[c]!.firstTypeId;
        const offs = p.offsets;
        for (let i = 0; i < offs.length; i++) toff[first + i] = offs[i]! + wbase;
        wbase += p.words.length;
      }
    }
    const strs = chainStrings(chain);
    if (strs) return { n, words, toff, strs, path: 'words' };
  }
  return encodeView(btf);
}

/** The string sections of the chain, concatenated (undefined if offsets do not line up). */
function chainStrings(chain: Btf[]): Buffer | undefined {
  if (chain.length === 1) return chain[0]!.strings;
  let total = 0;
  for (const b of chain) {
    if (b.stringOffset !== total) return undefined;
    total += b.strings.length;
  }
  const out = Buffer.alloc(total);
  for (const b of chain) out.set(b.strings, b.stringOffset);
  return out;
}

const FUNC_LINKAGE = { static: 0, global: 1, extern: 2 } as const;
const INT_ENC = { none: 0, signed: 1, char: 2, bool: 4 } as const;

/** The fallback: re-encode every type from its decoded object. */
function encodeView(btf: Btf): RawBtfView {
  return encodeTypes(btf.length, (id) => btf.typeById(id));
}

/** A view of types 1..n-1 given as objects (ids are positions, as in BTF). */
export function encodeTypes(n: number, typeById: (id: number) => BtfType | BtfTypeInput): RawBtfView {
  const toff = new Uint32Array(n);
  let words = new Uint32Array(Math.max(1024, n * 8));
  let len = 0;
  const enc = new TextEncoder();
  const strChunks: Uint8Array[] = [new Uint8Array(1)];
  let strLen = 1;
  const strIndex = new Map<string, number>([['', 0]]);
  const s = (x: string): number => {
    let o = strIndex.get(x);
    if (o === undefined) {
      o = strLen;
      const b = enc.encode(x + '\0');
      strChunks.push(b);
      strLen += b.length;
      strIndex.set(x, o);
    }
    return o;
  };
  const put = (...ws: number[]) => {
    if (len + ws.length > words.length) {
      const nw = new Uint32Array(Math.max(words.length * 2, len + ws.length));
      nw.set(words.subarray(0, len));
      words = nw;
    }
    for (const w of ws) words[len++] = w >>> 0;
  };
  const info = (kind: number, vlen: number, kflag: boolean) => ((kflag ? 0x80000000 : 0) | (kind << 24) | (vlen & 0xffff)) >>> 0;
  for (let id = 1; id < n; id++) {
    toff[id] = len;
    const t = typeById(id) as Exclude<BtfType, { kind: 'void' }>;
    const name = s(t.name);
    switch (t.kind) {
      case 'int':
        put(name, info(BTF_KIND.INT, 0, false), t.size, (INT_ENC[t.encoding] << 24) | (t.bitOffset << 16) | t.bits);
        break;
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
        put(name, info(BTF_KIND[t.kind.toUpperCase() as 'PTR'], 0, false), t.type);
        break;
      case 'type_tag':
        put(name, info(BTF_KIND.TYPE_TAG, 0, t.kindFlag), t.type);
        break;
      case 'array':
        put(name, info(BTF_KIND.ARRAY, 0, false), 0, t.type, t.indexType, t.nelems);
        break;
      case 'struct':
      case 'union':
        put(name, info(t.kind === 'struct' ? BTF_KIND.STRUCT : BTF_KIND.UNION, t.members.length, t.kindFlag), t.size);
        for (const m of t.members) {
          put(s(m.name), m.type, t.kindFlag ? (m.bitfieldSize << 24) | m.bitOffset : m.bitOffset);
        }
        break;
      case 'enum':
        put(name, info(BTF_KIND.ENUM, t.values.length, t.signed), t.size);
        for (const v of t.values) put(s(v.name), v.value);
        break;
      case 'enum64':
        put(name, info(BTF_KIND.ENUM64, t.values.length, t.signed), t.size);
        for (const v of t.values) {
          const u = BigInt.asUintN(64, v.value);
          put(s(v.name), Number(u & 0xffffffffn), Number(u >> 32n));
        }
        break;
      case 'fwd':
        put(name, info(BTF_KIND.FWD, 0, t.fwdKind === 'union'), 0);
        break;
      case 'func':
        put(name, info(BTF_KIND.FUNC, FUNC_LINKAGE[t.linkage], false), t.type);
        break;
      case 'func_proto':
        put(name, info(BTF_KIND.FUNC_PROTO, t.params.length, false), t.returnType);
        for (const p of t.params) put(s(p.name), p.type);
        break;
      case 'var':
        put(name, info(BTF_KIND.VAR, 0, false), t.type, FUNC_LINKAGE[t.linkage]);
        break;
      case 'datasec':
        put(name, info(BTF_KIND.DATASEC, t.vars.length, false), t.size);
        for (const v of t.vars) put(v.type, v.offset, v.size);
        break;
      case 'float':
        put(name, info(BTF_KIND.FLOAT, 0, false), t.size);
        break;
      case 'decl_tag':
        put(name, info(BTF_KIND.DECL_TAG, 0, t.kindFlag), t.type, t.componentIdx);
        break;
    }
  }
  const strs = Buffer.alloc(strLen);
  let p = 0;
  for (const c of strChunks) {
    strs.set(c, p);
    p += c.length;
  }
  return { n, words: words.subarray(0, len), toff, strs, path: 'decoded' };
}
