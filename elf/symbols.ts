/** ELF64 symbol tables (.symtab, .dynsym): decoded symbols and lookups by name. */
import {
  ELF64_SYM_SIZE, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT_STRTAB, SHT_SYMTAB_SHNDX,
} from './constants.ts';
import { ElfError, hex } from './errors.ts';
import { ByteReader } from './reader.ts';
import type { ElfSection } from './sections.ts';
import { StringTable } from './strings.ts';

/** One Elf64_Sym entry, decoded. */
export class ElfSymbol {
  constructor(
    /** Position in its symbol table (what relocations' symbolIndex refers to). */
    readonly index: number,
    /** As stored: empty for STT_SECTION symbols (use the section's name). */
    readonly name: string,
    /** st_name: offset of the name in the linked string table. */
    readonly nameOffset: number,
    readonly value: bigint,
    readonly size: bigint,
    /** STB_* (st_info >> 4). */
    readonly bind: number,
    /** STT_* (st_info & 0xf). */
    readonly type: number,
    /** STV_* (st_other & 3). */
    readonly visibility: number,
    /** st_other as stored. */
    readonly other: number,
    /**
     * Section index with SHN_XINDEX resolved through SHT_SYMTAB_SHNDX. When
     * `definedInSection` it is a valid index into `ElfFile.sections`;
     * otherwise it is the reserved value as stored (SHN_UNDEF, SHN_ABS,
     * SHN_COMMON, or another value >= SHN_LORESERVE).
     */
    readonly sectionIndex: number,
    /** st_shndx as stored (SHN_XINDEX when the index came from SHT_SYMTAB_SHNDX). */
    readonly rawSectionIndex: number,
  ) {}

  get isUndefined(): boolean {
    return this.sectionIndex === SHN_UNDEF;
  }

  get isAbsolute(): boolean {
    return this.rawSectionIndex === SHN_ABS;
  }

  get isCommon(): boolean {
    return this.rawSectionIndex === SHN_COMMON;
  }

  /** True when `sectionIndex` names a real section (not undefined/absolute/common/reserved). */
  get definedInSection(): boolean {
    return this.sectionIndex !== SHN_UNDEF &&
      (this.rawSectionIndex === SHN_XINDEX || this.rawSectionIndex < SHN_LORESERVE);
  }
}

/**
 * Decodes a SHT_SYMTAB or SHT_DYNSYM section. The section's data was already
 * bounds-checked, so the entry count is limited by the file size.
 */
export function readSymbolTable(
  table: ElfSection,
  sections: readonly ElfSection[],
  littleEndian: boolean,
): ElfSymbol[] {
  const what = table.description;
  checkEntrySize(table, ELF64_SYM_SIZE);
  const count = table.data.length / ELF64_SYM_SIZE;

  const strings = new StringTable(linkedStringTable(table, sections).data);
  const reader = new ByteReader(table.data, littleEndian);
  let extendedIndices: ByteReader | undefined; // found on first SHN_XINDEX symbol

  const symbols: ElfSymbol[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * ELF64_SYM_SIZE;
    const nameOffset = reader.u32(at);
    const info = reader.u8(at + 4);
    const other = reader.u8(at + 5);
    const rawSectionIndex = reader.u16(at + 6);
    let sectionIndex = rawSectionIndex;
    if (rawSectionIndex === SHN_XINDEX) {
      extendedIndices ??= findExtendedIndexTable(table, sections, count, littleEndian);
      sectionIndex = extendedIndices.u32(i * 4);
    }
    // Reserved values (>= SHN_LORESERVE) are only reserved when stored directly.
    const reserved = rawSectionIndex >= SHN_LORESERVE && rawSectionIndex !== SHN_XINDEX;
    if (!reserved && sectionIndex >= sections.length) {
      throw new ElfError(
        'ELF_MALFORMED',
        `${what}: symbol ${i} refers to section ${sectionIndex}, but there are ${sections.length} sections`,
      );
    }
    const name = strings.get(nameOffset, () => `${what}: name of symbol ${i}`);
    symbols[i] = new ElfSymbol(
      i, name, nameOffset, reader.u64(at + 8), reader.u64(at + 16),
      info >> 4, info & 0xf, other & 3, other, sectionIndex, rawSectionIndex,
    );
  }
  return symbols;
}

/** Requires sh_entsize to be `expected` (or 0, which old tools write) and the size a multiple of it. */
export function checkEntrySize(table: ElfSection, expected: number): void {
  if (table.entsize !== 0n && table.entsize !== BigInt(expected)) {
    throw new ElfError('ELF_MALFORMED', `${table.description}: sh_entsize is ${table.entsize}, expected ${expected}`);
  }
  if (table.data.length % expected !== 0) {
    throw new ElfError(
      'ELF_MALFORMED',
      `${table.description}: size ${hex(table.data.length)} is not a multiple of the entry size ${expected}`,
    );
  }
}

function linkedStringTable(table: ElfSection, sections: readonly ElfSection[]): ElfSection {
  const strings = sections[table.link];
  if (table.link === SHN_UNDEF || strings === undefined || strings.type !== SHT_STRTAB) {
    throw new ElfError(
      'ELF_MALFORMED',
      `${table.description}: sh_link ${table.link} does not name a string table (SHT_STRTAB)`,
    );
  }
  return strings;
}

/** The SHT_SYMTAB_SHNDX section linked to `table`; it holds one u32 section index per symbol. */
function findExtendedIndexTable(
  table: ElfSection,
  sections: readonly ElfSection[],
  symbolCount: number,
  littleEndian: boolean,
): ByteReader {
  const shndx = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === table.index);
  if (shndx === undefined) {
    throw new ElfError(
      'ELF_MALFORMED',
      `${table.description}: a symbol uses SHN_XINDEX but no SHT_SYMTAB_SHNDX section links to this table`,
    );
  }
  if (shndx.data.length < symbolCount * 4) {
    throw new ElfError(
      'ELF_MALFORMED',
      `${shndx.description}: ${shndx.data.length} bytes cannot hold ${symbolCount} extended section indices`,
    );
  }
  return new ByteReader(shndx.data, littleEndian);
}
