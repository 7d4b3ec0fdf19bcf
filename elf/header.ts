/** ELF64 file header (Elf64_Ehdr): e_ident validation and the fields parseElf needs. */
import {
  EI_ABIVERSION, EI_CLASS, EI_DATA, EI_NIDENT, EI_OSABI, EI_VERSION, ELF64_EHDR_SIZE, ELF_MAGIC,
  ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB,
} from './constants.ts';
import { ElfError, hex } from './errors.ts';
import { ByteReader } from './reader.ts';

/** The ELF64 file header (Elf64_Ehdr), fields as stored in the file. */
export interface ElfHeader {
  readonly littleEndian: boolean;
  readonly identVersion: number;
  readonly osabi: number;
  readonly abiVersion: number;
  readonly type: number;
  readonly machine: number;
  readonly version: number;
  readonly entry: bigint;
  readonly phoff: bigint;
  readonly shoff: bigint;
  readonly flags: number;
  readonly ehsize: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

/** Validates e_ident and reads the file header; returns a reader in the file's byte order. */
export function readElfHeader(bytes: Uint8Array): { header: ElfHeader; reader: ByteReader } {
  if (bytes.length === 0) throw new ElfError('ELF_BAD_MAGIC', 'not an ELF file: input is empty');
  // Compare only the bytes present, so a truncated magic is reported as truncation.
  if (!ELF_MAGIC.every((b, i) => i >= bytes.length || bytes[i] === b)) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ElfError('ELF_BAD_MAGIC', `not an ELF file: magic is ${got}, expected 7f 45 4c 46`);
  }
  if (bytes.length < EI_NIDENT) {
    throw new ElfError('ELF_TRUNCATED', `ELF identification truncated: ${bytes.length} of ${EI_NIDENT} bytes`);
  }
  const elfClass = bytes[EI_CLASS]!;
  if (elfClass === ELFCLASS32) {
    throw new ElfError('ELF_UNSUPPORTED_CLASS', 'ELF32 (ELFCLASS32) files are not supported; only ELF64');
  }
  if (elfClass !== ELFCLASS64) {
    throw new ElfError('ELF_UNSUPPORTED_CLASS', `unknown ELF class ${elfClass} (EI_CLASS); only ELF64 is supported`);
  }
  const data = bytes[EI_DATA]!;
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) {
    throw new ElfError('ELF_MALFORMED', `unknown data encoding ${data} (EI_DATA); expected 1 (little) or 2 (big endian)`);
  }
  if (bytes.length < ELF64_EHDR_SIZE) {
    throw new ElfError('ELF_TRUNCATED', `ELF header truncated: file is ${hex(bytes.length)} bytes, header needs ${hex(ELF64_EHDR_SIZE)}`);
  }

  const reader = new ByteReader(bytes, data === ELFDATA2LSB);
  const header: ElfHeader = {
    littleEndian: reader.littleEndian,
    identVersion: bytes[EI_VERSION]!,
    osabi: bytes[EI_OSABI]!,
    abiVersion: bytes[EI_ABIVERSION]!,
    type: reader.u16(16),
    machine: reader.u16(18),
    version: reader.u32(20),
    entry: reader.u64(24),
    phoff: reader.u64(32),
    shoff: reader.u64(40),
    flags: reader.u32(48),
    ehsize: reader.u16(52),
    phentsize: reader.u16(54),
    phnum: reader.u16(56),
    shentsize: reader.u16(58),
    shnum: reader.u16(60),
    shstrndx: reader.u16(62),
  };
  return { header, reader };
}
