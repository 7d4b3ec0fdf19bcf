/**
 * BTF codecs: values of a BTF type encoded to bytes and decoded back, with the
 * same interface as the integer codecs of bpf/maps (`Codec<T>`, defined here
 * because btf/ is below bpf/). A struct is a plain object (anonymous members
 * flattened as C flattens them), a char array a string, other arrays arrays,
 * 1-4 byte integers numbers, 8-byte integers bigints.
 *
 * Each type is compiled once (per Btf, type id and options) into generated
 * JavaScript: one function per struct, union and array type, reading and
 * writing through the DataView at constant offsets, so a decode costs about
 * what a hand-written DataView decoder costs. Nothing from the BTF reaches the
 * generated source except numbers and JSON-quoted names.
 *
 * The BTF is untrusted: every reader's extent is checked against its
 * enclosing type when compiled, so a decode reads nothing outside the
 * value's bytes, and the number of values a decode may produce is bounded by
 * the size. Encoding refuses what does not fit (CodecError, with the path of
 * the field: `stats.min_time: 1180591620717411303424 does not fit in u64`).
 */
import type { Btf } from './btf.ts';
import { BtfError } from './errors.ts';
import type { BtfType } from './types.ts';
import { TsbpfError, type CodecErrorCode } from '../errors.ts';

/** Turns values into bytes and back: what maps, variables and event readers take. */
export interface Codec<T> {
  /** Encoded size in bytes. */
  readonly size: number;
  /** Write `value` at `offset` of `bytes`/`view` (the same memory). */
  encode(value: T, bytes: Uint8Array, view: DataView, offset: number): void;
  /** Read a value at `offset`; must copy out anything that outlives the call. */
  decode(bytes: Uint8Array, view: DataView, offset: number): T;
}

type NumericArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** What a BTF codec decodes to (and encodes from). */
export type BtfValue = number | bigint | boolean | string | null | NumericArray | BtfValue[] | { [field: string]: BtfValue };

export interface BtfCodecOptions {
  /** Char arrays as strings (default true); false: as arrays of numbers. */
  strings?: boolean;
  /** 8-byte integers and enums as numbers (exact below 2^53 only); encode then takes numbers or bigints. */
  u64AsNumber?: boolean;
  /** Enums decode to their value's name (the number when no name has it); encode takes names or numbers either way. */
  enumNames?: boolean;
  /** Arrays of integers or floats as typed arrays (Uint32Array, BigUint64Array, ...); encode takes either. */
  typedArrays?: boolean;
  /** Encode writes zeros for missing struct fields instead of refusing them. */
  zeroFill?: boolean;
  /** The root of field paths in errors (default: the type's name). */
  name?: string;
}

/** A value that cannot be encoded, or bytes too short to decode; `path` names the field. */
export class CodecError extends TsbpfError {
  declare readonly code: CodecErrorCode;
  /** Field path below the root (`stats.min_time`, `args[2]`); '' for the root itself. */
  path: string;
  /** What is wrong, without the path. */
  readonly detail: string;
  constructor(code: CodecErrorCode, detail: string, path = '') {
    super(code, detail);
    this.detail = detail;
    this.path = path;
  }
}

/** Values one decode may produce beyond one per byte (zero-sized members, empty structs). */
const VALUES_ALLOWANCE = 1 << 16;
const MAX_DEPTH = 64;
/** Fields of one struct after flattening anonymous members: beyond this the BTF is hostile, not a real type. */
const MAX_FIELDS = 1 << 14;

const cache = new WeakMap<Btf, Map<string, Codec<BtfValue>>>();

/**
 * A codec for values of BTF type `typeId` of `btf`. Compiled on first use and
 * cached per (btf, typeId, options). Throws BtfError when the type cannot be
 * a value (a function) or its layout is malformed.
 */
export function btfCodec<T = BtfValue>(btf: Btf, typeId: number, options: BtfCodecOptions = {}): Codec<T> {
  const key = `${typeId}|${options.strings === false ? 0 : 1}${options.u64AsNumber ? 1 : 0}${options.enumNames ? 1 : 0}${options.typedArrays ? 1 : 0}${options.zeroFill ? 1 : 0}|${options.name ?? ''}`;
  let perBtf = cache.get(btf);
  if (!perBtf) cache.set(btf, (perBtf = new Map()));
  let c = perBtf.get(key);
  if (!c) {
    c = compile(btf, typeId, options);
    perBtf.set(key, c);
  }
  return c as unknown as Codec<T>;
}

// ---- runtime helpers the generated code calls ---------------------------------

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Uint8Array, start: number, end: number): string }).utf8Slice;
const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 string of at most `n` bytes at `o`. */
function cstr(b: Uint8Array, o: number, n: number): string {
  let e = o;
  const end = o + n;
  while (e < end && b[e] !== 0) e++;
  return e === o ? '' : utf8Slice.call(b, o, e);
}

/** Write `s` as UTF-8 into the (zeroed) `n` bytes at `o`. */
function putStr(s: unknown, b: Uint8Array, o: number, n: number): void {
  if (typeof s !== 'string') fail(`expected a string, got ${describe(s)}`);
  const len = s.length;
  if (len <= n) {
    // ASCII: byte per char, no encoder.
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80 || c === 0) break;
      b[o + i] = c;
    }
    if (i === len) return;
  }
  if (s.includes('\0')) fail(`${JSON.stringify(s)} contains a NUL character`);
  const r = encoder.encodeInto(s, b.subarray(o, o + n));
  if (r.read !== len) fail(`${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '...' : s)} is ${Buffer.byteLength(s)} bytes of UTF-8, longer than char[${n}]`);
}

function fail(detail: string): never {
  throw new CodecError('CODEC', detail);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'number' || typeof x === 'bigint') return `${typeof x} ${String(x)}${typeof x === 'bigint' ? 'n' : ''}`;
  if (typeof x === 'string') return `string ${JSON.stringify(x.length > 40 ? x.slice(0, 40) + '...' : x)}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  return `a ${typeof x}`;
}

/** An integer that does not fit `what` (u32, s8, enum foo, a 3-bit bitfield). */
function badInt(x: unknown, what: string, wantBig: boolean): never {
  if (typeof x === 'number' || typeof x === 'bigint') {
    if (typeof x === 'number' && wantBig && Number.isInteger(x)) fail(`${x} is a number: ${what} takes a bigint (or the u64AsNumber option)`);
    if (typeof x === 'bigint' && !wantBig) fail(`${x}n is a bigint: ${what} takes a number`);
    fail(`${typeof x === 'bigint' ? `${x}n` : x} does not fit in ${what}`);
  }
  fail(`expected ${wantBig ? 'a bigint' : 'a number'} for ${what}, got ${describe(x)}`);
}

function notObject(x: unknown, what: string): never {
  fail(`expected an object for ${what}, got ${describe(x)}`);
}

function unknownField(x: object, known: Record<string, 1>, what: string): never {
  for (const k in x) if (known[k] !== 1) fail(`${what} has no field '${k}' (fields: ${Object.keys(known).join(', ')})`);
  fail(`${what}: unknown field`);
}

function missing(_name: string, what: string): never {
  throw new CodecError('CODEC', `missing (${what} needs every field; the zeroFill option writes zeros instead)`);
}

function badArray(x: unknown, n: number, what: string): never {
  if (x !== null && typeof x === 'object' && typeof (x as { length?: unknown }).length === 'number') {
    fail(`expected ${n} elements for ${what}, got ${(x as { length: number }).length}`);
  }
  fail(`expected an array of ${n} elements for ${what}, got ${describe(x)}`);
}

/** Prepend a path segment to a CodecError on its way out of a struct or array. */
function at(e: unknown, seg: string): unknown {
  if (e instanceof CodecError) e.path = e.path === '' ? seg : e.path[0] === '[' ? seg + e.path : `${seg}.${e.path}`;
  return e;
}

/** The error as the caller sees it: the root name and the path in the message. */
function rooted(e: unknown, root: string): unknown {
  if (e instanceof CodecError) {
    e.path = e.path === '' ? root : e.path[0] === '[' ? root + e.path : `${root}.${e.path}`;
    e.message = `${e.path}: ${e.detail}`;
  }
  return e;
}

function short(b: unknown, o: unknown, size: number, root: string, op: string): never {
  if (!(b instanceof Uint8Array)) throw new CodecError('CODEC', `cannot ${op} ${root}: expected a Uint8Array, got ${describe(b)}`, root);
  throw new CodecError('CODEC_TRUNCATED', `cannot ${op} ${root} (${size} bytes) at offset ${String(o)} of ${b.length} bytes`, root);
}

/** Little-endian integer of `n` bytes (odd sizes, 16-byte ints) as a bigint. */
function getWide(b: Uint8Array, o: number, n: number, signed: boolean): bigint {
  let x = 0n;
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + i]!);
  return signed ? BigInt.asIntN(n * 8, x) : x;
}

function putWide(x: unknown, b: Uint8Array, o: number, n: number, signed: boolean, what: string): void {
  const bits = BigInt(n * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (typeof x !== 'bigint' || x < min || x > max) badInt(x, what, true);
  let u = BigInt.asUintN(n * 8, x);
  for (let i = 0; i < n; i++) {
    b[o + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}

/** A bitfield of more than 32 bits, or one spanning more than 4 bytes. */
function getBitsBig(b: Uint8Array, o: number, nbytes: number, shift: number, bits: number, signed: boolean): bigint {
  let x = 0n;
  for (let i = nbytes - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + i]!);
  x = (x >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  return signed ? BigInt.asIntN(bits, x) : x;
}

function putBitsBig(x: unknown, b: Uint8Array, o: number, nbytes: number, shift: number, bits: number, signed: boolean, what: string): void {
  const big = bits > 32;
  const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
  const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
  let v: bigint;
  if (big) {
    if (typeof x !== 'bigint' || x < min || x > max) badInt(x, what, true);
    v = x;
  } else {
    if (typeof x !== 'number' || !Number.isInteger(x) || BigInt(x) < min || BigInt(x) > max) badInt(x, what, false);
    v = BigInt(x);
  }
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(shift);
  let cur = 0n;
  for (let i = nbytes - 1; i >= 0; i--) cur = (cur << 8n) | BigInt(b[o + i]!);
  cur = (cur & ~mask) | ((BigInt.asUintN(bits, v) << BigInt(shift)) & mask);
  for (let i = 0; i < nbytes; i++) {
    b[o + i] = Number(cur & 0xffn);
    cur >>= 8n;
  }
}

/** Copy `n` elements of `size` bytes into a new typed array (aligned, whatever the source offset). */
function typedCopy<A>(Ctor: new (buf: ArrayBuffer) => A, b: Uint8Array, o: number, bytes: number): A {
  const copy = new Uint8Array(bytes);
  copy.set(b.subarray(o, o + bytes));
  return new Ctor(copy.buffer);
}

function rawCopy(b: Uint8Array, o: number, n: number): Uint8Array {
  return b.slice(o, o + n);
}

function putRaw(x: unknown, b: Uint8Array, o: number, n: number, what: string): void {
  if (!(x instanceof Uint8Array) || x.length !== n) fail(`expected a Uint8Array of ${n} bytes for ${what}, got ${describe(x)}${x instanceof Uint8Array ? ` of ${x.length}` : ''}`);
  b.set(x, o);
}

function nameOf(names: Map<number | bigint, string>, n: number | bigint): string | number | bigint {
  return names.get(n) ?? n;
}

const HELPERS = { nameOf, cstr, putStr, fail, badInt, notObject, unknownField, missing, badArray, at, rooted, short, getWide, putWide, getBitsBig, putBitsBig, typedCopy, rawCopy, putRaw };

// ---- the compiler ---------------------------------------------------------------

/** A struct or union field after flattening: where it is, and whether encode may leave it out. */
interface Field {
  name: string;
  type: number;
  /** Bit offset from the start of the outermost struct being compiled. */
  bitOffset: number;
  /** Bitfield width; 0 for whole members. */
  bits: number;
  optional: boolean;
  path: string;
}

class Compiler {
  readonly fns: string[] = [];
  readonly consts: unknown[] = [];
  readonly #done = new Map<number, string>();
  readonly #values = new Map<number, number>();
  readonly #active = new Set<number>();
  readonly #strings: boolean;

  constructor(
    readonly btf: Btf,
    readonly opts: BtfCodecOptions,
  ) {
    this.#strings = opts.strings ?? true;
  }

  /** A constant the generated code refers to as `K[i]`. */
  k(v: unknown): string {
    this.consts.push(v);
    return `K[${this.consts.length - 1}]`;
  }

  /** The name suffix of the sub-function pair (d<n>/e<n>) for struct, union or array type `id`. */
  sub(id: number, path: string, depth: number): string {
    const t = this.btf.resolve(id);
    const done = this.#done.get(t.id);
    if (done) return done;
    if (depth > MAX_DEPTH || this.#active.has(t.id)) throw new BtfError('BTF_LOOP', `${path}: type ${id} nests too deeply (or contains itself) to decode`, { typeId: id });
    this.#active.add(t.id);
    try {
      const name = String(t.id);
      if (t.kind === 'array') this.#array(t, path, depth);
      else if (t.kind === 'struct' || t.kind === 'union') this.#struct(t, path, depth);
      else throw new BtfError('BTF_INVALID_TYPE', `${path}: no sub-codec for a ${t.kind}`, { typeId: id });
      this.#done.set(t.id, name);
      return name;
    } finally {
      this.#active.delete(t.id);
    }
  }

  /** How many values a decode of `id` produces (bounded before anything is generated). */
  values(id: number, depth: number): number {
    const t = this.btf.resolve(id);
    const memo = this.#values.get(t.id);
    if (memo !== undefined) return memo;
    if (depth > MAX_DEPTH) throw new BtfError('BTF_LOOP', `type ${id} nests too deeply (or contains itself) to decode`, { typeId: id });
    let n = 1;
    if (t.kind === 'struct' || t.kind === 'union') {
      for (const m of t.members) n += this.values(m.type, depth + 1);
    } else if (t.kind === 'array' && !this.#isString(t)) {
      n += t.nelems * this.values(t.type, depth + 1);
    }
    this.#values.set(t.id, n);
    return n;
  }

  #isString(t: BtfType & { kind: 'array' }): boolean {
    if (!this.#strings) return false;
    const e = this.btf.resolve(t.type);
    return e.kind === 'int' && e.size === 1 && (e.encoding === 'char' || e.name === 'char');
  }

  /**
   * Decode expression and encode statements for a value of type `id` at offset
   * expression `off` (`o + 8`), with value `x` (an identifier) on encode.
   * Returns the bytes read from `off` (the extent) too.
   */
  leaf(id: number, off: string, x: string, path: string, depth: number): { dec: string; enc: string; extent: number } {
    const btf = this.btf;
    const t = btf.resolve(id);
    const big = !this.opts.u64AsNumber;
    switch (t.kind) {
      case 'int': {
        if (t.encoding === 'bool') {
          return {
            extent: 1,
            dec: `b[${off}] !== 0`,
            enc: `if (${x} === true) b[${off}] = 1; else if (${x} !== false) H.fail("expected a boolean, got " + (typeof ${x}));`,
          };
        }
        return this.#int(t.size, t.encoding === 'signed', off, x, `${t.encoding === 'signed' ? 's' : 'u'}${t.size * 8}`, big);
      }
      case 'enum':
      case 'enum64': {
        const what = `enum ${t.name || '(anon)'}`;
        const size = t.kind === 'enum64' ? 8 : t.size;
        if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new BtfError('BTF_MALFORMED', `cannot decode ${path}: a ${size}-byte enum`, { typeId: id });
        const base = this.#int(size, t.signed, off, x, what, big);
        // Names on encode always; on decode under enumNames.
        const byName: Record<string, number | bigint> = Object.create(null);
        const byValue = new Map<number | bigint, string>();
        for (const v of t.values) {
          const val: number | bigint = size === 8 ? (big ? BigInt(v.value) : Number(v.value)) : Number(v.value);
          if (!(v.name in byName)) byName[v.name] = val;
          if (!byValue.has(val)) byValue.set(val, v.name);
        }
        const names = this.k(byName);
        const values = this.k(byValue);
        const enc = `if (typeof ${x} === "string") { const n = ${names}[${x}]; if (n === undefined) H.fail(${JSON.stringify(`${what} has no value named `)} + JSON.stringify(${x})); ${x} = n; } ${base.enc}`;
        if (!this.opts.enumNames) return { extent: size, dec: base.dec, enc };
        return { extent: size, dec: `H.nameOf(${values}, ${base.dec})`, enc };
      }
      case 'float':
        if (t.size === 4) return { extent: 4, dec: `v.getFloat32(${off}, true)`, enc: `if (typeof ${x} !== "number") H.fail("expected a number, got " + (typeof ${x})); v.setFloat32(${off}, ${x}, true);` };
        if (t.size === 8) return { extent: 8, dec: `v.getFloat64(${off}, true)`, enc: `if (typeof ${x} !== "number") H.fail("expected a number, got " + (typeof ${x})); v.setFloat64(${off}, ${x}, true);` };
        if (t.size === 16 || t.size === 12 || t.size === 10) return this.#raw(t.size, off, x, `float${t.size * 8}`);
        throw new BtfError('BTF_MALFORMED', `cannot decode ${path}: a ${t.size}-byte float`, { typeId: id });
      case 'ptr':
        if (btf.pointerSize === 4) return this.#int(4, false, off, x, 'pointer', false);
        return this.#int(8, false, off, x, 'pointer', true);
      case 'array':
      case 'struct':
      case 'union': {
        const s = this.sub(id, path, depth);
        return { extent: this.extentOf(t.id), dec: `d${s}(b, v, ${off})`, enc: `e${s}(${x}, b, v, ${off});` };
      }
      case 'void':
      case 'fwd':
      case 'func_proto':
        return { extent: 0, dec: 'null', enc: `if (${x} !== null && ${x} !== undefined) H.fail("expected null, got " + (typeof ${x}));` };
      default:
        throw new BtfError('BTF_INVALID_TYPE', `cannot decode ${path}: a ${t.kind} (${btf.typeName(id)})`, { typeId: id });
    }
  }

  readonly #extent = new Map<number, number>();
  extentOf(id: number): number {
    return this.#extent.get(id)!;
  }

  #raw(n: number, off: string, x: string, what: string): { dec: string; enc: string; extent: number } {
    return { extent: n, dec: `H.rawCopy(b, ${off}, ${n})`, enc: `H.putRaw(${x}, b, ${off}, ${n}, ${JSON.stringify(what)});` };
  }

  /** An integer of `size` bytes; 8 bytes as bigint when `big`, as a number (exact below 2^53) otherwise. */
  #int(size: number, signed: boolean, off: string, x: string, what: string, big: boolean): { dec: string; enc: string; extent: number } {
    const w = JSON.stringify(what);
    const chk = (cond: string, wantBig = false) => `if (!(${cond})) H.badInt(${x}, ${w}, ${wantBig});`;
    switch (size) {
      case 1:
        return signed
          ? { extent: 1, dec: `v.getInt8(${off})`, enc: `${chk(`typeof ${x} === "number" && ((${x} << 24) >> 24) === ${x}`)} b[${off}] = ${x};` }
          : { extent: 1, dec: `b[${off}]`, enc: `${chk(`typeof ${x} === "number" && (${x} & 0xff) === ${x}`)} b[${off}] = ${x};` };
      case 2:
        return signed
          ? { extent: 2, dec: `v.getInt16(${off}, true)`, enc: `${chk(`typeof ${x} === "number" && ((${x} << 16) >> 16) === ${x}`)} v.setInt16(${off}, ${x}, true);` }
          : { extent: 2, dec: `v.getUint16(${off}, true)`, enc: `${chk(`typeof ${x} === "number" && (${x} & 0xffff) === ${x}`)} v.setUint16(${off}, ${x}, true);` };
      case 4:
        return signed
          ? { extent: 4, dec: `v.getInt32(${off}, true)`, enc: `${chk(`typeof ${x} === "number" && (${x} | 0) === ${x}`)} v.setInt32(${off}, ${x}, true);` }
          : { extent: 4, dec: `v.getUint32(${off}, true)`, enc: `${chk(`typeof ${x} === "number" && (${x} >>> 0) === ${x}`)} v.setUint32(${off}, ${x}, true);` };
      case 8: {
        const min = signed ? '-0x8000000000000000n' : '0n';
        const max = signed ? '0x7fffffffffffffffn' : '0xffffffffffffffffn';
        const setBig = signed ? `v.setBigInt64(${off}, ${x}, true);` : `v.setBigUint64(${off}, ${x}, true);`;
        const bigOk = `typeof ${x} === "bigint" && ${x} >= ${min} && ${x} <= ${max}`;
        if (big) return { extent: 8, dec: signed ? `v.getBigInt64(${off}, true)` : `v.getBigUint64(${off}, true)`, enc: `${chk(bigOk, true)} ${setBig}` };
        // Numbers: two 32-bit halves, no BigInt; bigints accepted too.
        const lo = `v.getUint32(${off}, true)`;
        const hi = signed ? `v.getInt32((${off}) + 4, true)` : `v.getUint32((${off}) + 4, true)`;
        // Past 2^53 a number is still an exact integer: write it exactly (through a BigInt), so it decodes to itself.
        const numOk = signed ? `Number.isInteger(${x}) && ${x} >= -9223372036854775808 && ${x} < 9223372036854775808` : `Number.isInteger(${x}) && ${x} >= 0 && ${x} < 18446744073709551616`;
        const setNum = `if (Number.isSafeInteger(${x})) { v.setUint32(${off}, ${x} >>> 0, true); v.setUint32((${off}) + 4, Math.floor(${x} / 4294967296) >>> 0, true); } else ${signed ? `v.setBigInt64(${off}, BigInt(${x}), true);` : `v.setBigUint64(${off}, BigInt(${x}), true);`}`;
        return {
          extent: 8,
          dec: `(${hi} * 4294967296 + ${lo})`,
          enc: `if (typeof ${x} === "number") { ${chk(numOk)} ${setNum} } else { ${chk(bigOk)} ${setBig} }`,
        };
      }
      default:
        return { extent: size, dec: `H.getWide(b, ${off}, ${size}, ${signed})`, enc: `H.putWide(${x}, b, ${off}, ${size}, ${signed}, ${w});` };
    }
  }

  #array(t: BtfType & { kind: 'array' }, path: string, depth: number): void {
    const btf = this.btf;
    const n = t.nelems;
    const esz = btf.sizeOf(t.type);
    const id = t.id;
    const what = JSON.stringify(`${btf.typeName(id)}`);
    if (this.#isString(t)) {
      this.#extent.set(id, n);
      this.fns.push(`function d${id}(b, v, o) { return H.cstr(b, o, ${n}); }`, `function e${id}(x, b, v, o) { H.putStr(x, b, o, ${n}); }`);
      return;
    }
    const el = this.leaf(t.type, 'p', 'y', `${path}[]`, depth + 1);
    if (el.extent > esz) throw new BtfError('BTF_MALFORMED', `cannot decode ${path}[]: element reads ${el.extent} bytes of ${esz}`, { typeId: id });
    this.#extent.set(id, n ? (n - 1) * esz + el.extent : 0);
    const e = btf.resolve(t.type);
    const typed = this.opts.typedArrays && (e.kind === 'float' || (e.kind === 'int' && e.encoding !== 'bool')) ? typedCtor(e, esz) : undefined;
    const loopEnc = `const n = x.length; if (n !== ${n}) H.badArray(x, ${n}, ${what}); let i = 0; try { for (; i < ${n}; i++) { let y = x[i]; const p = o + i * ${esz}; ${el.enc} } } catch (err) { throw H.at(err, "[" + i + "]"); }`;
    const isArr = `(Array.isArray(x)${typed ? ` || x instanceof ${this.k(typed)}` : ''})`;
    if (typed) {
      this.fns.push(`function d${id}(b, v, o) { return H.typedCopy(${this.k(typed)}, b, o, ${n * esz}); }`);
    } else {
      this.fns.push(`function d${id}(b, v, o) { const a = new Array(${n}); for (let i = 0; i < ${n}; i++) { const p = o + i * ${esz}; a[i] = ${el.dec}; } return a; }`);
    }
    this.fns.push(`function e${id}(x, b, v, o) { if (!${isArr}) H.badArray(x, ${n}, ${what}); ${loopEnc} }`);
  }

  #struct(t: BtfType & { kind: 'struct' | 'union' }, path: string, depth: number): void {
    const btf = this.btf;
    const id = t.id;
    const fields: Field[] = [];
    this.#flatten(t, 0, t.kind === 'union', path, fields, depth);
    const what = JSON.stringify(btf.typeName(id));
    const decParts: string[] = [];
    const encParts: string[] = [];
    const known: Record<string, 1> = Object.create(null);
    let nfields = 0;
    for (const f of fields) {
      // C forbids it; a lying producer does not: a decode would keep one of the values and an encode write one value twice.
      if (known[f.name] === 1) throw new BtfError('BTF_MALFORMED', `cannot decode ${f.path}: ${btf.typeName(id)} has two fields named ${JSON.stringify(f.name)}`, { typeId: id });
      known[f.name] = 1;
      const key = f.name === '__proto__' ? '["__proto__"]' : JSON.stringify(f.name);
      const x = `f${nfields++}`;
      let dec: string;
      let enc: string;
      if (f.bits) {
        ({ dec, enc } = this.#bitfield(f, x, t.size));
      } else {
        if (f.bitOffset % 8) throw new BtfError('BTF_MALFORMED', `cannot decode ${f.path}: bit offset ${f.bitOffset} is not byte aligned`, { typeId: id });
        const off = f.bitOffset / 8;
        const l = this.leaf(f.type, `o + ${off}`, x, f.path, depth + 1);
        if (off + l.extent > t.size) throw new BtfError('BTF_MALFORMED', `cannot decode ${f.path}: bytes [${off}, +${l.extent}) are outside the ${t.size}-byte ${t.kind}`, { typeId: id });
        dec = l.dec;
        enc = l.enc;
      }
      decParts.push(`${key}: ${dec}`);
      const absent = f.optional || this.opts.zeroFill ? '' : ` H.missing(${JSON.stringify(f.name)}, ${what});`;
      const get = f.name === '__proto__' ? `(Object.hasOwn(x, "__proto__") ? x["__proto__"] : undefined)` : `x[${JSON.stringify(f.name)}]`;
      encParts.push(`s = ${JSON.stringify(f.name)}; let ${x} = ${get}; if (${x} === undefined) {${absent} } else { ${enc} }`);
    }
    this.#extent.set(id, t.size);
    const k = this.k(known);
    this.fns.push(`function d${id}(b, v, o) { return { ${decParts.join(', ')} }; }`);
    this.fns.push(
      `function e${id}(x, b, v, o) { if (typeof x !== "object" || x === null || Array.isArray(x)) H.notObject(x, ${what}); ` +
        `for (const key in x) if (${k}[key] !== 1) H.unknownField(x, ${k}, ${what}); ` +
        `let s = ""; try { ${encParts.join(' ')} } catch (err) { throw H.at(err, s); } }`,
    );
  }

  /** The named fields of a struct or union, anonymous struct/union members' fields lifted into it as in C. */
  #flatten(t: BtfType & { kind: 'struct' | 'union' }, base: number, optional: boolean, path: string, out: Field[], depth: number): void {
    if (depth > MAX_DEPTH) throw new BtfError('BTF_LOOP', `${path}: anonymous members nest too deeply`, { typeId: t.id });
    const btf = this.btf;
    for (const m of t.members) {
      const mpath = `${path}.${m.name || '(anon)'}`;
      const mt = btf.resolve(m.type);
      // Legacy (non-kind_flag) bitfields: ints narrower than their size, or not byte aligned.
      const legacy = !m.bitfieldSize && mt.kind === 'int' && (mt.bits !== mt.size * 8 || m.bitOffset % 8 !== 0 || mt.bitOffset !== 0);
      if (m.bitfieldSize || legacy) {
        const start = legacy && mt.kind === 'int' ? m.bitOffset + mt.bitOffset : m.bitOffset;
        const bits = legacy && mt.kind === 'int' ? mt.bits : m.bitfieldSize;
        if (start + bits > t.size * 8) throw new BtfError('BTF_MALFORMED', `cannot decode ${mpath}: bits [${start}, +${bits}) are outside the ${t.size}-byte ${t.kind}`, { typeId: t.id });
        if (m.name && bits) out.push({ name: m.name, type: m.type, bitOffset: base + start, bits, optional, path: mpath });
        continue;
      }
      if (!m.name) {
        if (mt.kind === 'struct' || mt.kind === 'union') {
          if (m.bitOffset % 8) throw new BtfError('BTF_MALFORMED', `cannot decode ${mpath}: bit offset ${m.bitOffset} is not byte aligned`, { typeId: t.id });
          if (m.bitOffset / 8 + mt.size > t.size) throw new BtfError('BTF_MALFORMED', `cannot decode ${mpath}: bytes [${m.bitOffset / 8}, +${mt.size}) are outside the ${t.size}-byte ${t.kind}`, { typeId: t.id });
          this.#flatten(mt, base + m.bitOffset, optional || mt.kind === 'union', mpath, out, depth + 1);
        }
        continue;
      }
      out.push({ name: m.name, type: m.type, bitOffset: base + m.bitOffset, bits: 0, optional, path: mpath });
      if (out.length > MAX_FIELDS) throw new BtfError('BTF_INVALID_TYPE', `${path}: more than ${MAX_FIELDS} fields to decode`, { typeId: t.id });
    }
  }

  #bitfield(f: Field, x: string, size: number): { dec: string; enc: string } {
    const t = this.btf.resolve(f.type);
    const signed = t.kind === 'int' ? t.encoding === 'signed' : (t.kind === 'enum' || t.kind === 'enum64') && t.signed;
    const first = Math.floor(f.bitOffset / 8);
    const shift = f.bitOffset % 8;
    const bits = f.bits;
    const nbytes = Math.ceil((shift + bits) / 8);
    if (first + nbytes > size) throw new BtfError('BTF_MALFORMED', `cannot decode ${f.path}: bitfield outside its ${size}-byte parent`, { typeId: f.type });
    const what = JSON.stringify(`a ${bits}-bit ${signed ? 'signed' : 'unsigned'} bitfield`);
    if (shift + bits > 32) {
      const dec = `H.getBitsBig(b, o + ${first}, ${nbytes}, ${shift}, ${bits}, ${signed})`;
      return {
        dec: bits > 32 ? dec : `Number(${dec})`,
        enc: `H.putBitsBig(${x}, b, o + ${first}, ${nbytes}, ${shift}, ${bits}, ${signed}, ${what});`,
      };
    }
    // At most 4 bytes: 32-bit integer arithmetic.
    const bytes: string[] = [];
    for (let i = 0; i < nbytes; i++) bytes.push(i ? `(b[o + ${first + i}] << ${8 * i})` : `b[o + ${first}]`);
    const word = `(${bytes.join(' | ')})`;
    const dec = signed ? `((${word} << ${32 - bits - shift}) >> ${32 - bits})` : bits === 32 ? `(${word} >>> 0)` : `((${word} >>> ${shift}) & ${2 ** bits - 1})`;
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const mask = bits === 32 ? 0xffffffff : 2 ** bits - 1;
    const writes: string[] = [];
    for (let i = 0; i < nbytes; i++) {
      const m = ((mask * 2 ** shift) / 2 ** (8 * i)) & 0xff;
      writes.push(`b[o + ${first + i}] = (b[o + ${first + i}] & ${~m & 0xff}) | ((w >>> ${8 * i}) & ${m});`);
    }
    return {
      dec,
      enc: `if (!(typeof ${x} === "number" && Number.isInteger(${x}) && ${x} >= ${min} && ${x} <= ${max})) H.badInt(${x}, ${what}, false); { const w = ((${x} & ${mask}) << ${shift}) >>> 0; ${writes.join(' ')} }`,
    };
  }
}

function typedCtor(t: BtfType, size: number): unknown {
  if (t.kind === 'float') return size === 4 ? Float32Array : size === 8 ? Float64Array : undefined;
  if (t.kind !== 'int') return undefined;
  const s = t.encoding === 'signed';
  switch (size) {
    case 1:
      return s ? Int8Array : Uint8Array;
    case 2:
      return s ? Int16Array : Uint16Array;
    case 4:
      return s ? Int32Array : Uint32Array;
    case 8:
      return s ? BigInt64Array : BigUint64Array;
    default:
      return undefined;
  }
}

function compile(btf: Btf, typeId: number, opts: BtfCodecOptions): Codec<BtfValue> {
  const size = btf.sizeOf(typeId);
  const root = opts.name ?? (btf.resolve(typeId).name || btf.typeName(typeId));
  const c = new Compiler(btf, opts);
  const values = c.values(typeId, 0);
  if (values > VALUES_ALLOWANCE + 8 * size) {
    throw new BtfError('BTF_INVALID_TYPE', `${root}: ${values} values in ${size} bytes is too many to decode`, { typeId });
  }
  const l = c.leaf(typeId, 'o', 'x', btf.typeName(typeId), 0);
  if (l.extent > size) throw new BtfError('BTF_MALFORMED', `cannot decode ${btf.typeName(typeId)}: reads ${l.extent} bytes of a ${size}-byte value`, { typeId });
  const R = JSON.stringify(root);
  const src = [
    '"use strict";',
    ...c.fns,
    `function decode(b, v, o) { if (!((o >>> 0) === o && b != null && o + ${size} <= b.length)) H.short(b, o, ${size}, ${R}, "decode"); return ${l.dec}; }`,
    `function encode(x, b, v, o) { if (!((o >>> 0) === o && b != null && o + ${size} <= b.length)) H.short(b, o, ${size}, ${R}, "encode"); b.fill(0, o, o + ${size}); try { ${l.enc} } catch (err) { throw H.rooted(err, ${R}); } }`,
    `return { size: ${size}, decode, encode };`,
  ].join('\n');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the source holds numbers and JSON-quoted names only
  return new Function('H', 'K', src)(HELPERS, c.consts) as Codec<BtfValue>;
}
