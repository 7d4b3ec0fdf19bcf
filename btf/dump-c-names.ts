/**
 * How often the C dumper has met each name of a namespace (the `___N`
 * suffixes), keyed by the name's bytes in the string section.
 *
 * vmlinux has ~200k struct, typedef and enumerator names; a Map keyed by
 * strings made each of them a string (a native slice plus hashing) and was
 * the dumper's largest single cost in a one-shot CLI run. This table hashes
 * the bytes in place (open addressing, linear probing) and compares bytes
 * only on a hash match (same offset: equal at once, as BTF strings are
 * usually deduplicated).
 */
export class NameCounts {
  private readonly strs: Uint8Array;
  /** Offset + 1 of the first occurrence of each name; 0: empty slot. */
  private offs: Int32Array;
  private hashes: Int32Array;
  private counts: Int32Array;
  private mask: number;
  private used = 0;

  /** `expected`: about how many distinct names (the table grows past it). */
  constructor(strs: Uint8Array, expected: number) {
    this.strs = strs;
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.offs = new Int32Array(cap);
    this.hashes = new Int32Array(cap);
    this.counts = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /**
   * One more occurrence of the NUL-terminated string at `off`: how many
   * there have been, this one included. -1 when `off` is outside the string
   * section or the string has no terminator.
   */
  add(off: number): number {
    const s = this.strs;
    const n = s.length;
    if (off < 0 || off >= n) return -1;
    let h = 0x811c9dc5 | 0;
    let end = off;
    for (;;) {
      if (end >= n) return -1;
      const c = s[end]!;
      if (c === 0) break;
      h = Math.imul(h ^ c, 0x01000193);
      end++;
    }
    const offs = this.offs;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const o = offs[i]!;
      if (o === 0) break;
      if (this.hashes[i] === h && this.same(o - 1, off, end - off)) return ++this.counts[i]!;
      i = (i + 1) & mask;
    }
    offs[i] = off + 1;
    this.hashes[i] = h;
    this.counts[i] = 1;
    if (++this.used * 2 > mask) this.grow();
    return 1;
  }

  /** Whether the strings at `a` and `b` (that at `b` is `len` bytes, then NUL) are equal. */
  private same(a: number, b: number, len: number): boolean {
    if (a === b) return true;
    const s = this.strs;
    if (a + len >= s.length) return false;
    for (let k = 0; k <= len; k++) if (s[a + k] !== s[b + k]) return false;
    return true;
  }

  private grow(): void {
    const { offs, hashes, counts } = this;
    const cap = offs.length * 2;
    this.offs = new Int32Array(cap);
    this.hashes = new Int32Array(cap);
    this.counts = new Int32Array(cap);
    this.mask = cap - 1;
    for (let j = 0; j < offs.length; j++) {
      if (offs[j] === 0) continue;
      let i = hashes[j]! & this.mask;
      while (this.offs[i] !== 0) i = (i + 1) & this.mask;
      this.offs[i] = offs[j]!;
      this.hashes[i] = hashes[j]!;
      this.counts[i] = counts[j]!;
    }
  }
}
