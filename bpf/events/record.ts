/**
 * The record a ring buffer or perf buffer reader hands to a synchronous
 * callback: a zero-copy window onto the ring, valid only during the call.
 *
 * One RecordView per reader is re-pointed at each record (no allocation per
 * record). Its backing views are private (TypeScript `private`: plain
 * properties at run time, which V8 reads as fast as any field; symbol keys or
 * #private names cost a context load and a check per access in the hot
 * loop), and once the callback has returned every accessor throws
 * `RECORD_EXPIRED`, so a record kept past its callback cannot read bytes the
 * kernel may already be overwriting. `bytes()` is the deliberate exception (a
 * zero-copy Uint8Array, documented as valid only during the callback; after
 * close() it reads zeros, see syscall/poll.ts); `copy()` is what to keep.
 */
import { TsbpfError } from '../../errors.ts';
import { CodecError, type Codec } from '../../btf/codec.ts';

const EMPTY = new ArrayBuffer(0);
const EMPTY_DV = new DataView(EMPTY);
const EMPTY_U8 = new Uint8Array(EMPTY);
const EMPTY_U32 = new Uint32Array(EMPTY);

export class RecordExpiredError extends TsbpfError {
  declare readonly code: 'RECORD_EXPIRED';
  constructor() {
    super('RECORD_EXPIRED', 'tsbpf: a ring record was used after its callback returned; keep record.copy(), not the record');
  }
}

function outside(r: RecordView, o: number, n: number): never {
  const len = r['_len'];
  if (len < 0) throw new RecordExpiredError();
  throw new RangeError(`offset ${o} + ${n} is outside the ${len}-byte record`);
}

export class RecordView {
  // The record is [_off, _off + _len) of _dv/_u8/_u32 (three views of the same
  // bytes from the same 4-aligned start); _len < 0 once it expired.
  private _dv: DataView = EMPTY_DV;
  private _u8: Uint8Array = EMPTY_U8;
  private _u32: Uint32Array = EMPTY_U32;
  private _off = 0;
  private _len = -1;
  private _src = -1;
  private readonly _cpu: boolean;

  /** @internal */
  constructor(kind: 'ring' | 'cpu') {
    this._cpu = kind === 'cpu';
  }

  /** Whether the record may be read (only during its callback). */
  get valid(): boolean {
    return this._len >= 0;
  }

  /** Payload length in bytes. */
  get length(): number {
    const n = this._len;
    if (n < 0) throw new RecordExpiredError();
    return n;
  }

  /** Index of the ring buffer (in the reader) the record came from; -1 for perf records. */
  get ring(): number {
    return this._cpu ? -1 : this._src;
  }

  /** CPU whose perf buffer held the record; -1 for ring buffer records. */
  get cpu(): number {
    return this._cpu ? this._src : -1;
  }

  // Every accessor checks its range inline (a helper method would cost a call
  // or a brand check per access once inlined into the caller's loop).

  getUint8(o: number): number {
    if (!(o >= 0 && o + 1 <= this._len)) outside(this, o, 1);
    return this._u8[this._off + o]!;
  }
  getInt8(o: number): number {
    if (!(o >= 0 && o + 1 <= this._len)) outside(this, o, 1);
    return this._dv.getInt8(this._off + o);
  }
  getUint16(o: number, littleEndian = true): number {
    if (!(o >= 0 && o + 2 <= this._len)) outside(this, o, 2);
    return this._dv.getUint16(this._off + o, littleEndian);
  }
  getInt16(o: number, littleEndian = true): number {
    if (!(o >= 0 && o + 2 <= this._len)) outside(this, o, 2);
    return this._dv.getInt16(this._off + o, littleEndian);
  }
  getUint32(o: number, littleEndian = true): number {
    if (!(o >= 0 && o + 4 <= this._len)) outside(this, o, 4);
    const p = this._off + o;
    // Aligned little-endian reads go through the Uint32Array (tsbpf's hosts are little-endian).
    if ((p & 3) === 0 && littleEndian) return this._u32[p >> 2]!;
    return this._dv.getUint32(p, littleEndian);
  }
  getInt32(o: number, littleEndian = true): number {
    if (!(o >= 0 && o + 4 <= this._len)) outside(this, o, 4);
    return this._dv.getInt32(this._off + o, littleEndian);
  }
  /** A little-endian u64 as a number: exact below 2^53, no BigInt allocated. */
  getUint64(o: number): number {
    if (!(o >= 0 && o + 8 <= this._len)) outside(this, o, 8);
    const p = this._off + o;
    if ((p & 3) === 0) {
      const u = this._u32;
      const i = p >> 2;
      return u[i + 1]! * 4294967296 + u[i]!;
    }
    const dv = this._dv;
    return dv.getUint32(p + 4, true) * 4294967296 + dv.getUint32(p, true);
  }
  getBigUint64(o: number, littleEndian = true): bigint {
    if (!(o >= 0 && o + 8 <= this._len)) outside(this, o, 8);
    return this._dv.getBigUint64(this._off + o, littleEndian);
  }
  getBigInt64(o: number, littleEndian = true): bigint {
    if (!(o >= 0 && o + 8 <= this._len)) outside(this, o, 8);
    return this._dv.getBigInt64(this._off + o, littleEndian);
  }
  getFloat32(o: number, littleEndian = true): number {
    if (!(o >= 0 && o + 4 <= this._len)) outside(this, o, 4);
    return this._dv.getFloat32(this._off + o, littleEndian);
  }
  getFloat64(o: number, littleEndian = true): number {
    if (!(o >= 0 && o + 8 <= this._len)) outside(this, o, 8);
    return this._dv.getFloat64(this._off + o, littleEndian);
  }

  /**
   * The payload decoded through a codec (a BTF codec of the record's struct,
   * say), in place: the decoded value is the only allocation. A record
   * shorter than the codec is CODEC_TRUNCATED; a longer one is decoded from
   * its start.
   */
  decode<T>(codec: Codec<T>): T {
    const len = this._len;
    if (len < 0) throw new RecordExpiredError();
    if (codec.size > len) throw new CodecError('CODEC_TRUNCATED', `a ${len}-byte record is shorter than the ${codec.size} bytes its codec decodes`);
    return codec.decode(this._u8, this._dv, this._off);
  }

  /** A copy of the payload (or of `[start, end)` of it), safe to keep. */
  copy(start = 0, end = this.length): Buffer {
    const len = this.length;
    if (start < 0 || end > len || start > end) throw new RangeError(`bad range [${start}, ${end}) of a ${len}-byte record`);
    return Buffer.copyBytesFrom(this._u8, this._off + start, end - start);
  }

  /** Copy the payload into `dst` at `at`; returns the bytes copied. */
  copyTo(dst: Uint8Array, at = 0): number {
    const len = this.length;
    const n = Math.min(len, dst.byteLength - at);
    dst.set(this._u8.subarray(this._off, this._off + n), at);
    return n;
  }

  /**
   * The payload itself, zero-copy. Valid only until the callback returns: after
   * that the kernel may reuse the bytes (and after the reader is closed they
   * read as zeros). Use copy() to keep data.
   */
  bytes(): Uint8Array {
    const len = this.length;
    const u8 = this._u8;
    return new Uint8Array(u8.buffer, u8.byteOffset + this._off, len);
  }
}

/**
 * Point a record at `[off, off + len)` of its current backing. (The readers'
 * hot loops assign `_off`/`_len` themselves rather than call this.)
 */
export function pointRecord(r: RecordView, off: number, len: number): void {
  r['_off'] = off;
  r['_len'] = len;
}

/**
 * Give a record a backing (a ring's data area, or a scratch copy) and its
 * source index. The three views cover the same bytes from the same 4-aligned
 * start.
 */
export function backRecord(r: RecordView, dv: DataView, u8: Uint8Array, u32: Uint32Array, src: number): void {
  r['_dv'] = dv;
  r['_u8'] = u8;
  r['_u32'] = u32;
  r['_src'] = src;
}

/** End a record's validity: every accessor throws from now on. */
export function expireRecord(r: RecordView): void {
  r['_len'] = -1;
  r['_dv'] = EMPTY_DV;
  r['_u8'] = EMPTY_U8;
  r['_u32'] = EMPTY_U32;
}

export type RecordCallback = (record: RecordView) => void | boolean;
