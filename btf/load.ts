/**
 * Getting BTF out of files: raw BTF (`/sys/kernel/btf/*`) or ELF objects
 * (.BTF and .BTF.ext sections).
 */
import { Btf, type BtfParseOptions } from './btf.ts';
import { BtfError } from './errors.ts';
import { parseBtfExt, type BtfExt } from './ext.ts';
import { parseElf, readRegularFile, type ElfFile } from '../elf/index.ts';

export interface LoadedBtf {
  btf: Btf;
  /** The parsed .BTF.ext of an ELF object, when it has one. */
  ext?: BtfExt;
}

/** Does `bytes` start with the ELF magic? */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/**
 * .BTF (and .BTF.ext) of an ELF object (bytes, or an ElfFile from elf/).
 * Throws BTF_NO_BTF when there is no .BTF section; ElfError for a broken ELF.
 */
export function parseElfBtf(elf: Uint8Array | ElfFile, opts: BtfParseOptions = {}): LoadedBtf {
  const file = elf instanceof Uint8Array ? parseElf(elf) : elf;
  const data = file.section('.BTF')?.data;
  if (!data) throw new BtfError('BTF_NO_BTF', 'ELF file has no .BTF section');
  const btf = Btf.parse(data, opts);
  const extData = file.section('.BTF.ext')?.data;
  return extData ? { btf, ext: parseBtfExt(extData, btf) } : { btf };
}

/** Raw BTF or an ELF object's .BTF, told apart by their magic. */
export function loadBtf(bytes: Uint8Array, opts: BtfParseOptions = {}): LoadedBtf {
  return isElf(bytes) ? parseElfBtf(bytes, opts) : { btf: Btf.parse(bytes, opts) };
}

/**
 * Read and parse a BTF file (raw or ELF). `base` may be a Btf or the path of
 * the base BTF file (e.g. '/sys/kernel/btf/vmlinux' for module BTF).
 * Throws FileReadError (ENOENT, FILE_NOT_REGULAR, FILE_TOO_LARGE, ...) when
 * the file cannot be read.
 */
export function loadBtfFile(path: string, opts: { base?: Btf | string } = {}): LoadedBtf {
  const base = typeof opts.base === 'string' ? loadBtfFile(opts.base).btf : opts.base;
  return loadBtf(readRegularFile(path, 'BTF file'), base ? { base } : {});
}
