import { TsbpfError } from '../errors.ts';

/**
 * Stable codes of ElfError:
 * - ELF_BAD_MAGIC: the bytes do not start with "\x7fELF".
 * - ELF_UNSUPPORTED_CLASS: not ELF64 (ELFCLASS32 or an unknown class).
 * - ELF_TRUNCATED: a header, table or section extends past the end of the input.
 * - ELF_MALFORMED: a field holds an impossible or inconsistent value.
 * - ELF_NOT_FOUND: a caller asked for something the file does not have
 *   (e.g. stringAt() on a section index that does not exist).
 */
export type ElfErrorCode =
  | 'ELF_BAD_MAGIC'
  | 'ELF_UNSUPPORTED_CLASS'
  | 'ELF_TRUNCATED'
  | 'ELF_MALFORMED'
  | 'ELF_NOT_FOUND';

/** Every problem found while reading an ELF file is reported as an ElfError. */
export class ElfError extends TsbpfError {
  declare readonly code: ElfErrorCode;

  constructor(code: ElfErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Formats a size or offset the way readelf prints them, for error messages. */
export function hex(value: number | bigint): string {
  return '0x' + value.toString(16);
}
