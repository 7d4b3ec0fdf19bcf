/**
 * Minimal, bounds-checked ELF64 section lookup used to get .BTF / .BTF.ext out
 * of object files. (Kept tiny on purpose: the full reader lives in elf/.)
 */
import { BtfError } from './errors.ts';

export interface ElfSections {
  littleEndian: boolean;
  /** Zero-copy view of a section's bytes, undefined when absent (or SHT_NOBITS). */
  section(name: string): Uint8Array | undefined;
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

const SHT_NOBITS = 8;

export function readElfSections(bytes: Uint8Array): ElfSections {
  const bad = (msg: string) => new BtfError('BTF_MALFORMED', `ELF: ${msg}`);
  if (!isElf(bytes)) throw new BtfError('BTF_BAD_MAGIC', 'not an ELF file');
  if (bytes.length < 64) throw new BtfError('BTF_TRUNCATED', 'ELF: header truncated');
  if (bytes[4] !== 2) throw bad('only ELF64 is supported');
  const le = bytes[5] === 1;
  if (!le && bytes[5] !== 2) throw bad(`bad data encoding ${bytes[5]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (o: number) => {
    const v = dv.getBigUint64(o, le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('offset too large');
    return Number(v);
  };
  const shoff = u64(0x28);
  const shentsize = dv.getUint16(0x3a, le);
  let shnum = dv.getUint16(0x3c, le);
  let shstrndx = dv.getUint16(0x3e, le);
  const sections = new Map<string, Uint8Array | undefined>();
  if (shoff === 0) return { littleEndian: le, section: () => undefined };
  if (shentsize < 64) throw bad(`section header size ${shentsize}`);
  const hdr = (i: number) => {
    const o = shoff + i * shentsize;
    if (o + 64 > bytes.length) throw new BtfError('BTF_TRUNCATED', `ELF: section header ${i} truncated`);
    return o;
  };
  if (shnum === 0) shnum = Number(u64(hdr(0) + 0x20)); // extended numbering: sh_size of section 0
  if (shstrndx === 0xffff) shstrndx = dv.getUint32(hdr(0) + 0x28, le); // sh_link of section 0
  if (shnum > 0x100000) throw bad(`too many sections (${shnum})`);
  const data = (i: number): Uint8Array | undefined => {
    const o = hdr(i);
    if (dv.getUint32(o + 4, le) === SHT_NOBITS) return undefined;
    const off = u64(o + 0x18);
    const size = u64(o + 0x20);
    if (off + size > bytes.length) throw new BtfError('BTF_TRUNCATED', `ELF: section ${i} [${off}, +${size}) exceeds the file`);
    return bytes.subarray(off, off + size);
  };
  if (shstrndx >= shnum) throw bad(`section name table index ${shstrndx} >= ${shnum}`);
  const names = data(shstrndx) ?? new Uint8Array(0);
  const dec = new TextDecoder();
  for (let i = 0; i < shnum; i++) {
    const nameOff = dv.getUint32(hdr(i), le);
    if (nameOff >= names.length) continue;
    let end = names.indexOf(0, nameOff);
    if (end < 0) end = names.length;
    const name = dec.decode(names.subarray(nameOff, end));
    if (!sections.has(name)) sections.set(name, data(i));
  }
  return { littleEndian: le, section: (name) => sections.get(name) };
}
