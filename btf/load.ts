/**
 * Getting BTF out of files: raw BTF (`/sys/kernel/btf/*`) or ELF objects
 * (.BTF and .BTF.ext sections).
 */
import { readFileSync } from 'node:fs';
import { Btf, type BtfParseOptions } from './btf.ts';
import { BtfError } from './errors.ts';
import { parseBtfExt, type BtfExt } from './ext.ts';
import { isElf, readElfSections } from './elf-sections.ts';

export interface LoadedBtf {
  btf: Btf;
  /** The parsed .BTF.ext of an ELF object, when it has one. */
  ext?: BtfExt;
}

/** .BTF (and .BTF.ext) of an ELF object. Throws BTF_NO_BTF when there is no .BTF section. */
export function parseElfBtf(elf: Uint8Array, opts: BtfParseOptions = {}): LoadedBtf {
  const secs = readElfSections(elf);
  const data = secs.section('.BTF');
  if (!data) throw new BtfError('BTF_NO_BTF', 'ELF file has no .BTF section');
  const btf = Btf.parse(data, opts);
  const extData = secs.section('.BTF.ext');
  return extData ? { btf, ext: parseBtfExt(extData, btf) } : { btf };
}

/** Raw BTF or an ELF object's .BTF, told apart by their magic. */
export function loadBtf(bytes: Uint8Array, opts: BtfParseOptions = {}): LoadedBtf {
  return isElf(bytes) ? parseElfBtf(bytes, opts) : { btf: Btf.parse(bytes, opts) };
}

/**
 * Read and parse a BTF file (raw or ELF). `base` may be a Btf or the path of
 * the base BTF file (e.g. '/sys/kernel/btf/vmlinux' for module BTF).
 */
export function loadBtfFile(path: string, opts: { base?: Btf | string } = {}): LoadedBtf {
  const base = typeof opts.base === 'string' ? loadBtfFile(opts.base).btf : opts.base;
  return loadBtf(readFileSync(path), base ? { base } : {});
}
