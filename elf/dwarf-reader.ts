/**
 * What the DWARF readers share: a bounds-checked cursor over one unit
 * (fixed-size fields, LEB128 capped at 10 bytes, NUL-terminated strings that
 * must end inside the unit) and string sections read by offset, cached.
 * Every failure is an ElfError with code DWARF_MALFORMED.
 */
import { ElfError } from './errors.ts';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const utf8 = new TextDecoder('utf-8');

export function malformed(message: string): ElfError {
  return new ElfError('DWARF_MALFORMED', message);
}

/** Bounds-checked reads over [pos, end) of one buffer. */
export class Cursor {
  readonly view: DataView;
  /** The last LEB128 read: its final byte and the scale past it (sleb's sign extension). */
  #lebLast = 0;
  #lebScale = 1;
  constructor(readonly bytes: Uint8Array, public pos: number, public end: number, readonly le: boolean) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n: number, what: string): void {
    if (!(n >= 0 && this.pos + n <= this.end)) throw malformed(`${what} at offset 0x${this.pos.toString(16)} runs past the end of its unit`);
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, this.le);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, this.le);
    this.pos += 4;
    return v;
  }

  /** A u64 as a number; values past 2^53 come back as Infinity (callers treat them as invalid). */
  u64(what = 'u64'): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, this.le);
    this.pos += 8;
    return v > BigInt(MAX_SAFE) ? Infinity : Number(v);
  }

  uN(size: number, what: string): number {
    switch (size) {
      case 1: return this.u8(what);
      case 2: return this.u16(what);
      case 4: return this.u32(what);
      case 8: return this.u64(what);
      default: throw malformed(`${what}: a ${size}-byte field`);
    }
  }

  /** ULEB128 as a number (inexact past 2^53: such values fail the range checks that follow). */
  uleb(what = 'ULEB128'): number {
    let result = 0;
    let scale = 1;
    for (let n = 0; ; n++) {
      if (this.pos >= this.end) throw malformed(`${what} runs past the end of its unit`);
      if (n >= 10) throw malformed(`${what} longer than 10 bytes`);
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) {
        this.#lebScale = scale;
        this.#lebLast = b;
        return result;
      }
    }
  }

  /** SLEB128: the same bytes as ULEB128, negative when the last byte's sign bit (0x40) is set. */
  sleb(what = 'SLEB128'): number {
    const u = this.uleb(what);
    return this.#lebLast & 0x40 ? u - this.#lebScale : u;
  }

  /** A NUL-terminated string inside the unit. */
  cstring(what: string): string {
    const at = this.bytes.indexOf(0, this.pos);
    if (at < 0 || at >= this.end) throw malformed(`${what} at offset 0x${this.pos.toString(16)} is not NUL-terminated inside its unit`);
    const s = utf8.decode(this.bytes.subarray(this.pos, at));
    this.pos = at + 1;
    return s;
  }
}

/** A string section and the strings read from it by offset (units share most of their directory and file names). */
export class Strings {
  readonly #cache = new Map<number, string>();
  constructor(private readonly bytes: Uint8Array | undefined) {}
  at(offset: number, what: string): string {
    let s = this.#cache.get(offset);
    if (s === undefined) {
      s = stringAt(this.bytes, offset, what);
      this.#cache.set(offset, s);
    }
    return s;
  }
}

function stringAt(section: Uint8Array | undefined, offset: number, what: string): string {
  if (!section) throw malformed(`${what} refers to a string section the file does not have`);
  if (!(offset >= 0 && offset < section.length)) throw malformed(`${what} offset 0x${offset.toString(16)} is outside its string section (${section.length} bytes)`);
  const end = section.indexOf(0, offset);
  if (end < 0) throw malformed(`${what} at 0x${offset.toString(16)} is not NUL-terminated`);
  return utf8.decode(section.subarray(offset, end));
}


/** The string sections DW_FORM_strp and DW_FORM_line_strp point into. */
export interface StringSections {
  readonly lineStr: Strings;
  readonly str: Strings;
}

/** DW_FORM_* (DWARF 5, 7.5.6, and the GNU extensions gcc and dwz write). */
export const FORM = {
  addr: 0x01, block2: 0x03, block4: 0x04, data2: 0x05, data4: 0x06, data8: 0x07, string: 0x08, block: 0x09,
  block1: 0x0a, data1: 0x0b, flag: 0x0c, sdata: 0x0d, strp: 0x0e, udata: 0x0f, refAddr: 0x10, ref1: 0x11,
  ref2: 0x12, ref4: 0x13, ref8: 0x14, refUdata: 0x15, indirect: 0x16, secOffset: 0x17, exprloc: 0x18,
  flagPresent: 0x19, strx: 0x1a, addrx: 0x1b, refSup4: 0x1c, strpSup: 0x1d, data16: 0x1e, lineStrp: 0x1f,
  refSig8: 0x20, implicitConst: 0x21, loclistx: 0x22, rnglistx: 0x23, refSup8: 0x24, strx1: 0x25, strx2: 0x26,
  strx3: 0x27, strx4: 0x28, addrx1: 0x29, addrx2: 0x2a, addrx3: 0x2b, addrx4: 0x2c,
  gnuAddrIndex: 0x1f01, gnuStrIndex: 0x1f02, gnuRefAlt: 0x1f20, gnuStrpAlt: 0x1f21,
} as const;

/** Where an attribute's value lives: the unit's offset and address sizes and its version (DW_FORM_ref_addr is an address before v3). */
export interface FormContext {
  readonly offsetSize: number;
  readonly addressSize: number;
  readonly version: number;
  readonly strings: StringSections;
}

/**
 * Reads one attribute value of `form`: a string for the string forms this
 * file can resolve, a number for constants and offsets, undefined for what
 * lives elsewhere (strx and addrx indexes, blocks, supplementary files).
 */
export function readForm(c: Cursor, form: number, ctx: FormContext): string | number | undefined {
  switch (form) {
    case FORM.string: return c.cstring('DW_FORM_string');
    case FORM.lineStrp: return ctx.strings.lineStr.at(c.uN(ctx.offsetSize, 'DW_FORM_line_strp'), 'DW_FORM_line_strp');
    case FORM.strp: return ctx.strings.str.at(c.uN(ctx.offsetSize, 'DW_FORM_strp'), 'DW_FORM_strp');
    case FORM.secOffset: return c.uN(ctx.offsetSize, 'DW_FORM_sec_offset');
    case FORM.strpSup: case FORM.gnuStrpAlt: case FORM.gnuRefAlt: c.uN(ctx.offsetSize, 'offset'); return undefined;
    case FORM.refAddr: c.uN(ctx.version <= 2 ? ctx.addressSize : ctx.offsetSize, 'DW_FORM_ref_addr'); return undefined;
    case FORM.strx: case FORM.addrx: case FORM.loclistx: case FORM.rnglistx: case FORM.refUdata:
    case FORM.gnuAddrIndex: case FORM.gnuStrIndex:
      c.uleb('index'); return undefined;
    case FORM.udata: return c.uleb('DW_FORM_udata');
    case FORM.sdata: return c.sleb('DW_FORM_sdata');
    case FORM.data1: case FORM.flag: return c.u8();
    case FORM.ref1: case FORM.strx1: case FORM.addrx1: c.u8(); return undefined;
    case FORM.data2: return c.u16();
    case FORM.ref2: case FORM.strx2: case FORM.addrx2: c.u16(); return undefined;
    case FORM.strx3: case FORM.addrx3: return skip(c, 3);
    case FORM.data4: return c.u32();
    case FORM.ref4: case FORM.refSup4: case FORM.strx4: case FORM.addrx4: c.u32(); return undefined;
    case FORM.data8: return c.u64();
    case FORM.ref8: case FORM.refSig8: case FORM.refSup8: return skip(c, 8);
    case FORM.addr: return c.uN(ctx.addressSize, 'DW_FORM_addr');
    case FORM.flagPresent: case FORM.implicitConst: return undefined; // no bytes (implicit_const's value is in the abbreviation)
    case FORM.data16: return skip(c, 16);
    case FORM.block1: return skip(c, c.u8());
    case FORM.block2: return skip(c, c.u16());
    case FORM.block4: return skip(c, c.u32());
    case FORM.block: case FORM.exprloc: return skip(c, c.uleb('block length'));
    default: throw malformed(`unsupported form 0x${form.toString(16)}`);
  }
}

function skip(c: Cursor, n: number): undefined {
  c.need(n, 'block');
  c.pos += n;
  return undefined;
}
