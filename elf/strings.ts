import { ElfError, hex } from './errors.ts';

const utf8 = new TextDecoder('utf-8');
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A string table section's bytes (.strtab, .dynstr, .shstrtab) with fast
 * lookups: the table is decoded once, and when it is pure ASCII (nearly
 * always) each name is a slice of that string instead of a decoder call.
 */
export class StringTable {
  private readonly bytes: Uint8Array;
  private asciiText: string | undefined;
  private asciiChecked = false;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * The NUL-terminated string at `offset`. `what` names the reference for
   * error messages (only called on failure). The terminating NUL must lie
   * inside the table: a string running off the end means corruption.
   */
  get(offset: number, what: () => string): string {
    const bytes = this.bytes;
    if (!(offset >= 0 && offset < bytes.length)) {
      if (offset === 0 && bytes.length === 0) return ''; // offset 0 conventionally means "no name"
      throw new ElfError(
        'ELF_MALFORMED',
        `${what()}: string offset ${hex(offset)} is outside the string table (size ${hex(bytes.length)})`,
      );
    }
    if (!this.asciiChecked) {
      this.asciiChecked = true;
      const text = utf8.decode(bytes);
      if (!NON_ASCII.test(text)) this.asciiText = text; // ASCII: byte offsets == string offsets
    }
    // String indexOf is several times faster than Uint8Array indexOf in V8.
    const end = this.asciiText !== undefined ? this.asciiText.indexOf('\0', offset) : bytes.indexOf(0, offset);
    if (end < 0) {
      throw new ElfError('ELF_MALFORMED', `${what()}: string at offset ${hex(offset)} is not NUL-terminated`);
    }
    return this.asciiText !== undefined
      ? this.asciiText.slice(offset, end)
      : utf8.decode(bytes.subarray(offset, end));
  }
}

/** Reads one NUL-terminated string; see StringTable.get. */
export function readCString(table: Uint8Array, offset: number, what: () => string): string {
  return new StringTable(table).get(offset, what);
}

/** Decodes the UTF-8 string at `start` up to its NUL, or to `end` when none comes first (fixed fields, logs). */
export function cString(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const nul = bytes.subarray(start, end).indexOf(0);
  return utf8.decode(bytes.subarray(start, nul < 0 ? end : start + nul));
}

/** Decodes bytes [start, end) as UTF-8 (names that are not in a string table, e.g. note owners). */
export function decodeName(bytes: Uint8Array, start: number, end: number): string {
  return utf8.decode(bytes.subarray(start, end));
}
