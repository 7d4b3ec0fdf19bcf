/**
 * Address -> symbol lookup tables (for symbolization): starts sorted by
 * address in typed arrays, names in one NUL-separated byte block, decoded
 * only for the symbols a lookup hits. Built from an ELF file's .symtab and
 * .dynsym (buildElfSymbolTable) or from any list of (address, size, name)
 * (AddressSymbolsBuilder: kallsyms, perf maps).
 */
import { ELF64_SYM_SIZE, SHT_DYNSYM, SHT_SYMTAB, STT_FUNC, STT_GNU_IFUNC, SHN_UNDEF } from './constants.ts';
import type { ElfFile } from './file.ts';
import { checkEntrySize } from './symbols.ts';

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** The symbol an address falls in. */
export interface AddressSymbol {
  readonly name: string;
  /** Start of the symbol, in the table's address space. */
  readonly start: number;
  /** Bytes from the start to the address looked up. */
  readonly offset: number;
  /** Size as recorded; 0 when the table does not know it. */
  readonly size: number;
  /** Group index (e.g. a kernel module), see AddressSymbols.groups; 0 when the table has none. */
  readonly group: number;
}

/**
 * A sorted, immutable symbol table. Addresses are numbers relative to `base`
 * (0 for ELF files, whose virtual addresses are below 2^53; the lowest kernel
 * text address for kallsyms, so kernel addresses stay exact as doubles).
 */
export class AddressSymbols {
  constructor(
    readonly base: bigint,
    private readonly starts: Float64Array,
    /** 0 = unknown: the symbol then reaches to the next start (or `limit`). */
    private readonly sizes: Float64Array,
    private readonly nameOffsets: Uint32Array,
    private readonly names: Uint8Array,
    private readonly groupIds: Uint16Array | undefined,
    /** Names of the groups groupIds index (module names), [] when there are none. */
    readonly groups: readonly string[],
    /** Symbols of unknown size end here at the latest (relative to base); Infinity when unbounded. */
    private readonly limit: number,
    /** A symbol of unknown size covers at most this many bytes past its start. */
    private readonly unknownSizeReach: number,
  ) {}

  get count(): number {
    return this.starts.length;
  }

  /** Bytes held by this table's arrays. */
  get byteSize(): number {
    return this.starts.byteLength + this.sizes.byteLength + this.nameOffsets.byteLength + this.names.byteLength +
      (this.groupIds?.byteLength ?? 0);
  }

  /** The symbol containing `address` (relative to base), or undefined. */
  lookup(address: number): AddressSymbol | undefined {
    const i = this.indexAt(address);
    if (i < 0) return undefined;
    return { name: this.nameOf(i), start: this.starts[i]!, offset: address - this.starts[i]!, size: this.sizes[i]!, group: this.groupIds?.[i] ?? 0 };
  }

  /** The symbol containing absolute address `address` (base added back), or undefined. */
  lookupAbsolute(address: bigint): AddressSymbol | undefined {
    if (address < this.base) return undefined;
    const rel = address - this.base;
    if (rel > 0x1f_ffff_ffff_ffffn) return undefined;
    return this.lookup(Number(rel));
  }

  /** Name of entry `i` (sorted order). */
  nameOf(i: number): string {
    const start = this.nameOffsets[i]!;
    let end = start;
    const names = this.names;
    while (end < names.length && names[end] !== 0) end++;
    return utf8.decode(names.subarray(start, end));
  }

  /** Index of the entry containing `address`, -1 when none. */
  indexAt(address: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    if (hi < 0 || !(address >= starts[0]!)) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    // Among entries sharing lo's start, the first one was kept when building; walk back through
    // nested symbols (a sized symbol before lo that still covers the address).
    for (let i = lo, steps = 0; i >= 0 && steps < 4; i--, steps++) {
      const size = this.sizes[i]!;
      const start = starts[i]!;
      if (size > 0) {
        if (address < start + size) return i;
        continue;
      }
      if (i !== lo) return -1; // an unsized symbol only covers up to the next start
      const next = i + 1 < starts.length ? starts[i + 1]! : this.limit;
      if (address < next && address - start < this.unknownSizeReach) return i;
      return -1;
    }
    return -1;
  }
}

/** Collects (address, size, name, group) entries, then sorts them into an AddressSymbols. */
export class AddressSymbolsBuilder {
  private starts: number[] = [];
  private sizes: number[] = [];
  private nameList: string[] = [];
  private groupIds: number[] = [];
  private readonly groupIndex = new Map<string, number>();
  private readonly groups: string[] = [''];
  constructor(private readonly base = 0n) {}

  /** Adds a symbol at absolute `address` (must be >= base and within 2^53 of it). */
  add(address: bigint, size: number, name: string, group?: string): void {
    const rel = address - this.base;
    if (rel < 0n || rel > 0x1f_ffff_ffff_ffffn) return;
    this.addRelative(Number(rel), size, name, group);
  }

  addRelative(address: number, size: number, name: string, group?: string): void {
    this.starts.push(address);
    this.sizes.push(size);
    this.nameList.push(name);
    let g = 0;
    if (group) {
      g = this.groupIndex.get(group) ?? -1;
      if (g < 0) {
        g = this.groups.length;
        if (g > 0xffff) g = 0;
        else {
          this.groups.push(group);
          this.groupIndex.set(group, g);
        }
      }
    }
    this.groupIds.push(g);
  }

  build(limit = Infinity, unknownSizeReach = Infinity): AddressSymbols {
    // One encode for all names; when they are ASCII (nearly always) byte offsets are string offsets.
    const joined = this.nameList.join('\0');
    let names = encoder.encode(joined);
    const nameOffsets = new Array<number>(this.nameList.length);
    if (names.length === joined.length) {
      let at = 0;
      for (let i = 0; i < this.nameList.length; i++) {
        nameOffsets[i] = at;
        at += this.nameList[i]!.length + 1;
      }
    } else {
      const chunks = this.nameList.map((n) => encoder.encode(n));
      names = new Uint8Array(chunks.reduce((a, c) => a + c.length + 1, 0));
      let at = 0;
      chunks.forEach((c, i) => {
        nameOffsets[i] = at;
        names.set(c, at);
        at += c.length + 1;
      });
    }
    const order = sortedOrder(this.starts, this.sizes);
    const n = order.length;
    const starts = new Float64Array(n);
    const sizes = new Float64Array(n);
    const offsets = new Uint32Array(n);
    const hasGroups = this.groups.length > 1;
    const groupIds = hasGroups ? new Uint16Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      const j = order[i]!;
      starts[i] = this.starts[j]!;
      sizes[i] = this.sizes[j]!;
      offsets[i] = nameOffsets[j]!;
      if (groupIds) groupIds[i] = this.groupIds[j]!;
    }
    return new AddressSymbols(this.base, starts, sizes, offsets, names, groupIds, hasGroups ? this.groups : [], limit, unknownSizeReach);
  }
}

/** Indices sorted by start, one per distinct start (the largest size wins: the function over its aliases' labels). */
function sortedOrder(starts: readonly number[], sizes: readonly number[]): number[] {
  const idx = Array.from(starts.keys());
  idx.sort((a, b) => starts[a]! - starts[b]! || sizes[b]! - sizes[a]! || a - b);
  const out: number[] = [];
  for (const i of idx) {
    if (out.length && starts[out[out.length - 1]!] === starts[i]) continue;
    out.push(i);
  }
  return out;
}

/**
 * The function symbols (STT_FUNC, STT_GNU_IFUNC, defined, non-zero address)
 * of an ELF file's .symtab and .dynsym, by virtual address. Reads the raw
 * entries: no ElfSymbol object per entry, and names are copied once as a
 * block (the file's bytes are not retained).
 */
export function buildElfSymbolTable(elf: ElfFile): AddressSymbols {
  const builder = new RawSymbolCollector();
  for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
    const table = elf.sections.find((s) => s.type === type);
    if (!table || table.data.length === 0) continue;
    checkEntrySize(table, ELF64_SYM_SIZE);
    const strtab = elf.sections[table.link];
    if (!strtab || strtab.data.length === 0) continue;
    builder.collect(table.data, strtab.data, elf.littleEndian);
  }
  return builder.build();
}

/** Collects function symbols from raw Elf64_Sym arrays into flat arrays. */
class RawSymbolCollector {
  private starts: number[] = [];
  private sizes: number[] = [];
  private nameOffsets: number[] = [];
  private tables: Uint8Array[] = [];
  private tableBase = 0;

  collect(symbols: Uint8Array, strings: Uint8Array, littleEndian: boolean): void {
    const view = new DataView(symbols.buffer, symbols.byteOffset, symbols.byteLength);
    const count = symbols.length / ELF64_SYM_SIZE;
    const base = this.tableBase;
    for (let i = 1; i < count; i++) {
      const at = i * ELF64_SYM_SIZE;
      const type = view.getUint8(at + 4) & 0xf;
      if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
      if (view.getUint16(at + 6, littleEndian) === SHN_UNDEF) continue;
      const value = view.getBigUint64(at + 8, littleEndian);
      if (value === 0n || value > 0x1f_ffff_ffff_ffffn) continue;
      const nameOffset = view.getUint32(at, littleEndian);
      if (nameOffset === 0 || nameOffset >= strings.length) continue;
      this.starts.push(Number(value));
      this.sizes.push(Number(view.getBigUint64(at + 16, littleEndian) & 0xffff_ffffn));
      this.nameOffsets.push(base + nameOffset);
    }
    this.tables.push(strings);
    this.tableBase += strings.length + 1;
  }

  build(): AddressSymbols {
    const order = sortedOrder(this.starts, this.sizes);
    // Keep only the string bytes of the names used: .strtab also holds names of objects, files, sections.
    const all = new Uint8Array(this.tableBase);
    let at = 0;
    for (const t of this.tables) {
      all.set(t, at);
      at += t.length + 1;
    }
    const n = order.length;
    const starts = new Float64Array(n);
    const sizes = new Float64Array(n);
    const offsets = new Uint32Array(n);
    const chunks: Uint8Array[] = [];
    let length = 0;
    for (let i = 0; i < n; i++) {
      const j = order[i]!;
      starts[i] = this.starts[j]!;
      sizes[i] = this.sizes[j]!;
      const from = this.nameOffsets[j]!;
      let end = all.indexOf(0, from);
      if (end < 0) end = all.length;
      offsets[i] = length;
      const name = all.subarray(from, end);
      chunks.push(name);
      length += name.length + 1;
    }
    const names = new Uint8Array(length);
    let o = 0;
    for (const c of chunks) {
      names.set(c, o);
      o += c.length + 1;
    }
    // Unsized ELF functions (hand-written assembly) get up to 4 KiB: past that it is probably not theirs.
    return new AddressSymbols(0n, starts, sizes, offsets, names, undefined, [], Infinity, 4096);
  }
}
