/**
 * From an ELF object to an inert, editable CollectionSpec: maps (BTF-defined
 * and legacy), global data, externs, functions with their relocations, and
 * programs named by their SEC(). Pure: no kernel access.
 */
import { basename } from 'node:path';
import { parseElf, readRegularFile, EM_BPF, SHT_NOBITS, SHT_PROGBITS, STT_FUNC, STT_SECTION, STB_LOCAL, type ElfFile, type ElfRelocationSection, type ElfSection, type ElfSymbol } from '../../elf/index.ts';
import { cString } from '../../elf/strings.ts';
import { Btf } from '../../btf/btf.ts';
import { parseBtfExt, type BtfCoreRelo, type BtfExt, type BtfLineInfo } from '../../btf/ext.ts';
import { TsbpfError, type ObjectErrorCode } from '../../errors.ts';
import { INSN_SIZE, Op, PseudoCall } from '../programs/insn.ts';
import type { MapSpec } from '../maps/spec.ts';
import { MapFlags, MapType, mapTypeName } from '../maps/types.ts';
import { matchSection, UnknownSectionError, type AutoAttachKind } from './section-names.ts';
import type { AttachTypeName, ProgTypeName } from '../programs/types.ts';
import { readStructOps, type StructOpsMapSpec } from './struct-ops-spec.ts';

export class ObjectError extends TsbpfError {
  declare readonly code: ObjectErrorCode;
  constructor(code: ObjectErrorCode, message: string) {
    super(code, message);
  }
}

/** How a reference in an instruction is to be resolved at load time. */
export type Reloc =
  | { kind: 'map'; insn: number; map: string }
  | { kind: 'data'; insn: number; map: string; offset: number }
  | { kind: 'call'; insn: number; section: number; target: number }
  | { kind: 'func'; insn: number; section: number; target: number }
  | { kind: 'extern'; insn: number; name: string };

export interface FuncSpec {
  name: string;
  /** ELF section the function lives in. */
  section: string;
  sectionIndex: number;
  /** Index of its first instruction in the section. */
  offset: number;
  /** Its instructions as in the object (a copy, relocated at load). */
  insns: Uint8Array;
  global: boolean;
  /** A global symbol with hidden visibility: libbpf verifies it like a static function. */
  hidden: boolean;
  relocs: Reloc[];
  /** func_info type id (BTF FUNC), when the object has .BTF.ext. */
  funcTypeId?: number;
  /** line_info records, insnOff in instructions relative to the function. */
  lineInfo: BtfLineInfo[];
  /** CO-RE relocations, insnOff in instructions relative to the function. */
  coreRelos: BtfCoreRelo[];
}

export interface ObjProgramSpec {
  name: string;
  sectionName: string;
  type: number | ProgTypeName;
  expectedAttachType?: number | AttachTypeName;
  /** What follows the SEC() prefix: tracepoint "category/name", kprobe symbol, etc. */
  attachTo: string;
  /** How `attachAll` would attach it, if its section says. */
  autoAttach?: AutoAttachKind;
  flags: number;
  license: string;
  kernelVersion: number;
  /** Key of the entry function in CollectionSpec.functions. */
  func: string;
  /** BTF id of the attach target, for the loader to fill (fentry, lsm, tp_btf...). */
  attachBtfId?: number;
}

export type Pinning = 'none' | 'by-name';

export interface ObjMapSpec extends MapSpec {
  name: string;
  /** 'user': declared by the program; 'data': .data/.rodata/.bss; 'kconfig': the .kconfig externs. */
  origin: 'user' | 'data' | 'kconfig' | 'legacy';
  pinning: Pinning;
  /** Initial contents of global data maps (value bytes). */
  data?: Uint8Array;
  /** Freeze after filling (.rodata, .kconfig). */
  freeze?: boolean;
  /** Initial slots of prog arrays (program names) and maps of maps (map names). */
  initial?: { index: number; name: string }[];
  /** BTF key/value type ids in the object's BTF. */
  btfKeyType?: number;
  btfValueType?: number;
  /** A SEC(".struct_ops") / SEC(".struct_ops.link") variable: its value size and kernel type come from kernel BTF at load. */
  structOps?: StructOpsMapSpec;
}

export interface VariableSpec {
  name: string;
  /** Map (section) holding it: '.data', '.rodata', '.bss', ... */
  map: string;
  offset: number;
  size: number;
  /** BTF type id of the variable's type, when known. */
  type?: number;
}

export interface ExternSpec {
  name: string;
  kind: 'kconfig' | 'ksym' | 'kfunc';
  weak: boolean;
  /** BTF VAR/FUNC id in the object's BTF. */
  btfId?: number;
  /** For kconfig: offset and size in the .kconfig map. */
  offset?: number;
  size?: number;
}

export interface CollectionSpec {
  /** Object name (file name without .o), used for internal map names like libbpf. */
  name: string;
  maps: Record<string, ObjMapSpec>;
  programs: Record<string, ObjProgramSpec>;
  functions: Record<string, FuncSpec>;
  variables: Record<string, VariableSpec>;
  externs: Record<string, ExternSpec>;
  license: string;
  kernelVersion: number;
  btf?: Btf;
  btfExt?: BtfExt;
  /** Index (section, insn) -> function key, for relocation. */
  funcAt: Map<string, string>;
  /** Sizes and symbol offsets of sections that have a BTF DATASEC (the loader fixes DATASECs up from them). */
  sectionLayout: Record<string, { size: number; symbols: Record<string, number> }>;
}

export interface SpecOptions {
  /** Program types for sections whose names follow no convention, by program or section name. */
  programTypes?: Record<string, { type: number | ProgTypeName; expectedAttachType?: number | AttachTypeName }>;
  /** Program type for every section that matches no convention and is not in programTypes. */
  defaultProgramType?: { type: number | ProgTypeName; expectedAttachType?: number | AttachTypeName };
  /** Object name (defaults to the file name). */
  name?: string;
}

/** __uint() members of a BTF map definition and the MapSpec fields they set. */
const UINT_MEMBERS: Record<string, 'type' | 'maxEntries' | 'flags' | 'numaNode' | 'keySize' | 'valueSize'> = {
  type: 'type',
  max_entries: 'maxEntries',
  map_flags: 'flags',
  numa_node: 'numaNode',
  key_size: 'keySize',
  value_size: 'valueSize',
};

const R_BPF_64_64 = 1;
const R_BPF_64_ABS64 = 2;
const R_BPF_64_ABS32 = 3;
const R_BPF_64_32 = 10;

export function funcKey(sectionIndex: number, offset: number): string {
  return `${sectionIndex}:${offset}`;
}

/**
 * Largest global data section (.data, .rodata, .bss, .kconfig) accepted: 1 GiB.
 * Each becomes one array map value (the kernel refuses values over INT_MAX
 * anyway), and a .bss takes no room in the file, so without a cap a few bytes
 * of header could make the parse allocate terabytes.
 */
export const MAX_DATA_SECTION_BYTES = 1 << 30;

function isDataSection(name: string): boolean {
  return /^\.(data|rodata|bss)(\.|$)/.test(name);
}

/** libbpf's name for an internal map: up to 8 chars of the object name, then the section name. */
export function internalMapName(objName: string, section: string): string {
  const pfx = objName.slice(0, Math.min(8, objName.length));
  const sfxLen = Math.max(7, 15 - pfx.length);
  return (pfx + section.slice(0, sfxLen)).replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

/** An object keyed by names an object file chose: without a prototype, so no name (`__proto__`, `constructor`) is taken already. */
export function nameRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export function loadCollectionSpec(src: string | Uint8Array, opts: SpecOptions = {}): CollectionSpec {
  const bytes = typeof src === 'string' ? readRegularFile(src, 'BPF object') : src;
  const objName = opts.name ?? (typeof src === 'string' ? basename(src).replace(/\.(bpf\.)?o$/, '').replace(/\.elf$/, '') : 'obj');
  const elf = parseElf(bytes);
  if (elf.machine !== EM_BPF) throw new ObjectError('NOT_BPF', `not a BPF object (e_machine ${elf.machine}, expected EM_BPF ${EM_BPF})`);
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (elf.littleEndian !== hostLE) {
    throw new ObjectError('WRONG_ENDIANNESS', `the object is ${elf.endianness}-endian but this host is ${hostLE ? 'little' : 'big'}-endian: recompile it for this host (clang -target bpfel or bpfeb)`);
  }
  return new SpecReader(elf, objName, opts).read();
}

class SpecReader {
  readonly spec: CollectionSpec;
  readonly syms: readonly ElfSymbol[];
  readonly btf: Btf | undefined;
  readonly ext: BtfExt | undefined;
  /** DATASEC name -> vars, from BTF. */
  readonly datasecs = new Map<string, { id: number; vars: { name: string; type: number; varId: number; linkage: string }[] }>();

  constructor(
    readonly elf: ElfFile,
    objName: string,
    readonly opts: SpecOptions,
  ) {
    this.syms = elf.symbols();
    const btfSec = elf.section('.BTF');
    this.btf = btfSec ? Btf.parse(btfSec.data) : undefined;
    const extSec = elf.section('.BTF.ext');
    this.ext = extSec && this.btf ? parseBtfExt(extSec.data, this.btf) : undefined;
    this.spec = {
      name: objName,
      // Keyed by names from the object: no prototype, so `constructor` or `__proto__` is a name like any other.
      maps: nameRecord(),
      programs: nameRecord(),
      functions: nameRecord(),
      variables: nameRecord(),
      externs: nameRecord(),
      license: '',
      kernelVersion: 0,
      btf: this.btf,
      btfExt: this.ext,
      funcAt: new Map(),
      sectionLayout: nameRecord(),
    };
    if (this.btf) {
      // Only DATASECs are decoded here (kindOf reads a type's header word, no object is built).
      const btf = this.btf;
      for (let id = btf.firstTypeId; id < btf.length; id++) {
        if (btf.kindOf(id) !== 'datasec') continue;
        const t = btf.typeOfKind(id, 'datasec');
        const vars = t.vars.map((v) => {
          const vt = this.btf!.typeById(v.type);
          return vt.kind === 'var'
            ? { name: vt.name, type: vt.type, varId: vt.id, linkage: vt.linkage }
            : { name: vt.name, type: vt.id, varId: vt.id, linkage: vt.kind === 'func' ? vt.linkage : 'global' };
        });
        this.datasecs.set(t.name, { id: t.id, vars });
      }
    }
  }

  read(): CollectionSpec {
    const { elf, spec } = this;
    const lic = elf.section('license');
    if (lic) spec.license = cString(lic.data);
    const ver = elf.section('version');
    if (ver && ver.data.byteLength >= 4) spec.kernelVersion = new DataView(ver.data.buffer, ver.data.byteOffset, 4).getUint32(0, elf.littleEndian);
    this.readSectionLayout();
    this.readDataSections();
    this.readExterns();
    this.readBtfMaps();
    this.readLegacyMaps();
    this.readFunctions();
    this.readStructOpsMaps();
    this.readRelocations();
    this.readBtfExt();
    this.readPrograms();
    return spec;
  }

  readSectionLayout(): void {
    for (const name of this.datasecs.keys()) {
      const sec = this.elf.section(name);
      if (!sec) continue;
      const symbols = nameRecord<number>();
      for (const s of this.syms) if (s.sectionIndex === sec.index && s.name && s.type !== STT_SECTION) symbols[s.name] = Number(s.value);
      this.spec.sectionLayout[name] = { size: sec.size, symbols };
    }
  }

  // ---- global data --------------------------------------------------------

  readDataSections(): void {
    for (const sec of this.elf.sections) {
      if ((sec.type !== SHT_PROGBITS && sec.type !== SHT_NOBITS) || !isDataSection(sec.name)) continue;
      // Compiler-made string/constant sections (.rodata.str1.1, .rodata.cst16) count too.
      const readOnly = sec.name.startsWith('.rodata');
      const name = sec.name;
      const size = sec.size;
      if (!(size <= MAX_DATA_SECTION_BYTES)) {
        throw new ObjectError('BAD_DATA_SECTION', `section '${name}' claims ${size} bytes; global data sections are limited to ${MAX_DATA_SECTION_BYTES}`);
      }
      const value = new Uint8Array(size);
      if (!sec.isNobits) value.set(sec.data);
      const ds = this.datasecs.get(name);
      this.spec.maps[name] = {
        name,
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: size,
        maxEntries: 1,
        flags: MapFlags.MMAPABLE | (readOnly ? MapFlags.RDONLY_PROG : 0),
        origin: 'data',
        pinning: 'none',
        data: value,
        freeze: readOnly,
        btfValueType: ds?.id,
      };
      // Variables: symbols defined in the section, typed through the DATASEC's VARs.
      const types = new Map(ds?.vars.map((v) => [v.name, v.type]) ?? []);
      for (const s of this.syms) {
        if (s.sectionIndex !== sec.index || s.type === STT_SECTION || !s.name) continue;
        if (s.type !== 1 /* STT_OBJECT */ && s.type !== 0) continue;
        this.spec.variables[s.name] = { name: s.name, map: name, offset: Number(s.value), size: Number(s.size), type: types.get(s.name) };
      }
    }
  }

  // ---- externs: .kconfig, .ksyms ------------------------------------------

  readExterns(): void {
    const kconfig = this.datasecs.get('.kconfig');
    const ksyms = this.datasecs.get('.ksyms');
    const kcfg: ExternSpec[] = [];
    for (const s of this.syms) {
      if (!s.isUndefined || !s.name || s.bind === STB_LOCAL) continue;
      const weak = s.bind === 2; // STB_WEAK
      const inKcfg = kconfig?.vars.find((v) => v.name === s.name);
      if (inKcfg) {
        const size = this.btf ? this.btf.sizeOf(inKcfg.type) : 0;
        const align = this.btf ? Math.min(8, this.btf.alignOf(inKcfg.type)) : 1;
        const e: ExternSpec & { align: number } = { name: s.name, kind: 'kconfig', weak, btfId: inKcfg.varId, size, align };
        kcfg.push(e);
        this.spec.externs[s.name] = e;
        continue;
      }
      const inKsym = ksyms?.vars.find((v) => v.name === s.name);
      if (inKsym) {
        const t = this.btf!.typeById(inKsym.varId);
        this.spec.externs[s.name] = { name: s.name, kind: t.kind === 'func' ? 'kfunc' : 'ksym', weak, btfId: inKsym.varId };
        continue;
      }
      // An undefined symbol in a BPF object with no BTF: an untyped ksym (or an error at relocation).
      if (s.type === STT_FUNC) this.spec.externs[s.name] = { name: s.name, kind: 'kfunc', weak };
      else this.spec.externs[s.name] = { name: s.name, kind: 'ksym', weak };
    }
    if (kcfg.length) {
      // libbpf's layout: descending alignment, then ascending size, then name.
      const list = kcfg as (ExternSpec & { align: number })[];
      list.sort((a, b) => b.align - a.align || a.size! - b.size! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      let off = 0;
      for (const e of list) {
        off = Math.ceil(off / e.align) * e.align;
        e.offset = off;
        off += e.size!;
      }
      const size = Math.ceil(off / 8) * 8;
      if (!(size <= MAX_DATA_SECTION_BYTES)) {
        throw new ObjectError('BAD_DATA_SECTION', `.kconfig externs claim ${size} bytes; global data sections are limited to ${MAX_DATA_SECTION_BYTES}`);
      }
      this.spec.maps['.kconfig'] = {
        name: '.kconfig',
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: size,
        maxEntries: 1,
        flags: MapFlags.MMAPABLE | MapFlags.RDONLY_PROG,
        origin: 'kconfig',
        pinning: 'none',
        data: new Uint8Array(size),
        freeze: true,
        btfValueType: kconfig?.id,
      };
    }
  }

  // ---- maps ---------------------------------------------------------------

  readBtfMaps(): void {
    const sec = this.elf.section('.maps');
    if (!sec) return;
    if (!this.btf) throw new ObjectError('NO_BTF', 'the object has a .maps section but no .BTF to describe it');
    const ds = this.datasecs.get('.maps');
    if (!ds) throw new ObjectError('BAD_MAPS', 'the object has a .maps section but no DATASEC .maps in its BTF');
    // Initial values (prog arrays, maps of maps) come as relocations against the .maps section.
    const relocs = this.elf.relocationsFor(sec.index)[0];
    const symByName = new Map<string, ElfSymbol>();
    for (const s of this.syms) if (s.sectionIndex === sec.index && s.name && !symByName.has(s.name)) symByName.set(s.name, s);
    for (const v of ds.vars) {
      const sym = symByName.get(v.name);
      if (!sym) throw new ObjectError('BAD_MAPS', `map '${v.name}' has BTF but no symbol in .maps`);
      const def = this.parseMapDef(v.name, v.type);
      const base = Number(sym.value);
      if (def.valuesMember && relocs) {
        def.map.initial = [];
        for (const r of relocs.entries) {
          const off = Number(r.offset) - base - def.valuesMember.offset;
          // The values array has no size in BTF: it fills the rest of the map's symbol.
          if (off < 0 || off >= Number(sym.size) - def.valuesMember.offset) continue;
          const target = this.syms[r.symbolIndex];
          if (!target?.name) throw new ObjectError('BAD_MAPS', `map '${v.name}': initial value at ${off} refers to an unnamed symbol`);
          def.map.initial.push({ index: off / 8, name: target.name });
        }
      }
      this.spec.maps[v.name] = def.map;
    }
  }

  /** Read a BTF map definition struct (type, key, value, max_entries, ...). */
  parseMapDef(name: string, typeId: number, inner = false): { map: ObjMapSpec; valuesMember?: { offset: number } } {
    const btf = this.btf!;
    const st = btf.resolve(typeId);
    if (st.kind !== 'struct') throw new ObjectError('BAD_MAPS', `map '${name}': definition is a ${st.kind}, not a struct`);
    const map: ObjMapSpec = { name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, origin: 'user', pinning: 'none' };
    let valuesMember: { offset: number } | undefined;
    // __uint(name, N) is `int (*name)[N]`: the number is the array's length.
    const uintOf = (member: string, id: number): number => {
      const p = btf.resolve(id);
      if (p.kind !== 'ptr') throw new ObjectError('BAD_MAPS', `map '${name}': ${member} must be __uint(), not a ${p.kind}`);
      const a = btf.resolve(p.type);
      if (a.kind !== 'array') throw new ObjectError('BAD_MAPS', `map '${name}': ${member} must be __uint()`);
      return a.nelems;
    };
    const typeOf = (member: string, id: number): number => {
      const p = btf.resolve(id);
      if (p.kind !== 'ptr') throw new ObjectError('BAD_MAPS', `map '${name}': ${member} must be __type()`);
      return p.type;
    };
    for (const m of st.members) {
      const field = Object.hasOwn(UINT_MEMBERS, m.name) ? UINT_MEMBERS[m.name] : undefined;
      if (field) {
        map[field] = uintOf(m.name, m.type);
        continue;
      }
      switch (m.name) {
        case 'map_extra':
          map.mapExtra = BigInt(uintOf(m.name, m.type));
          break;
        case 'pinning': {
          const p = uintOf(m.name, m.type);
          if (p > 1) throw new ObjectError('BAD_MAPS', `map '${name}': unknown pinning ${p}`);
          map.pinning = p === 1 ? 'by-name' : 'none';
          break;
        }
        case 'key': {
          const t = typeOf(m.name, m.type);
          map.keySize = btf.sizeOf(t);
          map.btfKeyType = t;
          break;
        }
        case 'value': {
          const t = typeOf(m.name, m.type);
          map.valueSize = btf.sizeOf(t);
          map.btfValueType = t;
          break;
        }
        case 'values': {
          // __array(values, struct inner) is `struct inner *values[]`: a zero-length array of pointers.
          const arr = btf.resolve(m.type);
          if (arr.kind !== 'array') throw new ObjectError('BAD_MAPS', `map '${name}': values must be __array()`);
          const p = btf.resolve(arr.type);
          if (p.kind !== 'ptr') throw new ObjectError('BAD_MAPS', `map '${name}': values must be an array of pointers`);
          const elem = btf.resolve(p.type);
          valuesMember = { offset: m.bitOffset / 8 };
          if (elem.kind === 'struct') {
            if (inner) throw new ObjectError('BAD_MAPS', `map '${name}': nested maps of maps are not supported`);
            map.innerMap = this.parseMapDef(`${name}.inner`, elem.id, true).map;
          } else if (elem.kind !== 'func_proto') {
            throw new ObjectError('BAD_MAPS', `map '${name}': values must point to a map definition or a program`);
          }
          break;
        }
        default:
          // libbpf ignores unknown members only in non-strict mode; be helpful and fail loudly.
          throw new ObjectError('BAD_MAPS', `map '${name}': unknown map definition member '${m.name}'`);
      }
    }
    if ((map.type === MapType.ARRAY_OF_MAPS || map.type === MapType.HASH_OF_MAPS) && !map.innerMap) {
      throw new ObjectError('BAD_MAPS', `map '${name}': ${mapTypeName(map.type)} needs __array(values, struct inner_def)`);
    }
    if (map.type === MapType.ARRAY_OF_MAPS || map.type === MapType.HASH_OF_MAPS || map.type === MapType.PROG_ARRAY) {
      map.valueSize ||= 4;
      map.keySize ||= 4;
    }
    return { map, valuesMember };
  }

  readStructOpsMaps(): void {
    const found = readStructOps(this.elf, this.btf, this.syms, this.datasecs, (sec, insn) => this.spec.functions[funcKey(sec, insn)]?.name);
    for (const [name, so] of Object.entries(found)) {
      if (this.spec.maps[name]) throw new ObjectError('BAD_MAPS', `two maps named '${name}'`);
      // Key u32 (always 0), one entry; the value is the kernel's bpf_struct_ops_<name>, sized at load.
      this.spec.maps[name] = { name, type: MapType.STRUCT_OPS, keySize: 4, valueSize: 0, maxEntries: 1, flags: so.link ? MapFlags.LINK : 0, origin: 'user', pinning: 'none', structOps: so };
    }
  }

  readLegacyMaps(): void {
    const sec = this.elf.section('maps');
    if (!sec) return;
    const syms = this.syms.filter((s) => s.sectionIndex === sec.index && s.name && s.type !== STT_SECTION);
    if (!syms.length) return;
    const size = sec.size / syms.length;
    if (!Number.isInteger(size) || size < 20) throw new ObjectError('BAD_MAPS', `legacy 'maps' section: ${sec.size} bytes for ${syms.length} maps`);
    const v = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    for (const s of syms) {
      const o = Number(s.value);
      if (o + 20 > sec.size) throw new ObjectError('BAD_MAPS', `legacy map '${s.name}' extends past the maps section`);
      const le = this.elf.littleEndian;
      this.spec.maps[s.name] = {
        name: s.name,
        type: v.getUint32(o, le),
        keySize: v.getUint32(o + 4, le),
        valueSize: v.getUint32(o + 8, le),
        maxEntries: v.getUint32(o + 12, le),
        flags: v.getUint32(o + 16, le),
        origin: 'legacy',
        // iproute2's struct bpf_elf_map: id, pinning (1 = object ns, 2 = global) follow at 20/24.
        pinning: size >= 28 && v.getUint32(o + 24, le) === 2 ? 'by-name' : 'none',
      };
    }
  }

  // ---- functions and programs ---------------------------------------------

  readFunctions(): void {
    for (const s of this.syms) {
      if (s.type !== STT_FUNC || s.isUndefined) continue;
      const sec = this.elf.sections[s.sectionIndex];
      if (!sec || !isExec(sec)) continue;
      const off = Number(s.value);
      const size = Number(s.size);
      if (off % INSN_SIZE || size % INSN_SIZE || off + size > sec.size) {
        throw new ObjectError('BAD_FUNCTION', `function '${s.name}' in '${sec.name}' is misaligned or out of bounds`);
      }
      const key = funcKey(sec.index, off / INSN_SIZE);
      const f: FuncSpec = {
        name: s.name,
        section: sec.name,
        sectionIndex: sec.index,
        offset: off / INSN_SIZE,
        insns: sec.data.slice(off, off + size),
        global: s.bind !== STB_LOCAL,
        // STV_INTERNAL (1) and STV_HIDDEN (2): not visible outside the object, so verified as static.
        hidden: s.visibility === 1 || s.visibility === 2,
        relocs: [],
        lineInfo: [],
        coreRelos: [],
      };
      this.spec.functions[key] = f;
      this.spec.funcAt.set(key, key);
    }
  }

  /** Functions by section, sorted by offset (built once, after readFunctions). */
  #funcsBySection: Map<number, FuncSpec[]> | undefined;

  /** The function containing instruction `insn` of section `sec` (a binary search). */
  funcContaining(sec: number, insn: number): FuncSpec | undefined {
    if (!this.#funcsBySection) {
      const by = new Map<number, FuncSpec[]>();
      for (const f of Object.values(this.spec.functions)) {
        const list = by.get(f.sectionIndex);
        if (list) list.push(f);
        else by.set(f.sectionIndex, [f]);
      }
      for (const list of by.values()) list.sort((a, b) => a.offset - b.offset);
      this.#funcsBySection = by;
    }
    const funcs = this.#funcsBySection.get(sec);
    if (!funcs) return undefined;
    // The last function starting at or before insn.
    let lo = 0;
    let hi = funcs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (funcs[mid]!.offset <= insn) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const f = found >= 0 ? funcs[found]! : undefined;
    return f && insn < f.offset + f.insns.byteLength / INSN_SIZE ? f : undefined;
  }

  readRelocations(): void {
    const byName = new Map(Object.values(this.spec.maps).map((m) => [m.name, m]));
    // Relocations of code sections only (an object built with -g has many more, against its debug sections).
    for (const target of this.elf.sections) {
      if (!isExec(target)) continue;
      for (const rs of this.elf.relocationsFor(target.index)) this.codeRelocations(rs, target, byName);
    }
  }

  /** The relocations of one relocation section of code section `target`. */
  codeRelocations(rs: ElfRelocationSection, target: ElfSection, byName: Map<string, ObjMapSpec>): void {
    for (const r of rs.entries) {
      const insnIdx = Number(r.offset) / INSN_SIZE;
      if (!Number.isInteger(insnIdx)) throw new ObjectError('BAD_RELOCATION', `relocation at ${r.offset} in '${target.name}' is not on an instruction`);
      const f = this.funcContaining(target.index, insnIdx);
      if (!f) throw new ObjectError('BAD_RELOCATION', `relocation at instruction ${insnIdx} of '${target.name}' is outside every function`);
      const local = insnIdx - f.offset;
      const sym = this.syms[r.symbolIndex];
      if (!sym) throw new ObjectError('BAD_RELOCATION', `relocation in '${target.name}' names symbol ${r.symbolIndex}, which does not exist`);
      const code = f.insns[local * INSN_SIZE]!;
      const src = f.insns[local * INSN_SIZE + 1]! >> 4;
      const imm = new DataView(f.insns.buffer, f.insns.byteOffset + local * INSN_SIZE + 4, 4).getInt32(0, true);
      const where = `'${f.name}' instruction ${local}`;
      if (r.type !== R_BPF_64_64 && r.type !== R_BPF_64_32 && r.type !== R_BPF_64_ABS64 && r.type !== R_BPF_64_ABS32) {
        throw new ObjectError('BAD_RELOCATION', `${where}: unsupported relocation type ${r.type}`);
      }
      const isCall = code === (Op.JMP | Op.CALL);
      const isLdImm64 = code === (Op.LD | Op.DW | Op.IMM);
      if (sym.isUndefined && sym.name) {
        f.relocs.push({ kind: 'extern', insn: local, name: sym.name });
        continue;
      }
      const symSec = this.elf.sections[sym.sectionIndex];
      if (isCall) {
        if (src !== PseudoCall.CALL) throw new ObjectError('BAD_RELOCATION', `${where}: relocated call is not a bpf-to-bpf call`);
        if (!symSec || !isExec(symSec)) throw new ObjectError('BAD_RELOCATION', `${where}: call target '${sym.name}' is not code`);
        // Target instruction = symbol's instruction + imm + 1 (imm is -1 for a call to the symbol itself).
        f.relocs.push({ kind: 'call', insn: local, section: symSec.index, target: Number(sym.value) / INSN_SIZE + imm + 1 });
        continue;
      }
      if (!isLdImm64) throw new ObjectError('BAD_RELOCATION', `${where}: relocation on an instruction that is neither ld_imm64 nor call (code 0x${code.toString(16)})`);
      if (!symSec) throw new ObjectError('BAD_RELOCATION', `${where}: symbol '${sym.name}' has no section`);
      if (isExec(symSec)) {
        // The address of a function: a callback for bpf_loop, timers, for_each_map_elem.
        f.relocs.push({ kind: 'func', insn: local, section: symSec.index, target: (Number(sym.value) + imm) / INSN_SIZE });
        continue;
      }
      if (symSec.name === '.maps' || symSec.name === 'maps') {
        const m = this.mapAtSymbol(symSec, sym);
        if (!m) throw new ObjectError('BAD_RELOCATION', `${where}: no map at '${sym.name}'`);
        f.relocs.push({ kind: 'map', insn: local, map: m });
        continue;
      }
      if (byName.has(symSec.name) && isDataSection(symSec.name)) {
        // Section symbols carry the offset in imm; variable symbols in their value.
        const off = (sym.type === STT_SECTION ? 0 : Number(sym.value)) + imm;
        f.relocs.push({ kind: 'data', insn: local, map: symSec.name, offset: off });
        continue;
      }
      throw new ObjectError('BAD_RELOCATION', `${where}: reference to '${sym.name || symSec.name}' in section '${symSec.name}', which is neither a map nor global data`);
    }
  }

  mapAtSymbol(sec: ElfSection, sym: ElfSymbol): string | undefined {
    if (sym.type !== STT_SECTION && sym.name && this.spec.maps[sym.name]) return sym.name;
    // Some compilers relocate against the section symbol: find the map symbol at that offset.
    const s = this.syms.find((x) => x.sectionIndex === sec.index && x.type !== STT_SECTION && x.value === sym.value && x.name);
    return s?.name;
  }

  readBtfExt(): void {
    const ext = this.ext;
    if (!ext) return;
    const secIndex = new Map(this.elf.sections.map((s) => [s.name, s.index]));
    for (const fs of ext.funcInfo) {
      const si = secIndex.get(fs.name);
      if (si === undefined) continue;
      for (const rec of fs.records) {
        const f = this.spec.functions[funcKey(si, rec.insnOff / INSN_SIZE)];
        if (f) f.funcTypeId = rec.typeId;
      }
    }
    for (const ls of ext.lineInfo) {
      const si = secIndex.get(ls.name);
      if (si === undefined) continue;
      for (const rec of ls.records) {
        const f = this.funcContaining(si, rec.insnOff / INSN_SIZE);
        if (f) f.lineInfo.push({ ...rec, insnOff: rec.insnOff / INSN_SIZE - f.offset });
      }
    }
    for (const cs of ext.coreRelos) {
      const si = secIndex.get(cs.name);
      if (si === undefined) continue;
      for (const rec of cs.records) {
        const f = this.funcContaining(si, rec.insnOff / INSN_SIZE);
        if (!f) throw new ObjectError('BAD_CORE_RELO', `CO-RE relocation at ${rec.insnOff} in '${cs.name}' is outside every function`);
        f.coreRelos.push({ ...rec, insnOff: rec.insnOff / INSN_SIZE - f.offset });
      }
    }
  }

  readPrograms(): void {
    const over = this.opts.programTypes ?? {};
    for (const [key, f] of Object.entries(this.spec.functions)) {
      if (f.section === '.text' || !f.global) continue;
      const m = matchSection(f.section);
      const given = over[f.name] ?? over[f.section] ?? (m ? undefined : this.opts.defaultProgramType);
      if (!m && !given) throw new UnknownSectionError(f.section, f.name);
      const p: ObjProgramSpec = {
        name: f.name,
        sectionName: f.section,
        type: given?.type ?? m!.def.type,
        expectedAttachType: given ? given.expectedAttachType : m!.def.attachType,
        attachTo: m?.target ?? '',
        autoAttach: m?.def.attach,
        flags: m?.def.flags ?? 0,
        license: this.spec.license,
        kernelVersion: this.spec.kernelVersion,
        func: key,
      };
      if (this.spec.programs[f.name]) throw new ObjectError('DUPLICATE_PROGRAM', `two programs named '${f.name}'`);
      this.spec.programs[f.name] = p;
    }
  }
}

function isExec(sec: ElfSection): boolean {
  return sec.type === SHT_PROGBITS && (Number(sec.flags) & 0x4) !== 0; // SHF_EXECINSTR
}


