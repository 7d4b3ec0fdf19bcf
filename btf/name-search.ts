/**
 * Name lookups in a big BTF blob without any index: native byte searches
 * (Buffer.indexOf) of the string section for the name, then of the type
 * section for the name offsets found.
 *
 * Why: the first lookups in a fresh process (a one-shot tool loading one
 * object against vmlinux's ~130k types) would otherwise hash every name of a
 * kind in JavaScript that the JIT has not optimised yet (~10-20 ms); the
 * native searches take well under a millisecond each. {@link NameIndex}
 * answers its first few lookups this way and builds its index only when
 * lookups keep coming, or when a search finds too many hits to be cheap.
 */
import { Buffer } from 'node:buffer';

const UNDERSCORE = 95;
/** Past this many string offsets or header-word hits, a search gives up (the caller indexes instead). */
const MAX_STRING_HITS = 1024;
const MAX_WORD_HITS = 4096;
/** Raw occurrences of a bare name checked one by one before two exact searches (`q\0`, `q___`) are cheaper. */
const MAX_RAW_HITS = 256;
/** Up to this many string offsets, each is searched for in the type section; past it, types of the kinds asked are walked. */
const MAX_WORD_SEARCHES = 6;

/** How a candidate string offset is checked once its bytes start with the query. */
export type NameCheck = (bytes: Uint8Array, off: number) => boolean;

/**
 * Offsets in `strings` where a string matching q starts: occurrences of
 * `q\0` (and, with `flavors`, of `q___`), each confirmed by `check`.
 * Any offset counts, not only those after a NUL: a name offset may point
 * into the tail of a longer string. Undefined when there are too many.
 */
export function stringOffsets(strings: Buffer, q: Uint8Array, flavors: boolean, check: NameCheck): number[] | undefined {
  if (flavors) {
    // One pass for `q` alone finds `q\0` and `q___` alike; a name that starts many strings has too many raw
    // hits to check one by one, and goes on to the two exact needles below.
    const out = checkedHits(strings, q, check, MAX_RAW_HITS);
    if (out) return out;
  }
  const out: number[] = [];
  const needle = Buffer.allocUnsafe(q.length + 3);
  needle.set(q, 0);
  const variants = flavors ? 2 : 1;
  for (let v = 0; v < variants; v++) {
    let len = q.length + 1;
    needle[q.length] = 0;
    if (v === 1) {
      needle[q.length] = UNDERSCORE;
      needle[q.length + 1] = UNDERSCORE;
      needle[q.length + 2] = UNDERSCORE;
      len = q.length + 3;
    }
    const hits = checkedHits(strings, needle.subarray(0, len), check, Infinity);
    if (!hits || out.length + hits.length > MAX_STRING_HITS) return undefined;
    out.push(...hits);
  }
  return out;
}

/**
 * Offsets where `needle` occurs that `check` confirms (ascending); undefined
 * past MAX_STRING_HITS confirmed, or past `maxRaw` occurrences at all.
 */
function checkedHits(strings: Buffer, needle: Uint8Array, check: NameCheck, maxRaw: number): number[] | undefined {
  const out: number[] = [];
  let raw = 0;
  for (let at = strings.indexOf(needle, 0); at >= 0; at = strings.indexOf(needle, at + 1)) {
    if (++raw > maxRaw) return undefined;
    // Offset 0 is the empty string of base BTF, never a name.
    if (at === 0 || !check(strings, at)) continue;
    if (out.length >= MAX_STRING_HITS) return undefined;
    out.push(at);
  }
  return out;
}

/** A BTF blob's type section, for {@link typesNamed}. */
export interface TypeSection {
  /** Type section as native-endian words. */
  readonly words: Uint32Array;
  /** Word offset of each own type, ascending. */
  readonly offsets: Uint32Array;
  /** Kind number of each own type. */
  readonly kinds: Uint8Array;
}

/**
 * Own indexes (ascending) of the types of a kind in `kindMask` whose name_off
 * word is one of `nameOffs`. A few name offsets are searched for natively in
 * the type section; more are looked up in a set while walking the types of
 * the kinds asked (the kind array is searched natively too). Undefined when
 * a name offset is everywhere in the type section: the caller indexes instead.
 */
export function typesNamed(sec: TypeSection, nameOffs: readonly number[], kindMask: number): number[] | undefined {
  if (nameOffs.length === 0) return [];
  const ids = nameOffs.length <= MAX_WORD_SEARCHES ? searchWords(sec.words, sec.offsets, nameOffs) : walkKinds(sec, nameOffs, kindMask);
  if (!ids) return undefined;
  const out: number[] = [];
  for (const i of ids) if ((kindMask >>> sec.kinds[i]!) & 1) out.push(i);
  return out.sort((a, b) => a - b);
}

/** Kinds with many types in vmlinux (FUNC ~56k, FUNC_PROTO ~29k): a lookup among them searches bytes, not types. */
const CROWDED = (1 << 12) | (1 << 13);
/** Kinds few in any BTF (INT, FLOAT: base types): walking them beats a search of the string bytes. */
const FEW = (1 << 1) | (1 << 16);

/**
 * Own indexes (ascending) of the types of a kind in `kindMask` whose name
 * passes `check` (q, or with `flavors` its flavors too), by the cheapest of
 * the native searches here: base types are walked; otherwise the strings are
 * searched, then the type section for the few name offsets found, or, when
 * there are many (a short name is the tail of many strings), the types of
 * the kinds asked are walked. Undefined when the caller should index instead.
 */
export function searchNamed(sec: TypeSection, strings: Buffer, q: Uint8Array, flavors: boolean, kindMask: number, check: NameCheck): number[] | undefined {
  if (q.length === 0) return undefined;
  if (kindMask !== -1 && (kindMask & ~FEW) === 0) return walkNamed(sec, strings, q[0]!, kindMask, check);
  const offs = stringOffsets(strings, q, flavors, check);
  if (offs && offs.length <= MAX_WORD_SEARCHES) return typesNamed(sec, offs, kindMask);
  return walkNamed(sec, strings, q[0]!, kindMask, check) ?? (offs && typesNamed(sec, offs, kindMask));
}

/**
 * Own indexes (ascending) of the types of a kind in `kindMask` whose name
 * passes `check`, walking the types of those kinds (found by a native
 * search of the kind array) and comparing their names in place, as libbpf
 * compares every candidate; undefined for kinds too crowded to walk (the
 * caller searches bytes instead). Names are all in `strings` (not split BTF).
 */
export function walkNamed(sec: TypeSection, strings: Uint8Array, q0: number, kindMask: number, check: NameCheck): number[] | undefined {
  if (kindMask === -1 || (kindMask & CROWDED) !== 0) return undefined;
  const { words, offsets, kinds } = sec;
  const n = strings.length;
  const out: number[] = [];
  for (let k = 0; k < 32; k++) {
    if (((kindMask >>> k) & 1) === 0) continue;
    for (let i = kinds.indexOf(k); i >= 0; i = kinds.indexOf(k, i + 1)) {
      const off = words[offsets[i]!]!;
      // The first byte rejects almost every type; offset 0 is the empty name.
      if (off !== 0 && off < n && strings[off] === q0 && check(strings, off)) out.push(i);
    }
  }
  return out.sort((a, b) => a - b);
}

/** The types of the kinds asked whose name offset is in the set (one kind at a time, jumping natively). */
function walkKinds(sec: TypeSection, nameOffs: readonly number[], kindMask: number): number[] {
  const want = new Set(nameOffs);
  const { words, offsets, kinds } = sec;
  const out: number[] = [];
  if (kindMask === -1) {
    for (let i = 0; i < offsets.length; i++) if (want.has(words[offsets[i]!]!)) out.push(i);
    return out;
  }
  for (let k = 0; k < 32; k++) {
    if (((kindMask >>> k) & 1) === 0) continue;
    for (let i = kinds.indexOf(k); i >= 0; i = kinds.indexOf(k, i + 1)) if (want.has(words[offsets[i]!]!)) out.push(i);
  }
  return out;
}

function searchWords(words: Uint32Array, offsets: Uint32Array, nameOffs: readonly number[]): number[] | undefined {
  const out: number[] = [];
  const bytes = Buffer.from(words.buffer, words.byteOffset, words.byteLength);
  const asWord = new Uint32Array(1);
  const needle = Buffer.from(asWord.buffer);
  let hits = 0;
  for (const nameOff of nameOffs) {
    asWord[0] = nameOff; // native order, as `words`
    for (let at = bytes.indexOf(needle, 0); at >= 0; at = bytes.indexOf(needle, at + 1)) {
      if (at & 3) continue;
      if (++hits > MAX_WORD_HITS) return undefined;
      const w = at >>> 2;
      // Is word w the first word (name_off) of a type? Binary search of the type offsets.
      let lo = 0;
      let hi = offsets.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const o = offsets[mid]!;
        if (o === w) {
          out.push(mid);
          break;
        }
        if (o < w) lo = mid + 1;
        else hi = mid - 1;
      }
    }
  }
  return out;
}
