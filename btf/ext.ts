/**
 * .BTF.ext: per-section func_info, line_info and CO-RE relocation records
 * (the layout libbpf and the kernel use; see libbpf's btf_ext_header). Each
 * info block starts with its record size; newer compilers may write larger
 * records, of which the known prefix is read.
 */
import { BtfError } from './errors.ts';
import type { Btf } from './btf.ts';

export const BTF_EXT_HEADER_MIN = 24;
export const BTF_EXT_HEADER_CORE = 32;

export interface BtfExtHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  funcInfoOff: number;
  funcInfoLen: number;
  lineInfoOff: number;
  lineInfoLen: number;
  /** 0 when the header has no CO-RE part (hdrLen < 32). */
  coreReloOff: number;
  coreReloLen: number;
}

/** `struct bpf_func_info` */
export interface BtfFuncInfo {
  /** Offset of the function's first instruction in its ELF section, in bytes (as stored in object files). */
  insnOff: number;
  /** FUNC type id. */
  typeId: number;
}

/** `struct bpf_line_info` */
export interface BtfLineInfo {
  /** In bytes, as stored in object files. */
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  /** line_col >> 10 */
  line: number;
  /** line_col & 0x3ff */
  column: number;
  /** Resolved from the BTF string section when a Btf was given. */
  fileName?: string;
  /** The source line text, resolved when a Btf was given. */
  lineText?: string;
}

/** `enum bpf_core_relo_kind` */
export const CORE_RELO_KINDS = [
  'field_byte_offset',
  'field_byte_size',
  'field_exists',
  'field_signed',
  'field_lshift_u64',
  'field_rshift_u64',
  'type_id_local',
  'type_id_target',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
] as const;
export type CoreReloKindName = (typeof CORE_RELO_KINDS)[number];

/** `struct bpf_core_relo` */
export interface BtfCoreRelo {
  /** In bytes, as stored in object files. */
  insnOff: number;
  /** Local (program BTF) root type id. */
  typeId: number;
  accessStrOff: number;
  /** Numeric `bpf_core_relo_kind`. */
  kind: number;
  /** Its name, undefined for kinds newer than this library. */
  kindName: CoreReloKindName | undefined;
  /** Access string ("0:1:2"), resolved when a Btf was given. */
  accessStr?: string;
}

export interface BtfExtSection<T> {
  /** ELF section name (e.g. "kprobe/sys_open"), resolved when a Btf was given, else ''. */
  name: string;
  nameOff: number;
  records: T[];
}

export interface BtfExt {
  littleEndian: boolean;
  header: BtfExtHeader;
  /** Record sizes as written in the file (0 when the block is absent). */
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  coreReloRecSize: number;
  funcInfo: BtfExtSection<BtfFuncInfo>[];
  lineInfo: BtfExtSection<BtfLineInfo>[];
  coreRelos: BtfExtSection<BtfCoreRelo>[];
}

/**
 * Parse a .BTF.ext blob. With `btf` (the object's .BTF), section names, file
 * names, source lines and access strings are resolved (and validated).
 */
export function parseBtfExt(bytes: Uint8Array, btf?: Btf): BtfExt {
  if (bytes.length < 8) throw new BtfError('BTF_TRUNCATED', `BTF.ext header truncated: ${bytes.length} bytes`);
  let le: boolean;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) le = true;
  else if (bytes[0] === 0xeb && bytes[1] === 0x9f) le = false;
  else throw new BtfError('BTF_BAD_MAGIC', `bad BTF.ext magic 0x${((bytes[0]! << 8) | bytes[1]!).toString(16)}`);
  if (bytes[2] !== 1) throw new BtfError('BTF_BAD_VERSION', `unsupported BTF.ext version ${bytes[2]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < BTF_EXT_HEADER_MIN) throw new BtfError('BTF_MALFORMED', `BTF.ext header length ${hdrLen} < ${BTF_EXT_HEADER_MIN}`);
  if (hdrLen > bytes.length || bytes.length < BTF_EXT_HEADER_MIN) {
    throw new BtfError('BTF_TRUNCATED', `BTF.ext header (${hdrLen} bytes) truncated: ${bytes.length} bytes`);
  }
  const core = hdrLen >= BTF_EXT_HEADER_CORE;
  const header: BtfExtHeader = {
    magic: 0xeb9f,
    version: 1,
    flags: bytes[3]!,
    hdrLen,
    funcInfoOff: dv.getUint32(8, le),
    funcInfoLen: dv.getUint32(12, le),
    lineInfoOff: dv.getUint32(16, le),
    lineInfoLen: dv.getUint32(20, le),
    coreReloOff: core ? dv.getUint32(24, le) : 0,
    coreReloLen: core ? dv.getUint32(28, le) : 0,
  };
  const str = (off: number, what: string): string | undefined => {
    if (!btf) return undefined;
    try {
      return btf.stringAt(off);
    } catch (e) {
      if (e instanceof BtfError) throw new BtfError('BTF_MALFORMED', `BTF.ext ${what}: ${e.message}`, { cause: e });
      throw e;
    }
  };

  function block<T>(
    what: string,
    off: number,
    len: number,
    minRec: number,
    rec: (o: number) => T,
  ): { recSize: number; sections: BtfExtSection<T>[] } {
    if (len === 0) return { recSize: 0, sections: [] };
    const start = hdrLen + off;
    const end = start + len;
    if (end > bytes.length) throw new BtfError('BTF_TRUNCATED', `BTF.ext ${what} [${off}, +${len}) exceeds the data`);
    if (off % 4) throw new BtfError('BTF_MALFORMED', `BTF.ext ${what} offset ${off} is not 4-byte aligned`);
    if (len < 4) throw new BtfError('BTF_TRUNCATED', `BTF.ext ${what} has no record size`);
    const recSize = dv.getUint32(start, le);
    if (recSize < minRec || recSize % 4) throw new BtfError('BTF_MALFORMED', `BTF.ext ${what} record size ${recSize} (need >= ${minRec}, multiple of 4)`);
    const sections: BtfExtSection<T>[] = [];
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw new BtfError('BTF_TRUNCATED', `BTF.ext ${what} section header truncated`);
      const nameOff = dv.getUint32(p, le);
      const num = dv.getUint32(p + 4, le);
      p += 8;
      if (num === 0) throw new BtfError('BTF_MALFORMED', `BTF.ext ${what} section with no records`);
      if (num * recSize > end - p) {
        throw new BtfError('BTF_TRUNCATED', `BTF.ext ${what}: ${num} records of ${recSize} bytes exceed the block`);
      }
      const name = str(nameOff, `${what} section name`) ?? '';
      if (btf && name === '') throw new BtfError('BTF_MALFORMED', `BTF.ext ${what}: empty section name`);
      const records: T[] = new Array(num);
      for (let i = 0; i < num; i++, p += recSize) records[i] = rec(p);
      sections.push({ name, nameOff, records });
    }
    return { recSize, sections };
  }

  const checkType = (id: number, what: string) => {
    if (btf && id >= btf.length) throw new BtfError('BTF_MALFORMED', `BTF.ext ${what}: type id ${id} beyond the last type ${btf.length - 1}`);
    return id;
  };

  const fi = block('func_info', header.funcInfoOff, header.funcInfoLen, 8, (o) => ({
    insnOff: dv.getUint32(o, le),
    typeId: checkType(dv.getUint32(o + 4, le), 'func_info'),
  }));
  const li = block('line_info', header.lineInfoOff, header.lineInfoLen, 16, (o) => {
    const lineCol = dv.getUint32(o + 12, le);
    const r: BtfLineInfo = {
      insnOff: dv.getUint32(o, le),
      fileNameOff: dv.getUint32(o + 4, le),
      lineOff: dv.getUint32(o + 8, le),
      line: lineCol >>> 10,
      column: lineCol & 0x3ff,
    };
    if (btf) {
      r.fileName = str(r.fileNameOff, 'line_info file name');
      r.lineText = str(r.lineOff, 'line_info line');
    }
    return r;
  });
  const cr = core
    ? block('core_relo', header.coreReloOff, header.coreReloLen, 16, (o) => {
        const kind = dv.getUint32(o + 12, le);
        const r: BtfCoreRelo = {
          insnOff: dv.getUint32(o, le),
          typeId: checkType(dv.getUint32(o + 4, le), 'core_relo'),
          accessStrOff: dv.getUint32(o + 8, le),
          kind,
          kindName: CORE_RELO_KINDS[kind],
        };
        if (btf) r.accessStr = str(r.accessStrOff, 'core_relo access string');
        return r;
      })
    : { recSize: 0, sections: [] };
  return {
    littleEndian: le,
    header,
    funcInfoRecSize: fi.recSize,
    lineInfoRecSize: li.recSize,
    coreReloRecSize: cr.recSize,
    funcInfo: fi.sections,
    lineInfo: li.sections,
    coreRelos: cr.sections,
  };
}
