import { ElfError, hex } from './errors.ts';

/**
 * Endian-aware, bounds-checked reads from the input bytes.
 *
 * Callers check every table and section range before reading from it (so that
 * errors can name the offending structure); the check here is the backstop
 * that turns any missed case into an ElfError instead of a DataView RangeError.
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
  readonly length: number;
  private readonly view: DataView;

  constructor(bytes: Uint8Array, littleEndian: boolean) {
    this.bytes = bytes;
    this.littleEndian = littleEndian;
    this.length = bytes.length;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(offset: number): number {
    this.check(offset, 1);
    return this.view.getUint8(offset);
  }

  u16(offset: number): number {
    this.check(offset, 2);
    return this.view.getUint16(offset, this.littleEndian);
  }

  u32(offset: number): number {
    this.check(offset, 4);
    return this.view.getUint32(offset, this.littleEndian);
  }

  u64(offset: number): bigint {
    this.check(offset, 8);
    return this.view.getBigUint64(offset, this.littleEndian);
  }

  i64(offset: number): bigint {
    this.check(offset, 8);
    return this.view.getBigInt64(offset, this.littleEndian);
  }

  private check(offset: number, size: number): void {
    if (!(offset >= 0 && offset + size <= this.length)) {
      throw new ElfError(
        'ELF_TRUNCATED',
        `read of ${size} bytes at offset ${hex(offset)} is past the end of the input (size ${hex(this.length)})`,
      );
    }
  }
}

/**
 * Checks that [offset, offset + size) lies inside an input of `limit` bytes
 * and returns the offset as a number. `what` names the range for the error
 * message (a function, to avoid building strings on the success path). Done in bigint so that huge 64-bit
 * values cannot overflow or lose precision before the comparison.
 */
export function checkFileRange(offset: bigint, size: bigint, limit: number, what: string | (() => string)): number {
  if (offset + size > BigInt(limit)) {
    throw new ElfError(
      'ELF_TRUNCATED',
      `${typeof what === 'string' ? what : what()}: data [offset ${hex(offset)}, size ${hex(size)}] extends past end of file (size ${hex(limit)})`,
    );
  }
  return Number(offset);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Converts a 64-bit field to a number, refusing values a number cannot hold exactly. */
export function toSafeNumber(value: bigint, what: string): number {
  if (value > MAX_SAFE) {
    throw new ElfError('ELF_MALFORMED', `${what}: value ${hex(value)} is too large`);
  }
  return Number(value);
}
