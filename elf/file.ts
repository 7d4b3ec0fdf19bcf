import { SHT_DYNSYM, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA, SHT_SYMTAB } from './constants.ts';
import { ElfError } from './errors.ts';
import { readElfHeader } from './header.ts';
import { noteAlignment, parseNotes, type ElfNote } from './notes.ts';
import {
  readProgramHeaders, virtualAddressToFileOffset, type ElfProgramHeader,
} from './program-headers.ts';
import { readRelocationSection, type ElfRelocationSection } from './relocations.ts';
import { readSectionTable, type ElfSection } from './sections.ts';
import { readCString } from './strings.ts';
import { readSymbolTable, type ElfSymbol } from './symbols.ts';

/**
 * A parsed ELF64 file. The file header, section headers and program headers
 * are read (and bounds-checked) by parseElf; symbols and relocations are
 * decoded on first use and cached. Section and segment data are views of the
 * input, which must therefore not be modified while the ElfFile is in use.
 */
export class ElfFile {
  /** The input, as given. */
  readonly bytes: Uint8Array;
  readonly endianness: 'little' | 'big';
  readonly littleEndian: boolean;
  /** e_ident[EI_OSABI] */
  readonly osabi: number;
  /** e_ident[EI_ABIVERSION] */
  readonly abiVersion: number;
  /** e_type: ET_REL, ET_EXEC, ET_DYN, ... */
  readonly type: number;
  /** e_machine: EM_BPF, EM_X86_64, ... */
  readonly machine: number;
  /** e_version */
  readonly version: number;
  /** e_entry */
  readonly entry: bigint;
  /** e_flags (processor-specific) */
  readonly flags: number;
  /** All sections in index order; sections[i].index === i. */
  readonly sections: readonly ElfSection[];
  /** Index of the section name string table (e_shstrndx, resolved); 0 if none. */
  readonly sectionNameTableIndex: number;
  readonly programHeaders: readonly ElfProgramHeader[];

  private cachedSectionsByName: ReadonlyMap<string, ElfSection> | undefined;
  private cachedSymbols: readonly ElfSymbol[] | undefined;
  private cachedDynamicSymbols: readonly ElfSymbol[] | undefined;
  private cachedRelocations: readonly ElfRelocationSection[] | undefined;
  private cachedRelocationSections: Map<number, ElfRelocationSection> | undefined;

  constructor(bytes: Uint8Array) {
    const { header, reader } = readElfHeader(bytes);
    const table = readSectionTable(reader, header);
    this.bytes = bytes;
    this.littleEndian = header.littleEndian;
    this.endianness = header.littleEndian ? 'little' : 'big';
    this.osabi = header.osabi;
    this.abiVersion = header.abiVersion;
    this.type = header.type;
    this.machine = header.machine;
    this.version = header.version;
    this.entry = header.entry;
    this.flags = header.flags;
    this.sections = table.sections;
    this.sectionNameTableIndex = table.nameTableIndex;
    this.programHeaders = readProgramHeaders(reader, header, table.section0Info);
  }

  /** Sections by name (built on first use); when several share a name the lowest index wins. */
  get sectionsByName(): ReadonlyMap<string, ElfSection> {
    if (this.cachedSectionsByName === undefined) {
      const byName = new Map<string, ElfSection>();
      for (const section of this.sections) {
        if (section.type !== SHT_NULL && !byName.has(section.name)) byName.set(section.name, section);
      }
      this.cachedSectionsByName = byName;
    }
    return this.cachedSectionsByName;
  }

  /** The first section called `name`. */
  section(name: string): ElfSection | undefined {
    return this.sectionsByName.get(name);
  }

  /** All sections of one SHT_* type, in index order. */
  sectionsOfType(type: number): ElfSection[] {
    return this.sections.filter((s) => s.type === type);
  }

  /** Entries of the SHT_SYMTAB section (.symtab), including the null symbol 0; [] if there is none. */
  symbols(): readonly ElfSymbol[] {
    return (this.cachedSymbols ??= this.readSymbolsOfType(SHT_SYMTAB));
  }

  /** Entries of the SHT_DYNSYM section (.dynsym), including the null symbol 0; [] if there is none. */
  dynamicSymbols(): readonly ElfSymbol[] {
    return (this.cachedDynamicSymbols ??= this.readSymbolsOfType(SHT_DYNSYM));
  }

  /** Every SHT_REL and SHT_RELA section with its entries, in section index order. */
  relocations(): readonly ElfRelocationSection[] {
    return (this.cachedRelocations ??= this.sections
      .filter((s) => s.type === SHT_REL || s.type === SHT_RELA)
      .map((s) => this.relocationSection(s)));
  }

  /**
   * The SHT_REL/SHT_RELA sections that apply to section `target` (sh_info),
   * in section index order. Only those are decoded: an object built with -g
   * has many more relocations against its debug sections.
   */
  relocationsFor(target: number): readonly ElfRelocationSection[] {
    if (this.cachedRelocations) return this.cachedRelocations.filter((r) => r.target === target);
    const out: ElfRelocationSection[] = [];
    for (const s of this.sections) {
      if ((s.type === SHT_REL || s.type === SHT_RELA) && s.info === target) out.push(this.relocationSection(s));
    }
    return out;
  }

  private relocationSection(s: ElfSection): ElfRelocationSection {
    const cache = (this.cachedRelocationSections ??= new Map());
    let r = cache.get(s.index);
    if (!r) {
      r = Object.freeze(readRelocationSection(s, this.sections, this.littleEndian));
      cache.set(s.index, r);
    }
    return r;
  }

  /**
   * Notes of a SHT_NOTE section or PT_NOTE segment (any section or segment
   * is accepted; its bytes are decoded as notes). Alignment follows
   * sh_addralign / p_align: 8 if that is 8, else 4.
   */
  notes(from: ElfSection | ElfProgramHeader): ElfNote[] {
    if ('name' in from) {
      return parseNotes(from.data, this.littleEndian, noteAlignment(from.addralign), from.description);
    }
    return parseNotes(from.data, this.littleEndian, noteAlignment(from.align), `program header ${from.index}`);
  }

  /** The NUL-terminated string at `offset` of string table section `strtabIndex`. */
  stringAt(strtabIndex: number, offset: number): string {
    const table = this.sections[strtabIndex];
    if (table === undefined) {
      throw new ElfError('ELF_NOT_FOUND', `no section ${strtabIndex} (the file has ${this.sections.length})`);
    }
    if (table.type === SHT_NOBITS || table.type === SHT_NULL) {
      throw new ElfError('ELF_MALFORMED', `${table.description} has no file data to read strings from`);
    }
    return readCString(table.data, offset, () => table.description);
  }

  /** File offset of a virtual address, via the PT_LOAD segment containing it (for uprobes). */
  virtualAddressToFileOffset(vaddr: bigint): bigint | undefined {
    return virtualAddressToFileOffset(this.programHeaders, vaddr);
  }

  private readSymbolsOfType(type: number): readonly ElfSymbol[] {
    const table = this.sections.find((s) => s.type === type);
    if (table === undefined) return Object.freeze([]);
    return Object.freeze(readSymbolTable(table, this.sections, this.littleEndian));
  }
}

/** Parses an ELF64 file (either byte order). Throws ElfError on anything malformed or truncated. */
export function parseElf(bytes: Uint8Array): ElfFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError('parseElf: expected a Uint8Array or Buffer');
  }
  return new ElfFile(bytes);
}
