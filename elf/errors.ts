/** ElfError, the error of a malformed or truncated ELF file; its codes (ElfErrorCode) are listed in errors.ts. */
import { TsbpfError, type ElfErrorCode } from '../errors.ts';

export type { ElfErrorCode };

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
