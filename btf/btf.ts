/**
 * Lazy BTF parser and query API.
 *
 * `Btf.parse` does one pass over the type section, recording where each type
 * starts (a Uint32Array indexed by type id). Types are decoded into plain
 * objects (see ./types.ts) only when asked for, and cached; names come from
 * the string section on demand; name lookups use a hash index over the raw
 * name bytes (./name-index.ts: by kind, keyed by CO-RE essential names),
 * built incrementally, in id order, as lookups need it.
 *
 * The raw bytes are not copied when they are native-endian and 4-byte aligned
 * (the usual case for a Buffer read from a file); otherwise the type section
 * is copied once into native-endian 32-bit words (every field of the type
 * section is a 32-bit word, so a byte swap needs no knowledge of the layout).
 */
import { Buffer } from 'node:buffer';
import { BtfError } from './errors.ts';
import { asBuffer, decodeCString, encodeUtf8, StringTable } from './strings.ts';
import { ESSENTIAL, EXACT, NameIndex, type Match } from './name-index.ts';
import {
  BTF_KIND,
  KIND_NAMES,
  type BtfEnum64Value,
  type BtfEnumValue,
  type BtfKind,
  type BtfMember,
  type BtfParam,
  type BtfType,
  type BtfTypeOf,
  type BtfVarSecinfo,
  type BtfVoid,
  type BtfFuncLinkage,
  type BtfVarLinkage,
  type BtfIntEncoding,
} from './types.ts';

export const BTF_MAGIC = 0xeb9f;
export const BTF_HEADER_LEN = 24;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The fields of `struct btf_header`. */
export interface BtfHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  /** Offsets are relative to the end of the header (`hdrLen`). */
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

export interface BtfParseOptions {
  /** Base BTF for split BTF (kernel module BTF is split BTF on top of vmlinux). */
  base?: Btf;
}

/** Words after the 3-word btf_type header, fixed part, by kind; -1 = unknown kind. */
const FIXED_WORDS = new Int8Array(32).fill(-1);
/**
 * Words per vlen entry, by kind. Kinds that must have vlen 0 (the kernel's
 * btf_check_meta: all but struct, union, enum(64), func_proto, datasec, and
 * FUNC, which keeps its linkage there) get NO_VLEN, so that any vlen makes
 * the type run past the end of the section.
 */
const NO_VLEN = 1 << 30;
const VLEN_WORDS = new Int32Array(32).fill(NO_VLEN);
{
  const set = (k: number, fixed: number, perVlen: number) => {
    FIXED_WORDS[k] = fixed;
    VLEN_WORDS[k] = perVlen || (k === BTF_KIND.FUNC ? 0 : NO_VLEN);
  };
  set(BTF_KIND.INT, 1, 0);
  set(BTF_KIND.PTR, 0, 0);
  set(BTF_KIND.ARRAY, 3, 0);
  set(BTF_KIND.STRUCT, 0, 3);
  set(BTF_KIND.UNION, 0, 3);
  set(BTF_KIND.ENUM, 0, 2);
  set(BTF_KIND.FWD, 0, 0);
  set(BTF_KIND.TYPEDEF, 0, 0);
  set(BTF_KIND.VOLATILE, 0, 0);
  set(BTF_KIND.CONST, 0, 0);
  set(BTF_KIND.RESTRICT, 0, 0);
  set(BTF_KIND.FUNC, 0, 0);
  set(BTF_KIND.FUNC_PROTO, 0, 2);
  set(BTF_KIND.VAR, 1, 0);
  set(BTF_KIND.DATASEC, 0, 3);
  set(BTF_KIND.FLOAT, 0, 0);
  set(BTF_KIND.DECL_TAG, 1, 0);
  set(BTF_KIND.TYPE_TAG, 0, 0);
  set(BTF_KIND.ENUM64, 0, 3);
}

/** BTF_INT_* limits of the kernel (btf_int_check_meta): at most 128 bits in at most 16 bytes. */
const INT_MAX_BYTES = 16;
const INT_MAX_BITS = 128;

function checkInt(id: number, size: number, v: number): void {
  const bits = v & 0xff;
  const off = (v >>> 16) & 0xff;
  let why: string | undefined;
  if (v & 0xf0000000) why = `reserved bits set in 0x${v.toString(16)}`;
  else if (size === 0 || size > INT_MAX_BYTES) why = `size ${size} (1..${INT_MAX_BYTES} bytes)`;
  else if (off + bits > INT_MAX_BITS) why = `offset ${off} + bits ${bits} exceeds ${INT_MAX_BITS}`;
  else if (off + bits > size * 8) why = `offset ${off} + bits ${bits} exceeds its ${size} bytes`;
  if (why) throw new BtfError('BTF_MALFORMED', `type ${id} (int): invalid ${why}`, { typeId: id });
}

/** Kinds that only name or qualify another type, by kind number. */
const MODIFIER_KIND = new Uint8Array(32);
for (const k of [BTF_KIND.TYPEDEF, BTF_KIND.VOLATILE, BTF_KIND.CONST, BTF_KIND.RESTRICT, BTF_KIND.TYPE_TAG]) MODIFIER_KIND[k] = 1;

const VOID: BtfVoid = Object.freeze({ kind: 'void', id: 0, name: '' });
const FUNC_LINKAGE: readonly BtfFuncLinkage[] = ['static', 'global', 'extern'];
const VAR_LINKAGE: readonly BtfVarLinkage[] = ['static', 'global', 'extern'];
const INT_ENCODING: Record<number, BtfIntEncoding> = { 0: 'none', 1: 'signed', 2: 'char', 4: 'bool' };

/** Max hops when following typedef/qualifier/array chains (libbpf uses 32). */
const MAX_RESOLVE_DEPTH = 64;

/** Set while parseReadOnlyBtf parses (parse is synchronous): the Btf it makes is read-only. */
let parsingReadOnly = false;

/**
 * Parse BTF that lies in read-only memory (the kernel's vmlinux BTF mapped
 * for the life of the process): the Btf reads it in place, and its public
 * accessors (`strings`, `rawTypes()`) return copies, so that no caller can
 * write into it. Internal: the memory must outlive the Btf and never change.
 */
export function parseReadOnlyBtf(bytes: Uint8Array): Btf {
  parsingReadOnly = true;
  try {
    return Btf.parse(bytes);
  } finally {
    parsingReadOnly = false;
  }
}

export class Btf {
  /** Base BTF when this is split BTF. */
  readonly base: Btf | undefined;
  /** Id of this blob's first type: 1, or the base's `length` for split BTF. */
  readonly firstTypeId: number;
  /** Number of types in this blob (excluding void and the base's types). */
  readonly count: number;
  /** Byte order of the source data. */
  readonly littleEndian: boolean;
  readonly header: Readonly<BtfHeader>;
  /** Offset of this blob's strings (the base's string section length for split BTF). */
  readonly stringOffset: number;

  /** Type section as native-endian words. */
  private readonly words: Uint32Array;
  /** Word index in `words` of each own type (index = id - firstTypeId). */
  private readonly offsets: Uint32Array;
  /** Kind number of each own type (recorded by the parse pass: name lookups jump by kind natively). */
  private readonly kinds: Uint8Array;
  /** This blob's string section as parsed: for a read-only blob, a view tsbpf's readers use but never hand out. */
  private readonly str: Buffer;
  /** Set for a blob over read-only memory (parseReadOnlyBtf): public accessors give copies. */
  private readonly readOnly: boolean;
  private strCopy: Buffer | undefined;
  private rawCopy: { readonly words: Uint32Array; readonly offsets: Uint32Array; readonly kinds: Uint8Array } | undefined;

  /** Decoded types, in chunks of 1024 ids allocated on demand (a sparse cache). */
  private readonly cache: ((BtfType | undefined)[] | undefined)[] = [];
  private nameIndex: NameIndex | undefined;
  private alignMemo: Map<number, number> | undefined;
  private strIndex: StringTable | undefined;
  private ptrSize: number | undefined;

  private constructor(
    base: Btf | undefined,
    header: BtfHeader,
    littleEndian: boolean,
    words: Uint32Array,
    offsets: Uint32Array,
    kinds: Uint8Array,
    strings: Buffer,
    readOnly: boolean,
  ) {
    this.base = base;
    this.header = Object.freeze(header);
    this.littleEndian = littleEndian;
    this.words = words;
    this.offsets = offsets;
    this.kinds = kinds;
    this.str = strings;
    this.readOnly = readOnly;
    this.count = offsets.length;
    this.firstTypeId = base ? base.length : 1;
    this.stringOffset = base ? base.stringOffset + base.str.length : 0;
  }

  /**
   * Parse a raw BTF blob (`/sys/kernel/btf/*`, or the contents of an ELF .BTF
   * section). The bytes are referenced, not copied, when possible: do not
   * modify them while the Btf is in use.
   */
  static parse(bytes: Uint8Array, opts: BtfParseOptions = {}): Btf {
    const base = opts.base;
    if (bytes.length < 8) throw new BtfError('BTF_TRUNCATED', `BTF header truncated: ${bytes.length} bytes`);
    let le: boolean;
    if (bytes[0] === 0x9f && bytes[1] === 0xeb) le = true;
    else if (bytes[0] === 0xeb && bytes[1] === 0x9f) le = false;
    else throw new BtfError('BTF_BAD_MAGIC', `bad BTF magic 0x${((bytes[0]! << 8) | bytes[1]!).toString(16)}`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = bytes[2]!;
    if (version !== 1) throw new BtfError('BTF_BAD_VERSION', `unsupported BTF version ${version}`);
    const hdrLen = dv.getUint32(4, le);
    if (hdrLen < BTF_HEADER_LEN) throw new BtfError('BTF_MALFORMED', `BTF header length ${hdrLen} < ${BTF_HEADER_LEN}`);
    if (bytes.length < BTF_HEADER_LEN || hdrLen > bytes.length) {
      throw new BtfError('BTF_TRUNCATED', `BTF header (${hdrLen} bytes) truncated: ${bytes.length} bytes`);
    }
    const header: BtfHeader = {
      magic: BTF_MAGIC,
      version,
      flags: bytes[3]!,
      hdrLen,
      typeOff: dv.getUint32(8, le),
      typeLen: dv.getUint32(12, le),
      strOff: dv.getUint32(16, le),
      strLen: dv.getUint32(20, le),
    };
    const avail = bytes.length - hdrLen;
    if (header.typeOff + header.typeLen > avail) {
      throw new BtfError('BTF_TRUNCATED', `BTF type section [${header.typeOff}, +${header.typeLen}) exceeds the ${avail} bytes after the header`);
    }
    if (header.strOff + header.strLen > avail) {
      throw new BtfError('BTF_TRUNCATED', `BTF string section [${header.strOff}, +${header.strLen}) exceeds the ${avail} bytes after the header`);
    }
    if (header.typeOff % 4) throw new BtfError('BTF_MALFORMED', `BTF type section offset ${header.typeOff} is not 4-byte aligned`);
    if (header.typeLen % 4) throw new BtfError('BTF_TRUNCATED', `BTF type section length ${header.typeLen} is not a multiple of 4`);
    if (header.strLen > 0x7fffffff) throw new BtfError('BTF_MALFORMED', `BTF string section too large`);
    if (header.typeOff < header.strOff + header.strLen && header.strOff < header.typeOff + header.typeLen) {
      throw new BtfError('BTF_MALFORMED', 'BTF type and string sections overlap');
    }

    // Strings: libbpf's rules: base BTF strings start with '\0'; non-empty sections end with '\0'.
    const strStart = hdrLen + header.strOff;
    const strings = asBuffer(bytes.subarray(strStart, strStart + header.strLen));
    if (!base && (strings.length === 0 || strings[0] !== 0)) {
      throw new BtfError(
        'BTF_MALFORMED',
        'BTF string section must start with an empty string (split BTF, e.g. a kernel module? it needs its base: --base FILE / { base })',
      );
    }
    if (strings.length && strings[strings.length - 1] !== 0) {
      throw new BtfError('BTF_MALFORMED', 'BTF string section is not NUL-terminated');
    }

    // Types: view in place, or copy (and byte-swap) into native words.
    const typeStart = bytes.byteOffset + hdrLen + header.typeOff;
    const nwords = header.typeLen >>> 2;
    let words: Uint32Array;
    if (le === HOST_LE && typeStart % 4 === 0) {
      words = new Uint32Array(bytes.buffer, typeStart, nwords);
    } else {
      words = new Uint32Array(nwords);
      const src = hdrLen + header.typeOff;
      for (let i = 0; i < nwords; i++) words[i] = dv.getUint32(src + 4 * i, le);
    }

    const { offsets, kinds } = Btf.scan(words, base ? base.length : 1);
    return new Btf(base, header, le, words, offsets, kinds, strings, parsingReadOnly);
  }

  /**
   * The one pass: word offset of every type (and, for free, that kinds
   * without a vlen have none). The rest of the kernel's limits are checked
   * when a type is decoded (see decode()): parsing stays one cheap pass.
   */
  private static scan(words: Uint32Array, firstId: number): { offsets: Uint32Array; kinds: Uint8Array } {
    const nw = words.length;
    // A type is at least 3 words: this bounds the count. vmlinux averages ~6.6 words a type: start
    // near that and grow when short, so that the arrays usually need no copy to their exact length.
    const most = Math.ceil(nw / 3);
    let offs = new Uint32Array(Math.min(most, Math.ceil(nw / 6) + 16));
    let kinds = new Uint8Array(offs.length);
    let n = 0;
    let w = 0;
    while (w < nw) {
      if (n === offs.length) {
        const grown = new Uint32Array(Math.min(most, n + (n >> 1) + 16));
        grown.set(offs);
        offs = grown;
        const k = new Uint8Array(grown.length);
        k.set(kinds);
        kinds = k;
      }
      if (w + 3 > nw) {
        throw new BtfError('BTF_TRUNCATED', `type ${firstId + n} truncated: header needs 12 bytes, ${(nw - w) * 4} left`, { typeId: firstId + n });
      }
      const info = words[w + 1]!;
      const kind = (info >>> 24) & 0x1f;
      const fixed = FIXED_WORDS[kind]!;
      if (fixed < 0) {
        throw new BtfError('BTF_UNKNOWN_KIND', `type ${firstId + n} has unknown kind ${kind}`, { typeId: firstId + n });
      }
      // Kinds without a vlen have VLEN_WORDS = NO_VLEN: a non-zero vlen lands here too, at no cost to valid BTF.
      const next = w + 3 + fixed + VLEN_WORDS[kind]! * (info & 0xffff);
      if (next > nw) {
        if (VLEN_WORDS[kind] === NO_VLEN) {
          throw new BtfError('BTF_MALFORMED', `type ${firstId + n} (${KIND_NAMES[kind]}): vlen ${info & 0xffff} must be 0`, { typeId: firstId + n });
        }
        throw new BtfError('BTF_TRUNCATED', `type ${firstId + n} (${KIND_NAMES[kind]}) runs past the end of the type section`, { typeId: firstId + n });
      }
      kinds[n] = kind;
      offs[n++] = w;
      w = next;
    }
    if (firstId + n - 1 > 0x7fffffff) throw new BtfError('BTF_MALFORMED', 'too many types');
    if (n < offs.length) {
      // Nearly full: a view (at most 1/8 unused); else a copy of the exact length.
      const view = n >= offs.length - (offs.length >> 3);
      offs = view ? offs.subarray(0, n) : offs.slice(0, n);
      kinds = view ? kinds.subarray(0, n) : kinds.slice(0, n);
    }
    return { offsets: offs, kinds };
  }

  /**
   * Low-level access for hot loops (C dumper, CO-RE candidate scans): this
   * blob's type section as native-endian 32-bit words (layout per
   * include/uapi/linux/btf.h: name_off, info, size/type, then kind data) and
   * the word offset and kind number of each own type (index = id - firstTypeId). Do not modify.
   */
  rawTypes(): { readonly words: Uint32Array; readonly offsets: Uint32Array; readonly kinds: Uint8Array } {
    if (!this.readOnly) return { words: this.words, offsets: this.offsets, kinds: this.kinds };
    // Words in read-only memory: a write through them would be a SIGSEGV, so callers get a copy.
    return (this.rawCopy ??= { words: this.words.slice(), offsets: this.offsets, kinds: this.kinds });
  }

  /**
   * This blob's string section. For the kernel's BTF as tsbpf maps it (read-only
   * memory, where a write would be a SIGSEGV rather than an exception) a copy,
   * made once.
   */
  get strings(): Buffer {
    return this.readOnly ? (this.strCopy ??= Buffer.from(this.str)) : this.str;
  }

  /** Total number of type ids, including void and the base's types: valid ids are 0..length-1. */
  get length(): number {
    return this.firstTypeId + this.count;
  }

  /** Last valid type id (0 when empty). */
  get lastTypeId(): number {
    return this.length - 1;
  }

  /** Throws BTF_NOT_FOUND unless 0 <= id < length. */
  private checkId(id: number): void {
    if (!(id >= 0 && id < this.length && Number.isInteger(id))) {
      throw new BtfError('BTF_NOT_FOUND', `no type id ${id} (valid: 0..${this.length - 1})`, { typeId: id });
    }
  }

  /** Word offset of an own type (id >= firstTypeId). */
  private wordOf(id: number): number {
    return this.offsets[id - this.firstTypeId]!;
  }

  /** Kind of a type without decoding it. */
  kindOf(id: number): BtfKind {
    this.checkId(id);
    if (id === 0) return 'void';
    if (id < this.firstTypeId) return this.base!.kindOf(id);
    return KIND_NAMES[(this.words[this.wordOf(id) + 1]! >>> 24) & 0x1f]!;
  }

  /** Name of a type ('' when anonymous) without decoding the rest of it. */
  nameOf(id: number): string {
    this.checkId(id);
    if (id === 0) return '';
    if (id < this.firstTypeId) return this.base!.nameOf(id);
    return this.stringAt(this.words[this.wordOf(id)]!);
  }

  /**
   * The string at offset `off` (offsets of split BTF continue from the base's
   * string section). Throws BTF_MALFORMED for an invalid offset.
   */
  stringAt(off: number): string {
    if (off < this.stringOffset) {
      return this.base!.stringAt(off);
    }
    if (off === 0) return '';
    return decodeCString(this.str, off - this.stringOffset);
  }

  /**
   * Offset of the first occurrence of string `s` in the string sections
   * (base first), or undefined. Builds an index of all strings on first use.
   */
  findString(s: string): number | undefined {
    if (s === '') return 0;
    const inBase = this.base?.findString(s);
    if (inBase !== undefined) return inBase;
    return (this.strIndex ??= new StringTable(this.str, this.stringOffset)).find(s);
  }

  /** The string section holding offset `off` and the offset inside it. */
  private strBytesAt(off: number): [Uint8Array, number] {
    if (off < this.stringOffset) return this.base!.strBytesAt(off);
    return [this.str, off - this.stringOffset];
  }

  /** The type with this id (0 = void). Throws BTF_NOT_FOUND / BTF_MALFORMED. */
  typeById(id: number): BtfType {
    if (id === 0) return VOID;
    if (id < this.firstTypeId) {
      this.checkId(id);
      return this.base!.typeById(id);
    }
    this.checkId(id);
    const i = id - this.firstTypeId;
    const chunk = (this.cache[i >>> 10] ??= new Array<BtfType | undefined>(1024));
    let t = chunk[i & 1023];
    if (t === undefined) {
      t = this.decode(id);
      chunk[i & 1023] = t;
    }
    return t;
  }

  /** The type with this id, checked to be of `kind` (BTF_INVALID_TYPE otherwise). */
  typeOfKind<K extends BtfKind>(id: number, kind: K): BtfTypeOf<K> {
    const t = this.typeById(id);
    if (t.kind !== kind) {
      throw new BtfError('BTF_INVALID_TYPE', `type ${id} is ${t.kind}, expected ${kind}`, { typeId: id });
    }
    return t as BtfTypeOf<K>;
  }

  private ref(id: number, ref: number): number {
    if (ref >= this.length) {
      throw new BtfError('BTF_MALFORMED', `type ${id} references type ${ref}, beyond the last type ${this.length - 1}`, { typeId: id });
    }
    return ref;
  }

  /**
   * The target of a typedef/qualifier/type tag, checked to end, within
   * MAX_RESOLVE_DEPTH hops of such types, in some other kind (the kernel
   * refuses cycles at load; here a cycle fails the decode, not a later walk).
   */
  private modifierRef(id: number, ref: number): number {
    this.ref(id, ref);
    let t = ref;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      if (t === 0) return ref;
      const owner: Btf = t < this.firstTypeId ? this.base! : this;
      const k = (owner.words[owner.wordOf(t) + 1]! >>> 24) & 0x1f;
      if (!MODIFIER_KIND[k]) return ref;
      const next = owner.words[owner.wordOf(t) + 2]!;
      if (next >= this.length) return ref; // reported when that type is decoded
      t = next;
    }
    throw new BtfError('BTF_LOOP', `type ${id}: typedef/qualifier chain too deep or cyclic`, { typeId: id });
  }

  private nameAt(id: number, off: number): string {
    try {
      return this.stringAt(off);
    } catch (e) {
      if (e instanceof BtfError) throw new BtfError('BTF_MALFORMED', `type ${id}: ${e.message}`, { typeId: id, cause: e });
      throw e;
    }
  }

  /**
   * Size in bytes of type `id` straight from the words, without decoding
   * (so decode() can check members without recursing into their types):
   * -1 when there is none or it cannot be told (bad id, chain too long).
   */
  private shallowSize(id: number): number {
    let mult = 1;
    for (let depth = 0; ; depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: type chain too deep or cyclic`, { typeId: id });
      if (id <= 0 || id >= this.length) return -1;
      if (id < this.firstTypeId) {
        const s = this.base!.shallowSize(id);
        return s < 0 ? s : s * mult;
      }
      const o = this.wordOf(id);
      const w = this.words;
      switch ((w[o + 1]! >>> 24) & 0x1f) {
        case BTF_KIND.INT:
        case BTF_KIND.STRUCT:
        case BTF_KIND.UNION:
        case BTF_KIND.ENUM:
        case BTF_KIND.ENUM64:
        case BTF_KIND.FLOAT:
        case BTF_KIND.DATASEC:
          return w[o + 2]! * mult;
        case BTF_KIND.PTR:
          // The pointer size if known, else 4, the smaller of the two (finding 'long' costs a name index).
          return (this.ptrSize ?? 4) * mult;
        case BTF_KIND.TYPEDEF:
        case BTF_KIND.VOLATILE:
        case BTF_KIND.CONST:
        case BTF_KIND.RESTRICT:
        case BTF_KIND.TYPE_TAG:
        case BTF_KIND.VAR:
          id = w[o + 2]!;
          break;
        case BTF_KIND.ARRAY:
          mult = Math.min(mult * w[o + 5]!, 2 ** 53);
          id = w[o + 3]!;
          break;
        default:
          return -1;
      }
    }
  }

  /** Decode an own type into a fresh object. */
  private decode(id: number): BtfType {
    const w = this.words;
    const o = this.wordOf(id);
    const name = this.nameAt(id, w[o]!);
    const info = w[o + 1]!;
    const kindNo = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = w[o + 2]!; // size or type
    const p = o + 3;
    switch (kindNo) {
      case BTF_KIND.INT: {
        const v = w[p]!;
        checkInt(id, st, v);
        const enc = INT_ENCODING[(v >>> 24) & 0x0f];
        if (enc === undefined) {
          throw new BtfError('BTF_MALFORMED', `type ${id} (int '${name}') has invalid encoding 0x${((v >>> 24) & 0xf).toString(16)}`, { typeId: id });
        }
        return { kind: 'int', id, name, size: st, encoding: enc, bitOffset: (v >>> 16) & 0xff, bits: v & 0xff };
      }
      case BTF_KIND.PTR:
        return { kind: 'ptr', id, name, type: this.ref(id, st) };
      case BTF_KIND.TYPEDEF:
        return { kind: 'typedef', id, name, type: this.modifierRef(id, st) };
      case BTF_KIND.VOLATILE:
        return { kind: 'volatile', id, name, type: this.modifierRef(id, st) };
      case BTF_KIND.CONST:
        return { kind: 'const', id, name, type: this.modifierRef(id, st) };
      case BTF_KIND.RESTRICT:
        return { kind: 'restrict', id, name, type: this.modifierRef(id, st) };
      case BTF_KIND.TYPE_TAG:
        return { kind: 'type_tag', id, name, type: this.modifierRef(id, st), kindFlag: kflag };
      case BTF_KIND.ARRAY:
        // Not refused here when nelems * element size overflows 32 bits (the kernel would): BTF map
        // definitions spell __uint(max_entries, N) as int (*)[N], any N. sizeOf() refuses such sizes.
        return { kind: 'array', id, name, type: this.ref(id, w[p]!), indexType: this.ref(id, w[p + 1]!), nelems: w[p + 2]! };
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION: {
        const members: BtfMember[] = new Array(vlen);
        const kind = kindNo === BTF_KIND.STRUCT ? 'struct' : 'union';
        const sizeBits = st * 8;
        for (let i = 0, q = p; i < vlen; i++, q += 3) {
          const off = w[q + 2]!;
          const m: BtfMember = {
            name: this.nameAt(id, w[q]!),
            type: this.ref(id, w[q + 1]!),
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          };
          // btf_struct_check_member: every member lies inside the struct's size.
          const msz = m.bitfieldSize ? 0 : this.shallowSize(m.type);
          const end = m.bitOffset + (m.bitfieldSize || (msz > 0 ? msz * 8 : 0));
          if (m.bitfieldSize > INT_MAX_BITS || end > sizeBits) {
            throw new BtfError(
              'BTF_MALFORMED',
              `type ${id} (${kind} '${name}'): member ${i} '${m.name}' at bit ${m.bitOffset} (${m.bitfieldSize ? `${m.bitfieldSize} bits` : `${msz} bytes`}) exceeds the ${st}-byte size`,
              { typeId: id },
            );
          }
          members[i] = m;
        }
        return { kind, id, name, size: st, members, kindFlag: kflag };
      }
      case BTF_KIND.ENUM: {
        const values: BtfEnumValue[] = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 2) {
          values[i] = { name: this.nameAt(id, w[q]!), value: kflag ? w[q + 1]! | 0 : w[q + 1]! };
        }
        return { kind: 'enum', id, name, size: st, signed: kflag, values };
      }
      case BTF_KIND.ENUM64: {
        const values: BtfEnum64Value[] = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 3) {
          const u = (BigInt(w[q + 2]!) << 32n) | BigInt(w[q + 1]!);
          values[i] = { name: this.nameAt(id, w[q]!), value: kflag ? BigInt.asIntN(64, u) : u };
        }
        return { kind: 'enum64', id, name, size: st, signed: kflag, values };
      }
      case BTF_KIND.FWD:
        return { kind: 'fwd', id, name, fwdKind: kflag ? 'union' : 'struct' };
      case BTF_KIND.FUNC: {
        const linkage = FUNC_LINKAGE[vlen];
        if (linkage === undefined) throw new BtfError('BTF_MALFORMED', `type ${id} (func '${name}') has invalid linkage ${vlen}`, { typeId: id });
        return { kind: 'func', id, name, type: this.ref(id, st), linkage };
      }
      case BTF_KIND.FUNC_PROTO: {
        const params: BtfParam[] = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 2) {
          params[i] = { name: this.nameAt(id, w[q]!), type: this.ref(id, w[q + 1]!) };
        }
        return { kind: 'func_proto', id, name, returnType: this.ref(id, st), params };
      }
      case BTF_KIND.VAR: {
        const linkage = VAR_LINKAGE[w[p]!];
        if (linkage === undefined) throw new BtfError('BTF_MALFORMED', `type ${id} (var '${name}') has invalid linkage ${w[p]}`, { typeId: id });
        return { kind: 'var', id, name, type: this.ref(id, st), linkage };
      }
      case BTF_KIND.DATASEC: {
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let i = 0, q = p; i < vlen; i++, q += 3) {
          vars[i] = { type: this.ref(id, w[q]!), offset: w[q + 1]!, size: w[q + 2]! };
        }
        return { kind: 'datasec', id, name, size: st, vars };
      }
      case BTF_KIND.FLOAT:
        return { kind: 'float', id, name, size: st };
      case BTF_KIND.DECL_TAG:
        return { kind: 'decl_tag', id, name, type: this.ref(id, st), componentIdx: w[p]! | 0, kindFlag: kflag };
      default:
        // Unreachable: scan() rejected unknown kinds.
        throw new BtfError('BTF_UNKNOWN_KIND', `type ${id} has unknown kind ${kindNo}`, { typeId: id });
    }
  }

  /**
   * All types of this blob (not the base's), in id order. With
   * `{ cache: false }` types not decoded yet are decoded without being kept
   * (for one-shot walks over big BTF such as dumps).
   */
  *types(opts?: { cache?: boolean }): IterableIterator<BtfType> {
    const cache = opts?.cache ?? true;
    for (let id = this.firstTypeId; id < this.length; id++) {
      if (cache) yield this.typeById(id);
      else {
        const i = id - this.firstTypeId;
        yield this.cache[i >>> 10]?.[i & 1023] ?? this.decode(id);
      }
    }
  }

  [Symbol.iterator](): IterableIterator<BtfType> {
    return this.types();
  }

  // ---------------------------------------------------------------- names

  /** The name index of this blob's own types (built piecemeal by lookups). */
  private get names(): NameIndex {
    return (this.nameIndex ??= new NameIndex({
      words: this.words,
      offsets: this.offsets,
      kinds: this.kinds,
      strings: this.str,
      stringOffset: this.stringOffset,
      baseString: (off) => this.base!.strBytesAt(off),
    }));
  }

  /** Bit mask of kind numbers: one kind, or all when undefined. */
  private static kindMask(kind: BtfKind | undefined): number {
    if (kind === undefined) return -1;
    const k = KIND_NAMES.indexOf(kind);
    if (k < 0) throw new BtfError('BTF_INVALID_TYPE', `unknown kind name '${kind}'`);
    return 1 << k;
  }

  /**
   * The first type (lowest id, base BTF first) named `name`, of `kind` if
   * given; undefined if none. `name` must be non-empty.
   */
  findByName<K extends BtfKind>(name: string, kind: K): BtfTypeOf<K> | undefined;
  findByName(name: string, kind?: BtfKind): BtfType | undefined;
  findByName(name: string, kind?: BtfKind): BtfType | undefined {
    const id = this.findIdByName(name, kind);
    return id ? this.typeById(id) : undefined;
  }

  /** Like {@link findByName} but returns the id, 0 when not found. */
  findIdByName(name: string, kind?: BtfKind): number {
    if (name === '') return 0;
    return this.firstIdBytes(encodeUtf8(name), EXACT, Btf.kindMask(kind));
  }

  private firstIdBytes(q: Uint8Array, how: Match, kindMask: number): number {
    if (this.base) {
      const id = this.base.firstIdBytes(q, how, kindMask);
      if (id) return id;
    }
    if (this.count === 0) return 0;
    const i = this.names.first(q, how, kindMask);
    return i < 0 ? 0 : this.firstTypeId + i;
  }

  private allIdsBytes(q: Uint8Array, how: Match, kindMask: number, ownOnly: boolean): number[] {
    const own = this.count === 0 ? [] : this.names.all(q, how, kindMask).map((i) => this.firstTypeId + i);
    return this.base && !ownOnly ? [...this.base.allIdsBytes(q, how, kindMask, false), ...own] : own;
  }

  /** Every type named `name` (of `kind` if given), ascending ids, base first. */
  findAllByName<K extends BtfKind>(name: string, kind: K): BtfTypeOf<K>[];
  findAllByName(name: string, kind?: BtfKind): BtfType[];
  findAllByName(name: string, kind?: BtfKind): BtfType[] {
    if (name === '') return [];
    return this.allIdsBytes(encodeUtf8(name), EXACT, Btf.kindMask(kind), false).map((id) => this.typeById(id));
  }

  /**
   * CO-RE candidate search: ids (ascending, base first) of the types of one
   * of `kinds` whose essential name (the name without a `___flavor` suffix,
   * see {@link essentialName}) is `essential`: `task_struct` finds
   * `task_struct` and `task_struct___v2`. With `ownOnly`, split BTF leaves
   * its base out. Types are not decoded.
   */
  findIdsByEssentialName(essential: string, kinds: readonly BtfKind[], ownOnly = false): number[] {
    if (essential === '') return [];
    let mask = 0;
    for (const k of kinds) mask |= Btf.kindMask(k);
    return this.allIdsBytes(encodeUtf8(essential), ESSENTIAL, mask, ownOnly);
  }

  /** Like {@link findByName} but throws BTF_NOT_FOUND. */
  getByName<K extends BtfKind>(name: string, kind: K): BtfTypeOf<K>;
  getByName(name: string, kind?: BtfKind): BtfType;
  getByName(name: string, kind?: BtfKind): BtfType {
    const t = this.findByName(name, kind);
    if (!t) throw new BtfError('BTF_NOT_FOUND', `no ${kind ?? 'type'} named '${name}'`);
    return t;
  }

  // ---------------------------------------------------------------- layout

  /**
   * Follow typedefs, const/volatile/restrict and type tags to the underlying
   * type. Throws BTF_LOOP on a reference cycle.
   */
  resolve(id: number): BtfType {
    let t = this.typeById(id);
    for (let depth = 0; ; depth++) {
      switch (t.kind) {
        case 'typedef':
        case 'const':
        case 'volatile':
        case 'restrict':
        case 'type_tag':
          if (depth >= MAX_RESOLVE_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: typedef/qualifier chain too deep or cyclic`, { typeId: id });
          t = this.typeById(t.type);
          break;
        default:
          return t;
      }
    }
  }

  /** Like {@link resolve} but keeps typedefs: skips const/volatile/restrict/type tags only. */
  skipQualifiers(id: number): BtfType {
    let t = this.typeById(id);
    for (let depth = 0; t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag'; depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: qualifier chain too deep or cyclic`, { typeId: id });
      t = this.typeById(t.type);
    }
    return t;
  }

  /**
   * Pointer size in bytes: the size of the 'long' integer type when there is
   * one (as libbpf guesses it), else 8 (BPF is 64-bit).
   */
  get pointerSize(): number {
    if (this.ptrSize === undefined) {
      this.ptrSize = 8;
      for (const n of ['long', 'long int', 'long unsigned int', 'unsigned long', 'long unsigned', 'unsigned long int']) {
        const t = this.findByName(n, 'int');
        if (t && (t.size === 4 || t.size === 8)) {
          this.ptrSize = t.size;
          break;
        }
      }
    }
    return this.ptrSize;
  }

  /**
   * Size in bytes of a value of type `id` (libbpf's btf__resolve_size):
   * follows typedefs/qualifiers/vars/tags; arrays multiply. Throws
   * BTF_INVALID_TYPE for void, functions and forward declarations.
   */
  sizeOf(id: number): number {
    let mult = 1;
    let t = this.typeById(id);
    for (let depth = 0; ; depth++) {
      if (depth > MAX_RESOLVE_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: chain too deep or cyclic`, { typeId: id });
      let size: number;
      switch (t.kind) {
        case 'int':
        case 'struct':
        case 'union':
        case 'enum':
        case 'enum64':
        case 'datasec':
        case 'float':
          size = t.size;
          break;
        case 'ptr':
          size = this.pointerSize;
          break;
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'var':
        case 'decl_tag':
        case 'type_tag':
          t = this.typeById(t.type);
          continue;
        case 'array':
          mult *= t.nelems;
          if (mult > 0xffffffff) throw new BtfError('BTF_INVALID_TYPE', `type ${id}: size overflows 32 bits`, { typeId: id });
          t = this.typeById(t.type);
          continue;
        default:
          throw new BtfError('BTF_INVALID_TYPE', `type ${id} (${this.describe(t)}) has no size`, { typeId: id });
      }
      const total = size * mult;
      if (total > 0xffffffff) throw new BtfError('BTF_INVALID_TYPE', `type ${id}: size overflows 32 bits`, { typeId: id });
      return total;
    }
  }

  /**
   * Natural alignment in bytes (libbpf's btf__align_of): scalars align to
   * min(size, pointer size); structs to their most aligned member, or 1 when
   * the layout shows they are packed.
   */
  alignOf(id: number): number {
    return this.alignAt(id, 0);
  }

  private alignAt(id: number, depth: number): number {
    const memo = (this.alignMemo ??= new Map());
    const cached = memo.get(id);
    if (cached !== undefined) {
      if (cached < 0) throw new BtfError('BTF_LOOP', `type ${id}: contains itself`, { typeId: id });
      return cached;
    }
    if (depth > 4 * MAX_RESOLVE_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: nested too deep`, { typeId: id });
    memo.set(id, -1);
    try {
      const a = this.computeAlign(id, depth);
      memo.set(id, a);
      return a;
    } catch (e) {
      memo.delete(id);
      throw e;
    }
  }

  private computeAlign(id: number, depth: number): number {
    const t = this.typeById(id);
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64':
      case 'float':
        return Math.max(1, Math.min(t.size, this.pointerSize));
      case 'ptr':
        return this.pointerSize;
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
      case 'var':
      case 'decl_tag':
      case 'array':
        return this.alignAt(t.type, depth + 1);
      case 'struct':
      case 'union': {
        let max = 1;
        for (const m of t.members) {
          const a = this.alignAt(m.type, depth + 1);
          if (a > max) max = a;
          // A member not at a multiple of its alignment: the struct is packed.
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
        }
        if (t.size % max !== 0) return 1;
        return max;
      }
      default:
        throw new BtfError('BTF_INVALID_TYPE', `type ${id} (${this.describe(t)}) has no alignment`, { typeId: id });
    }
  }

  /**
   * Find a member of struct/union `id` (after resolving typedefs) by name,
   * looking into anonymous struct/union members too. Returns the member and
   * its bit offset from the start of the outer type, or undefined.
   */
  findMember(id: number, name: string): { member: BtfMember; bitOffset: number; path: number[] } | undefined {
    let budget = 100_000; // visited members: bounds hostile fan-out of anonymous members
    const search = (tid: number, base: number, depth: number): { member: BtfMember; bitOffset: number; path: number[] } | undefined => {
      if (depth > MAX_RESOLVE_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: anonymous members nest too deep`, { typeId: id });
      if (--budget < 0) throw new BtfError('BTF_LOOP', `type ${id}: too many anonymous members to search`, { typeId: id });
      const t = this.resolve(tid);
      if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
      for (let i = 0; i < t.members.length; i++) {
        const m = t.members[i]!;
        if (m.name === name) return { member: m, bitOffset: base + m.bitOffset, path: [i] };
      }
      for (let i = 0; i < t.members.length; i++) {
        const m = t.members[i]!;
        if (m.name !== '') continue;
        const r = search(m.type, base + m.bitOffset, depth + 1);
        if (r) return { ...r, path: [i, ...r.path] };
      }
      return undefined;
    };
    return search(id, 0, 0);
  }

  /** 'struct foo', 'int', 'func bar'...: a short description of one type (no recursion). */
  describe(t: BtfType): string {
    const n = t.name || '(anon)';
    switch (t.kind) {
      case 'void':
        return 'void';
      case 'struct':
      case 'union':
      case 'enum':
        return `${t.kind} ${n}`;
      case 'enum64':
        return `enum ${n}`;
      case 'fwd':
        return `${t.fwdKind} ${n}`;
      default:
        return t.name ? `${t.kind} ${t.name}` : t.kind;
    }
  }

  /**
   * A stable, C-like name for a type, for messages and tools:
   * `struct task_struct`, `int *`, `char[16]`, `const char *`,
   * `int (*)(void *, long)`, `u32` (typedef names are kept). FUNC types give
   * their declaration (`int foo(void *)`), VARs `int counter`.
   */
  typeName(id: number): string {
    const budget = { nodes: 0 };
    const t = this.typeById(id);
    if (t.kind === 'func') return this.declarator(t.type, t.name, 0, budget);
    if (t.kind === 'var') return this.declarator(t.type, t.name, 0, budget);
    if (t.kind === 'datasec') return `datasec ${t.name}`;
    if (t.kind === 'decl_tag') return `decl_tag ${t.name}`;
    return this.declarator(id, '', 0, budget);
  }

  private declarator(id: number, inner: string, depth: number, budget: { nodes: number }): string {
    if (depth > MAX_RESOLVE_DEPTH || ++budget.nodes > 4096) {
      throw new BtfError('BTF_LOOP', `type ${id}: type name too deep or cyclic`, { typeId: id });
    }
    const sp = (base: string) => (inner === '' ? base : inner[0] === '[' ? base + inner : `${base} ${inner}`);
    const t = this.typeById(id);
    switch (t.kind) {
      case 'void':
        return sp('void');
      case 'int':
      case 'float':
      case 'typedef':
        return sp(t.name || '(anon)');
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
        return sp(this.describe(t));
      case 'ptr':
        return this.declarator(t.type, '*' + inner, depth + 1, budget);
      case 'const':
      case 'volatile':
      case 'restrict': {
        const q = t.kind;
        const target = this.typeById(t.type);
        if (target.kind === 'ptr') return this.declarator(t.type, inner ? `${q} ${inner}` : q, depth + 1, budget);
        return `${q} ${this.declarator(t.type, inner, depth + 1, budget)}`;
      }
      case 'type_tag':
        return this.declarator(t.type, inner, depth + 1, budget);
      case 'array': {
        const wrapped = inner.startsWith('*') ? `(${inner})` : inner;
        return this.declarator(t.type, `${wrapped}[${t.nelems}]`, depth + 1, budget);
      }
      case 'func_proto': {
        const params = t.params.map((p, i) =>
          p.type === 0 && i === t.params.length - 1 ? '...' : this.declarator(p.type, '', depth + 1, budget),
        );
        const wrapped = inner.startsWith('*') ? `(${inner})` : inner;
        return this.declarator(t.returnType, `${wrapped}(${params.length ? params.join(', ') : 'void'})`, depth + 1, budget);
      }
      case 'func':
        return this.declarator(t.type, t.name + inner, depth + 1, budget);
      case 'var':
      case 'decl_tag':
        return this.declarator(t.type, inner, depth + 1, budget);
      case 'datasec':
        return sp(`datasec ${t.name}`);
    }
  }
}
