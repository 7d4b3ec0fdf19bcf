/**
 * The contents of a section that may be compressed: SHF_COMPRESSED (an
 * Elf64_Chdr, then zlib or zstd data; what `gcc -gz` and `objcopy
 * --compress-debug-sections` write) or the older GNU ".zdebug_*" form
 * ("ZLIB", a big-endian u64 size, zlib data). The stated size is a bound, not
 * a promise: inflating stops there, so a lying header costs no more memory
 * than it claims, and at most `maxBytes`.
 */
import { inflateSync } from 'node:zlib';
import { ELF64_CHDR_SIZE, ELFCOMPRESS_ZLIB, ELFCOMPRESS_ZSTD, SHF_COMPRESSED } from './constants.ts';
import { ElfError } from './errors.ts';
import type { ElfSection } from './sections.ts';

/** Largest decompressed section: 1 GiB (debug sections of the biggest binaries are a few hundred MB). */
export const MAX_DECOMPRESSED_BYTES = 1 << 30;

/** The section's bytes, decompressed when it is compressed (a view of the input when it is not). */
export function sectionContents(section: ElfSection, littleEndian: boolean, maxBytes = MAX_DECOMPRESSED_BYTES): Uint8Array {
  const data = section.data;
  if ((section.flags & SHF_COMPRESSED) !== 0n) {
    if (data.length < ELF64_CHDR_SIZE) throw new ElfError('ELF_COMPRESSION', `${section.description}: compressed, but shorter than its Elf64_Chdr`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const type = view.getUint32(0, littleEndian);
    const size = view.getBigUint64(8, littleEndian);
    if (type === ELFCOMPRESS_ZSTD) throw new ElfError('ELF_COMPRESSION', `${section.description}: zstd-compressed, which this Node (${process.version}) cannot inflate`);
    if (type !== ELFCOMPRESS_ZLIB) throw new ElfError('ELF_COMPRESSION', `${section.description}: unknown compression type ${type}`);
    return inflate(data.subarray(ELF64_CHDR_SIZE), size, maxBytes, section.description);
  }
  if (section.name.startsWith('.zdebug') && data.length >= 12 && String.fromCharCode(...data.subarray(0, 4)) === 'ZLIB') {
    const size = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(4, false);
    return inflate(data.subarray(12), size, maxBytes, section.description);
  }
  return data;
}

function inflate(compressed: Uint8Array, size: bigint, maxBytes: number, what: string): Uint8Array {
  if (size > BigInt(maxBytes)) throw new ElfError('ELF_COMPRESSION', `${what}: states ${size} decompressed bytes; at most ${maxBytes} are inflated`);
  let out: Buffer;
  try {
    // maxOutputLength caps what inflate produces (a zip bomb stops there); one byte more tells "too long".
    out = inflateSync(compressed, { maxOutputLength: Number(size) + 1 });
  } catch (e) {
    throw new ElfError('ELF_COMPRESSION', `${what}: does not inflate (${(e as Error).message})`, { cause: e });
  }
  if (out.length !== Number(size)) throw new ElfError('ELF_COMPRESSION', `${what}: inflates to ${out.length} bytes, not the ${size} its header states`);
  return out;
}
