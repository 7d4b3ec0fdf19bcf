/**
 * The engine of {@link dumpC} (see ./dump-c.ts for what it does and why).
 *
 * Written for a single cold run over ~126k types (the CLI dumps vmlinux once
 * per process): the state lives in module-level variables (cheap to reach
 * before the JIT has optimised anything), per-type state is in typed arrays
 * indexed by type id, fields are read straight from the BTF words, and the
 * output is built as bytes (names copied from the string section) and
 * decoded to a string once. A dump is synchronous and never re-entered, so
 * one set of state suffices; it is released when the dump ends.
 */
import { Buffer } from 'node:buffer';
import { BtfError } from './errors.ts';
import type { RawBtfView } from './dump-c-raw.ts';
import { NameCounts } from './dump-c-names.ts';

/** Kind numbers (include/uapi/linux/btf.h); a const enum so that switches get literal cases. */
const enum K {
  INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  TYPEDEF = 8,
  VOLATILE = 9,
  CONST = 10,
  RESTRICT = 11,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19,
}

const enum S {
  // order state
  ORDERING = 1,
  ORDERED = 2,
  // emit state
  EMITTING = 1,
  EMITTED = 2,
}

const enum C {
  NL = 10,
  SPACE = 32,
  LPAREN = 40,
  RPAREN = 41,
  STAR = 42,
  COMMA = 44,
  ZERO = 48,
  SEMI = 59,
  LBRACKET = 91,
  RBRACKET = 93,
  RBRACE = 125,
  TAB = 9,
}

/** GCC's internal ARM SIMD polynomial types, aliased to standard ones. */
const MISSING_ALIASES: Record<string, string> = {
  __Poly8_t: 'unsigned char',
  __Poly16_t: 'unsigned short',
  __Poly64_t: 'unsigned long long',
  __Poly128_t: 'unsigned __int128',
};

/** Spellings of `long` that tell the pointer size. */
const LONG_ALIASES = new Set([
  'long', 'long int', 'int long', 'unsigned long', 'long unsigned', 'unsigned long int', 'unsigned int long',
  'long unsigned int', 'long int unsigned', 'int unsigned long', 'int long unsigned',
]);

/** Recursion bound for hostile BTF (chains C cannot have anyway). */
const MAX_DEPTH = 2000;
/** Type-chain bound of btf__resolve_size. */
const MAX_RESOLVE_DEPTH = 32;

/** Buffer's native slicer (untyped in @types/node). */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

export interface EngineOptions {
  header: string;
  footer: string;
  roots: readonly number[] | undefined;
}

// ------------------------------------------------------------------ state

let W: Uint32Array = new Uint32Array(0);
let TOFF: Uint32Array = new Uint32Array(0);
let N = 0;
let STRS: Buffer = Buffer.alloc(1);
let NSTR = 1;
let KINDS = new Uint8Array(0);
let ORDER = new Uint8Array(0);
let EMIT = new Uint8Array(0);
let FWD_DONE = new Uint8Array(0);
let REFERENCED = new Uint8Array(0);
/** Name resolution: 0 = not yet, 1 = the raw name, N > 1 = `name___N`. */
let SFX = new Int32Array(0);
/** btf__align_of memo, plus 1 (0 = not computed: a zeroed array needs no fill, and only touched pages cost). */
let ALIGN = new Int32Array(0);
let PTR_SZ = 8;
/** Occurrences of struct/union/enum tag names; of typedef and enumerator names. */
const NO_NAMES = new NameCounts(new Uint8Array(1), 0);
let TYPE_DUPS = NO_NAMES;
let IDENT_DUPS = NO_NAMES;
/** Definitions scheduled for the current root: QUEUE[0, QLEN) (each type is scheduled once: N entries suffice). */
let QUEUE = new Int32Array(0);
let QLEN = 0;
/** Declaration chain stack, shared by nested declarations; the current one is [VBASE, VBASE + VCNT). */
let STACK = new Int32Array(256);
let SP = 0;
let VBASE = 0;
let VCNT = 0;
let DEPTH = 0;
/**
 * Declarations already written, by type id (4 entries per id): where their
 * text is in BUF, [0, 1) before the name and [2, 3) after it (named), or
 * [0, 1) whole (without a name); the first entry plus 1, 0: not yet.
 */
let DECL_NAMED = new Int32Array(0);
let DECL_ANON = new Int32Array(0);
/** Where the current declaration's name starts and ends in BUF (-1: not written). */
let NAME_AT = -1;
let NAME_END = -1;
/** The current declaration wrote an inline definition: do not cache it. */
let UNCACHEABLE = false;
/** Output bytes. */
let BUF = new Uint8Array(0);
let POS = 0;

function release(): void {
  W = new Uint32Array(0);
  TOFF = new Uint32Array(0);
  STRS = Buffer.alloc(1);
  KINDS = ORDER = EMIT = FWD_DONE = REFERENCED = new Uint8Array(0);
  SFX = ALIGN = DECL_NAMED = DECL_ANON = new Int32Array(0);
  TYPE_DUPS = IDENT_DUPS = NO_NAMES;
  QUEUE = new Int32Array(0);
  BUF = new Uint8Array(0);
  N = POS = SP = VBASE = VCNT = DEPTH = 0;
}

let busy = false;

/** Run a dump over a view. */
export function runDump(view: RawBtfView, opts: EngineOptions): string {
  const out = runDumpBytes(view, opts);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('utf8');
}

/** Run a dump over a view: the text as UTF-8 bytes (the names are copied as found in the string section). */
export function runDumpBytes(view: RawBtfView, opts: EngineOptions): Uint8Array {
  if (busy) throw new BtfError('BTF_INVALID_TYPE', 'dumpC is not re-entrant');
  busy = true;
  try {
    setup(view);
    ws(opts.header);
    if (opts.roots) {
      for (const id of opts.roots) {
        if (!(Number.isInteger(id) && id >= 0 && id < N)) {
          throw new BtfError('BTF_NOT_FOUND', `no type id ${id} (valid: 0..${N - 1})`, { typeId: id });
        }
        dumpType(id);
      }
    } else {
      for (let id = 1; id < N; id++) dumpType(id);
    }
    ws(opts.footer);
    return BUF.subarray(0, POS);
  } finally {
    release();
    busy = false;
  }
}

function setup(view: RawBtfView): void {
  W = view.words;
  TOFF = view.toff;
  N = view.n;
  STRS = view.strs;
  NSTR = STRS.length;
  KINDS = new Uint8Array(N);
  ORDER = new Uint8Array(N);
  EMIT = new Uint8Array(N);
  FWD_DONE = new Uint8Array(N);
  REFERENCED = new Uint8Array(N);
  SFX = new Int32Array(N);
  ALIGN = new Int32Array(N);
  DECL_NAMED = new Int32Array(N * 4);
  DECL_ANON = new Int32Array(N * 4);
  NAME_AT = NAME_END = -1;
  UNCACHEABLE = false;
  // vmlinux: ~30% of its types are named structs/unions/enums, fewer typedefs but ~70k enumerators.
  TYPE_DUPS = new NameCounts(STRS, N >> 2);
  IDENT_DUPS = new NameCounts(STRS, N >> 1);
  QUEUE = new Int32Array(N);
  QLEN = 0;
  SP = VBASE = VCNT = DEPTH = 0;
  // About the size of the output for big BTF (~22 bytes per type for vmlinux).
  BUF = new Uint8Array(N > 2000 ? N * 24 : 1 << 16);
  POS = 0;
  PAD_LEFT = PAD_ALLOWANCE + W.length;
  scan();
  if (N > 0) {
    ORDER[0] = S.ORDERED;
    EMIT[0] = S.EMITTED;
  }
  PTR_SZ = pointerSize();
  PAD_BITS[0] = PTR_SZ * 8;
}

function malformed(from: number, to: number): never {
  throw new BtfError('BTF_MALFORMED', `type ${from} references type ${to}, beyond the last type ${N - 1}`, { typeId: from });
}

/** Flag the type ids at w[from], w[from + stride], ... below `end` as referenced by `id`. */
function markRefs(w: Uint32Array, ref: Uint8Array, n: number, id: number, from: number, end: number, stride: number): void {
  for (let q = from; q < end; q += stride) {
    const t = w[q]!;
    if (t >= n) malformed(id, t);
    ref[t] = 1;
  }
}

/** One pass: kinds, "referenced" flags (anonymous enums used nowhere are written at top level), reference bounds. */
function scan(): void {
  const w = W;
  const toff = TOFF;
  const n = N;
  const kinds = KINDS;
  const ref = REFERENCED;
  for (let id = 1; id < n; id++) {
    const o = toff[id]!;
    const info = w[o + 1]!;
    const kind = (info >>> 24) & 0x1f;
    kinds[id] = kind;
    switch (kind) {
      case K.PTR:
      case K.TYPEDEF:
      case K.VOLATILE:
      case K.CONST:
      case K.RESTRICT:
      case K.FUNC:
      case K.VAR:
      case K.DECL_TAG:
      case K.TYPE_TAG: {
        const t = w[o + 2]!;
        if (t >= n) malformed(id, t);
        ref[t] = 1;
        break;
      }
      case K.ARRAY: {
        const t = w[o + 3]!;
        const it = w[o + 4]!;
        if (t >= n) malformed(id, t);
        if (it >= n) malformed(id, it);
        ref[t] = 1;
        ref[it] = 1;
        break;
      }
      // Members {name, type, offset}, params {name, type}, var_secinfos {type, offset, size}.
      case K.STRUCT:
      case K.UNION:
        markRefs(w, ref, n, id, o + 4, o + 3 + 3 * (info & 0xffff), 3);
        break;
      case K.FUNC_PROTO: {
        const r = w[o + 2]!;
        if (r >= n) malformed(id, r);
        markRefs(w, ref, n, id, o + 4, o + 3 + 2 * (info & 0xffff), 2);
        break;
      }
      case K.DATASEC:
        markRefs(w, ref, n, id, o + 3, o + 3 + 3 * (info & 0xffff), 3);
        break;
      default:
        break;
    }
  }
}

/** Size of `long` when the BTF has such an int (the first by id), else 8. */
function pointerSize(): number {
  for (let id = 1; id < N; id++) {
    if (KINDS[id] !== K.INT) continue;
    const o = TOFF[id]!;
    const size = W[o + 2]!;
    if (size !== 4 && size !== 8) continue;
    if (LONG_ALIASES.has(key(W[o]!))) return size;
  }
  return 8;
}

// ------------------------------------------------------------------ output

function grow(k: number): void {
  let cap = BUF.length * 2;
  while (cap < POS + k) cap *= 2;
  const b = new Uint8Array(cap);
  b.set(BUF.subarray(0, POS));
  BUF = b;
}

/** Write an ASCII string. */
function ws(x: string): void {
  const n = x.length;
  if (POS + n > BUF.length) grow(n);
  const b = BUF;
  let p = POS;
  for (let i = 0; i < n; i++) b[p++] = x.charCodeAt(i);
  POS = p;
}

/** Write one byte. */
function wc(ch: number): void {
  if (POS >= BUF.length) grow(1);
  BUF[POS++] = ch;
}

/** Write an integer in decimal. */
function wnum(v: number): void {
  if (v >= 0 && v < 10) wc(C.ZERO + v);
  else ws(String(v));
}

function wtabs(lvl: number): void {
  const n = lvl > 12 ? 12 : lvl; // bpftool indents at most 12 tabs deep
  if (POS + n > BUF.length) grow(n);
  for (let i = 0; i < n; i++) BUF[POS++] = C.TAB;
}

function badString(off: number): never {
  throw new BtfError('BTF_MALFORMED', `string offset ${off} is outside the string section or not NUL-terminated`);
}

/** Write the string at `off` (its raw bytes). */
function wstr(off: number): void {
  if (off === 0) return;
  const s = STRS;
  let b = BUF;
  let p = POS;
  for (let i = off; ; i++) {
    const ch = s[i];
    if (ch === 0) break;
    if (ch === undefined) badString(off);
    if (p >= b.length) {
      POS = p;
      grow(64);
      b = BUF;
    }
    b[p++] = ch;
  }
  POS = p;
}

/** The string at `off` as a map key (latin1 of its bytes: one char per byte). */
function key(off: number): string {
  if (off === 0) return '';
  if (off >= NSTR) badString(off);
  const end = STRS.indexOf(0, off);
  if (end < 0) badString(off);
  return (STRS as unknown as Latin1Slicer).latin1Slice(off, end);
}

/** Does the string at `off` equal the ASCII `x`? */
function strIs(off: number, x: string): boolean {
  const s = STRS;
  const n = x.length;
  if (off + n >= NSTR) return false;
  for (let i = 0; i < n; i++) if (s[off + i] !== x.charCodeAt(i)) return false;
  return s[off + n] === 0;
}

// ------------------------------------------------------------------ names

/**
 * Resolve (once) the name of `id` in a namespace: returns its `___N`
 * suffix number, 1 for none. Forward declarations and empty enums do not
 * count (they may repeat a name).
 */
function resolveName(id: number, dups: NameCounts): number {
  return SFX[id] || resolveFirst(id, dups);
}

function resolveFirst(id: number, dups: NameCounts): number {
  let sfx = 1;
  const o = TOFF[id]!;
  const off = W[o]!;
  const kind = KINDS[id]!;
  if (off !== 0 && kind !== K.FWD && !(kind === K.ENUM && (W[o + 1]! & 0xffff) === 0)) sfx = count(dups, off);
  SFX[id] = sfx;
  return sfx;
}

/** One more occurrence of the string at `off` in a namespace; returns the count. */
function count(dups: NameCounts, off: number): number {
  const c = dups.add(off);
  if (c < 0) badString(off);
  return c;
}

function wsfx(sfx: number): void {
  if (sfx > 1) {
    ws('___');
    wnum(sfx);
  }
}

/** Write the struct/union/enum/fwd tag name of `id`, deduplicated. */
function wTypeName(id: number): void {
  const sfx = resolveName(id, TYPE_DUPS);
  wstr(W[TOFF[id]!]!);
  wsfx(sfx);
}

/** Write the typedef name of `id`, deduplicated. */
function wIdentName(id: number): void {
  const sfx = resolveName(id, IDENT_DUPS);
  wstr(W[TOFF[id]!]!);
  wsfx(sfx);
}

function tooDeep(id: number): never {
  throw new BtfError('BTF_LOOP', `type ${id}: types nested too deep (or a reference cycle)`, { typeId: id });
}

// ------------------------------------------------------------------ layout

/** btf__align_of: natural alignment, 1 when the layout shows packing, 0 for types without one. */
function alignOf(id: number): number {
  const m = ALIGN[id]!;
  if (m > 0) return m - 1;
  if (++DEPTH > MAX_DEPTH) tooDeep(id);
  let a = 0;
  const o = TOFF[id]!;
  switch (KINDS[id]) {
    case K.INT:
    case K.ENUM:
    case K.ENUM64:
    case K.FLOAT: {
      const size = W[o + 2]!;
      a = size < PTR_SZ ? size : PTR_SZ;
      break;
    }
    case K.PTR:
      a = PTR_SZ;
      break;
    case K.TYPEDEF:
    case K.VOLATILE:
    case K.CONST:
    case K.RESTRICT:
    case K.TYPE_TAG:
      a = alignOf(W[o + 2]!);
      break;
    case K.ARRAY:
      a = alignOf(W[o + 3]!);
      break;
    case K.STRUCT:
    case K.UNION:
      a = compositeAlign(o);
      break;
    default:
      a = 0;
  }
  DEPTH--;
  ALIGN[id] = a + 1;
  return a;
}

function compositeAlign(o: number): number {
  const w = W;
  const info = w[o + 1]!;
  const kflag = info >>> 31 === 1;
  const end = o + 3 + 3 * (info & 0xffff);
  let max = 1;
  for (let q = o + 3; q < end; q += 3) {
    const a = alignOf(w[q + 1]!);
    if (a <= 0) return a;
    if (a > max) max = a;
    const off = w[q + 2]!;
    if ((!kflag || off >>> 24 === 0) && off % (8 * a) !== 0) return 1;
  }
  return w[o + 2]! % max !== 0 ? 1 : max;
}

/** btf__resolve_size, with errors as -1. */
function resolveSize(id: number): number {
  let nelems = 1;
  for (let i = 0; i < MAX_RESOLVE_DEPTH && id !== 0; i++) {
    const o = TOFF[id]!;
    switch (KINDS[id]) {
      case K.INT:
      case K.STRUCT:
      case K.UNION:
      case K.ENUM:
      case K.ENUM64:
      case K.DATASEC:
      case K.FLOAT: {
        const size = W[o + 2]!;
        if (nelems && size > Math.floor(0xffffffff / nelems)) return -1;
        return nelems * size;
      }
      case K.PTR:
        return nelems * PTR_SZ;
      case K.TYPEDEF:
      case K.VOLATILE:
      case K.CONST:
      case K.RESTRICT:
      case K.VAR:
      case K.DECL_TAG:
      case K.TYPE_TAG:
        id = W[o + 2]!;
        break;
      case K.ARRAY: {
        const ne = W[o + 5]!;
        if (nelems && ne > Math.floor(0xffffffff / nelems)) return -1;
        nelems *= ne;
        id = W[o + 3]!;
        break;
      }
      default:
        return -1;
    }
  }
  return -1;
}

/** Does a struct's layout show it was packed (a misaligned member, or a size that is not a multiple of the alignment)? */
function isPacked(o: number): boolean {
  const w = W;
  const info = w[o + 1]!;
  const kflag = info >>> 31 === 1;
  const end = o + 3 + 3 * (info & 0xffff);
  let max = 1;
  for (let q = o + 3; q < end; q += 3) {
    const a = alignOf(w[q + 1]!);
    const off = w[q + 2]!;
    if (a && (!kflag || off >>> 24 === 0) && off % (8 * a) !== 0) return true;
    if (a > max) max = a;
  }
  return w[o + 2]! % max !== 0;
}

// ------------------------------------------------------------------ ordering

function dumpType(id: number): void {
  if (ORDER[id] === S.ORDERED) return; // done already (as a dependency of an earlier type)
  QLEN = 0;
  DEPTH = 0;
  orderType(id, false);
  const q = QUEUE;
  const n = QLEN;
  for (let i = 0; i < n; i++) emitType(q[i]!, 0);
}

/**
 * Schedule the definitions `id` needs by value, then `id` itself if it is a
 * named definition. Returns 1 when what `id` stands for is defined once the
 * queue is written (enums, forward declarations, structs, typedefs of
 * those...), 0 otherwise; a typedef met through a pointer waits for its own
 * turn unless its target is "strong" like that.
 */
function orderType(id: number, throughPtr: boolean): number {
  const st = ORDER[id]!;
  if (st === S.ORDERED) return 1;
  const kind = KINDS[id]!;
  const o = TOFF[id]!;
  if (st === S.ORDERING) {
    if ((kind === K.STRUCT || kind === K.UNION) && throughPtr && W[o]! !== 0) return 0;
    throw new BtfError('BTF_LOOP', `unsatisfiable type cycle, id:[${id}]`, { typeId: id });
  }
  if (++DEPTH > MAX_DEPTH) tooDeep(id);
  let ret = 0;
  switch (kind) {
    case K.INT:
    case K.FLOAT:
      ORDER[id] = S.ORDERED;
      break;
    case K.PTR:
      ret = orderType(W[o + 2]!, true);
      ORDER[id] = S.ORDERED;
      break;
    case K.ARRAY:
      ret = orderType(W[o + 3]!, false);
      break;
    case K.STRUCT:
    case K.UNION: {
      const named = W[o]! !== 0;
      if (throughPtr && named) break;
      ORDER[id] = S.ORDERING;
      const end = o + 3 + 3 * (W[o + 1]! & 0xffff);
      for (let q = o + 4; q < end; q += 3) orderType(W[q]!, false);
      if (named) QUEUE[QLEN++] = id;
      ORDER[id] = S.ORDERED;
      ret = 1;
      break;
    }
    case K.ENUM:
    case K.ENUM64:
    case K.FWD:
      // Named, or anonymous but used by nothing: a top-level definition.
      if (W[o]! !== 0 || !REFERENCED[id]) QUEUE[QLEN++] = id;
      ORDER[id] = S.ORDERED;
      ret = 1;
      break;
    case K.TYPEDEF: {
      const strong = orderType(W[o + 2]!, throughPtr);
      if (throughPtr && !strong) break;
      QUEUE[QLEN++] = id;
      ORDER[id] = S.ORDERED;
      ret = 1;
      break;
    }
    case K.VOLATILE:
    case K.CONST:
    case K.RESTRICT:
    case K.TYPE_TAG:
      ret = orderType(W[o + 2]!, throughPtr);
      break;
    case K.FUNC_PROTO: {
      ret = orderType(W[o + 2]!, throughPtr) > 0 ? 1 : 0;
      const end = o + 3 + 2 * (W[o + 1]! & 0xffff);
      for (let q = o + 4; q < end; q += 2) if (orderType(W[q]!, throughPtr) > 0) ret = 1;
      break;
    }
    default:
      // func, var, datasec, decl_tag: not part of the C header.
      ORDER[id] = S.ORDERED;
      break;
  }
  DEPTH--;
  return ret;
}

// ------------------------------------------------------------------ emission

/**
 * Write what `id` needs (forward declarations, early typedefs) and, at top
 * level (contId 0), its definition. `contId` is the named struct/typedef
 * whose definition is being prepared.
 */
function emitType(id: number, contId: number): void {
  const es = EMIT[id]!;
  if (es === S.EMITTED) return;
  const kind = KINDS[id]!;
  const o = TOFF[id]!;
  if (es === S.EMITTING) {
    if (FWD_DONE[id]) return;
    if (kind === K.STRUCT || kind === K.UNION) {
      if (id === contId) return; // a struct pointing to itself
      if (W[o]! === 0) return; // an anonymous loop: nothing C can say
      emitStructFwd(id);
      ws(';\n\n');
      FWD_DONE[id] = 1;
    } else if (kind === K.TYPEDEF) {
      // Needed early through a pointer: the definition doubles as declaration.
      if (!isBuiltinVaList(o)) {
        emitTypedefDef(id);
        ws(';\n\n');
      }
      FWD_DONE[id] = 1;
    }
    return;
  }
  if (++DEPTH > MAX_DEPTH) tooDeep(id);
  switch (kind) {
    case K.INT:
      emitMissingAlias(id);
      EMIT[id] = S.EMITTED;
      break;
    case K.ENUM:
    case K.ENUM64:
      if (contId === 0) {
        emitEnumDef(id, 0);
        ws(';\n\n');
      }
      EMIT[id] = S.EMITTED;
      break;
    case K.PTR:
    case K.VOLATILE:
    case K.CONST:
    case K.RESTRICT:
    case K.TYPE_TAG:
      emitType(W[o + 2]!, contId);
      break;
    case K.ARRAY:
      emitType(W[o + 3]!, contId);
      break;
    case K.FWD:
      emitFwdDef(id);
      ws(';\n\n');
      EMIT[id] = S.EMITTED;
      break;
    case K.TYPEDEF:
      EMIT[id] = S.EMITTING;
      emitType(W[o + 2]!, id);
      if (!FWD_DONE[id] && !isBuiltinVaList(o)) {
        emitTypedefDef(id);
        ws(';\n\n');
      }
      EMIT[id] = S.EMITTED;
      break;
    case K.STRUCT:
    case K.UNION: {
      EMIT[id] = S.EMITTING;
      const named = W[o]! !== 0;
      if (contId === 0 || !named) {
        // The body will be written: what its members mention needs declaring first.
        const inner = named ? id : contId;
        const end = o + 3 + 3 * (W[o + 1]! & 0xffff);
        for (let q = o + 4; q < end; q += 3) emitType(W[q]!, inner);
      } else if (!FWD_DONE[id] && id !== contId) {
        emitStructFwd(id);
        ws(';\n\n');
        FWD_DONE[id] = 1;
      }
      if (contId === 0) {
        emitStructDef(id, 0);
        ws(';\n\n');
        EMIT[id] = S.EMITTED;
      } else {
        EMIT[id] = 0;
      }
      break;
    }
    case K.FUNC_PROTO: {
      emitType(W[o + 2]!, contId);
      const end = o + 3 + 2 * (W[o + 1]! & 0xffff);
      for (let q = o + 4; q < end; q += 2) emitType(W[q]!, contId);
      break;
    }
    default:
      break;
  }
  DEPTH--;
}

/** GCC's ARM `__PolyN_t` ints: a typedef to a standard type. */
function emitMissingAlias(id: number): void {
  const sfx = resolveName(id, TYPE_DUPS);
  const off = W[TOFF[id]!]!;
  if (off === 0 || sfx !== 1 || STRS[off] !== 0x5f || STRS[off + 1] !== 0x5f) return; // "__"
  const name = key(off);
  if (!Object.hasOwn(MISSING_ALIASES, name)) return;
  ws(`typedef ${MISSING_ALIASES[name]!} ${name};\n\n`);
}

/** A typedef named __builtin_va_list (a compiler built-in: never written). */
function isBuiltinVaList(o: number): boolean {
  const off = W[o]!;
  return off !== 0 && strIs(off, '__builtin_va_list');
}

function emitStructFwd(id: number): void {
  const o = TOFF[id]!;
  ws(KINDS[id] === K.STRUCT ? 'struct' : 'union');
  if (W[o]! !== 0) wc(C.SPACE);
  wTypeName(id);
}

function emitFwdDef(id: number): void {
  ws(W[TOFF[id]! + 1]! >>> 31 === 1 ? 'union ' : 'struct ');
  wTypeName(id);
}

function emitTypedefDef(id: number): void {
  const sfx = resolveName(id, IDENT_DUPS);
  const o = TOFF[id]!;
  const off = W[o]!;
  if (W[o + 2]! === 0 && sfx === 1 && strIs(off, '__gnuc_va_list')) {
    // Old GCC's typedef of __gnuc_va_list to void.
    ws('typedef __builtin_va_list __gnuc_va_list');
    return;
  }
  ws('typedef ');
  emitTypeDecl(W[o + 2]!, off, sfx, 0);
}

function emitEnumDef(id: number, lvl: number): void {
  const w = W;
  const o = TOFF[id]!;
  const info = w[o + 1]!;
  const vlen = info & 0xffff;
  const signed = info >>> 31 === 1;
  const is64 = ((info >>> 24) & 0x1f) === K.ENUM64;
  if (w[o]! !== 0) {
    ws('enum ');
    wTypeName(id);
  } else {
    resolveName(id, TYPE_DUPS);
    ws('enum');
  }
  if (vlen === 0) return;
  ws(' {');
  const dups = IDENT_DUPS;
  const step = is64 ? 3 : 2;
  const end = o + 3 + step * vlen;
  for (let q = o + 3; q < end; q += step) {
    const voff = w[q]!;
    // Enumerators share the namespace of typedefs.
    const c = count(dups, voff);
    wc(C.NL);
    wtabs(lvl + 1);
    wstr(voff);
    wsfx(c);
    ws(' = ');
    if (is64) {
      wEnum64(w[q + 1]!, w[q + 2]!, signed);
    } else {
      wnum(signed ? w[q + 1]! | 0 : w[q + 1]!);
      wc(C.COMMA);
    }
  }
  wc(C.NL);
  wtabs(lvl);
  wc(C.RBRACE);
}

/** An enum64 value (`lo`, `hi`: its 32-bit halves) with its LL/ULL suffix and the comma. */
function wEnum64(lo: number, hi: number, signed: boolean): void {
  if (signed) {
    if (hi === 0 && lo < 0x80000000) wnum(lo);
    else if (hi === 0xffffffff && lo >= 0x80000000) wnum(lo - 0x100000000);
    else ws(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString());
    ws('LL,');
  } else {
    if (hi < 0x200000) wnum(hi * 0x100000000 + lo);
    else ws(((BigInt(hi) << 32n) | BigInt(lo)).toString());
    ws('ULL,');
  }
}

function emitStructDef(id: number, lvl: number): void {
  const w = W;
  const o = TOFF[id]!;
  const info = w[o + 1]!;
  const isStruct = ((info >>> 24) & 0x1f) === K.STRUCT;
  const vlen = info & 0xffff;
  const kflag = info >>> 31 === 1;
  const size = w[o + 2]!;
  const align = alignOf(id);
  const packed = isStruct ? isPacked(o) : false;
  ws(isStruct ? 'struct' : 'union');
  if (w[o]! !== 0) wc(C.SPACE);
  wTypeName(id);
  ws(' {');
  let off = 0;
  let prevBitfield = false;
  const end = o + 3 + 3 * vlen;
  for (let q = o + 3; q < end; q += 3) {
    const mtype = w[q + 1]!;
    const raw = w[q + 2]!;
    const mOff = kflag ? raw & 0xffffff : raw;
    const bitSz = kflag ? raw >>> 24 : 0;
    if (off < mOff) emitBitPadding(off, mOff, packed ? 1 : alignOf(mtype), prevBitfield && bitSz !== 0, lvl + 1);
    wc(C.NL);
    wtabs(lvl + 1);
    emitTypeDecl(mtype, w[q]!, 1, lvl + 1);
    if (bitSz) {
      ws(': ');
      wnum(bitSz);
      off = mOff + bitSz;
      prevBitfield = true;
    } else {
      const sz = resolveSize(mtype);
      off = mOff + (sz > 0 ? sz : 0) * 8;
      prevBitfield = false;
    }
    wc(C.SEMI);
  }
  if (isStruct) emitBitPadding(off, size * 8, align, false, lvl + 1);
  if (vlen || size) {
    wc(C.NL);
    wtabs(lvl);
  }
  wc(C.RBRACE);
  if (packed) ws(' __attribute__((packed))');
}

const PAD_NAMES = ['long', 'int', 'short', 'char'];
/** Bits of long, int, short, char (long: set from the pointer size). */
const PAD_BITS = new Int32Array([64, 32, 16, 8]);

/**
 * Padding lines left for this dump. A struct may claim any size (up to 4 GiB)
 * with few members, which would take gigabytes of `long: 64;` lines: the
 * padding is bounded by the input instead (a fixed allowance plus one line per
 * type word; vmlinux needs ~5k of its ~1.3M). Real BTF stays far below it, so
 * their output is unchanged.
 */
let PAD_LEFT = 0;
const PAD_ALLOWANCE = 1 << 14;

function padLine(lvl: number, type: number, bits: number): void {
  if (--PAD_LEFT < 0) {
    throw new BtfError('BTF_MALFORMED', `struct padding exceeds what ${W.length * 4} bytes of types can describe (a struct size far beyond its members?)`);
  }
  wc(C.NL);
  wtabs(lvl);
  ws(PAD_NAMES[type]!);
  ws(': ');
  wnum(bits);
  wc(C.SEMI);
}

/** x rounded up to a multiple of a (a > 0). */
function roundUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/**
 * Explicit padding from bit `cur` to bit `next` where natural alignment would
 * not put the next member there: a `<type>: 0;` mark to force alignment,
 * then `<type>: <bits>;` anonymous bitfields to fill.
 */
function emitBitPadding(cur: number, next: number, nextAlign: number, inBitfield: boolean, lvl: number): void {
  if (cur >= next) return;
  // The widest of long/int/short/char whose alignment boundary after cur is not past next.
  let type = 0;
  let padBits = 0;
  let newOff = 0;
  for (; type < 4; type++) {
    padBits = PAD_BITS[type]!;
    newOff = roundUp(cur, padBits);
    if (newOff <= next) break;
  }
  if (type === 4) type = 3;
  if (newOff > cur && newOff <= next) {
    if (
      inBitfield ||
      (newOff === next && roundUp(cur, nextAlign * 8) !== newOff) ||
      (newOff !== next && next - newOff <= newOff - cur)
    ) {
      padLine(lvl, type, inBitfield ? newOff - cur : 0);
    }
    cur = newOff;
  }
  while (cur !== next) {
    const bits = next - cur < padBits ? next - cur : padBits;
    // Whole units of the padding type, then the remainder in the smallest type that holds it.
    padLine(lvl, bits === padBits ? type : bits <= 8 ? 3 : bits <= 16 ? 2 : bits <= 32 ? 1 : 0, bits);
    cur += bits;
  }
}

// ------------------------------------------------------------------ declarations

function push(id: number): void {
  if (SP === STACK.length) {
    const s = new Int32Array(STACK.length * 2);
    s.set(STACK);
    STACK = s;
  }
  STACK[SP++] = id;
}

/**
 * `<type> <name>` in C's inside-out declarator syntax. The name is the
 * string at `nameOff` (none for 0), with `___<sfx>` when sfx > 1.
 */
function emitTypeDecl(id: number, nameOff: number, sfx: number, lvl: number): void {
  // Written before? Copy it (the declaration of a type is the same text every time, around the name).
  const named = nameOff !== 0;
  const c = id * 4;
  const cache = named ? DECL_NAMED : DECL_ANON;
  const cs = cache[c]!;
  if (cs > 0) {
    copyOut(cs - 1, cache[c + 1]!);
    if (named) {
      wstr(nameOff);
      if (sfx > 1) wsfx(sfx);
      copyOut(cache[c + 2]!, cache[c + 3]!);
    }
    return;
  }
  const start = SP;
  const kinds = KINDS;
  for (let n = 0; ; n++) {
    if (n > MAX_DEPTH) tooDeep(id);
    push(id);
    if (id === 0) break;
    const k = kinds[id]!;
    if (k === K.PTR || k === K.CONST || k === K.VOLATILE || k === K.RESTRICT || k === K.FUNC_PROTO || k === K.TYPE_TAG) {
      id = W[TOFF[id]! + 2]!;
    } else if (k === K.ARRAY) {
      id = W[TOFF[id]! + 3]!;
    } else {
      break;
    }
  }
  const savedBase = VBASE;
  const savedCnt = VCNT;
  const savedName = NAME_AT;
  const savedNameEnd = NAME_END;
  const savedUncacheable = UNCACHEABLE;
  VBASE = start;
  VCNT = SP - start;
  NAME_AT = -1;
  UNCACHEABLE = false;
  if (++DEPTH > MAX_DEPTH) tooDeep(id);
  const from = POS;
  emitTypeChain(nameOff, sfx, lvl);
  DEPTH--;
  // Inline definitions (anonymous struct/enum bodies: indentation, enumerator names) are not repeated verbatim.
  if (!UNCACHEABLE && (!named || NAME_AT >= 0)) {
    cache[c] = from + 1;
    cache[c + 1] = named ? NAME_AT : POS;
    cache[c + 2] = NAME_END;
    cache[c + 3] = POS;
  }
  UNCACHEABLE ||= savedUncacheable;
  NAME_AT = savedName;
  NAME_END = savedNameEnd;
  VBASE = savedBase;
  VCNT = savedCnt;
  SP = start;
}

/** Append a copy of BUF[s, e). */
function copyOut(s: number, e: number): void {
  const n = e - s;
  if (POS + n > BUF.length) grow(n);
  BUF.copyWithin(POS, s, e);
  POS += n;
}

/** Write and pop the const/volatile/restrict right on top of the current chain. */
function emitMods(): void {
  while (VCNT) {
    const k = KINDS[STACK[VBASE + VCNT - 1]!]!;
    if (k === K.VOLATILE) ws('volatile ');
    else if (k === K.CONST) ws('const ');
    else if (k === K.RESTRICT) ws('restrict ');
    else return;
    VCNT--;
  }
}

/** Pop (without writing) the qualifiers and type tags on top of the current chain. */
function dropMods(): void {
  while (VCNT) {
    const k = KINDS[STACK[VBASE + VCNT - 1]!]!;
    if (k !== K.VOLATILE && k !== K.CONST && k !== K.RESTRICT && k !== K.TYPE_TAG) return;
    VCNT--;
  }
}

function emitName(nameOff: number, sfx: number, lastWasPtr: boolean): void {
  if (nameOff === 0) return;
  if (!lastWasPtr) wc(C.SPACE);
  NAME_AT = POS;
  wstr(nameOff);
  if (sfx > 1) wsfx(sfx);
  NAME_END = POS;
}

/** Write the current chain (innermost type first) around the name. */
function emitTypeChain(nameOff: number, sfx: number, lvl: number): void {
  let lastWasPtr = true;
  while (VCNT) {
    const id = STACK[VBASE + --VCNT]!;
    const kind = KINDS[id]!; // 0 for void
    if (kind === K.PTR) {
      if (!lastWasPtr) wc(C.SPACE);
      wc(C.STAR);
      lastWasPtr = true;
    } else if (kind === K.CONST || kind === K.VOLATILE || kind === K.RESTRICT) {
      ws(kind === K.CONST ? ' const' : kind === K.VOLATILE ? ' volatile' : ' restrict');
      lastWasPtr = false;
    } else if (kind === K.ARRAY) {
      emitArrayChain(id, nameOff, sfx, lvl, lastWasPtr);
      return;
    } else if (kind === K.FUNC_PROTO) {
      emitProtoChain(id, nameOff, sfx, lvl, lastWasPtr);
      return;
    } else {
      // The base type (or a type tag), after the qualifiers right on top of it.
      emitMods();
      if (!emitBase(id, kind, lvl)) return;
      lastWasPtr = false;
    }
  }
  emitName(nameOff, sfx, lastWasPtr);
}

/** A base type of a declaration (or a type tag); false for kinds declarations are not made of (nothing more is written). */
function emitBase(id: number, kind: number, lvl: number): boolean {
  const o = TOFF[id]!;
  switch (kind) {
    case 0:
      ws('void');
      return true;
    case K.INT:
    case K.FLOAT:
      wstr(W[o]!);
      return true;
    case K.STRUCT:
    case K.UNION:
      if (W[o]! !== 0) emitStructFwd(id);
      else {
        emitStructDef(id, lvl);
        UNCACHEABLE = true;
      }
      return true;
    case K.ENUM:
    case K.ENUM64:
      if (W[o]! === 0) {
        emitEnumDef(id, lvl);
        UNCACHEABLE = true;
      } else {
        ws('enum ');
        wTypeName(id);
      }
      return true;
    case K.FWD:
      emitFwdDef(id);
      return true;
    case K.TYPEDEF:
      wIdentName(id);
      return true;
    case K.TYPE_TAG:
      ws(' __attribute__((btf_type_tag("');
      wstr(W[o]!);
      ws('")))');
      return true;
    default:
      UNCACHEABLE = true;
      return false;
  }
}

/** An array in a declaration: `name[n]`, `(*name)[n]`, `name[n][m]`. */
function emitArrayChain(id: number, nameOff: number, sfx: number, lvl: number, lastWasPtr: boolean): void {
  const nelems = W[TOFF[id]! + 5]!;
  dropMods();
  if (VCNT === 0) {
    emitName(nameOff, sfx, lastWasPtr);
  } else {
    // Arrays of arrays need no parentheses: `int a[2][3]`.
    const multidim = KINDS[STACK[VBASE + VCNT - 1]!] === K.ARRAY;
    if (nameOff !== 0 && !lastWasPtr) wc(C.SPACE);
    if (!multidim) wc(C.LPAREN);
    emitTypeChain(nameOff, sfx, lvl);
    if (!multidim) wc(C.RPAREN);
  }
  wc(C.LBRACKET);
  wnum(nelems);
  wc(C.RBRACKET);
}

/** A function prototype in a declaration: `name(params)`, `(*name)(params)`. */
function emitProtoChain(id: number, nameOff: number, sfx: number, lvl: number, lastWasPtr: boolean): void {
  dropMods();
  if (VCNT) {
    ws(' (');
    emitTypeChain(nameOff, sfx, lvl);
    wc(C.RPAREN);
  } else {
    emitName(nameOff, sfx, lastWasPtr);
  }
  wc(C.LPAREN);
  const o = TOFF[id]!;
  const vlen = W[o + 1]! & 0xffff;
  // No parameters, or clang's single void one: `(void)`.
  if (vlen === 0 || (vlen === 1 && W[o + 4] === 0)) {
    ws('void)');
    return;
  }
  const end = o + 3 + 2 * vlen;
  for (let q = o + 3; q < end; q += 2) {
    if (q > o + 3) ws(', ');
    const ptype = W[q + 1]!;
    if (ptype === 0 && q === end - 2) {
      ws('...'); // a last void parameter: variadic
      break;
    }
    emitTypeDecl(ptype, W[q]!, 1, lvl);
  }
  wc(C.RPAREN);
}
