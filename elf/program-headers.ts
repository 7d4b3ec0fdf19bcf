import { ELF64_PHDR_SIZE, PN_XNUM, PT_LOAD } from './constants.ts';
import { ElfError } from './errors.ts';
import type { ElfHeader } from './header.ts';
import { checkFileRange, type ByteReader } from './reader.ts';

/**
 * One Elf64_Phdr. All address/size fields are the raw 64-bit values as
 * bigints (virtual addresses and uprobe offsets are 64-bit); `data` is a
 * zero-copy view of the segment's file bytes, checked to lie inside the input.
 */
export interface ElfProgramHeader {
  readonly index: number;
  /** PT_* */
  readonly type: number;
  /** PF_* bits */
  readonly flags: number;
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
  readonly align: bigint;
  readonly data: Uint8Array;
}

/**
 * Reads the program header table. With e_phnum == PN_XNUM the real count is
 * section 0's sh_info (`section0Info`).
 */
export function readProgramHeaders(
  reader: ByteReader,
  header: ElfHeader,
  section0Info: number | undefined,
): ElfProgramHeader[] {
  if (header.phoff === 0n || header.phnum === 0) return [];
  if (header.phentsize !== ELF64_PHDR_SIZE) {
    throw new ElfError('ELF_MALFORMED', `e_phentsize is ${header.phentsize}, expected ${ELF64_PHDR_SIZE} for ELF64`);
  }
  let count = header.phnum;
  if (count === PN_XNUM) {
    if (section0Info === undefined) {
      throw new ElfError('ELF_MALFORMED', 'e_phnum is PN_XNUM but there is no section 0 to hold the real count');
    }
    count = section0Info;
  }
  const tableOffset = checkFileRange(
    header.phoff,
    BigInt(count) * BigInt(ELF64_PHDR_SIZE),
    reader.length,
    `program header table (${count} entries of ${ELF64_PHDR_SIZE} bytes)`,
  );

  const headers: ElfProgramHeader[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = tableOffset + i * ELF64_PHDR_SIZE;
    const offset = reader.u64(at + 8);
    const filesz = reader.u64(at + 32);
    const start = checkFileRange(offset, filesz, reader.length, `program header ${i}`);
    headers[i] = {
      index: i,
      type: reader.u32(at),
      flags: reader.u32(at + 4),
      offset,
      vaddr: reader.u64(at + 16),
      paddr: reader.u64(at + 24),
      filesz,
      memsz: reader.u64(at + 40),
      align: reader.u64(at + 48),
      data: reader.bytes.subarray(start, start + Number(filesz)),
    };
  }
  return headers;
}

/**
 * Maps a virtual address to its file offset through the PT_LOAD segment whose
 * file-backed part [p_vaddr, p_vaddr + p_filesz) contains it. Addresses only
 * in the zero-filled tail (p_filesz..p_memsz, i.e. .bss) have no file offset.
 */
export function virtualAddressToFileOffset(
  programHeaders: readonly ElfProgramHeader[],
  vaddr: bigint,
): bigint | undefined {
  for (const ph of programHeaders) {
    if (ph.type === PT_LOAD && vaddr >= ph.vaddr && vaddr - ph.vaddr < ph.filesz) {
      return ph.offset + (vaddr - ph.vaddr);
    }
  }
  return undefined;
}
