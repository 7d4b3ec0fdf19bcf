/**
 * DWARF .debug_line (versions 2-5): runs each unit's line-number program and
 * keeps address -> (file, line) as one table sorted by address, the rows of
 * every sequence followed by an end marker. Pure and bounded: every read is
 * checked against its unit, a program emits at most one row per byte, and
 * directory/file counts are checked against the bytes left, so a lying
 * section costs time and memory linear in its size and ends in a
 * DWARF_MALFORMED ElfError (or, leniently, in the units that did parse).
 * Paths are joined as addr2line joins them: DWARF 5 units name their
 * compilation directory themselves (directory 0); older ones leave it to
 * DW_AT_comp_dir in .debug_info (dwarf-units.ts), read only when asked.
 */
import { sectionContents } from './compressed.ts';
import { Cursor, malformed, readForm, Strings, type FormContext, type StringSections } from './dwarf-reader.ts';
import { compilationDirs } from './dwarf-units.ts';
import { ElfError } from './errors.ts';
import type { ElfFile } from './file.ts';

/** The sections a line program refers to (already decompressed). */
export interface DebugLineInput {
  readonly debugLine: Uint8Array;
  /** .debug_line_str: DWARF 5 DW_FORM_line_strp names. */
  readonly debugLineStr?: Uint8Array;
  /** .debug_str: DW_FORM_strp names. */
  readonly debugStr?: Uint8Array;
  /**
   * The compilation directory of the unit at `offset` of .debug_line (its
   * DW_AT_comp_dir, from .debug_info): before DWARF 5, directory 0 and
   * relative directories are relative to it. Asked only when a unit needs it.
   */
  readonly compDir?: (offset: number) => string | undefined;
  readonly littleEndian: boolean;
}

export interface DebugLineOptions {
  /** Keep the units that parse and skip a malformed one (when its length still says where the next starts); default false: throw. */
  readonly lenient?: boolean;
}

/** What a lookup finds. */
export interface SourceLocation {
  /** The file's path as the line table gives it (directory joined); undefined when the row names no listed file. */
  readonly file: string | undefined;
  /** 1-based; 0 for code the compiler attributes to no line. */
  readonly line: number;
}

const NO_FILE = 0xffff_ffff;
const END_OF_SEQUENCE = 0xffff_fffe;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Every BLOCK-th address in a small array searched first: it stays in cache, the rows (megabytes for libc) are touched in one block only. */
const BLOCK = 32;

/** Rows sorted by address; a lookup takes the last row at or below the address, none past a sequence's end. */
export class LineTable {
  private readonly index: Float64Array;
  /** Bytes held: the arrays and the file names (two bytes a character, as V8 may hold them). */
  readonly byteSize: number;

  constructor(
    private readonly addresses: Float64Array,
    private readonly lines: Uint32Array,
    /** Index into `files`, NO_FILE, or END_OF_SEQUENCE for a sequence's end marker. */
    private readonly fileIndexes: Uint32Array,
    readonly files: readonly string[],
    /** Units skipped as malformed (lenient parsing only). */
    readonly skippedUnits: number,
  ) {
    this.index = new Float64Array(Math.ceil(addresses.length / BLOCK));
    for (let i = 0; i < this.index.length; i++) this.index[i] = addresses[i * BLOCK]!;
    let names = 0;
    for (const f of files) names += 16 + 2 * f.length;
    this.byteSize = addresses.byteLength + lines.byteLength + fileIndexes.byteLength + this.index.byteLength + names;
  }

  /** Rows held, end markers included. */
  get rowCount(): number {
    return this.addresses.length;
  }

  /** The line of the code at `address` (the file's virtual address), or undefined when no sequence covers it. */
  lookup(address: number): SourceLocation | undefined {
    // The block: the last one starting at or below the address.
    const idx = this.index;
    let lo = 0;
    let hi = idx.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (idx[mid]! <= address) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return undefined;
    const a = this.addresses;
    lo = (lo - 1) * BLOCK;
    hi = Math.min(lo + BLOCK, a.length); // first index with a[i] > address, within the block
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! <= address) lo = mid + 1;
      else hi = mid;
    }
    const i = lo - 1;
    if (i < 0) return undefined;
    const f = this.fileIndexes[i]!;
    if (f === END_OF_SEQUENCE) return undefined;
    return { file: f === NO_FILE ? undefined : this.files[f], line: this.lines[i]! };
  }
}

// DW_LNS_*, DW_LNE_*, DW_LNCT_* (DWARF 5, 6.2).
const LNS_COPY = 1, LNS_ADVANCE_PC = 2, LNS_ADVANCE_LINE = 3, LNS_SET_FILE = 4, LNS_SET_COLUMN = 5;
const LNS_NEGATE_STMT = 6, LNS_SET_BASIC_BLOCK = 7, LNS_CONST_ADD_PC = 8, LNS_FIXED_ADVANCE_PC = 9;
const LNS_SET_PROLOGUE_END = 10, LNS_SET_EPILOGUE_BEGIN = 11, LNS_SET_ISA = 12;
const LNE_END_SEQUENCE = 1, LNE_SET_ADDRESS = 2, LNE_DEFINE_FILE = 3;
const LNCT_PATH = 1, LNCT_DIRECTORY_INDEX = 2;

interface Entry {
  path: string | undefined;
  dir: number;
}

/** A v5 directory or file-name table: a format (content type, form pairs), a count, then the entries. */
function readEntryTable(c: Cursor, ctx: FormContext, what: string): Entry[] {
  const formatCount = c.u8(`${what} format count`);
  const format: [number, number][] = [];
  for (let i = 0; i < formatCount; i++) format.push([c.uleb(`${what} content type`), c.uleb(`${what} form`)]);
  const count = c.uleb(`${what} count`);
  if (count > c.end - c.pos) throw malformed(`${what} count ${count} is more than the ${c.end - c.pos} bytes left in the unit`);
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const start = c.pos;
    const e: Entry = { path: undefined, dir: 0 };
    for (const [type, form] of format) {
      const v = readForm(c, form, ctx);
      if (type === LNCT_PATH && typeof v === 'string') e.path = v;
      else if (type === LNCT_DIRECTORY_INDEX && typeof v === 'number') e.dir = v;
    }
    // An entry of no bytes would let a huge count spin without reading anything.
    if (c.pos === start) throw malformed(`${what} entries take no bytes`);
    out.push(e);
  }
  return out;
}

function joinPath(dir: string | undefined, name: string): string {
  if (name.startsWith('/') || !dir) return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Interns file paths across units. */
class FileNames {
  readonly list: string[] = [];
  readonly #index = new Map<string, number>();
  add(path: string): number {
    let i = this.#index.get(path);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(path);
      this.#index.set(path, i);
    }
    return i;
  }
}

/** A finished sequence: its rows are [first, first + count) of the builder. */
interface Sequence {
  start: number;
  end: number;
  first: number;
  count: number;
}

/** Rows of every sequence as they are emitted, in typed arrays grown by doubling (no per-row garbage). */
class Rows {
  addresses = new Float64Array(1024);
  lines = new Uint32Array(1024);
  files = new Uint32Array(1024);
  length = 0;
  push(address: number, line: number, file: number): void {
    if (this.length === this.addresses.length) this.grow();
    const i = this.length++;
    this.addresses[i] = address;
    this.lines[i] = line;
    this.files[i] = file;
  }
  private grow(): void {
    const n = this.addresses.length * 2;
    const a = new Float64Array(n); a.set(this.addresses); this.addresses = a;
    const l = new Uint32Array(n); l.set(this.lines); this.lines = l;
    const f = new Uint32Array(n); f.set(this.files); this.files = f;
  }
}

/** Parses every unit of .debug_line into one LineTable. */
export function parseDebugLine(input: DebugLineInput, opts: DebugLineOptions = {}): LineTable {
  const d = input.debugLine;
  const data = new Uint8Array(d.buffer, d.byteOffset, d.byteLength); // a Buffer's subarray() costs more than a Uint8Array's
  const strings: StringSections = { lineStr: new Strings(input.debugLineStr), str: new Strings(input.debugStr) };
  const names = new FileNames();
  const sequences: Sequence[] = [];
  const rows = new Rows();
  let skipped = 0;
  let pos = 0;
  while (pos < data.length) {
    let next = data.length; // where the next unit starts, once this one's length is known to fit
    try {
      const unit = unitBounds(data, pos, input.littleEndian);
      if (unit.end > data.length) throw malformed(`unit at 0x${pos.toString(16)} states ${unit.end - unit.bodyStart} bytes; ${data.length - unit.bodyStart} are left`);
      next = unit.end;
      parseUnit(new Cursor(data, unit.bodyStart, unit.end, input.littleEndian), unit.offsetSize, strings, names, sequences, rows, () => input.compDir?.(pos));
    } catch (e) {
      if (!opts.lenient || !(e instanceof ElfError)) throw e;
      skipped++;
    }
    pos = next;
  }
  return buildTable(sequences, rows, names.list, skipped);
}

/** A unit's length field: 32-bit, or 0xffffffff then 64-bit (then offsets in it are 8 bytes). */
function unitBounds(data: Uint8Array, pos: number, le: boolean): { bodyStart: number; end: number; offsetSize: number } {
  const c = new Cursor(data, pos, data.length, le);
  const len32 = c.u32('unit length');
  if (len32 === 0xffff_ffff) {
    const len = c.u64('64-bit unit length');
    return { bodyStart: c.pos, end: c.pos + len, offsetSize: 8 };
  }
  if (len32 >= 0xffff_fff0) throw malformed(`reserved unit length 0x${len32.toString(16)} at offset 0x${pos.toString(16)}`);
  return { bodyStart: c.pos, end: c.pos + len32, offsetSize: 4 };
}

function parseUnit(
  c: Cursor, offsetSize: number, input: StringSections, names: FileNames, sequences: Sequence[], rows: Rows,
  compDir: () => string | undefined,
): void {
  const version = c.u16('version');
  if (version < 2 || version > 5) throw malformed(`unsupported version ${version}`);
  let addressSize = 8;
  if (version >= 5) {
    addressSize = c.u8('address size');
    if (addressSize !== 4 && addressSize !== 8) throw malformed(`address size ${addressSize}`);
    c.u8('segment selector size');
  }
  const headerLength = c.uN(offsetSize, 'header length');
  const programStart = c.pos + headerLength;
  if (!(programStart <= c.end)) throw malformed(`header length ${headerLength} runs past the end of its unit`);
  const minInstLength = c.u8('minimum instruction length');
  const maxOps = version >= 4 ? c.u8('maximum operations per instruction') : 1;
  if (maxOps === 0) throw malformed('maximum operations per instruction is 0');
  c.u8('default_is_stmt'); // every row is kept, statement or not (as addr2line does)
  const lineBase = (c.u8('line base') << 24) >> 24;
  const lineRange = c.u8('line range');
  const opcodeBase = c.u8('opcode base');
  if (opcodeBase === 0) throw malformed('opcode base is 0');
  const opcodeLengths = new Uint8Array(opcodeBase);
  for (let i = 1; i < opcodeBase; i++) opcodeLengths[i] = c.u8('standard opcode length');

  // Files as global name indexes, in the unit's numbering (v5: from 0; before: from 1, 0 unused).
  const fileIds: number[] = [];
  let fileBase: number;
  let oldDirs: string[] = [];
  let comp: string | undefined | null = null; // null: not asked yet
  /** A pre-v5 file's path: directory 0 is the compilation directory, and a relative directory is under it. */
  const oldPath = (dir: number, name: string): string => {
    if (name.startsWith('/')) return name;
    const d = dir === 0 ? undefined : oldDirs[dir - 1];
    if (d?.startsWith('/')) return joinPath(d, name);
    if (comp === null) comp = compDir();
    return joinPath(comp, joinPath(d, name));
  };
  if (version >= 5) {
    const ctx: FormContext = { offsetSize, addressSize, version, strings: input };
    const dirs = readEntryTable(c, ctx, 'directory table');
    const files = readEntryTable(c, ctx, 'file name table');
    const dirPath = (d: number): string | undefined => {
      const p = dirs[d]?.path;
      return d !== 0 && p !== undefined && !p.startsWith('/') ? joinPath(dirs[0]?.path, p) : p;
    };
    for (const f of files) fileIds.push(f.path === undefined ? NO_FILE : names.add(joinPath(dirPath(f.dir), f.path)));
    fileBase = 0;
  } else {
    const dirs: string[] = (oldDirs = []);
    for (;;) {
      const d = c.cstring('include directory');
      if (d === '') break;
      dirs.push(d);
    }
    for (;;) {
      const name = c.cstring('file name');
      if (name === '') break;
      const dir = c.uleb('directory index');
      c.uleb('modification time');
      c.uleb('file length');
      fileIds.push(names.add(oldPath(dir, name)));
    }
    fileBase = 1;
  }
  if (c.pos > programStart) throw malformed('the header tables run past header_length');
  c.pos = programStart;
  // Special opcodes and DW_LNS_const_add_pc divide by it.
  if (lineRange === 0 && c.pos < c.end) throw malformed('line range is 0');

  // The state machine (DWARF 5, 6.2.2).
  let address = 0, opIndex = 0, file = 1, line = 1;
  // The open sequence: its first row, its start, and whether its rows went backwards (then it cannot be searched: dropped).
  let seqFirst = rows.length, seqStart = NaN, seqBad = false;
  const fileId = (n: number): number => {
    const i = n - fileBase;
    return i >= 0 && i < fileIds.length ? fileIds[i]! : NO_FILE;
  };
  const advance = (ops: number): void => {
    if (maxOps === 1) address += minInstLength * ops;
    else {
      address += minInstLength * Math.floor((opIndex + ops) / maxOps);
      opIndex = (opIndex + ops) % maxOps;
    }
  };
  const emit = (end: boolean): void => {
    const n = rows.length - seqFirst;
    const last = n > 0 ? rows.addresses[rows.length - 1]! : -Infinity;
    if (address < last) seqBad = true;
    if (n === 0) seqStart = address;
    if (end) {
      if (!seqBad && n > 0 && address > seqStart && address <= MAX_SAFE) {
        sequences.push({ start: seqStart, end: address, first: seqFirst, count: n });
      } else {
        rows.length = seqFirst; // dropped: its rows are reused
      }
      seqFirst = rows.length; seqBad = false;
      address = 0; opIndex = 0; file = 1; line = 1;
      return;
    }
    if (address === last) {
      // Several rows at one address: the last one describes it.
      rows.lines[rows.length - 1] = line;
      rows.files[rows.length - 1] = fileId(file);
    } else {
      rows.push(address, line, fileId(file));
    }
  };
  while (c.pos < c.end) {
    const op = c.bytes[c.pos++]!;
    if (op >= opcodeBase) {
      const adjusted = op - opcodeBase;
      advance(Math.floor(adjusted / lineRange));
      line += lineBase + (adjusted % lineRange);
      emit(false);
      continue;
    }
    switch (op) {
      case 0: {
        const len = c.uleb('extended opcode length');
        if (len === 0) break;
        c.need(len, 'extended opcode');
        const next = c.pos + len;
        const sub = c.bytes[c.pos++]!;
        if (sub === LNE_END_SEQUENCE) emit(true);
        else if (sub === LNE_SET_ADDRESS) {
          const size = len - 1;
          const saved = c.end;
          c.end = next;
          address = size === 4 || size === 8 || size === 2 || size === 1 ? c.uN(size, 'DW_LNE_set_address') : Infinity;
          c.end = saved;
          opIndex = 0;
        } else if (sub === LNE_DEFINE_FILE && version < 5) {
          const saved = c.end;
          c.end = next;
          const name = c.cstring('DW_LNE_define_file name');
          const dir = c.uleb('DW_LNE_define_file directory');
          c.end = saved;
          fileIds.push(names.add(oldPath(dir, name)));
        }
        c.pos = next; // DW_LNE_set_discriminator and unknown ones: their length says where the next opcode is
        break;
      }
      case LNS_COPY: emit(false); break;
      case LNS_ADVANCE_PC: advance(c.uleb('DW_LNS_advance_pc')); break;
      case LNS_ADVANCE_LINE: line += c.sleb('DW_LNS_advance_line'); break;
      case LNS_SET_FILE: file = c.uleb('DW_LNS_set_file'); break;
      case LNS_SET_COLUMN: c.uleb('DW_LNS_set_column'); break;
      case LNS_NEGATE_STMT: case LNS_SET_BASIC_BLOCK: case LNS_SET_PROLOGUE_END: case LNS_SET_EPILOGUE_BEGIN: break;
      case LNS_CONST_ADD_PC: advance(Math.floor((255 - opcodeBase) / lineRange)); break;
      case LNS_FIXED_ADVANCE_PC: address += c.u16('DW_LNS_fixed_advance_pc'); opIndex = 0; break;
      case LNS_SET_ISA: c.uleb('DW_LNS_set_isa'); break;
      default:
        // An opcode this reader does not know: the header says how many ULEB128 arguments it takes.
        for (let i = 0; i < opcodeLengths[op]!; i++) c.uleb('operand');
    }
    if (!(line >= 0 && line <= 0xffff_ffff)) line = 0; // a line past u32 is nonsense; keep the row, lose the number
  }
  // A sequence without DW_LNE_end_sequence has no end: dropped.
  rows.length = seqFirst;
}

/** Orders the sequences by start, drops any overlapping an earlier one (or starting at 0: a discarded function's tombstone), and flattens them. */
function buildTable(sequences: Sequence[], rows: Rows, files: string[], skipped: number): LineTable {
  const usable = sequences.filter((q) => q.start > 0).sort((a, b) => a.start - b.start);
  let total = 0;
  const kept: Sequence[] = [];
  let lastEnd = 0;
  for (const q of usable) {
    if (q.start < lastEnd) continue;
    kept.push(q);
    total += q.count + 1;
    lastEnd = q.end;
  }
  const addresses = new Float64Array(total);
  const lines = new Uint32Array(total);
  const fileIndexes = new Uint32Array(total);
  let i = 0;
  for (const q of kept) {
    addresses.set(rows.addresses.subarray(q.first, q.first + q.count), i);
    lines.set(rows.lines.subarray(q.first, q.first + q.count), i);
    fileIndexes.set(rows.files.subarray(q.first, q.first + q.count), i);
    i += q.count;
    addresses[i] = q.end;
    fileIndexes[i] = END_OF_SEQUENCE;
    i++;
  }
  return new LineTable(addresses, lines, fileIndexes, files, skipped);
}

/**
 * The line table of an ELF file's .debug_line (or .zdebug_line), its string
 * sections decompressed as needed; undefined when the file has no line program.
 */
export function readLineTable(elf: ElfFile, opts: DebugLineOptions = {}): LineTable | undefined {
  const find = (name: string) => elf.section(name) ?? elf.section(name.replace('.debug', '.zdebug'));
  const line = find('.debug_line');
  if (!line || line.isNobits || line.data.length === 0) return undefined;
  const contents = (name: string) => {
    const s = find(name);
    return s && !s.isNobits ? sectionContents(s, elf.littleEndian) : undefined;
  };
  const debugLineStr = contents('.debug_line_str');
  const debugStr = contents('.debug_str');
  let dirs: Map<number, string> | undefined;
  const compDir = (offset: number): string | undefined => {
    // Only pre-v5 units with relative paths ask: .debug_info (often the largest section) is read then, once.
    if (!dirs) {
      try {
        const debugInfo = contents('.debug_info');
        const debugAbbrev = contents('.debug_abbrev');
        dirs = debugInfo && debugAbbrev
          ? compilationDirs({ debugInfo, debugAbbrev, debugStr, debugLineStr, littleEndian: elf.littleEndian })
          : new Map();
      } catch (e) {
        if (!(e instanceof ElfError)) throw e;
        dirs = new Map(); // paths stay relative
      }
    }
    return dirs.get(offset);
  };
  return parseDebugLine({ debugLine: sectionContents(line, elf.littleEndian), debugLineStr, debugStr, compDir, littleEndian: elf.littleEndian }, opts);
}
