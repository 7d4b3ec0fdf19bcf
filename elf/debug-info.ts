/**
 * What finds an ELF file's separate debug file and maps its addresses: the
 * GNU build-id note, the .gnu_debuglink section (file name + CRC-32), and
 * file offset -> virtual address through the PT_LOAD segments.
 */
import { NT_GNU_BUILD_ID, PT_LOAD, SHT_NOTE, PT_NOTE } from './constants.ts';
import type { ElfFile } from './file.ts';

/** The NT_GNU_BUILD_ID note's descriptor as lowercase hex, or undefined when the file has none. */
export function buildIdOf(elf: ElfFile): string | undefined {
  const sources = [...elf.sections.filter((s) => s.type === SHT_NOTE), ...elf.programHeaders.filter((p) => p.type === PT_NOTE)];
  for (const from of sources) {
    let notes;
    try {
      notes = elf.notes(from);
    } catch {
      continue; // a malformed note section elsewhere does not hide the build-id
    }
    for (const n of notes) {
      if (n.name === 'GNU' && n.type === NT_GNU_BUILD_ID && n.desc.length > 0) return toHex(n.desc);
    }
  }
  return undefined;
}

/** .gnu_debuglink: the debug file's base name and the CRC-32 of its contents. */
export interface DebugLink {
  readonly file: string;
  readonly crc: number;
}

export function debugLinkOf(elf: ElfFile): DebugLink | undefined {
  const s = elf.section('.gnu_debuglink');
  if (!s || s.data.length < 8) return undefined;
  const end = s.data.indexOf(0);
  if (end <= 0) return undefined;
  const crcAt = (end + 4) & ~3; // the name's NUL, then padding to 4
  if (crcAt + 4 > s.data.length) return undefined;
  const view = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
  const file = new TextDecoder().decode(s.data.subarray(0, end));
  if (file.includes('/')) return undefined; // a base name only: never a path out of the debug directories
  return { file, crc: view.getUint32(crcAt, elf.littleEndian) };
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE, as gnu_debuglink uses). */
export function crc32(bytes: Uint8Array): number {
  const table = (crcTable ??= (() => {
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[i] = c >>> 0;
    }
    return t;
  })());
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The virtual address file offset `offset` is loaded at: through the PT_LOAD
 * segment whose file range holds it. This is what makes PIE and non-PIE
 * alike: /proc/PID/maps gives the file offset of a runtime address.
 */
export function fileOffsetToVirtualAddress(elf: ElfFile, offset: bigint): bigint | undefined {
  for (const ph of elf.programHeaders) {
    if (ph.type === PT_LOAD && offset >= ph.offset && offset - ph.offset < ph.filesz) return ph.vaddr + (offset - ph.offset);
  }
  return undefined;
}

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
