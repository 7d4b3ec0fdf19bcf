/** ELF notes (SHT_NOTE sections, PT_NOTE segments): owner, type and descriptor of each entry. */
import { ELF_NOTE_HEADER_SIZE } from './constants.ts';
import { ElfError, hex } from './errors.ts';
import { ByteReader } from './reader.ts';
import { decodeName } from './strings.ts';

/** One entry of a SHT_NOTE section or PT_NOTE segment. */
export interface ElfNote {
  /** Owner name without its terminating NUL, e.g. "GNU", "stapsdt". */
  readonly name: string;
  /** n_type; its meaning depends on the owner (NT_GNU_BUILD_ID, NT_STAPSDT, ...). */
  readonly type: number;
  /** Zero-copy view of the descriptor bytes (without padding). */
  readonly desc: Uint8Array;
  /** Offset of this note's header within the note data. */
  readonly offset: number;
}

/**
 * Iterates the notes in `data`. Name and descriptor are each padded to
 * `alignment` bytes: 4 per the gABI; 8 for sections/segments aligned to 8
 * (e.g. .note.gnu.property on 64-bit), which is how binutils and the kernel
 * read them. Each step advances by at least the 12-byte header, so the loop
 * ends within data.length / 12 iterations whatever the fields say.
 */
export function* iterateNotes(
  data: Uint8Array,
  littleEndian: boolean,
  alignment: 4 | 8 = 4,
  what = 'note data',
): Generator<ElfNote, void, undefined> {
  const reader = new ByteReader(data, littleEndian);
  let offset = 0;
  while (offset < data.length) {
    if (data.length - offset < ELF_NOTE_HEADER_SIZE) {
      throw new ElfError(
        'ELF_TRUNCATED',
        `${what}: note at offset ${hex(offset)} has only ${data.length - offset} of ${ELF_NOTE_HEADER_SIZE} header bytes`,
      );
    }
    const nameSize = reader.u32(offset);
    const descSize = reader.u32(offset + 4);
    const type = reader.u32(offset + 8);
    // Sizes are u32, so these sums stay far below 2^53.
    const nameStart = offset + ELF_NOTE_HEADER_SIZE;
    const descStart = alignUp(nameStart + nameSize, alignment);
    const descEnd = descStart + descSize;
    if (descEnd > data.length) {
      throw new ElfError(
        'ELF_TRUNCATED',
        `${what}: note at offset ${hex(offset)} (name size ${hex(nameSize)}, desc size ${hex(descSize)}) ` +
          `extends past the end of the note data (size ${hex(data.length)})`,
      );
    }
    let nameEnd = nameStart + nameSize;
    while (nameEnd > nameStart && data[nameEnd - 1] === 0) nameEnd--; // drop the NUL terminator
    yield { name: decodeName(data, nameStart, nameEnd), type, desc: data.subarray(descStart, descEnd), offset };
    offset = alignUp(descEnd, alignment);
  }
}

/** All notes in `data` as an array; see iterateNotes. */
export function parseNotes(data: Uint8Array, littleEndian: boolean, alignment: 4 | 8 = 4, what?: string): ElfNote[] {
  return Array.from(iterateNotes(data, littleEndian, alignment, what));
}

/** Note alignment implied by a section's sh_addralign or a segment's p_align. */
export function noteAlignment(align: bigint): 4 | 8 {
  return align === 8n ? 8 : 4;
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
