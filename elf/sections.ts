import {
  ELF64_SHDR_SIZE, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT_NOBITS, SHT_NULL,
} from './constants.ts';
import { ElfError, hex } from './errors.ts';
import type { ElfHeader } from './header.ts';
import { checkFileRange, toSafeNumber, type ByteReader } from './reader.ts';
import { StringTable } from './strings.ts';

/**
 * One section header plus a view of the section's bytes.
 *
 * `offset` and `size` are numbers: for sections with file data they were
 * checked to lie inside the input; for SHT_NOBITS / SHT_NULL (no file data)
 * they were checked to be safe integers. `flags`, `addr`, `addralign` and
 * `entsize` are the raw 64-bit fields as bigints (compare flags with the
 * bigint SHF_* constants); they and `data` are materialised on first access,
 * which keeps parsing files with tens of thousands of sections cheap.
 */
export class ElfSection {
  readonly index: number;
  readonly name: string;
  /** sh_name: offset of the name in the section name string table. */
  readonly nameOffset: number;
  /** SHT_* */
  readonly type: number;
  readonly offset: number;
  /** Size in memory; for SHT_NOBITS larger than `data.length` (which is 0). */
  readonly size: number;
  readonly link: number;
  readonly info: number;

  private readonly reader: ByteReader;
  private readonly headerOffset: number;
  private view: Uint8Array | undefined;

  /** @internal Built by readSectionTable after the header's fields were validated. */
  constructor(
    reader: ByteReader, headerOffset: number, index: number, name: string, nameOffset: number,
    type: number, offset: number, size: number, link: number, info: number,
  ) {
    this.reader = reader;
    this.headerOffset = headerOffset;
    this.index = index;
    this.name = name;
    this.nameOffset = nameOffset;
    this.type = type;
    this.offset = offset;
    this.size = size;
    this.link = link;
    this.info = info;
  }

  /** sh_flags (SHF_* bits). */
  get flags(): bigint {
    return this.reader.u64(this.headerOffset + 8);
  }

  /** sh_addr */
  get addr(): bigint {
    return this.reader.u64(this.headerOffset + 16);
  }

  /** sh_addralign */
  get addralign(): bigint {
    return this.reader.u64(this.headerOffset + 48);
  }

  /** sh_entsize */
  get entsize(): bigint {
    return this.reader.u64(this.headerOffset + 56);
  }

  /** Zero-copy view of the section's bytes in the input; empty for SHT_NOBITS and SHT_NULL. */
  get data(): Uint8Array {
    if (this.view === undefined) {
      this.view = hasFileData(this.type)
        ? this.reader.bytes.subarray(this.offset, this.offset + this.size)
        : this.reader.bytes.subarray(0, 0);
    }
    return this.view;
  }

  /** True for SHT_NOBITS sections (.bss): they occupy memory but no file bytes. */
  get isNobits(): boolean {
    return this.type === SHT_NOBITS;
  }

  /** "section 7 (.BTF)", for error messages. */
  get description(): string {
    return describeSection(this.index, this.name);
  }
}

const hasFileData = (type: number): boolean => type !== SHT_NOBITS && type !== SHT_NULL;

export function describeSection(index: number, name: string | undefined): string {
  return name ? `section ${index} (${name})` : `section ${index}`;
}

/** The fields of an Elf64_Shdr that parsing needs up front. */
interface RawSectionHeader {
  name: number;
  type: number;
  offset: bigint;
  size: bigint;
  link: number;
  info: number;
}

function readRawSectionHeader(reader: ByteReader, at: number): RawSectionHeader {
  return {
    name: reader.u32(at),
    type: reader.u32(at + 4),
    offset: reader.u64(at + 24),
    size: reader.u64(at + 32),
    link: reader.u32(at + 40),
    info: reader.u32(at + 44),
  };
}

export interface SectionTable {
  readonly sections: ElfSection[];
  /** Index of the section name string table after SHN_XINDEX resolution; 0 if none. */
  readonly nameTableIndex: number;
  /** Section 0's sh_info: holds the real program header count when e_phnum is PN_XNUM. */
  readonly section0Info: number | undefined;
}

/**
 * Reads the section header table, resolving extended numbering (e_shnum == 0
 * and e_shstrndx == SHN_XINDEX both defer to fields of section 0), names every
 * section, and bounds-checks every section's data before creating its view.
 */
export function readSectionTable(reader: ByteReader, header: ElfHeader): SectionTable {
  const fileSize = reader.length;
  if (header.shoff === 0n) {
    if (header.shnum !== 0) {
      throw new ElfError('ELF_MALFORMED', `e_shnum is ${header.shnum} but e_shoff is 0 (no section header table)`);
    }
    return { sections: [], nameTableIndex: 0, section0Info: undefined };
  }
  if (header.shentsize !== ELF64_SHDR_SIZE) {
    throw new ElfError('ELF_MALFORMED', `e_shentsize is ${header.shentsize}, expected ${ELF64_SHDR_SIZE} for ELF64`);
  }

  // Section 0 must be readable to resolve extended numbering.
  const tableOffset = checkFileRange(header.shoff, BigInt(ELF64_SHDR_SIZE), fileSize, 'section header 0');
  const section0 = readRawSectionHeader(reader, tableOffset);

  let countField = BigInt(header.shnum);
  if (header.shnum === 0) countField = section0.size; // extended numbering: >= SHN_LORESERVE sections
  if (countField === 0n) return { sections: [], nameTableIndex: 0, section0Info: section0.info };
  // Check the whole table against the file size before looping or allocating.
  checkFileRange(
    header.shoff,
    countField * BigInt(ELF64_SHDR_SIZE),
    fileSize,
    `section header table (${countField} entries of ${ELF64_SHDR_SIZE} bytes)`,
  );
  const count = Number(countField);

  let nameTableIndex = header.shstrndx;
  if (nameTableIndex === SHN_XINDEX) nameTableIndex = section0.link;
  else if (nameTableIndex >= SHN_LORESERVE) {
    throw new ElfError('ELF_MALFORMED', `e_shstrndx ${hex(nameTableIndex)} is a reserved section index`);
  }
  if (nameTableIndex >= count) {
    throw new ElfError('ELF_MALFORMED', `section name table index ${nameTableIndex} is out of range (${count} sections)`);
  }

  // Name table first: every other section's name (and error message) depends on it.
  let nameTable = new StringTable(new Uint8Array(0));
  if (nameTableIndex !== SHN_UNDEF) {
    const raw = readRawSectionHeader(reader, tableOffset + nameTableIndex * ELF64_SHDR_SIZE);
    if (!hasFileData(raw.type)) {
      throw new ElfError('ELF_MALFORMED', `section name table (section ${nameTableIndex}) has no file data (type ${raw.type})`);
    }
    nameTable = new StringTable(sectionData(reader, raw, `section ${nameTableIndex} (section name table)`));
  }

  const sections: ElfSection[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = tableOffset + i * ELF64_SHDR_SIZE;
    const raw = i === 0 ? section0 : readRawSectionHeader(reader, at);
    const name = nameTableIndex === SHN_UNDEF
      ? ''
      : nameTable.get(raw.name, () => `name of section ${i}`);
    let offset: number;
    let size: number;
    if (hasFileData(raw.type)) {
      offset = checkFileRange(raw.offset, raw.size, fileSize, () => describeSection(i, name));
      size = Number(raw.size);
    } else {
      offset = toSafeNumber(raw.offset, `${describeSection(i, name)}: sh_offset`);
      size = toSafeNumber(raw.size, `${describeSection(i, name)}: sh_size`);
    }
    sections[i] = new ElfSection(reader, at, i, name, raw.name, raw.type, offset, size, raw.link, raw.info);
  }
  return { sections, nameTableIndex, section0Info: section0.info };
}

function sectionData(reader: ByteReader, raw: RawSectionHeader, what: string): Uint8Array {
  const start = checkFileRange(raw.offset, raw.size, reader.length, what);
  return reader.bytes.subarray(start, start + Number(raw.size));
}
