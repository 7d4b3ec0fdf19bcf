/**
 * The one thing the line reader needs from .debug_info: each compilation
 * unit's DW_AT_comp_dir, keyed by its DW_AT_stmt_list (the offset of its line
 * program). Only the root DIE of every unit is decoded (its abbreviation
 * looked up in .debug_abbrev); the rest of the unit is skipped by its length.
 * Bounded like the line reader: a unit or abbreviation that does not decode
 * is skipped, and nothing loops without reading.
 */
import { Cursor, FORM, readForm, Strings, type FormContext } from './dwarf-reader.ts';
import { ElfError } from './errors.ts';

export interface DebugInfoInput {
  readonly debugInfo: Uint8Array;
  readonly debugAbbrev: Uint8Array;
  readonly debugStr?: Uint8Array;
  readonly debugLineStr?: Uint8Array;
  readonly littleEndian: boolean;
}

const DW_AT_STMT_LIST = 0x10;
const DW_AT_COMP_DIR = 0x1b;
const DW_UT_COMPILE = 1, DW_UT_PARTIAL = 3, DW_UT_SKELETON = 4;

/** .debug_line offset -> compilation directory, for every unit whose root DIE has both. */
export function compilationDirs(input: DebugInfoInput): Map<number, string> {
  const info = plain(input.debugInfo);
  const abbrev = plain(input.debugAbbrev);
  const strings = { lineStr: new Strings(input.debugLineStr), str: new Strings(input.debugStr) };
  const out = new Map<number, string>();
  let pos = 0;
  while (pos + 4 <= info.length) {
    const c = new Cursor(info, pos, info.length, input.littleEndian);
    let end: number;
    let offsetSize = 4;
    try {
      const len32 = c.u32('unit length');
      if (len32 === 0xffff_ffff) {
        offsetSize = 8;
        end = c.pos + c.u64('unit length');
      } else if (len32 >= 0xffff_fff0) {
        break;
      } else {
        end = c.pos + len32;
      }
    } catch {
      break;
    }
    if (!(end <= info.length)) break;
    c.end = end;
    try {
      const found = rootDie(c, offsetSize, abbrev, strings, input.littleEndian);
      if (found && !out.has(found.stmtList)) out.set(found.stmtList, found.compDir);
    } catch (e) {
      if (!(e instanceof ElfError)) throw e;
    }
    pos = end;
  }
  return out;
}

function rootDie(c: Cursor, offsetSize: number, abbrev: Uint8Array, strings: FormContext['strings'], le: boolean): { stmtList: number; compDir: string } | undefined {
  const version = c.u16('version');
  let addressSize: number;
  let abbrevOffset: number;
  if (version >= 5) {
    const type = c.u8('unit type');
    if (type !== DW_UT_COMPILE && type !== DW_UT_PARTIAL && type !== DW_UT_SKELETON) return undefined;
    addressSize = c.u8('address size');
    abbrevOffset = c.uN(offsetSize, 'abbreviation offset');
    if (type === DW_UT_SKELETON) c.u64('dwo id');
  } else if (version >= 2) {
    abbrevOffset = c.uN(offsetSize, 'abbreviation offset');
    addressSize = c.u8('address size');
  } else {
    return undefined;
  }
  const code = c.uleb('abbreviation code');
  if (code === 0) return undefined;
  const attrs = findAbbreviation(abbrev, abbrevOffset, code, le);
  if (!attrs) return undefined;
  const ctx: FormContext = { offsetSize, addressSize, version, strings };
  let stmtList: number | undefined;
  let compDir: string | undefined;
  for (let [attr, form] of attrs) {
    if (form === FORM.indirect) form = c.uleb('indirect form');
    const v = readForm(c, form, ctx);
    if (attr === DW_AT_STMT_LIST && typeof v === 'number') stmtList = v;
    else if (attr === DW_AT_COMP_DIR && typeof v === 'string') compDir = v;
    if (stmtList !== undefined && compDir !== undefined) return { stmtList, compDir };
  }
  return undefined;
}

/** The (attribute, form) list of abbreviation `code` in the table at `offset`, or undefined. */
function findAbbreviation(abbrev: Uint8Array, offset: number, code: number, le: boolean): [number, number][] | undefined {
  if (!(offset >= 0 && offset < abbrev.length)) return undefined;
  const c = new Cursor(abbrev, offset, abbrev.length, le);
  for (;;) {
    const at = c.pos;
    const n = c.uleb('abbreviation code');
    if (n === 0) return undefined;
    c.uleb('tag');
    c.u8('children');
    const attrs: [number, number][] = [];
    for (;;) {
      const attr = c.uleb('attribute');
      const form = c.uleb('form');
      if (attr === 0 && form === 0) break;
      if (form === FORM.implicitConst) c.sleb('implicit constant');
      if (n === code) attrs.push([attr, form]);
    }
    if (n === code) return attrs;
    if (c.pos === at) return undefined; // cannot happen (every entry reads bytes); a guard against spinning
  }
}

function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
