/**
 * Name index of one BTF blob's own types, for {@link Btf}'s name lookups and
 * CO-RE candidate searches.
 *
 * Nothing is decoded into JS strings: each named type's name bytes (in the
 * string section) are hashed in one tight loop, and the type is chained
 * (typed arrays, no per-type objects) under the hash of its *essential* name
 * (the name without a `___flavor` suffix, as libbpf's
 * bpf_core_essential_name_len). One index so serves exact lookups (compare
 * the full name of each chained type) and CO-RE candidate lookups (compare
 * essential names: `task_struct` finds `task_struct___x` too).
 *
 * The index is partitioned by kind (enum and enum64 share a partition, as
 * CO-RE treats them alike), and each partition is built incrementally, in id
 * order, as lookups need it. A lookup of a struct hashes only struct names:
 * in vmlinux, functions hold 80% of the name bytes and are never hashed for
 * CO-RE, whose candidates are structs, unions, enums, typedefs...
 */

import { Buffer } from 'node:buffer';
import { searchNamed } from './name-search.ts';
import { asBuffer } from './strings.ts';

/** The BTF data an index reads (a Btf's own type section and strings). */
export interface NameSource {
  /** Type section as native-endian words. */
  readonly words: Uint32Array;
  /** Word offset of each own type. */
  readonly offsets: Uint32Array;
  /** Kind number of each own type. */
  readonly kinds: Uint8Array;
  /** Own string section. */
  readonly strings: Uint8Array;
  /** Offset of the own string section (split BTF: the base's string section length). */
  readonly stringOffset: number;
  /** Split BTF: the base's string section holding `off`, and the offset inside it. */
  baseString(off: number): [Uint8Array, number];
}

const KIND_ENUM = 6;
/** hashName of a type whose name offset is invalid (not an int32, so no hash equals it). */
const INVALID = 2 ** 32;
const KIND_ENUM64 = 19;
const UNDERSCORE = 95;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
/** BTF with at least this many types answers its first lookups by native search (vmlinux: ~130k). */
const SEARCH_MIN_TYPES = 8192;
/** How many distinct lookups are searched for before the index is built instead. */
const SEARCHES = 64;

/** The partition of a kind: the kind itself, enum64 with enum. */
const partOf = (kind: number): number => (kind === KIND_ENUM64 ? KIND_ENUM : kind);

/**
 * FNV-1a of the essential name of the NUL-terminated string at bytes[off]
 * (bounded by `end`): the whole string, or the part before its last flavor
 * separator `X___Y` (X, Y not underscores).
 */
export function hashEssential(bytes: Uint8Array, off: number, end: number): number {
  let h = FNV_OFFSET;
  // The hashes 1, 2 and 3 bytes back, and the last 4 bytes: no branch per underscore.
  let h1 = h;
  let h2 = h;
  let h3 = h;
  let win = 0;
  let ess = h;
  let flavored = false;
  for (let i = off; i < end; i++) {
    const c = bytes[i]!;
    if (c === 0) break;
    // X___ (X a character, not '_') before a c that is not '_': a separator; the essential name ends at X.
    if ((win & 0xffffff) === 0x5f5f5f && c !== UNDERSCORE && win >>> 24 !== UNDERSCORE && win >>> 24 !== 0) {
      ess = h3;
      flavored = true;
    }
    h3 = h2;
    h2 = h1;
    h1 = h;
    h = Math.imul(h ^ c, FNV_PRIME);
    win = (win << 8) | c;
  }
  return flavored ? ess : h;
}

/** FNV-1a of all of q (no flavor stripping: q is already an essential name). */
function hashPlain(q: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < q.length; i++) h = Math.imul(h ^ q[i]!, FNV_PRIME);
  return h;
}

/** Byte length of the essential name of the NUL-terminated string at bytes[off]. */
export function essentialLength(bytes: Uint8Array, off: number): number {
  let len = -1;
  let run = 0;
  const n = bytes.length;
  let i = off;
  for (; i < n; i++) {
    const c = bytes[i]!;
    if (c === 0) break;
    if (c === UNDERSCORE) run++;
    else {
      if (run === 3 && i - 3 > off) len = i - 3 - off;
      run = 0;
    }
  }
  return len < 0 ? i - off : len;
}

/** Does the NUL-terminated string at bytes[off] equal q? */
function cstrEquals(bytes: Uint8Array, off: number, q: Uint8Array): boolean {
  const n = q.length;
  if (off + n >= bytes.length) return false;
  for (let i = 0; i < n; i++) if (bytes[off + i] !== q[i]) return false;
  return bytes[off + n] === 0;
}

/** Is the essential name of the string at bytes[off] equal to ess? */
function essentialEquals(bytes: Uint8Array, off: number, ess: Uint8Array): boolean {
  const n = ess.length;
  if (off + n >= bytes.length) return false;
  for (let i = 0; i < n; i++) if (bytes[off + i] !== ess[i]) return false;
  // Not just "followed by NUL": the name "a___b" has essential name "a", so it is no match for "a___b".
  return essentialLength(bytes, off) === n;
}

/** How a query compares names: the full name, or the essential name (CO-RE candidates). */
export type Match = 0 | 1;
export const EXACT: Match = 0;
export const ESSENTIAL: Match = 1;

export class NameIndex {
  private readonly src: NameSource;
  /** Chains by partition: heads[p][hash & mask] = own index + 1 of the latest type; 0 ends a chain. */
  private readonly heads: (Int32Array | undefined)[] = [];
  /** Types chained per partition. */
  private readonly entries = new Int32Array(32);
  /** Per partition: own types below this index are indexed. */
  private readonly cursor = new Int32Array(32);
  /** Next own index + 1 in the same chain (one array for all partitions: a type is in one). */
  private next: Int32Array | undefined;
  /** Essential-name hash of each indexed type (rehashing never reads a name again). */
  private hashes: Int32Array | undefined;
  /** Stack of hashed types to chain (own index + 1, linked through `next`), and their count per partition. */
  private pending = 0;
  private readonly added = new Int32Array(32);
  /** Lookups left to answer by native search before the index is built (see ./name-search.ts). */
  private searchesLeft: number;
  /** Answers of native searches, by query (repeated lookups, e.g. loading the same object again). */
  private searched: Map<string, number[]> | undefined;

  constructor(src: NameSource) {
    this.src = src;
    // Small BTF (an object's own) is indexed at once: cheap, and cheaper than searching it by bytes.
    // Split BTF is too: its names may live in the base's string section.
    this.searchesLeft = src.offsets.length >= SEARCH_MIN_TYPES && src.stringOffset === 0 ? SEARCHES : 0;
  }

  /**
   * Every own index matching q (kind in kindMask), ascending, by native
   * search without the index; undefined when the index should answer
   * (partitions already indexed, the search budget spent, or a name too
   * common for searching to be cheap).
   */
  private search(parts: number, q: Uint8Array, how: Match, kindMask: number): number[] | undefined {
    if (this.searchesLeft <= 0) return undefined;
    const count = this.src.offsets.length;
    let indexed = true;
    for (let p = 0; p < 32; p++) if ((parts >>> p) & 1 && this.cursor[p]! < count) indexed = false;
    if (indexed) return undefined;
    const key = `${how}:${kindMask}:${Buffer.from(q.buffer, q.byteOffset, q.byteLength).toString('latin1')}`;
    const memo = this.searched?.get(key);
    if (memo) return memo;
    this.searchesLeft--;
    const check = how === EXACT ? (b: Uint8Array, off: number) => cstrEquals(b, off, q) : (b: Uint8Array, off: number) => essentialEquals(b, off, q);
    const ids = searchNamed(this.src, asBuffer(this.src.strings), q, how === ESSENTIAL, kindMask, check);
    if (!ids) return undefined;
    (this.searched ??= new Map()).set(key, ids);
    return ids;
  }

  /** Bit mask of the partitions holding the kinds of `kindMask` (bit = kind number). */
  private static parts(kindMask: number): number {
    return (kindMask & (1 << KIND_ENUM64)) !== 0 ? (kindMask & ~(1 << KIND_ENUM64)) | (1 << KIND_ENUM) : kindMask;
  }

  /** Give partition p a table of at least `want` slots, rechaining its types (from their stored hashes). */
  private resize(p: number, want: number): Int32Array {
    const old = this.heads[p];
    let size = 16;
    while (size < want) size <<= 1;
    if (old && old.length >= size) return old;
    const t = new Int32Array(size);
    const mask = size - 1;
    const next = this.next!;
    const hashes = this.hashes!;
    if (old) {
      for (let b = 0; b < old.length; b++) {
        for (let j = old[b]!; j > 0; ) {
          const i = j - 1;
          j = next[i]!;
          const nb = hashes[i]! & mask;
          next[i] = t[nb]!;
          t[nb] = i + 1;
        }
      }
    }
    this.heads[p] = t;
    return t;
  }

  /** The string section holding name offset `nameOff`, and the offset in it. */
  private bytesAt(nameOff: number): [Uint8Array, number] {
    const off = nameOff - this.src.stringOffset;
    return off >= 0 ? [this.src.strings, off] : this.src.baseString(nameOff);
  }

  /** Does own type i's name match q? */
  private matches(i: number, q: Uint8Array, how: Match): boolean {
    const [bytes, off] = this.bytesAt(this.src.words[this.src.offsets[i]!]!);
    return how === EXACT ? cstrEquals(bytes, off, q) : essentialEquals(bytes, off, q);
  }

  /**
   * Index the types of partitions `parts` from their cursors on, in id
   * order. With a query, stop after indexing the first type that matches it
   * (kind in `kindMask`) and return its own index; else index to the end and
   * return -1.
   */
  private advance(parts: number, q: Uint8Array | undefined, qhash: number, how: Match, kindMask: number): number {
    const cursor = this.cursor;
    const count = this.src.offsets.length;
    let start = count;
    for (let p = 0; p < 32; p++) if ((parts >>> p) & 1 && cursor[p]! < start) start = cursor[p]!;
    if (start >= count) return -1;
    this.next ??= new Int32Array(count);
    this.hashes ??= new Int32Array(count);
    this.added.fill(0);
    const stop = this.pass(start, count, parts, q, qhash, how, kindMask);
    this.link();
    const upTo = stop < 0 ? count : stop + 1;
    for (let p = 0; p < 32; p++) if ((parts >>> p) & 1 && cursor[p]! < upTo) cursor[p] = upTo;
    return stop;
  }

  /**
   * Hash own type i (kind k, partition p) and queue it for chaining; true
   * when it matches the query. Queued types wait on a stack threaded through
   * `next`, to be chained at once into tables sized for them.
   */
  private queue(i: number, k: number, p: number, q: Uint8Array | undefined, qhash: number, how: Match, kindMask: number): boolean {
    const h = this.hashName(i);
    if (h === INVALID) return false;
    this.hashes![i] = h;
    this.next![i] = this.pending;
    this.pending = i + 1;
    this.added[p]!++;
    return q !== undefined && h === qhash && ((kindMask >>> k) & 1) !== 0 && this.matches(i, q, how);
  }

  /** Queue own types [from, to) of `parts`; the first match stops (its index), else -1. */
  private pass(from: number, to: number, parts: number, q: Uint8Array | undefined, qhash: number, how: Match, kindMask: number): number {
    const kinds = this.src.kinds;
    const cursor = this.cursor;
    if ((parts & (parts - 1)) === 0) {
      // One partition: jump from type to type of its kind(s) with the native indexOf.
      const p = 31 - Math.clz32(parts);
      const k2 = p === KIND_ENUM ? KIND_ENUM64 : p;
      let i = Math.max(from, cursor[p]!);
      let a = kinds.indexOf(p, i);
      let b = k2 === p ? -1 : kinds.indexOf(k2, i);
      for (;;) {
        if (a >= 0 && (b < 0 || a < b)) i = a;
        else if (b >= 0) i = b;
        else return -1;
        if (i >= to) return -1;
        const k = kinds[i]!;
        if (this.queue(i, k, p, q, qhash, how, kindMask)) return i;
        if (k === p) a = kinds.indexOf(p, i + 1);
        else b = kinds.indexOf(k2, i + 1);
      }
    }
    for (let i = from; i < to; i++) {
      const k = kinds[i]!;
      const p = partOf(k);
      if (((parts >>> p) & 1) === 0 || i < cursor[p]!) continue;
      if (this.queue(i, k, p, q, qhash, how, kindMask)) return i;
    }
    return -1;
  }

  /** Chain the queued types; a table holds up to one type per slot on average. */
  private link(): void {
    for (let p = 0; p < 32; p++) {
      if (this.added[p] === 0) continue;
      this.entries[p] = this.entries[p]! + this.added[p]!;
      this.resize(p, this.entries[p]!);
    }
    const heads = this.heads;
    const next = this.next!;
    const hashes = this.hashes!;
    const kinds = this.src.kinds;
    let pending = this.pending;
    // Nothing after the loop: V8 re-enters a loop's on-stack-replaced code on later calls, and code after
    // the loop that had no type feedback when it was compiled would deoptimize on every call.
    this.pending = 0;
    while (pending > 0) {
      const t = pending - 1;
      pending = next[t]!;
      const tab = heads[partOf(kinds[t]!)]!;
      const b = hashes[t]! & (tab.length - 1);
      next[t] = tab[b]!;
      tab[b] = t + 1;
    }
  }

  /** Essential-name hash of own type i's name; INVALID for an anonymous type or a name offset outside the string sections. */
  private hashName(i: number): number {
    const nameOff = this.src.words[this.src.offsets[i]!]!;
    if (nameOff === 0) return INVALID;
    const off = nameOff - this.src.stringOffset;
    if (off >= 0) {
      const strs = this.src.strings;
      // An invalid name is not indexed (decoding the type throws).
      return off < strs.length ? hashEssential(strs, off, strs.length) : INVALID;
    }
    const [bytes, boff] = this.src.baseString(nameOff);
    return boff < bytes.length ? hashEssential(bytes, boff, bytes.length) : INVALID;
  }

  /** Own indexes already indexed whose name matches q (kind in kindMask), appended to out (each partition's chain descending). */
  private chained(parts: number, q: Uint8Array, qhash: number, how: Match, kindMask: number, out: number[]): void {
    const next = this.next;
    const hashes = this.hashes;
    if (!next || !hashes) return;
    const w = this.src.words;
    const offs = this.src.offsets;
    for (let p = 0; p < 32; p++) {
      if (((parts >>> p) & 1) === 0) continue;
      const t = this.heads[p];
      if (!t) continue;
      for (let j = t[qhash & (t.length - 1)]!; j > 0; j = next[j - 1]!) {
        const i = j - 1;
        if (hashes[i] !== qhash) continue;
        const o = offs[i]!;
        if (((kindMask >>> ((w[o + 1]! >>> 24) & 0x1f)) & 1) === 0) continue;
        if (this.matches(i, q, how)) out.push(i);
      }
    }
  }

  private static queryHash(q: Uint8Array, how: Match): number {
    return how === EXACT ? hashEssential(q, 0, q.length) : hashPlain(q);
  }

  /** Lowest own index whose name matches q, of a kind in kindMask; -1 when none. Indexes only as far as needed. */
  first(q: Uint8Array, how: Match, kindMask: number): number {
    const parts = NameIndex.parts(kindMask);
    const searched = this.search(parts, q, how, kindMask);
    if (searched) return searched.length ? searched[0]! : -1;
    const qhash = NameIndex.queryHash(q, how);
    const found: number[] = [];
    this.chained(parts, q, qhash, how, kindMask, found);
    let best = -1;
    for (const i of found) if (best < 0 || i < best) best = i;
    // Types below the lowest cursor of these partitions are all indexed: a match found below it is the first.
    const count = this.src.offsets.length;
    let lo = count;
    for (let p = 0; p < 32; p++) if ((parts >>> p) & 1 && this.cursor[p]! < lo) lo = this.cursor[p]!;
    if (lo >= count || (best >= 0 && best < lo)) return best;
    const i = this.advance(parts, q, qhash, how, kindMask);
    if (i >= 0 && (best < 0 || i < best)) best = i;
    return best;
  }

  /** Every own index whose name matches q, of a kind in kindMask, ascending. */
  all(q: Uint8Array, how: Match, kindMask: number): number[] {
    const parts = NameIndex.parts(kindMask);
    const searched = this.search(parts, q, how, kindMask);
    if (searched) return [...searched];
    const qhash = NameIndex.queryHash(q, how);
    this.advance(parts, undefined, 0, how, kindMask);
    const out: number[] = [];
    this.chained(parts, q, qhash, how, kindMask, out);
    return out.sort((a, b) => a - b);
  }
}
