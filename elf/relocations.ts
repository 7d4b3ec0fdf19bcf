/** ELF64 relocation sections (SHT_REL, SHT_RELA) and their decoded entries. */
import { ELF64_REL_SIZE, ELF64_RELA_SIZE, SHT_RELA } from './constants.ts';
import { ElfError } from './errors.ts';
import { ByteReader } from './reader.ts';
import type { ElfSection } from './sections.ts';
import { checkEntrySize } from './symbols.ts';

/** One Elf64_Rel / Elf64_Rela entry. */
export interface ElfRelocation {
  /** r_offset: in ET_REL files, an offset into the target section; otherwise a virtual address. */
  readonly offset: bigint;
  /** ELF64_R_SYM(r_info): index into the symbol table named by `symbolTable`; not range-checked here. */
  readonly symbolIndex: number;
  /** ELF64_R_TYPE(r_info): machine-specific, e.g. R_BPF_64_64. */
  readonly type: number;
  /** r_addend (signed); only present in SHT_RELA sections. */
  readonly addend?: bigint;
}

/** A SHT_REL or SHT_RELA section and its decoded entries. */
export interface ElfRelocationSection {
  /** The relocation section itself (.rel.text, .rela.dyn, ...). */
  readonly section: ElfSection;
  readonly isRela: boolean;
  /** sh_info: index of the section the relocations apply to (0 for e.g. .rela.dyn). */
  readonly target: number;
  /** The section at `target`, or undefined when `target` is 0. */
  readonly targetSection: ElfSection | undefined;
  /** sh_link: index of the symbol table the entries' symbolIndex refers to. */
  readonly symbolTable: number;
  readonly entries: readonly ElfRelocation[];
}

/**
 * Decodes one relocation section. r_info is split the ELF64 way (symbol in
 * the high 32 bits, type in the low 32), which is right for every machine
 * tsbpf deals with (MIPS64's different layout is not handled).
 */
export function readRelocationSection(
  section: ElfSection,
  sections: readonly ElfSection[],
  littleEndian: boolean,
): ElfRelocationSection {
  const isRela = section.type === SHT_RELA;
  const entrySize = isRela ? ELF64_RELA_SIZE : ELF64_REL_SIZE;
  checkEntrySize(section, entrySize);
  for (const [field, value] of [['sh_info (target section)', section.info], ['sh_link (symbol table)', section.link]] as const) {
    if (value >= sections.length) {
      throw new ElfError(
        'ELF_MALFORMED',
        `${section.description}: ${field} ${value} is out of range (${sections.length} sections)`,
      );
    }
  }

  const reader = new ByteReader(section.data, littleEndian);
  const count = section.data.length / entrySize;
  const entries: ElfRelocation[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * entrySize;
    const offset = reader.u64(at);
    // Two u32 reads instead of shifting a u64: cheaper, and the halves are what we want.
    const infoHigh = reader.u32(littleEndian ? at + 12 : at + 8);
    const infoLow = reader.u32(littleEndian ? at + 8 : at + 12);
    entries[i] = isRela
      ? { offset, symbolIndex: infoHigh, type: infoLow, addend: reader.i64(at + 16) }
      : { offset, symbolIndex: infoHigh, type: infoLow };
  }
  return {
    section,
    isRela,
    target: section.info,
    targetSection: section.info === 0 ? undefined : sections[section.info],
    symbolTable: section.link,
    entries,
  };
}
