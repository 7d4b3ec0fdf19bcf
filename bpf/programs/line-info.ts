/**
 * A loaded program's line info read back: bpf_line_info records (insn_off,
 * file_name_off, line_off, line_col) resolved through the program's BTF, and
 * the JIT address -> source line lookup a symbolizer needs (what bpftool's
 * `prog dump jited linum` prints beside the machine code).
 */
import type { Btf } from '../../btf/btf.ts';
import type { ProgramImage } from './dump.ts';

/** One line info record, its strings resolved (undefined when the BTF is missing or the offset lies). */
export interface LineRec {
  insnOff: number;
  file: string | undefined;
  /** The source line's text. */
  line: string | undefined;
  lineNum: number;
  lineCol: number;
}

/** Fixed-size records of `bytes`; none when the record size is too small to hold the fields read. */
export function records<T>(bytes: Uint8Array, recSize: number, read: (v: DataView, at: number) => T): T[] {
  const out: T[] = [];
  if (recSize < 8) return out;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + recSize <= bytes.byteLength; at += recSize) out.push(read(v, at));
  return out;
}

function str(btf: Btf | undefined, off: number): string | undefined {
  if (!btf) return undefined;
  try {
    return btf.stringAt(off);
  } catch {
    return undefined;
  }
}

/** The image's line info records; line_col packs the line above bit 10 and the column below. */
export function lineRecords(img: Pick<ProgramImage, 'lineInfo' | 'lineInfoRecSize'>, btf: Btf | undefined): LineRec[] {
  if (img.lineInfoRecSize < 16) return [];
  return records(img.lineInfo, img.lineInfoRecSize, (v, at): LineRec => {
    const lc = v.getUint32(at + 12, true);
    return { insnOff: v.getUint32(at, true), file: str(btf, v.getUint32(at + 4, true)), line: str(btf, v.getUint32(at + 8, true)), lineNum: lc >>> 10, lineCol: lc & 0x3ff };
  });
}

/** Source line of one JIT address. */
export interface JitedLine {
  file: string | undefined;
  line: number;
  column: number;
  text: string | undefined;
}

/**
 * JIT address -> source line for one program: the last jited_line_info entry
 * at or before the address within the function that holds it (functions are
 * separate images, so an entry counts only at or past the function's start).
 */
export class JitedLines {
  /** Entries sorted by address: [address, record index]. */
  readonly #at: bigint[];
  readonly #rec: LineRec[];
  readonly #order: number[];
  /** Rough bytes held, for a cache bound. */
  readonly byteSize: number;

  constructor(img: Pick<ProgramImage, 'lineInfo' | 'lineInfoRecSize' | 'jitedLineInfo'>, btf: Btf | undefined) {
    const recs = lineRecords(img, btf);
    const n = Math.min(recs.length, img.jitedLineInfo.length);
    // Stable by index: of records at one address the last (whose instructions the code there is) wins below.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
      const x = img.jitedLineInfo[a]!;
      const y = img.jitedLineInfo[b]!;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    this.#order = order;
    this.#at = order.map((i) => img.jitedLineInfo[i]!);
    this.#rec = recs;
    let bytes = 64 + n * 48;
    for (const r of recs.slice(0, n)) bytes += (r.file?.length ?? 0) + (r.line?.length ?? 0);
    this.byteSize = bytes;
  }

  get size(): number {
    return this.#at.length;
  }

  /** The line of `address` in the function starting at `funcStart`; undefined before its first entry. */
  lookup(address: bigint, funcStart: bigint): JitedLine | undefined {
    const at = this.#at;
    let lo = 0;
    let hi = at.length; // first entry past address
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (at[mid]! <= address) lo = mid + 1;
      else hi = mid;
    }
    const k = lo - 1;
    if (k < 0 || at[k]! < funcStart) return undefined;
    const r = this.#rec[this.#order[k]!]!;
    return { file: r.file, line: r.lineNum, column: r.lineCol, text: r.line };
  }
}
