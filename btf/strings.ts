/**
 * String helpers: decoding NUL-terminated strings out of a BTF string section,
 * and {@link StringTable}, a deduplicating string section builder.
 */
import { Buffer } from 'node:buffer';
import { BtfError } from './errors.ts';

/** Buffer's undocumented-in-types native slicer (present in every Node version we support). */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/** UTF-8 bytes of a JS string. */
export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** A zero-copy Buffer view of a Uint8Array (for Buffer's fast native slicing). */
export function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/**
 * Decode the NUL-terminated string at `off` in `bytes` (a string section).
 * Throws BTF_MALFORMED when `off` is out of range or there is no terminator.
 */
export function decodeCString(bytes: Buffer, off: number): string {
  if (off >= bytes.length || off < 0) {
    throw new BtfError('BTF_MALFORMED', `string offset ${off} is outside the string section (${bytes.length} bytes)`);
  }
  let end = off;
  let high = 0;
  const n = bytes.length;
  while (end < n) {
    const c = bytes[end]!;
    if (c === 0) break;
    high |= c;
    end++;
  }
  if (end >= n) throw new BtfError('BTF_MALFORMED', `string at offset ${off} is not NUL-terminated`);
  if (end === off) return '';
  return high < 0x80 ? (bytes as unknown as Latin1Slicer).latin1Slice(off, end) : utf8.decode(bytes.subarray(off, end));
}

/**
 * A BTF string section under construction: offset 0 is the empty string,
 * `add` returns the offset of an existing identical string when there is one.
 * It may start from existing section bytes, which are kept verbatim (so
 * offsets into them stay valid and an unmodified table marshals identically).
 */
export class StringTable {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private index: Map<string, number> | undefined;
  private readonly initial: Uint8Array;
  /** Offset added to every offset (the base's string section length, for split BTF). */
  readonly startOffset: number;

  /** Looks strings up in the base BTF's table first (split BTF reuses base strings). */
  private readonly baseFind: ((s: string) => number | undefined) | undefined;

  /**
   * @param initial existing string section bytes (should start with NUL for base BTF);
   *   when omitted the table starts with the single empty string (base BTF) or empty (split BTF).
   * @param startOffset for split BTF: the base string section length.
   * @param baseFind for split BTF: finds a string in the base's table.
   */
  constructor(initial?: Uint8Array, startOffset = 0, baseFind?: (s: string) => number | undefined) {
    this.startOffset = startOffset;
    this.baseFind = baseFind;
    if (initial === undefined) initial = startOffset ? new Uint8Array(0) : new Uint8Array(1);
    this.initial = initial;
    this.size = initial.length;
  }

  /** Total length of the section in bytes. */
  get length(): number {
    return this.size;
  }

  private buildIndex(): Map<string, number> {
    const idx = new Map<string, number>();
    const b = asBuffer(this.initial);
    let start = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 0) {
        const s = start === i ? '' : b.toString('utf8', start, i);
        if (!idx.has(s)) idx.set(s, start + this.startOffset);
        start = i + 1;
      }
    }
    if (!idx.has('') && this.startOffset === 0) idx.set('', 0);
    return idx;
  }

  /** Offset of `s`, adding it if absent. `''` is always offset 0. */
  add(s: string): number {
    if (s === '') return 0;
    const inBase = this.baseFind?.(s);
    if (inBase !== undefined) return inBase;
    const idx = (this.index ??= this.buildIndex());
    const found = idx.get(s);
    if (found !== undefined) return found;
    const bytes = encoder.encode(s);
    if (bytes.includes(0)) throw new BtfError('BTF_MALFORMED', `string ${JSON.stringify(s)} contains NUL`);
    const off = this.size + this.startOffset;
    const chunk = new Uint8Array(bytes.length + 1);
    chunk.set(bytes);
    this.chunks.push(chunk);
    this.size += chunk.length;
    idx.set(s, off);
    return off;
  }

  /** Offset of `s` if present, without adding it. */
  find(s: string): number | undefined {
    if (s === '') return 0;
    return this.baseFind?.(s) ?? (this.index ??= this.buildIndex()).get(s);
  }

  /** The section bytes. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    out.set(this.initial, 0);
    let o = this.initial.length;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
