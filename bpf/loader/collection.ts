/**
 * Loading a CollectionSpec into the kernel: BTF first, then maps (inner
 * templates before their outer maps, pinned maps reused when compatible),
 * then programs (linked, relocated, verified), then the initial contents of
 * prog arrays and maps of maps. A Collection owns everything it created.
 */
import { existsSync } from 'node:fs';
import { Btf } from '../../btf/btf.ts';
import { CoreCache, applyCoreRelo, resolveCoreRelo, type CoreTargets } from '../../btf/core.ts';
import { TsbpfError, type CollectionErrorCode } from '../../errors.ts';
import { markWarm } from '../../warm.ts';
import { possibleCpuCount } from '../../syscall/cpus.ts';
import { Mapping, mmapFd, pageSize, PROT_READ, PROT_WRITE } from '../../syscall/mmap.ts';
import { kernelBtf, kernelModuleBtfs, readBtfFile } from '../btf/kernel.ts';
import { BtfHandle } from '../btf/handle.ts';
import { btfFeaturesNeeded, fixupBtfForKernel } from './btf-fixup.ts';
import { btfFeatures, type BtfFeatures } from '../btf/features.ts';
import { internalMapName, nameRecord, type CollectionSpec, type FuncSpec, type ObjMapSpec, type VariableSpec } from './collection-spec.ts';
import { INSN_SIZE } from '../programs/insn.ts';
import { fillKconfig } from './kconfig.ts';
import { relocateProgram, type RelocatedProgram } from './relocate.ts';
import { BpfMap } from '../maps/map.ts';
import { btfCodec, type BtfValue, type Codec } from '../../btf/codec.ts';
import { checkMapMemory, DEFAULT_MAX_MAP_MEMORY } from '../maps/memory.ts';
import { MapFlags, MapType, isMapOfMaps, mapTypeName, resolveMapType } from '../maps/types.ts';
import { pinPathFor } from '../pin.ts';
import { Program, type LoadOptions } from '../programs/program.ts';
import { resolveProgType } from '../programs/types.ts';
import type { SourceLine } from '../programs/verifier.ts';
import { autoAttach } from './auto-attach.ts';
import { attachTarget } from './attach-target.ts';
import { resolveExtern } from './externs.ts';
import type { Link } from '../link/link.ts';
import { planStructOps, registerStructOps, structOpsValue, type StructOpsLink, type StructOpsPlan } from './struct-ops.ts';
import { StructOpsError } from './struct-ops-spec.ts';
import { ProgType } from '../programs/types.ts';

/** CO-RE: resolve the relocations of one function placed at `start` in `insns` against the target BTFs (vmlinux first, then modules). */
function applyCore(func: FuncSpec, insns: Uint8Array, start: number, local: Btf, target: () => CoreTargets, cache: CoreCache, warnings: string[]): void {
  for (const relo of func.coreRelos) {
    // The spec keeps instruction indexes relative to the function; the engine labels by byte offset.
    const res = resolveCoreRelo(local, { ...relo, insnOff: relo.insnOff * INSN_SIZE }, relo.kind === 6 /* type_id_local */ ? [] : target(), cache);
    const poisoned = applyCoreRelo(insns, start + relo.insnOff, res);
    if (poisoned) warnings.push(`${func.name}: ${poisoned}`);
  }
}

export interface CollectionOptions {
  /** Directory (on bpffs) for maps with `pinning: by-name` (LIBBPF_PIN_BY_NAME); /sys/fs/bpf by default, as in libbpf. */
  pinPath?: string;
  /** BTF to resolve CO-RE and ksyms against instead of the running kernel's (like libbpf's btf_custom_path). */
  kernelBtf?: string | Btf;
  /** Verifier options for every program. */
  program?: LoadOptions;
  /** Only load these programs (by name); maps are all created. */
  programs?: string[];
  /** Values for kconfig externs that override the running kernel's config. */
  kconfig?: Record<string, string>;
  /** Override what the BTF probes found (e.g. pretend the kernel lacks a kind, to test sanitisation). */
  btfFeatures?: Partial<BtfFeatures>;
  /**
   * Most kernel memory the maps may claim together, in bytes, estimated from
   * their specs (./map-memory.ts) and checked before any map is created
   * (MapMemoryError, code MAP_MEMORY_LIMIT). Default 1 GiB; Infinity: no limit.
   */
  maxMapMemory?: number;
}

export class CollectionError extends TsbpfError {
  declare readonly code: CollectionErrorCode;
  constructor(code: CollectionErrorCode, message: string) {
    super(code, message);
  }
}

/**
 * Variables of global data sections, read and written through the mmapped
 * map, as values of their BTF type (a struct is an object, a char array a
 * string; see btfCodec) when the object has BTF, as bytes otherwise.
 */
export class Variable {
  readonly #mapping: () => Mapping | undefined;
  #codec: Codec<BtfValue> | (() => Codec<BtfValue> | undefined) | undefined;
  constructor(
    readonly spec: VariableSpec,
    mapping: () => Mapping | undefined,
    readonly writable: boolean,
    /** From the variable's BTF type: signed or unsigned integer; undefined when unknown (both ranges of the size accepted). */
    readonly signed?: boolean,
    /** The codec, or a function making it on first use (loading compiles no codec nobody reads). */
    codec?: Codec<BtfValue> | (() => Codec<BtfValue> | undefined),
  ) {
    this.#mapping = mapping;
    this.#codec = codec;
  }

  get #codecNow(): Codec<BtfValue> | undefined {
    if (typeof this.#codec === 'function') this.#codec = this.#codec();
    return this.#codec;
  }

  #view(): Uint8Array {
    const m = this.#mapping();
    if (!m) throw new TsbpfError('CLOSED', `variable '${this.spec.name}': its map is closed or not mmapable`);
    checkVariableRange(this.spec, m.buffer.byteLength);
    return new Uint8Array(m.buffer, this.spec.offset, this.spec.size);
  }

  /** The current value, decoded through the variable's BTF type (a copy of the bytes when the object has no BTF for it). */
  get(): BtfValue {
    const v = this.#view();
    const c = this.#codecNow;
    if (!c) return Buffer.from(v);
    return c.decode(v, new DataView(v.buffer, v.byteOffset, v.byteLength), 0);
  }

  /** A copy of the current bytes. */
  bytes(): Buffer {
    return Buffer.from(this.#view());
  }

  /**
   * Write a value of the variable's type (checked as btfCodec checks it: a
   * typed error, CODEC, naming the field), an integer, or its exact bytes.
   * Read-only (.rodata) variables are fixed at load: READ_ONLY; set them
   * with setVariable on the spec before loadCollection.
   */
  set(value: BtfValue): void {
    if (!this.writable) {
      throw new TsbpfError('READ_ONLY', `variable '${this.spec.name}' is in a read-only section, frozen at load: set it with setVariable(spec, '${this.spec.name}', value) before loadCollection`);
    }
    // Encode (and validate) before touching the mapping.
    const bytes = encodeValue(this.spec, value, this.signed, this.#codecNow);
    this.#view().set(bytes);
  }
}

/**
 * The bytes of `value` for variable `v`: its exact bytes; an integer for an
 * integer variable (numbers accepted for 64-bit ones, as before BTF codecs);
 * any other value through the variable's BTF codec.
 */
function encodeValue(v: VariableSpec, value: BtfValue, signed: boolean | undefined, codec: Codec<BtfValue> | undefined): Uint8Array {
  if (!codec || signed !== undefined || (value instanceof Uint8Array && value.byteLength === v.size)) {
    return encodeVariable(v, value as Uint8Array | number | bigint, signed);
  }
  const b = new Uint8Array(v.size);
  codec.encode(value, b, new DataView(b.buffer), 0);
  return b;
}

/** The codec of a variable's BTF type, when it describes the variable's bytes; undefined otherwise (bytes only). */
function variableCodec(btf: Btf | undefined, v: VariableSpec): Codec<BtfValue> | undefined {
  if (!btf || !v.type) return undefined;
  try {
    const c = btfCodec(btf, v.type, { name: v.name });
    return c.size === v.size ? c : undefined;
  } catch {
    return undefined; // a type the codec cannot hold: bytes
  }
}

/** The variable's codec, compiled on first use against the BTF and type it had at load (the spec stays editable). */
function codecLater(btf: Btf | undefined, v: VariableSpec): () => Codec<BtfValue> | undefined {
  return () => variableCodec(btf, v);
}

export class Collection implements Disposable {
  readonly maps: Record<string, BpfMap> = nameRecord<BpfMap>();
  readonly programs: Record<string, Program> = nameRecord<Program>();
  /** Links made by attachAll (closed with the collection). */
  readonly links: Record<string, Link> = nameRecord<Link>();
  readonly variables: Record<string, Variable> = nameRecord<Variable>();
  /** Non-fatal things the loader did differently from the object's wishes. */
  readonly warnings: string[] = [];
  readonly #mappings: Mapping[] = [];
  /** struct_ops maps: the value each registers with. */
  readonly #structOps = new Map<string, { value: Uint8Array; spec: NonNullable<ObjMapSpec['structOps']> }>();
  #btf: BtfHandle | undefined;
  #closed = false;

  /** @internal */
  adoptBtf(h: BtfHandle | undefined): void {
    this.#btf = h;
  }

  /** @internal */
  addMapping(m: Mapping): void {
    this.#mappings.push(m);
  }

  /** @internal */
  addStructOps(name: string, value: Uint8Array, spec: NonNullable<ObjMapSpec['structOps']>): void {
    this.#structOps.set(name, { value, spec });
  }

  /** Names of the struct_ops maps (SEC(".struct_ops") and SEC(".struct_ops.link") variables), in object order. */
  get structOpsMaps(): string[] {
    return [...this.#structOps.keys()];
  }

  /**
   * Register struct_ops map `name` with its kernel subsystem (a TCP
   * congestion control appears in tcp_available_congestion_control): the map
   * is updated at key 0 and, for `.struct_ops.link` maps, a BPF link made.
   * The returned link unregisters on close() (see StructOpsLink.disconnect
   * and pin to keep it); it owns its own fds and outlives the collection.
   */
  registerStructOps(name: string): StructOpsLink {
    if (this.#closed) throw new TsbpfError('CLOSED', 'collection is closed');
    const so = this.#structOps.get(name);
    const map = this.maps[name];
    if (!so || !map) throw new StructOpsError('NO_STRUCT_OPS', `no struct_ops map '${name}' in the collection; struct_ops maps: ${this.structOpsMaps.join(', ') || 'none'}`);
    return registerStructOps(name, map, BpfMap.fromFd(map.fd), so.spec, so.value);
  }

  /** fd of the program BTF loaded for this collection, or -1. */
  get btfFd(): number {
    return this.#btf && !this.#closed ? this.#btf.fd : -1;
  }

  /** The spec this collection was loaded from. */
  spec: CollectionSpec | undefined;

  /**
   * Attach every program whose section names its hook (tracepoints, raw
   * tracepoints, kprobes, ksyscalls, uprobes with a path, BTF tracing, iterators),
   * like a libbpf skeleton's attach. Returns the new links, also kept in `links`.
   */
  attachAll(): Record<string, Link> {
    if (this.#closed) throw new TsbpfError('CLOSED', 'collection is closed');
    const made = nameRecord<Link>();
    try {
      for (const [name, prog] of Object.entries(this.programs)) {
        const ps = this.spec?.programs[name];
        if (!ps || this.links[name]) continue;
        const link = autoAttach(prog, ps, this);
        if (link) made[name] = this.links[name] = link;
      }
    } catch (e) {
      for (const [n, l] of Object.entries(made)) {
        l.close();
        delete this.links[n];
      }
      throw e;
    }
    return made;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of Object.values(this.links)) l.close();
    for (const m of this.#mappings) m.unmap();
    for (const p of Object.values(this.programs)) p.close();
    for (const m of Object.values(this.maps)) m.close();
    this.#btf?.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Write a typed value into a variable's initial bytes in the spec (e.g. a .rodata constant before load). */
export function setVariable(spec: CollectionSpec, name: string, value: BtfValue): void {
  const v = spec.variables[name];
  if (!v) throw new TsbpfError('NO_VARIABLE', `no global variable '${name}'; variables: ${Object.keys(spec.variables).join(', ') || 'none'}`);
  const m = spec.maps[v.map];
  if (!m?.data) throw new TsbpfError('NO_VARIABLE', `variable '${name}' has no initial data`);
  checkVariableRange(v, m.data.byteLength);
  m.data.set(encodeValue(v, value, variableSignedness(spec, v), variableCodec(spec.btf, v)), v.offset);
}

/** A spec is editable: its offset and size must still lie inside the section's `length` bytes. */
function checkVariableRange(v: VariableSpec, length: number): void {
  const { offset, size } = v;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > length) {
    throw new TsbpfError('BAD_SPEC', `variable '${v.name}': offset ${String(offset)} + size ${String(size)} is outside its ${length}-byte section`);
  }
}

/** Whether the variable's BTF type is a signed or unsigned integer (or enum); undefined when unknown. */
function variableSignedness(spec: CollectionSpec, v: VariableSpec): boolean | undefined {
  if (!spec.btf || !v.type) return undefined;
  try {
    const t = spec.btf.resolve(v.type);
    if (t.kind === 'int') return t.encoding === 'signed';
    if (t.kind === 'enum' || t.kind === 'enum64') return t.signed;
  } catch {
    // Bad BTF: fall back to the size alone.
  }
  return undefined;
}

/**
 * The bytes of `value` for variable `v`: a buffer of its size, or an integer
 * that fits it. `signed` picks the range from the BTF type; without one, both
 * readings of the size are accepted ([-2^(n-1), 2^n)). Nothing is wrapped.
 */
function encodeVariable(v: VariableSpec, value: Uint8Array | number | bigint, signed?: boolean): Uint8Array {
  // (Reached without BTF with anything at all: the checks below say what is wrong.)
  if (value instanceof Uint8Array) {
    if (value.byteLength !== v.size) throw new TsbpfError('BAD_SIZE', `variable '${v.name}' is ${v.size} bytes, got ${value.byteLength}`);
    return value;
  }
  if (typeof value !== 'number' && typeof value !== 'bigint') {
    throw new TsbpfError('BAD_VALUE', `variable '${v.name}': give a number, bigint or Uint8Array, not a ${typeof value}`);
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new TsbpfError('OUT_OF_RANGE', `variable '${v.name}': ${value} is not a safe integer${Number.isInteger(value) ? ' (give a bigint)' : ''}`);
  }
  const b = new Uint8Array(v.size);
  const d = new DataView(b.buffer);
  const n = BigInt(value);
  if (v.size === 1 || v.size === 2 || v.size === 4 || v.size === 8) {
    const bits = BigInt(v.size * 8);
    const min = signed === false ? 0n : -(1n << (bits - 1n));
    const max = signed === true ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    if (n < min || n > max) {
      const kind = signed === undefined ? `${v.size}-byte` : `${signed ? 'signed' : 'unsigned'} ${v.size}-byte`;
      throw new TsbpfError('OUT_OF_RANGE', `variable '${v.name}' is a ${kind} integer: ${value} is out of range [${min}, ${max}]`);
    }
  }
  if (v.size === 1) d.setUint8(0, Number(BigInt.asUintN(8, n)));
  else if (v.size === 2) d.setUint16(0, Number(BigInt.asUintN(16, n)), true);
  else if (v.size === 4) d.setUint32(0, Number(BigInt.asUintN(32, n)), true);
  else if (v.size === 8) d.setBigUint64(0, BigInt.asUintN(64, n), true);
  else throw new TsbpfError('BAD_SIZE', `variable '${v.name}' is ${v.size} bytes: give a Uint8Array`);
  return b;
}

// Map types whose key/value BTF the kernel refuses (libbpf leaves them out too).
const NO_BTF_KV = new Set<number>([
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.STACK_TRACE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.QUEUE,
  MapType.STACK,
  MapType.RINGBUF,
  MapType.USER_RINGBUF,
]);

export function loadCollection(spec: CollectionSpec, opts: CollectionOptions = {}): Collection {
  const coll = new Collection();
  coll.spec = spec;
  try {
    load(spec, opts, coll);
    markWarm('load');
    return coll;
  } catch (e) {
    coll.close();
    throw e;
  }
}

function load(spec: CollectionSpec, opts: CollectionOptions, coll: Collection): void {
  let target: Btf | undefined;
  const targetBtf = (): Btf => {
    if (!target) target = typeof opts.kernelBtf === 'string' ? Btf.parse(readBtfFile(opts.kernelBtf)) : (opts.kernelBtf ?? kernelBtf());
    return target;
  };

  // CO-RE looks in vmlinux first, then in module BTF, which is read and parsed only when vmlinux has no
  // candidate for a type (as libbpf's load_module_btfs).
  let coreTargets: CoreTargets | undefined;
  const coreTargetBtfs = (): CoreTargets => (coreTargets ??= opts.kernelBtf ? [targetBtf()] : { first: targetBtf(), rest: kernelModuleBtfs });

  // 1. Program BTF.
  if (spec.btf) {
    try {
      const features = { ...btfFeatures(btfFeaturesNeeded(spec.btf)), ...opts.btfFeatures };
      coll.adoptBtf(BtfHandle.load(fixupBtfForKernel(spec, spec.btf, features)));
    } catch (e) {
      // BTF is optional to the kernel: go on without it, as libbpf does, and say so.
      coll.warnings.push(`program BTF was rejected, loading without it: ${(e as Error).message}`);
    }
  }
  const btfFd = coll.btfFd;

  // 2. Maps (none is created if together they would claim too much kernel memory).
  // struct_ops values are kernel structs: their sizes and ids come from the running kernel's vmlinux BTF.
  const structOps = new Map<string, StructOpsPlan>();
  for (const m of Object.values(spec.maps)) {
    if (!m.structOps) continue;
    if (!spec.btf) throw new StructOpsError('BAD_STRUCT_OPS', `struct_ops map '${m.name}' needs the object's BTF`);
    structOps.set(m.name, planStructOps(m.name, m.structOps, spec.btf, kernelBtf()));
  }
  const mapSpecs = Object.values(spec.maps).map((m) => {
    const plan = structOps.get(m.name);
    return plan ? { ...m, valueSize: plan.valueSize, btfVmlinuxValueTypeId: plan.valueTypeId } : m;
  });
  checkMapMemory(mapSpecs, opts.maxMapMemory ?? DEFAULT_MAX_MAP_MEMORY, possibleCpuCount());
  if (spec.maps['.kconfig']) fillKconfigMap(spec, opts);
  for (const m of mapSpecs) {
    const map = (coll.maps[m.name] = createMap(spec.name, m, btfFd, opts, coll));
    // The object's BTF describes key and value for typed() even where the kernel took none.
    if (spec.btf && (m.btfKeyType || m.btfValueType)) BpfMap.describe(map, spec.btf, m.btfKeyType ?? 0, m.btfValueType ?? 0);
  }

  // 3. Programs. A struct_ops program attaches to the kernel struct at the member that points to it.
  const structOpsTarget = new Map<string, { attachBtfId: number; memberIndex: number; where: string }>();
  for (const [mapName, plan] of structOps) {
    for (const f of plan.funcs) {
      const where = `${mapName}.${f.member}`;
      const seen = structOpsTarget.get(f.prog);
      if (seen && (seen.attachBtfId !== plan.kernTypeId || seen.memberIndex !== f.memberIndex)) {
        throw new StructOpsError('STRUCT_OPS_MISMATCH', `program '${f.prog}' is used by ${seen.where} and ${where}, which are different hooks`);
      }
      if (!spec.programs[f.prog]) throw new StructOpsError('BAD_STRUCT_OPS', `${where} points to '${f.prog}', which is not a program (SEC("struct_ops/..."))`);
      structOpsTarget.set(f.prog, { attachBtfId: plan.kernTypeId, memberIndex: f.memberIndex, where });
    }
  }
  const coreCache = new CoreCache();
  // As libbpf: a struct_ops program no struct_ops map points to is not loaded (it has no hook to verify against).
  const names = opts.programs ?? Object.keys(spec.programs).filter((n) => resolveProgType(spec.programs[n]!.type) !== ProgType.STRUCT_OPS || structOpsTarget.has(n));
  for (const name of names) {
    const p = spec.programs[name];
    if (!p) throw new CollectionError('NO_PROGRAM', `no program '${name}' in the object; programs: ${Object.keys(spec.programs).join(', ')}`);
    const sot = structOpsTarget.get(name);
    const linked = relocateProgram(spec, name, {
      mapFd: (m) => {
        const map = coll.maps[m];
        if (!map) throw new CollectionError('NO_MAP', `program '${name}' refers to map '${m}', which the object does not define`);
        return map.fd;
      },
      extern: (ext, v, insn) => resolveExtern(spec, () => coll.maps['.kconfig']!.fd, ext, v, insn, name, targetBtf),
      core: spec.btf ? (f, insns, start) => applyCore(f, insns, start, spec.btf!, coreTargetBtfs, coreCache, coll.warnings) : undefined,
    });
    const type = resolveProgType(p.type);
    const attachBtfId = sot?.attachBtfId ?? p.attachBtfId ?? attachTarget(type, p.expectedAttachType, p.sectionName, p.attachTo, targetBtf);
    const sourceOf = (insn: number): SourceLine | undefined => sourceLine(linked, insn);
    coll.programs[name] = Program.load(
      {
        name,
        type,
        instructions: linked.insns,
        license: p.license || spec.license,
        expectedAttachType: sot ? sot.memberIndex : p.expectedAttachType,
        attachBtfId,
        flags: p.flags,
        kernelVersion: p.kernelVersion,
        sectionName: p.sectionName,
        btf:
          btfFd >= 0
            ? { fd: btfFd, funcInfo: linked.funcInfo, funcInfoRecSize: 8, lineInfo: linked.lineInfo, lineInfoRecSize: 16 }
            : undefined,
      },
      { ...opts.program, sourceOf },
    );
  }

  // 4. Initial contents: prog arrays and maps of maps.
  for (const m of Object.values(spec.maps)) {
    if (!m.initial?.length) continue;
    const map = coll.maps[m.name]!;
    for (const { index, name } of m.initial) {
      if (resolveMapType(m.type) === MapType.PROG_ARRAY) {
        const prog = coll.programs[name];
        if (!prog) {
          if (opts.programs) continue; // not loaded on purpose
          throw new CollectionError('NO_PROGRAM', `prog array '${m.name}' slot ${index} names program '${name}', which is not in the object`);
        }
        map.update(index, prog.fd);
      } else if (isMapOfMaps(resolveMapType(m.type))) {
        const inner = coll.maps[name];
        if (!inner) throw new CollectionError('NO_MAP', `map of maps '${m.name}' slot ${index} names map '${name}', which is not in the object`);
        map.update(index, inner.fd);
      }
    }
  }

  // The values struct_ops maps register with (registerStructOps), now that their programs have fds.
  for (const [name, plan] of structOps) {
    const so = spec.maps[name]!.structOps!;
    // Programs left out on purpose (options.programs): the map exists but cannot be registered.
    if (opts.programs && plan.funcs.some((f) => !coll.programs[f.prog])) continue;
    const value = structOpsValue(plan, so, (prog) => {
      const p = coll.programs[prog];
      if (!p) throw new CollectionError('NO_PROGRAM', `struct_ops map '${name}' needs program '${prog}', which was not loaded (left out of options.programs)`);
      return p.fd;
    });
    coll.addStructOps(name, value, so);
  }

  // 5. Variables of global data, through mmapped maps.
  for (const v of Object.values(spec.variables)) {
    const m = spec.maps[v.map];
    const map = coll.maps[v.map];
    if (!m || !map) continue;
    const writable = !m.freeze;
    let mapping: Mapping | undefined;
    const get = () => {
      if (coll.closed) return undefined;
      if (!mapping && ((m.flags ?? 0) & MapFlags.MMAPABLE) !== 0) {
        const len = Math.ceil(Math.max(1, m.valueSize) / pageSize()) * pageSize();
        mapping = mmapFd(map.fd, len, writable ? PROT_READ | PROT_WRITE : PROT_READ, 0, `mmap of ${v.map}`);
        coll.addMapping(mapping);
      }
      return mapping;
    };
    coll.variables[v.name] = new Variable(v, get, writable, variableSignedness(spec, v), codecLater(spec.btf, { ...v }));
  }
}

function fillKconfigMap(spec: CollectionSpec, opts: CollectionOptions): void {
  const m = spec.maps['.kconfig']!;
  const data = m.data!;
  for (const e of Object.values(spec.externs)) {
    if (e.kind !== 'kconfig') continue;
    const varType = spec.btf!.typeById(e.btfId!);
    const typeId = varType.kind === 'var' ? varType.type : varType.id;
    const ok = fillKconfig(e.name, spec.btf!, typeId, data.subarray(e.offset!, e.offset! + e.size!), opts.kconfig);
    if (!ok && !e.weak) throw new CollectionError('KCONFIG_MISSING', `kconfig extern '${e.name}' has no value in this kernel's config (declare it __weak to accept 0)`);
  }
}

function createMap(objName: string, m: ObjMapSpec, btfFd: number, opts: CollectionOptions, coll: Collection): BpfMap {
  const type = resolveMapType(m.type);
  const kernelName = m.origin === 'data' || m.origin === 'kconfig' ? internalMapName(objName, m.name) : m.name;
  const pinDir = opts.pinPath ?? '/sys/fs/bpf';
  // As libbpf: a PERF_EVENT_ARRAY without max_entries gets one slot per possible CPU (before the pin check too).
  if (type === MapType.PERF_EVENT_ARRAY && !m.maxEntries) m = { ...m, maxEntries: possibleCpuCount() };
  // Names come from the object: data, never a path (pinPathFor refuses '/', '..', control and non-UTF-8 bytes).
  const pinAt = m.pinning === 'by-name' ? pinPathFor(pinDir, m.name) : undefined;
  if (pinAt !== undefined) {
    const path = pinAt;
    if (existsSync(path)) {
      const pinned = BpfMap.fromPin(path);
      const i = pinned.info();
      const want = { type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags ?? 0 };
      const got = { type: i.type, keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, flags: i.flags };
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        pinned.close();
        throw new CollectionError('PIN_MISMATCH', `map '${m.name}' pinned at ${path} is ${describe(got)}, the object wants ${describe(want)}`);
      }
      return pinned;
    }
  }
  const useBtf = btfFd >= 0 && !NO_BTF_KV.has(type) && (m.btfKeyType || m.btfValueType);
  const base = { ...m, type, name: kernelName, btfKeyTypeId: useBtf ? m.btfKeyType ?? 0 : 0, btfValueTypeId: useBtf ? m.btfValueType ?? 0 : 0 };
  let map: BpfMap;
  try {
    // A struct_ops value is a vmlinux type, but the kernel still wants the object's BTF fd alongside.
    map = BpfMap.create(base, useBtf || (m.btfVmlinuxValueTypeId && btfFd >= 0) ? { btfFd } : {});
  } catch (e) {
    if (!useBtf) throw e;
    // Some kernels refuse BTF for a type; retry without it, as libbpf does.
    map = BpfMap.create({ ...base, btfKeyTypeId: 0, btfValueTypeId: 0 });
    coll.warnings.push(`map '${m.name}' was created without BTF: ${(e as Error).message}`);
  }
  try {
    if (m.data && m.valueSize > 0) {
      map.update(0, m.data);
    }
    if (m.freeze) map.freeze();
    if (pinAt !== undefined) map.pin(pinAt);
  } catch (e) {
    map.close();
    throw e;
  }
  return map;
}

function describe(x: { type: number; keySize: number; valueSize: number; maxEntries: number; flags: number }): string {
  return `${mapTypeName(x.type)} key ${x.keySize} value ${x.valueSize} max_entries ${x.maxEntries} flags 0x${x.flags.toString(16)}`;
}

function sourceLine(linked: RelocatedProgram, insn: number): SourceLine | undefined {
  let best: (typeof linked.lines)[number] | undefined;
  for (const l of linked.lines) if (l.insnOff <= insn && (!best || l.insnOff >= best.insnOff)) best = l;
  if (!best) return undefined;
  return { file: best.fileName ?? '', line: best.line, column: best.column, text: best.lineText ?? '' };
}
