/**
 * A live BPF map: owns one fd and a small native scratch block whose address
 * is computed once. Element operations write the key into the scratch block,
 * issue bpf(2) with a preallocated attr and read the value back from the same
 * block, so the hot path makes no allocation and no variadic call.
 */
import {
  BpfCmd,
  BpfError,
  Errno,
  MapBatchAttr,
  MapElemAttr,
  MapInfoLayout,
  NativeBlock,
  NotSupportedError,
  addressOf,
  bpfCmdName,
  bpfRaw,
  closeFd,
  coldAttr,
  dupFd,
  ensureMemlock,
  getName,
  possibleCpuCount,
  putPtr,
  type BpfErrorContext,
} from '../../syscall/index.ts';
import { readlinkSync } from 'node:fs';
import { TsbpfError } from '../../errors.ts';
import { ValueRangeError, perCpuCodec, u8, u16, u32, u64, type Codec } from './codec.ts';
import type { Btf } from '../../btf/btf.ts';
import { btfCodec, type BtfCodecOptions, type BtfValue } from '../../btf/codec.ts';
import { btfById } from '../btf/objects.ts';
import type { MapSpec } from './spec.ts';
import {
  MapFlags,
  MapType,
  UpdateFlags,
  isKeyless,
  isMapOfMaps,
  isPerCpu,
  mapTypeName,
  resolveMapType,
  type UpdateFlag,
} from './types.ts';
import { unpinPath } from '../pin.ts';
import { mapCreateRaw, mapFreeze } from '../../syscall/index.ts';
import { FdHandle, objectIds, objectInfo, openById, openPinned, pinFd } from '../handle.ts';
import { isMapTypeSupported } from './probe.ts';
import { kernelPredates, notSupported } from '../features.ts';

export type MapKey = Uint8Array | number | bigint;
export type MapValue = Uint8Array | number | bigint;

/** What the kernel reports about a map (BPF_OBJ_GET_INFO_BY_FD). */
export interface MapInfo {
  type: number;
  typeName: string;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  ifindex: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  btfVmlinuxValueTypeId: number;
  mapExtra: bigint;
}

export interface CreateMapOptions {
  /** BTF object fd holding the spec's btf*TypeId types. */
  btfFd?: number;
}

/** Where a batch walk is: pass the same cursor to successive batch calls. */
export interface BatchCursor {
  /** Opaque position from the previous call (kernel token, or last key in the fallback). */
  token?: Buffer;
  /** Set when the walk reached the end. */
  done: boolean;
}

/** Thrown when keys or values have the wrong size, before any syscall. */
export class MapSizeError extends TsbpfError {
  declare readonly code: 'BAD_SIZE';
  constructor(message: string) {
    super('BAD_SIZE', message);
  }
}

/** Iteration noticed the kernel restarted from the first key (the key it stood on was deleted by someone else). */
export class IterationRestartedError extends TsbpfError {
  declare readonly code: 'ITERATION_RESTARTED';
  constructor(map: string) {
    super(
      'ITERATION_RESTARTED',
      `iteration of '${map}' restarted from the first key because the key it stood on was deleted concurrently; keys would repeat`,
    );
  }
}

/** Thrown when an operation that belongs to some map types is called on another, before any syscall. */
export class WrongMapTypeError extends TsbpfError {
  declare readonly code: 'WRONG_MAP_TYPE';
  constructor(map: string, type: number, op: string, wants: readonly number[] | string) {
    const need = typeof wants === 'string' ? wants : `needs ${wants.map(mapTypeName).join(' or ')}`;
    super('WRONG_MAP_TYPE', `map '${map}' is ${mapTypeName(type)}: ${op} ${need}`);
  }
}

/** Thrown when a map update names something the map cannot hold (wrong inner map, a map in a prog array), before the syscall. */
export class MapValueError extends TsbpfError {
  declare readonly code: 'BAD_VALUE';
  constructor(message: string) {
    super('BAD_VALUE', message);
  }
}

/**
 * Only this module constructs BpfMaps: the constructor trusts its sizes (they
 * size the scratch block the kernel writes into), so they must come from the
 * kernel or from a spec the kernel accepted, never from a caller.
 */
const INTERNAL: unique symbol = Symbol('BpfMap.internal');

/** Fields fixed at construction; frozen so that no caller can change the sizes the scratch block was laid out for. */
const FROZEN_FIELDS = ['name', 'type', 'keySize', 'valueSize', 'maxEntries', 'flags', 'valueBytes', 'valueStride', 'perCpu'] as const;

/** The inner-map properties the kernel compares on a map-of-maps update (bpf_map_meta_equal, and max_entries for arrays without BPF_F_INNER_MAP). */
interface InnerTemplate {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

const ELEM = MapElemAttr;
const ATTR_BYTES = 32;

function sanitizeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

function isFixedInt(size: number): boolean {
  return size === 1 || size === 2 || size === 4 || size === 8;
}

export class BpfMap extends FdHandle {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** Bytes the kernel reads or writes per value: valueSize, or one 8-byte-aligned slot per possible CPU. */
  readonly valueBytes: number;
  /** Distance between per-CPU slots (valueSize rounded up to 8); valueSize for other maps. */
  readonly valueStride: number;
  readonly perCpu: boolean;

  #s: NativeBlock | undefined;
  readonly #koff: number;
  /** Values are fds (prog arrays, maps of maps): update() checks what they name. */
  readonly #fdValues: boolean;
  readonly #nkoff: number;
  readonly #voff: number;
  readonly #kaddr: number;
  readonly #nkaddr: number;
  readonly #vaddr: number;
  readonly #ctx: BpfErrorContext;
  /** For maps of maps created here: what an inner map must look like. */
  #inner: InnerTemplate | undefined;
  /** Where the key and value types are described: the object's BTF, or the kernel's BTF object of the map (fetched on first use). */
  #btf: MapBtf | undefined;

  /** Internal: get maps from BpfMap.create / fromPin / fromId / fromFd, which take the sizes from the kernel. */
  constructor(token: typeof INTERNAL, fd: number, info: Pick<MapInfo, 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'name'>) {
    if (token !== INTERNAL) {
      throw new TsbpfError('INTERNAL_CONSTRUCTOR', 'BpfMap cannot be constructed directly: use BpfMap.create, fromFd, fromPin or fromId (they take the sizes from the kernel)');
    }
    super(fd);
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.perCpu = isPerCpu(info.type);
    this.valueStride = this.perCpu ? (info.valueSize + 7) & ~7 : info.valueSize;
    this.valueBytes = this.perCpu ? this.valueStride * possibleCpuCount() : info.valueSize;

    const kslot = (info.keySize + 7) & ~7;
    this.#koff = ATTR_BYTES;
    this.#fdValues = info.type === MapType.PROG_ARRAY || isMapOfMaps(info.type);
    this.#nkoff = this.#koff + kslot;
    this.#voff = this.#nkoff + kslot;
    const s = new NativeBlock(this.#voff + Math.max(8, this.valueBytes));
    this.#s = s;
    // Bound to the block alone: the finalizer must not reference the map.
    this.releaseOnCollect(s.free.bind(s));
    this.#kaddr = info.keySize ? s.addr + this.#koff : 0;
    this.#nkaddr = s.addr + this.#nkoff;
    this.#vaddr = s.addr + this.#voff;
    s.u32[ELEM.map_fd >> 2] = fd;
    putPtr(s.u32, ELEM.key, this.#kaddr);
    this.#ctx = { object: info.name || `map fd ${fd}` };
    for (const f of FROZEN_FIELDS) Object.defineProperty(this, f, { writable: false, configurable: false });
  }

  /** Create a map from a spec. The returned map owns its fd. */
  static create(spec: MapSpec, opts: CreateMapOptions = {}): BpfMap {
    ensureMemlock();
    const type = resolveMapType(spec.type);
    let flags = spec.flags ?? 0;
    const name = sanitizeName(spec.name ?? '');
    checkSpecSizes(type, spec, name);
    let innerFd = -1;
    let template: InnerTemplate | undefined;
    try {
      if (isMapOfMaps(type)) {
        if (!spec.innerMap) throw new TsbpfError('BAD_SPEC', `map '${name}': ${mapTypeName(type)} needs an innerMap template`);
        // The kernel only needs a template map for the inner type; it is closed once the outer map exists.
        const inner = BpfMap.create({ ...spec.innerMap, name: spec.innerMap.name ?? `${name}.inner`.slice(0, 15) });
        template = { type: inner.type, keySize: inner.keySize, valueSize: inner.valueSize, maxEntries: inner.maxEntries, flags: inner.flags };
        innerFd = dupFd(inner.fd);
        inner.close();
      }
      if (spec.numaNode !== undefined) flags |= MapFlags.NUMA_NODE;
      const r = mapCreateRaw({
        type,
        keySize: spec.keySize,
        valueSize: spec.valueSize,
        maxEntries: spec.maxEntries,
        flags,
        name,
        innerFd,
        numaNode: spec.numaNode,
        ifindex: spec.ifindex,
        btfFd: opts.btfFd,
        btfKeyTypeId: spec.btfKeyTypeId,
        btfValueTypeId: spec.btfValueTypeId,
        btfVmlinuxValueTypeId: spec.btfVmlinuxValueTypeId,
        mapExtra: spec.mapExtra,
      });
      if (r < 0) {
        const errno = -r;
        // A type the kernel does not know fails with EINVAL; tell that apart from bad parameters with a probe.
        if ((errno === Errno.EINVAL || errno === Errno.ENOTSUPP || errno === Errno.EOPNOTSUPP) && !isMapTypeSupported(type)) {
          throw notSupported(`map type ${mapTypeName(type)}`, `creating '${name}'`);
        }
        throw new BpfError('BPF_MAP_CREATE', errno, { object: name || mapTypeName(type) }, describeSpec(type, spec, flags));
      }
      const m = new BpfMap(INTERNAL, r, {
        type,
        keySize: spec.keySize,
        valueSize: spec.valueSize,
        maxEntries: spec.maxEntries,
        flags,
        name,
      });
      m.#inner = template;
      return m;
    } finally {
      if (innerFd >= 0) closeFd(innerFd);
    }
  }

  /** Open a map pinned in bpffs. */
  static fromPin(path: string, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
    const fd = openPinned(path, (opts.readOnly ? MapFlags.RDONLY : 0) | (opts.writeOnly ? MapFlags.WRONLY : 0));
    return BpfMap.#adopt(fd, path);
  }

  /** Open a map by its kernel id (needs CAP_SYS_ADMIN). */
  static fromId(id: number): BpfMap {
    return BpfMap.#adopt(openById(BpfCmd.MAP_GET_FD_BY_ID, id, 'map'), `map id ${id}`);
  }

  /** Open a map from an fd the caller keeps; tsbpf owns a duplicate. */
  static fromFd(fd: number): BpfMap {
    return BpfMap.#adopt(dupFd(fd), `map fd ${fd}`);
  }

  static #adopt(fd: number, what: string): BpfMap {
    let info: MapInfo;
    try {
      // OBJ_GET_INFO_BY_FD also answers for programs, links and BTF, in their own layouts.
      if (!isMapFd(fd)) throw new TsbpfError('NOT_A_MAP', `${what} is not a BPF map`);
      info = mapInfoByFd(fd, what);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return new BpfMap(INTERNAL, fd, info);
  }

  protected get what(): string {
    return `map '${this.name}'`;
  }

  /** The scratch block goes with the fd. */
  protected override released(): void {
    this.#s?.free();
    this.#s = undefined;
  }

  // ---- scratch helpers ------------------------------------------------------

  /** Refuse an operation of other map types before any syscall. */
  #need(op: string, types: readonly number[]): void {
    if (!types.includes(this.type)) throw new WrongMapTypeError(this.name, this.type, op, types);
  }

  /** Codecs read and write exactly one value (or key): their size must be the map's, and per-CPU values are one slot per CPU. */
  #checkCodec(op: string, codec: Codec<unknown>, size: number, what: 'key' | 'value'): void {
    if (what === 'value' && this.perCpu) {
      // A codec of every CPU's slots (perCpuCodec) reads them all; one of a single value would see CPU 0's only.
      if (codec.size === this.valueBytes) return;
      throw new WrongMapTypeError(this.name, this.type, op, PERCPU_CODEC);
    }
    if (codec.size !== size) throw new MapSizeError(`map '${this.name}': ${what} codec is ${codec.size} bytes, the map's ${what} is ${size}`);
  }

  #scratch(): NativeBlock {
    const s = this.#s;
    if (!s) throw new TsbpfError('CLOSED', `map '${this.name}' is closed`);
    return s;
  }

  #putKey(s: NativeBlock, key: MapKey, off = this.#koff): void {
    const ks = this.keySize;
    if (typeof key === 'number') {
      // The common u32 key: `key >>> 0 === key` holds exactly for integers in [0, 2^32).
      if (ks === 4 && key >>> 0 === key) {
        s.u32[off >> 2] = key;
        return;
      }
    } else if (key instanceof Uint8Array && key.length === ks) {
      copyIn(s, off, key, ks);
      return;
    }
    putScalar(s, off, ks, key, 'key', this.name);
  }

  #putValue(s: NativeBlock, value: MapValue): void {
    // The common u64 value, in every CPU's slot for per-CPU maps (the stride is 8): a number is
    // written as two u32 halves, without a BigInt. Integers are unsigned (signed values go through i32/i64 codecs or bytes).
    const isNum = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
    if (this.valueSize === 8 && (isNum || (typeof value === 'bigint' && value >= 0n && value < U64_END))) {
      const u = s.u32;
      const i = this.#voff >> 2;
      if (isNum) {
        u[i] = (value as number) >>> 0;
        u[i + 1] = Math.floor((value as number) / 0x1_0000_0000) >>> 0;
      } else s.view.setBigUint64(this.#voff, value as bigint, true);
      for (let j = i + 2, end = i + (this.valueBytes >> 2); j < end; j += 2) {
        u[j] = u[i]!;
        u[j + 1] = u[i + 1]!;
      }
      return;
    }
    if (this.perCpu) {
      // One value for every CPU: replicate a scalar, or take the whole padded buffer.
      if (value instanceof Uint8Array && value.byteLength === this.valueBytes) {
        s.bytes.set(value, this.#voff);
        return;
      }
      if (value instanceof Uint8Array && value.byteLength !== this.valueSize) {
        throw new MapSizeError(
          `map '${this.name}': per-CPU value must be ${this.valueSize} bytes (copied to every CPU) or ${this.valueBytes} bytes (one ${this.valueStride}-byte slot per possible CPU), got ${value.byteLength}`,
        );
      }
      const n = this.valueBytes / this.valueStride;
      for (let c = 0; c < n; c++) putScalar(s, this.#voff + c * this.valueStride, this.valueSize, value, 'value', this.name);
      return;
    }
    putScalar(s, this.#voff, this.valueSize, value, 'value', this.name);
  }

  /** The element command on the scratch block `s` (the caller's, from #scratch()). */
  #elem(s: NativeBlock, cmd: number, valuePtr: number, flags: number): number {
    const u = s.u32;
    putPtr(u, ELEM.value, valuePtr);
    u[ELEM.flags >> 2] = flags;
    u[(ELEM.flags >> 2) + 1] = 0;
    return bpfRaw(cmd, s, ELEM.SIZE);
  }

  #fail(cmd: number, r: number, extra?: Partial<Record<string, string>>): never {
    throw new BpfError(bpfCmdName(cmd), -r, { ...this.#ctx, hints: extra });
  }

  // ---- element operations ---------------------------------------------------

  /**
   * Look a key up. Returns a copy of the value, or `out` filled with it, or
   * undefined when the key is missing. Per-CPU maps: use lookupPerCpu, or pass
   * an `out` of valueBytes to get every CPU's slot.
   */
  lookup(key: MapKey): Buffer | undefined;
  lookup<T extends Uint8Array>(key: MapKey, out: T, flags?: number): T | undefined;
  lookup(key: MapKey, out?: Uint8Array, flags = 0): Uint8Array | undefined {
    const s = this.#s;
    // The common call (a value-sized buffer, no flags) in one frame: a deep chain of small calls
    // cost ~20 ns more than the bpf(2) call itself.
    if (s !== undefined && out !== undefined && flags === 0 && out.length === this.valueSize && !this.perCpu) {
      this.#putKey(s, key);
      const r = this.#elem(s, BpfCmd.MAP_LOOKUP_ELEM, this.#vaddr, 0);
      if (r === 0) {
        copyOut(out, s, this.#voff, this.valueSize);
        return out;
      }
      if (r === -Errno.ENOENT) return undefined;
      this.#fail(BpfCmd.MAP_LOOKUP_ELEM, r);
    }
    this.#checkOut(out);
    if (!this.#lookupRaw(key, elemFlags(flags, this.name))) return undefined;
    return this.#copyValue(out);
  }

  /** True when the key is present. */
  has(key: MapKey): boolean {
    return this.#lookupRaw(key, 0);
  }

  /** One copy of the value per possible CPU. */
  lookupPerCpu(key: MapKey): Buffer[] | undefined {
    if (!this.perCpu) throw new TsbpfError('NOT_PERCPU', `map '${this.name}' (${mapTypeName(this.type)}) is not per-CPU`);
    if (!this.#lookupRaw(key, 0)) return undefined;
    return this.#splitPerCpu();
  }

  /** Every CPU's slot decoded with a codec of valueSize bytes, into `out` when given (no Buffer per CPU). */
  lookupPerCpuWith<V>(key: MapKey, codec: Codec<V>, out?: V[]): V[] | undefined {
    if (!this.perCpu) throw new TsbpfError('NOT_PERCPU', `map '${this.name}' (${mapTypeName(this.type)}) is not per-CPU`);
    if (codec.size !== this.valueSize) throw new MapSizeError(`map '${this.name}': value codec is ${codec.size} bytes, the map's value is ${this.valueSize}`);
    if (!this.#lookupRaw(key, 0)) return undefined;
    const s = this.#s!;
    const stride = this.valueStride;
    const n = this.valueBytes / stride;
    const res = out ?? new Array<V>(n);
    if (res.length !== n) res.length = n;
    for (let c = 0, o = this.#voff; c < n; c++, o += stride) res[c] = codec.decode(s.bytes, s.view, o);
    return res;
  }

  /** Decode the value with a codec straight from the scratch block (no intermediate copy). */
  lookupWith<V>(key: MapKey, codec: Codec<V>): V | undefined {
    this.#checkCodec('lookupWith', codec, this.valueSize, 'value');
    if (!this.#lookupRaw(key, 0)) return undefined;
    const s = this.#s!;
    return codec.decode(s.bytes, s.view, this.#voff);
  }

  /** Lookup leaving the value in the scratch block; false on ENOENT. @internal */
  #lookupRaw(key: MapKey, flags: number): boolean {
    const s = this.#scratch();
    this.#putKey(s, key);
    const r = this.#elem(s, BpfCmd.MAP_LOOKUP_ELEM, this.#vaddr, flags);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    this.#fail(BpfCmd.MAP_LOOKUP_ELEM, r);
  }

  /**
   * Refuse a wrong-sized output buffer before the syscall: pop and lookupAndDelete would lose the value.
   * Per-CPU maps need room for every CPU's slot (one slot would silently be CPU 0's).
   */
  #checkOut(out: Uint8Array | undefined): void {
    if (out && out.length !== this.valueBytes && (this.perCpu || out.length !== this.valueSize)) {
      throw new MapSizeError(`map '${this.name}': output buffer must be ${this.valueBytes} bytes, got ${out.byteLength}`);
    }
  }

  #copyValue(out?: Uint8Array): Buffer | Uint8Array {
    const s = this.#s!;
    const n = out && out.length === this.valueBytes ? this.valueBytes : this.perCpu && !out ? this.valueBytes : this.valueSize;
    if (out) {
      if (out.length !== n) throw new MapSizeError(`map '${this.name}': output buffer must be ${this.valueBytes} bytes, got ${out.byteLength}`);
      copyOut(out, s, this.#voff, n);
      return out;
    }
    return Buffer.from(s.bytes.subarray(this.#voff, this.#voff + n));
  }

  #splitPerCpu(): Buffer[] {
    const s = this.#s!;
    const stride = this.valueStride;
    const n = this.valueBytes / stride;
    // One copy of every slot, then a view per CPU (the views do not overlap).
    const all = Buffer.copyBytesFrom(s.bytes, this.#voff, this.valueBytes);
    const out: Buffer[] = new Array(n);
    for (let c = 0; c < n; c++) out[c] = all.subarray(c * stride, c * stride + this.valueSize);
    return out;
  }

  /**
   * Create or replace an element. `flags`: 'ANY' (default), 'NOEXIST', 'EXIST'
   * or 'LOCK' (or their numeric BPF_* values). For maps of maps the value is
   * the inner map (or its fd); for prog arrays a program fd.
   */
  update(key: MapKey, value: MapValue | { fd: number }, flags: UpdateFlag | number = 0): void {
    const s = this.#scratch();
    const f = flags === 0 ? 0 : elemFlags(flags, this.name);
    if (this.keySize) this.#putKey(s, key);
    const v = typeof value === 'object' && !(value instanceof Uint8Array) ? value.fd : value;
    if (typeof v === 'number' && this.#fdValues) this.#checkFdValue(v);
    this.#putValue(s, v);
    const r = this.#elem(s, BpfCmd.MAP_UPDATE_ELEM, this.#vaddr, f);
    if (r !== 0) this.#fail(BpfCmd.MAP_UPDATE_ELEM, r, this.#updateHints());
  }

  /** Set every CPU's slot of a per-CPU value. */
  updatePerCpu(key: MapKey, values: readonly MapValue[], flags: UpdateFlag | number = 0): void {
    if (!this.perCpu) throw new TsbpfError('NOT_PERCPU', `map '${this.name}' (${mapTypeName(this.type)}) is not per-CPU`);
    const n = this.valueBytes / this.valueStride;
    if (values.length !== n) throw new MapSizeError(`map '${this.name}': need one value per possible CPU (${n}), got ${values.length}`);
    const s = this.#scratch();
    this.#putKey(s, key);
    s.bytes.fill(0, this.#voff, this.#voff + this.valueBytes);
    for (let c = 0; c < n; c++) putScalar(s, this.#voff + c * this.valueStride, this.valueSize, values[c]!, 'value', this.name);
    const f = elemFlags(flags, this.name);
    const r = this.#elem(s, BpfCmd.MAP_UPDATE_ELEM, this.#vaddr, f);
    if (r !== 0) this.#fail(BpfCmd.MAP_UPDATE_ELEM, r, this.#updateHints());
  }

  /** Encode the value with a codec straight into the scratch block. */
  updateWith<V>(key: MapKey, value: V, codec: Codec<V>, flags: UpdateFlag | number = 0): void {
    const all = this.perCpu && codec.size === this.valueBytes;
    if (codec.size !== this.valueSize && !all) throw new MapSizeError(`map '${this.name}': value codec is ${codec.size} bytes, the map's value is ${this.valueSize}`);
    const s = this.#scratch();
    if (this.keySize) this.#putKey(s, key);
    codec.encode(value, s.bytes, s.view, this.#voff);
    if (all) return this.#updateScratch(flags);
    // Per-CPU: the kernel reads a slot for every CPU; copy the value to each, like update() does with a scalar.
    for (let o = this.valueStride; o < this.valueBytes; o += this.valueStride) s.bytes.copyWithin(this.#voff + o, this.#voff, this.#voff + this.valueSize);
    this.#updateScratch(flags);
  }

  /** MAP_UPDATE_ELEM of the key and value already in the scratch block. */
  #updateScratch(flags: UpdateFlag | number): void {
    const f = elemFlags(flags, this.name);
    const r = this.#elem(this.#scratch(), BpfCmd.MAP_UPDATE_ELEM, this.#vaddr, f);
    if (r !== 0) this.#fail(BpfCmd.MAP_UPDATE_ELEM, r, this.#updateHints());
  }

  /**
   * A prog array holds programs and a map of maps holds maps like its
   * template: the kernel answers anything else with a bare EINVAL, so say
   * what is wrong first. Fds /proc cannot name are left to the kernel.
   */
  #checkFdValue(fd: number): void {
    const kind = fdKind(fd);
    if (kind === undefined) return;
    if (this.type === MapType.PROG_ARRAY) {
      if (kind !== 'bpf-prog') throw new MapValueError(`map '${this.name}' is a PROG_ARRAY: its values are program fds, fd ${fd} is ${describeFdKind(kind)}`);
      return;
    }
    if (kind !== 'bpf-map') throw new MapValueError(`map '${this.name}' is a ${mapTypeName(this.type)}: its values are map fds, fd ${fd} is ${describeFdKind(kind)}`);
    const t = this.#inner;
    if (!t) return; // opened, not created here: the template is not known
    const i = mapInfoByFd(fd, `fd ${fd}`);
    const diff: string[] = [];
    if (i.type !== t.type) diff.push(`type ${mapTypeName(i.type)}, the template's is ${mapTypeName(t.type)}`);
    if (i.keySize !== t.keySize) diff.push(`key size ${i.keySize}, the template's is ${t.keySize}`);
    if (i.valueSize !== t.valueSize) diff.push(`value size ${i.valueSize}, the template's is ${t.valueSize}`);
    if (i.flags !== t.flags) diff.push(`flags 0x${i.flags.toString(16)}, the template's are 0x${t.flags.toString(16)}`);
    // Array templates also fix max_entries, unless created with BPF_F_INNER_MAP.
    if (t.type === MapType.ARRAY && (t.flags & MapFlags.INNER_MAP) === 0 && i.maxEntries !== t.maxEntries) {
      diff.push(`max_entries ${i.maxEntries}, the template's is ${t.maxEntries} (create the template with BPF_F_INNER_MAP to allow any)`);
    }
    if (isMapOfMaps(i.type)) diff.push('a map of maps cannot be an inner map');
    if (diff.length) throw new MapValueError(`map '${this.name}': inner map '${i.name}' does not match the inner map template: ${diff.join('; ')}`);
  }

  #updateHints(): Partial<Record<string, string>> {
    const arrayLike = INDEXED.has(this.type);
    return {
      E2BIG: arrayLike
        ? `index out of range (max_entries ${this.maxEntries})`
        : `the map is full (max_entries ${this.maxEntries})`,
      EEXIST: 'the key already exists (NOEXIST was given)',
      ENOENT: 'the key does not exist (EXIST was given)',
      EBADF: isMapOfMaps(this.type) || this.type === MapType.PROG_ARRAY ? 'the value must be an open fd' : undefined,
      // Element writes check no capability: EPERM means the map refuses user-space writes.
      EPERM: 'the map is frozen (BPF_MAP_FREEZE) or this fd was opened read-only',
    };
  }

  /** Delete a key; false when it was not there. */
  delete(key: MapKey): boolean {
    const s = this.#scratch();
    this.#putKey(s, key);
    deletions++;
    const r = this.#elem(s, BpfCmd.MAP_DELETE_ELEM, 0, 0);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    this.#fail(BpfCmd.MAP_DELETE_ELEM, r, {
      EINVAL: this.type === MapType.ARRAY || this.type === MapType.PERCPU_ARRAY ? 'array elements cannot be deleted' : undefined,
      EPERM: this.#updateHints().EPERM,
    });
  }

  /** Look a key up and delete it atomically; undefined when missing. */
  lookupAndDelete(key: MapKey): Buffer | undefined;
  lookupAndDelete<T extends Uint8Array>(key: MapKey, out: T): T | undefined;
  lookupAndDelete(key: MapKey, out?: Uint8Array): Uint8Array | undefined {
    this.#checkOut(out);
    const s = this.#scratch();
    this.#putKey(s, key);
    deletions++;
    const r = this.#elem(s, BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, this.#vaddr, 0);
    if (r === -Errno.ENOENT) return undefined;
    // Hash maps take the command only since 5.14 (queues and stacks since 4.20): older kernels answer ENOTSUPP.
    if (r === -Errno.ENOTSUPP && HASH_KINDS.includes(this.type) && kernelPredates('lookupAndDelete on hash maps')) {
      throw notSupported('lookupAndDelete on hash maps', `map '${this.name}'`);
    }
    if (r !== 0) this.#fail(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, r);
    return this.#copyValue(out);
  }

  // ---- queue, stack, bloom filter ------------------------------------------

  /** Push onto a QUEUE or STACK ('EXIST' overwrites the oldest when full); add to a BLOOM_FILTER. */
  push(value: MapValue, flags: UpdateFlag | number = 0): void {
    this.#need('push', PUSH_KINDS);
    const s = this.#scratch();
    this.#putValue(s, value);
    const f = elemFlags(flags, this.name);
    const r = this.#elem(s, BpfCmd.MAP_UPDATE_ELEM, this.#vaddr, f);
    if (r !== 0) this.#fail(BpfCmd.MAP_UPDATE_ELEM, r, { E2BIG: `the ${mapTypeName(this.type).toLowerCase()} is full (max_entries ${this.maxEntries}); push with 'EXIST' to overwrite` });
  }

  /** Remove and return the head of a QUEUE (oldest) or STACK (newest); undefined when empty. */
  pop(): Buffer | undefined;
  pop<T extends Uint8Array>(out: T): T | undefined;
  pop(out?: Uint8Array): Uint8Array | undefined {
    return this.#head('pop', BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, out);
  }

  /** Return the head without removing it; undefined when empty. */
  peek(): Buffer | undefined;
  peek<T extends Uint8Array>(out: T): T | undefined;
  peek(out?: Uint8Array): Uint8Array | undefined {
    return this.#head('peek', BpfCmd.MAP_LOOKUP_ELEM, out);
  }

  /** The head of a QUEUE or STACK through `cmd` (keyless: the value slot only); undefined when empty. */
  #head(op: string, cmd: number, out: Uint8Array | undefined): Uint8Array | undefined {
    this.#need(op, POP_KINDS);
    this.#checkOut(out);
    const s = this.#scratch();
    const r = this.#elem(s, cmd, this.#vaddr, 0);
    if (r === -Errno.ENOENT) return undefined;
    if (r !== 0) this.#fail(cmd, r);
    return this.#copyValue(out);
  }

  /** BLOOM_FILTER: false means certainly absent, true means probably present. */
  mayContain(value: MapValue): boolean {
    this.#need('mayContain', [MapType.BLOOM_FILTER]);
    const s = this.#scratch();
    this.#putValue(s, value);
    const r = this.#elem(s, BpfCmd.MAP_LOOKUP_ELEM, this.#vaddr, 0);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    this.#fail(BpfCmd.MAP_LOOKUP_ELEM, r);
  }

  // ---- maps of maps, stack traces ------------------------------------------

  /** ARRAY_OF_MAPS / HASH_OF_MAPS: the id of the inner map at `key`, or undefined. */
  innerMapId(key: MapKey): number | undefined {
    this.#need('innerMapId', MAP_OF_MAPS_KINDS);
    if (!this.#lookupRaw(key, 0)) return undefined;
    return this.#s!.view.getUint32(this.#voff, true);
  }

  /** ARRAY_OF_MAPS / HASH_OF_MAPS: open the inner map at `key` (a new handle the caller owns). */
  innerMap(key: MapKey): BpfMap | undefined {
    const id = this.innerMapId(key);
    return id === undefined ? undefined : BpfMap.fromId(id);
  }

  /** STACK_TRACE: the instruction pointers of stack `id`, innermost first; undefined when absent. */
  stackTrace(id: number): bigint[] | undefined {
    this.#need('stackTrace', [MapType.STACK_TRACE]);
    if (!this.#lookupRaw(id, 0)) return undefined;
    const s = this.#s!;
    const ips: bigint[] = [];
    for (let o = 0; o + 8 <= this.valueSize; o += 8) {
      const ip = s.view.getBigUint64(this.#voff + o, true);
      if (ip === 0n) break;
      ips.push(ip);
    }
    return ips;
  }

  // ---- iteration ------------------------------------------------------------

  /** The key after `key` (or the first key when undefined); undefined at the end. */
  nextKey(key?: MapKey): Buffer | undefined;
  nextKey<T extends Uint8Array>(key: MapKey | undefined, out: T): T | undefined;
  nextKey(key?: MapKey, out?: Uint8Array): Uint8Array | undefined {
    if (!this.#nextKeyRaw(key)) return undefined;
    const s = this.#s!;
    if (out) {
      if (out.length !== this.keySize) throw new MapSizeError(`map '${this.name}': key buffer must be ${this.keySize} bytes, got ${out.byteLength}`);
      copyOut(out, s, this.#nkoff, this.keySize);
      return out;
    }
    return Buffer.from(s.bytes.subarray(this.#nkoff, this.#nkoff + this.keySize));
  }

  /** get_next_key into the scratch next-key slot. */
  #nextKeyRaw(key?: MapKey): boolean {
    const s = this.#scratch();
    let r: number;
    if (key === undefined) {
      putPtr(s.u32, ELEM.key, 0);
      r = this.#elem(s, BpfCmd.MAP_GET_NEXT_KEY, this.#nkaddr, 0);
      putPtr(s.u32, ELEM.key, this.#kaddr);
    } else {
      this.#putKey(s, key);
      r = this.#elem(s, BpfCmd.MAP_GET_NEXT_KEY, this.#nkaddr, 0);
    }
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    this.#fail(BpfCmd.MAP_GET_NEXT_KEY, r);
  }

  /**
   * Walk keys with get_next_key. The next key is fetched before the current
   * one is handed out, so deleting the current key inside the loop is safe.
   * If the key the walk stands on is deleted by someone else, the kernel
   * restarts hash maps from their first key; the walk notices when it is handed
   * the map's first key again and throws IterationRestartedError rather than
   * repeat keys silently (after deletions made in this process it re-reads
   * the first key, which may itself have been deleted; deletions by programs
   * or other processes that also remove the first key go unnoticed), and it
   * never yields more than max_entries keys (no endless loop, whatever the
   * map's churn).
   */
  *keys(): Generator<Buffer, void, undefined> {
    for (const k of this.#walk()) yield Buffer.from(k);
  }

  /**
   * Walk [key, value] pairs (per-CPU maps give every slot, see lookupPerCpu).
   * Hash and array maps are read with BPF_MAP_LOOKUP_BATCH, ENTRIES_BATCH
   * entries per syscall (one call instead of two per entry); the keys and
   * values handed out are views of a fresh block per batch, safe to keep.
   * A batch is read before its first entry is yielded, so an entry deleted
   * in the loop after its batch was read is still yielded; deleting the
   * current key is safe. Other map types, and kernels without batch
   * operations, walk with get_next_key + lookup (entries deleted mid-walk are
   * then skipped; see keys() for concurrent deletions).
   */
  *entries(): Generator<[Buffer, Buffer], void, undefined> {
    const ks = this.keySize;
    const vb = this.valueBytes;
    yield* this.#batchWalk(
      (keys, values, _kd, _vd, i) => [keys.subarray(i * ks, i * ks + ks), values.subarray(i * vb, i * vb + vb)],
      () => this.#walkEntries(),
    );
  }

  /** entries() decoding keys and values with codecs (per-CPU maps: a codec of every CPU's slot, perCpuCodec); the same batching. */
  *entriesWith<K, V>(key: Codec<K>, value: Codec<V>): Generator<[K, V], void, undefined> {
    this.#checkCodec('entriesWith', key, this.keySize, 'key');
    this.#checkCodec('entriesWith', value, this.valueSize, 'value');
    const ks = this.keySize;
    const vs = this.valueBytes;
    yield* this.#batchWalk(
      (keys, values, kd, vd, i) => [key.decode(keys, kd, i * ks), value.decode(values, vd, i * vs)],
      function* (this: BpfMap) {
        for (const [kb, vb] of this.#walkEntries()) {
          yield [key.decode(kb, new DataView(kb.buffer, kb.byteOffset, ks), 0), value.decode(vb, new DataView(vb.buffer, vb.byteOffset, vs), 0)] as [K, V];
        }
      }.bind(this),
    );
  }

  /** keys() decoding each key with a codec (no Buffer per key). */
  *keysWith<K>(codec: Codec<K>): Generator<K, void, undefined> {
    this.#checkCodec('keysWith', codec, this.keySize, 'key');
    let dv: DataView | undefined;
    for (const k of this.#walk()) {
      if (dv?.buffer !== k.buffer || dv.byteOffset !== k.byteOffset) dv = new DataView(k.buffer, k.byteOffset, k.byteLength);
      yield codec.decode(k, dv, 0);
    }
  }

  /** nextKey() decoding the key with a codec straight from the scratch block; undefined at the end. */
  nextKeyWith<K>(key: MapKey | undefined, codec: Codec<K>): K | undefined {
    if (codec.size !== this.keySize) throw new MapSizeError(`map '${this.name}': key codec is ${codec.size} bytes, the map's key is ${this.keySize}`);
    if (!this.#nextKeyRaw(key)) return undefined;
    const s = this.#s!;
    return codec.decode(s.bytes, s.view, this.#nkoff);
  }

  [Symbol.iterator](): Generator<[Buffer, Buffer], void, undefined> {
    return this.entries();
  }

  /** Entries one get_next_key + lookup at a time (values copied); entries deleted mid-walk are skipped. */
  *#walkEntries(): Generator<[Buffer, Buffer], void, undefined> {
    for (const k of this.#walk()) {
      const key = Buffer.from(k);
      if (this.#lookupRaw(key, 0)) yield [key, this.#copyValue() as Buffer];
    }
  }

  /**
   * Every entry through BPF_MAP_LOOKUP_BATCH, `each` making what is yielded
   * from entry i of a batch block; `fallback` where the map type or kernel
   * has no batch lookups.
   */
  *#batchWalk<T>(
    each: (keys: Buffer, values: Buffer, kd: DataView, vd: DataView, i: number) => T,
    fallback: () => Generator<T, void, undefined>,
  ): Generator<T, void, undefined> {
    const s = this.#scratch();
    if (!BATCH_WALK.has(this.type) || batchOps === false) {
      yield* fallback();
      return;
    }
    const ks = this.keySize;
    const vb = this.valueBytes;
    let n = Math.min(ENTRIES_BATCH, Math.max(1, this.maxEntries));
    // in_batch and out_batch may be the same memory: the kernel reads the one before writing the other.
    const token = Buffer.alloc(Math.max(8, ks));
    let started = false;
    for (;;) {
      if (this.#s !== s) return; // closed inside the loop
      const keys = Buffer.alloc(n * ks);
      const values = Buffer.alloc(n * vb);
      const r = this.#batchCall(BpfCmd.MAP_LOOKUP_BATCH, started ? token : undefined, token, keys, values, n, 0);
      if (r.unsupported && !started) {
        yield* fallback();
        return;
      }
      if (r.err === -Errno.ENOSPC && r.count === 0 && n < this.maxEntries) {
        // A hash bucket holds more entries than the batch: retry the same position with room for it.
        n = Math.min(n * 4, Math.max(1, this.maxEntries));
        continue;
      }
      if (r.err && r.err !== -Errno.ENOENT) this.#fail(BpfCmd.MAP_LOOKUP_BATCH, r.err);
      started = true;
      const kd = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
      const vd = new DataView(values.buffer, values.byteOffset, values.byteLength);
      for (let i = 0; i < r.count; i++) {
        if (this.#s !== s) return; // closed inside the loop
        yield each(keys, values, kd, vd, i);
      }
      if (r.err === -Errno.ENOENT) return;
    }
  }

  /** Yields a view of the current key in a reusable buffer (valid until the next step). */
  *#walk(): Generator<Uint8Array, void, undefined> {
    if (!this.#nextKeyRaw(undefined)) return;
    const ks = this.keySize;
    const first = new Uint8Array(ks);
    // Two key buffers, swapped at each step: the caller holds `cur` while `nxt` takes its successor.
    let cur = new Uint8Array(ks);
    let nxt = new Uint8Array(ks);
    const s = this.#s!;
    const nkoff = this.#nkoff;
    copyOut(first, s, nkoff, ks);
    cur.set(first);
    const limit = this.maxEntries > 0 ? this.maxEntries : Number.MAX_SAFE_INTEGER;
    let mark = deletions;
    for (let n = 0; ; n++) {
      if (n >= limit) {
        throw new TsbpfError('ITERATION_ABORTED', `iteration of '${this.name}' passed max_entries (${this.maxEntries}) keys; the map changed under it`);
      }
      if (deletions !== mark) {
        // Keys were deleted while the caller held `cur`, maybe the first key:
        // re-read it, or a restart would land on a new first key unnoticed.
        mark = deletions;
        if (!this.#nextKeyRaw(undefined)) return;
        copyOut(first, s, nkoff, ks);
      }
      // Fetch the successor before the caller sees `cur`, so it may delete `cur`.
      const more = this.#nextKeyRaw(cur);
      if (more) {
        copyOut(nxt, s, nkoff, ks);
        if (n > 0 && equalBytes(nxt, first)) throw new IterationRestartedError(this.name);
      }
      yield cur;
      if (!more) return;
      if (this.#s !== s) return; // closed inside the loop
      const t = cur;
      cur = nxt;
      nxt = t;
    }
  }

  // ---- batch operations -----------------------------------------------------

  /**
   * BPF_MAP_LOOKUP_BATCH: read up to `count` entries after `cursor` into
   * `keys` (count × keySize bytes) and `values` (count × valueBytes). Returns
   * the number read; `cursor.done` turns true at the end. Falls back to
   * element-by-element reads on kernels or map types without batch support.
   */
  lookupBatch(cursor: BatchCursor, keys: Uint8Array, values: Uint8Array, count?: number): number {
    return this.#batchRead(BpfCmd.MAP_LOOKUP_BATCH, cursor, keys, values, count);
  }

  /** Like lookupBatch, deleting what it returns. */
  lookupAndDeleteBatch(cursor: BatchCursor, keys: Uint8Array, values: Uint8Array, count?: number): number {
    return this.#batchRead(BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH, cursor, keys, values, count);
  }

  /** BPF_MAP_UPDATE_BATCH: `keys` and `values` hold `count` packed elements. Returns how many were written. */
  updateBatch(keys: Uint8Array, values: Uint8Array, flags: UpdateFlag | number = 0, count?: number): number {
    const n = count ?? keys.byteLength / Math.max(1, this.keySize);
    this.#checkBatch(keys, values, n);
    const f = elemFlags(flags, this.name);
    const r = this.#batchCall(BpfCmd.MAP_UPDATE_BATCH, undefined, undefined, keys, values, n, f);
    if (r.unsupported) {
      for (let i = 0; i < n; i++) {
        this.update(keys.subarray(i * this.keySize, (i + 1) * this.keySize), values.subarray(i * this.valueBytes, (i + 1) * this.valueBytes), f);
      }
      return n;
    }
    if (r.err) this.#fail(BpfCmd.MAP_UPDATE_BATCH, r.err, { ...this.#updateHints(), E2BIG: `the map is full after ${r.count} elements (max_entries ${this.maxEntries})` });
    return r.count;
  }

  /** BPF_MAP_DELETE_BATCH: delete `count` packed keys. Missing keys fail with ENOENT after the ones before them were deleted. */
  deleteBatch(keys: Uint8Array, count?: number): number {
    const n = count ?? keys.byteLength / Math.max(1, this.keySize);
    this.#checkBatch(keys, undefined, n);
    const r = this.#batchCall(BpfCmd.MAP_DELETE_BATCH, undefined, undefined, keys, undefined, n, 0);
    if (r.unsupported) {
      let done = 0;
      for (let i = 0; i < n; i++) if (this.delete(keys.subarray(i * this.keySize, (i + 1) * this.keySize))) done++;
      return done;
    }
    if (r.err) this.#fail(BpfCmd.MAP_DELETE_BATCH, r.err);
    return r.count;
  }

  /** Every entry, read in batches of `batchSize` (keys and values packed; buffers reused between steps: copy what you keep). */
  *batches(batchSize = 4096): Generator<{ keys: Buffer; values: Buffer; count: number }, void, undefined> {
    // A batch of 0 would read nothing forever; a batch above max_entries only allocates.
    if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
      throw new MapSizeError(`map '${this.name}': batch size must be a whole number >= 1, got ${typeof batchSize === 'number' ? batchSize : typeof batchSize}`);
    }
    const n = Math.min(batchSize, Math.max(1, this.maxEntries));
    const keys = Buffer.alloc(n * this.keySize);
    const values = Buffer.alloc(n * this.valueBytes);
    const cursor: BatchCursor = { done: false };
    while (!cursor.done) {
      const count = this.lookupBatch(cursor, keys, values, n);
      if (count > 0) yield { keys, values, count };
    }
  }

  #checkBatch(keys: Uint8Array, values: Uint8Array | undefined, n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new MapSizeError(`map '${this.name}': batch count must be a whole number, got ${n}`);
    if (keys.byteLength < n * this.keySize) {
      throw new MapSizeError(`map '${this.name}': keys buffer holds ${keys.byteLength} bytes, ${n} keys need ${n * this.keySize}`);
    }
    if (values && values.byteLength < n * this.valueBytes) {
      throw new MapSizeError(`map '${this.name}': values buffer holds ${values.byteLength} bytes, ${n} values need ${n * this.valueBytes}`);
    }
  }

  #batchRead(cmd: number, cursor: BatchCursor, keys: Uint8Array, values: Uint8Array, count?: number): number {
    const n = count ?? Math.floor(keys.byteLength / Math.max(1, this.keySize));
    this.#checkBatch(keys, values, n);
    if (cursor.done || n === 0) return 0;
    // The kernel reads in_batch as a u32 bucket (hash maps) or a key (others): only a token this map made is that.
    const tok = cursor.token;
    if (tok !== undefined && (batchTokens.get(tok) !== this || tok.length < Math.max(4, this.keySize))) {
      throw new TsbpfError('BAD_BATCH_TOKEN', `map '${this.name}': cursor.token was not made by a batch read of this map (start a walk with { done: false })`);
    }
    const out = Buffer.alloc(Math.max(8, this.keySize));
    const r = this.#batchCall(cmd, tok, out, keys, values, n, 0);
    if (r.unsupported) return this.#batchReadFallback(cmd, cursor, keys, values, n);
    if (r.err === -Errno.ENOENT) {
      cursor.done = true;
      return r.count;
    }
    if (r.err) this.#fail(cmd, r.err, { ENOSPC: 'the batch is smaller than a hash bucket; use a larger batch' });
    batchTokens.set(out, this);
    cursor.token = out;
    return r.count;
  }

  #batchReadFallback(cmd: number, cursor: BatchCursor, keys: Uint8Array, values: Uint8Array, n: number): number {
    // The fallback walks keys; these maps have none (get_next_key fails with EINVAL or EOPNOTSUPP).
    if (isKeyless(this.type)) throw new NotSupportedError(`batch lookups of ${mapTypeName(this.type)} maps`, 'no keys to walk: use pop() or peek()');
    const ks = this.keySize;
    const vb = this.valueBytes;
    let got = 0;
    let prev: Uint8Array | undefined = cursor.token;
    if (prev !== undefined && (batchTokens.get(prev) !== this || prev.length !== ks)) {
      throw new TsbpfError('BAD_BATCH_TOKEN', `map '${this.name}': cursor.token was not made by a batch read of this map (start a walk with { done: false })`);
    }
    const del = cmd === BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH;
    while (got < n) {
      // After deleting, the walk always restarts at the first key.
      const k = this.nextKey(del ? undefined : prev);
      if (!k) {
        cursor.done = true;
        break;
      }
      const v = del ? this.lookupAndDelete(k, values.subarray(got * vb, (got + 1) * vb)) : this.lookup(k, values.subarray(got * vb, (got + 1) * vb));
      prev = k;
      if (!v) continue;
      keys.set(k, got * ks);
      got++;
    }
    const tok = prev ? Buffer.from(prev) : undefined;
    if (tok) batchTokens.set(tok, this);
    cursor.token = tok;
    return got;
  }

  #batchCall(
    cmd: number,
    inTok: Uint8Array | undefined,
    outTok: Uint8Array | undefined,
    keys: Uint8Array,
    values: Uint8Array | undefined,
    n: number,
    elemFlags: number,
  ): { count: number; err: number; unsupported: boolean } {
    this.#scratch();
    const a = coldAttr(MapBatchAttr.SIZE);
    const u = a.u32;
    if (inTok) putPtr(u, MapBatchAttr.in_batch, addressOf(inTok));
    if (outTok) putPtr(u, MapBatchAttr.out_batch, addressOf(outTok));
    putPtr(u, MapBatchAttr.keys, addressOf(keys));
    if (values) putPtr(u, MapBatchAttr.values, addressOf(values));
    u[MapBatchAttr.count >> 2] = n;
    u[MapBatchAttr.map_fd >> 2] = this.fd;
    u[MapBatchAttr.elem_flags >> 2] = elemFlags;
    if (cmd === BpfCmd.MAP_DELETE_BATCH || cmd === BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH) deletions++;
    const r = bpfRaw(cmd, a, MapBatchAttr.SIZE);
    const count = u[MapBatchAttr.count >> 2]!;
    if (r === 0) return { count, err: 0, unsupported: false };
    // ENOTSUPP: this map type has no batch ops; EINVAL: bad arguments, or a kernel that predates batching.
    const unsupported = r === -Errno.ENOTSUPP || r === -Errno.EOPNOTSUPP || (r === -Errno.EINVAL && !kernelHasBatchOps());
    return { count, err: r, unsupported };
  }

  // ---- whole-map operations ---------------------------------------------------

  /** Make the map read-only to user space (BPF_MAP_FREEZE); programs can still write unless BPF_F_RDONLY_PROG. */
  freeze(): void {
    mapFreeze(this.fd, this.#ctx);
  }

  /** Pin the map at a bpffs path (e.g. /sys/fs/bpf/my_map). */
  pin(path: string): void {
    pinFd(this.fd, path, this.name);
  }

  /** Remove a pin (the map lives on while fds or programs hold it). */
  unpin(path: string): void {
    unpinPath(path);
  }

  /** What the kernel reports about this map. */
  info(): MapInfo {
    return mapInfoByFd(this.fd, this.name);
  }

  /**
   * Typed view over this map. With codecs, through them; without, through the
   * BTF of its key and value types (a map from a BTF-defined object, or one
   * whose BTF ids the kernel reports). Per-CPU values decode to one value per
   * possible CPU (see sumPerCpu). The type arguments say what the BTF holds.
   */
  typed<K = BtfValue, V = BtfValue>(options?: BtfCodecOptions): TypedMap<K, V>;
  typed<K, V>(key: Codec<K>, value: Codec<V>): TypedMap<K, V>;
  typed<K, V>(key?: Codec<K> | BtfCodecOptions, value?: Codec<V>): TypedMap<K, V> {
    if (value !== undefined) return new TypedMap(this, key as Codec<K>, value);
    const c = this.btfCodecs(key as BtfCodecOptions | undefined);
    return new TypedMap(this, c.key as Codec<K>, c.value as Codec<V>);
  }

  /**
   * The BTF codecs of this map's key and value (per-CPU values: one per
   * possible CPU). Throws NO_BTF when neither the object nor the kernel
   * describes them.
   */
  btfCodecs(options: BtfCodecOptions = {}): { key: Codec<BtfValue>; value: Codec<BtfValue> } {
    const b = this.#typeBtf();
    const name = (what: string) => options.name ?? `${this.name}.${what}`;
    const key = this.keySize === 0 ? NO_KEY : b.key ? btfCodec(b.btf, b.key, { ...options, name: name('key') }) : undefined;
    const one = b.value ? btfCodec(b.btf, b.value, { ...options, name: name('value') }) : undefined;
    if (!key || !one) throw new TsbpfError('NO_BTF', `map '${this.name}': its BTF has no ${key ? 'value' : 'key'} type; pass codecs: typed(keyCodec, valueCodec)`);
    const value = this.perCpu ? (perCpuCodec(one, this.valueBytes / this.valueStride) as Codec<BtfValue>) : one;
    return { key, value };
  }

  #typeBtf(): MapBtf {
    if (this.#btf) return this.#btf;
    const i = this.info();
    if (!i.btfId || (!i.btfKeyTypeId && !i.btfValueTypeId)) {
      throw new TsbpfError('NO_BTF', `map '${this.name}' has no BTF for its key and value (the kernel reports none): pass codecs: typed(keyCodec, valueCodec)`);
    }
    return (this.#btf = { btf: btfById(i.btfId), key: i.btfKeyTypeId, value: i.btfValueTypeId });
  }

  /** @internal The loader tells a map what its object's BTF says of its key and value. */
  static describe(map: BpfMap, btf: Btf, key: number, value: number): void {
    map.#btf = { btf, key, value };
  }
}

interface MapBtf {
  btf: Btf;
  /** Type ids of key and value in `btf`; 0 when not described. */
  key: number;
  value: number;
}

/** The key of keyless maps (queue, stack, bloom filter): nothing. */
const NO_KEY: Codec<BtfValue> = { size: 0, encode() {}, decode: () => null };

const UNSIGNED = new Set<unknown>([u8, u16, u32, u64]);
const HASH_KINDS: number[] = [MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH];
const PUSH_KINDS = [MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER];
const POP_KINDS = [MapType.QUEUE, MapType.STACK];
const MAP_OF_MAPS_KINDS = [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS];
const PERCPU_CODEC = "is not for per-CPU maps (a codec would see CPU 0's slot only): use lookupPerCpu/updatePerCpu or lookup()/entries(), which give every CPU's slot";

let batchOps: boolean | undefined;

/** Map types whose entries() and entriesWith() read with BPF_MAP_LOOKUP_BATCH (hash maps since 5.6, arrays since 5.7). */
const BATCH_WALK = new Set<number>([MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.ARRAY, MapType.PERCPU_ARRAY]);
/** Entries per BPF_MAP_LOOKUP_BATCH call in entries(): past a few hundred the syscall count no longer matters. */
const ENTRIES_BATCH = 256;

/**
 * Whether the kernel knows the batch commands (5.6+). An unknown command fails
 * with EINVAL without touching the attr, so the count left in it proves
 * nothing; a known one, given no map (fd -1), fails with EBADF. Cached.
 */
function kernelHasBatchOps(): boolean {
  if (batchOps === undefined) {
    const a = coldAttr(MapBatchAttr.SIZE);
    a.u32[MapBatchAttr.map_fd >> 2] = 0xffff_ffff;
    batchOps = bpfRaw(BpfCmd.MAP_LOOKUP_BATCH, a, MapBatchAttr.SIZE) !== -Errno.EINVAL;
  }
  return batchOps;
}

/** Batch tokens this process's maps handed out, and which map each belongs to. */
const batchTokens = new WeakMap<Uint8Array, BpfMap>();

/** Deletions made through any BpfMap of this process; walks re-read the first key when it moves. */
let deletions = 0;

/** Maps whose keys are indexes below max_entries: E2BIG means out of range, not full. */
const INDEXED = new Set<number>([
  MapType.ARRAY,
  MapType.PERCPU_ARRAY,
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.ARRAY_OF_MAPS,
  MapType.DEVMAP,
  MapType.SOCKMAP,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.REUSEPORT_SOCKARRAY,
]);

/** Whether an fd is a BPF map (an anon inode named bpf-map); true when /proc cannot tell, leaving it to the kernel. */
function isMapFd(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:bpf-map';
  } catch {
    return true;
  }
}

/** What an fd is, from its /proc link: 'bpf-map', 'bpf-prog', another anon inode, 'file'; undefined when /proc cannot tell. */
function fdKind(fd: number): string | undefined {
  if (!Number.isInteger(fd) || fd < 0) return undefined;
  try {
    const l = readlinkSync(`/proc/self/fd/${fd}`);
    return l.startsWith('anon_inode:') ? l.slice('anon_inode:'.length) : 'file';
  } catch {
    return undefined;
  }
}

function describeFdKind(kind: string): string {
  return kind === 'bpf-map' ? 'a BPF map' : kind === 'bpf-prog' ? 'a BPF program' : kind === 'file' ? 'not a BPF object' : `a ${kind}`;
}

const U64_END = 1n << 64n;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/*
 * Copies between a caller's buffer and the scratch block (whose key and value
 * slots are 8-byte aligned). Keys and values are mostly a few bytes, where
 * u32 words beat a byte loop, which beats TypedArray#set with its subarray.
 * (`length`, not `byteLength`: on Node 20 the byteLength getter is a call.)
 */
function copyOut(dst: Uint8Array, s: NativeBlock, off: number, n: number): void {
  if (n > 32) {
    dst.set(s.bytes.subarray(off, off + n));
  } else if (LITTLE_ENDIAN && (n & 3) === 0) {
    const u = s.u32;
    for (let i = 0; i < n; i += 4) {
      const w = u[(off + i) >> 2]!;
      dst[i] = w;
      dst[i + 1] = w >>> 8;
      dst[i + 2] = w >>> 16;
      dst[i + 3] = w >>> 24;
    }
  } else {
    const b = s.bytes;
    for (let i = 0; i < n; i++) dst[i] = b[off + i]!;
  }
}

function copyIn(s: NativeBlock, off: number, src: Uint8Array, n: number): void {
  if (n > 32) {
    s.bytes.set(src, off);
  } else if (LITTLE_ENDIAN && (n & 3) === 0) {
    const u = s.u32;
    for (let i = 0; i < n; i += 4) u[(off + i) >> 2] = src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24);
  } else {
    const b = s.bytes;
    for (let i = 0; i < n; i++) b[off + i] = src[i]!;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Write a key or value of exactly `size` bytes: a buffer of that size, or an
 * unsigned integer for 1/2/4/8-byte sizes. Maps have no signedness: a
 * negative, fractional or too large integer is refused rather than wrapped
 * (signed values go through the i32/i64 codecs or a buffer).
 */
function putScalar(s: NativeBlock, off: number, size: number, v: MapKey, what: string, map: string): void {
  if (v instanceof Uint8Array) {
    if (v.byteLength !== size) throw new MapSizeError(`map '${map}': ${what} must be ${size} bytes, got ${v.byteLength}`);
    s.bytes.set(v, off);
    return;
  }
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new MapSizeError(`map '${map}': ${what} must be a Uint8Array, number or bigint`);
  if (!isFixedInt(size)) throw new MapSizeError(`map '${map}': a ${size}-byte ${what} must be given as a Uint8Array, not a ${typeof v}`);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ValueRangeError(`map '${map}': ${what} ${v} is not an integer`);
    if (size === 8 && !Number.isSafeInteger(v)) throw new ValueRangeError(`map '${map}': ${what} ${v} is beyond 2^53: give a bigint`);
  }
  const n = BigInt(v);
  if (n < 0n || n >= 1n << BigInt(size * 8)) {
    throw new ValueRangeError(`map '${map}': ${what} ${v} is out of range of an unsigned ${size * 8}-bit integer (use a signed codec or a Uint8Array for negative values)`);
  }
  const d = s.view;
  if (size === 8) d.setBigUint64(off, n, true);
  else if (size === 4) d.setUint32(off, Number(n), true);
  else if (size === 2) d.setUint16(off, Number(n), true);
  else d.setUint8(off, Number(n));
}

/** An update flag by name or number; unknown names and non-integers are refused (code BAD_FLAGS) rather than sent as 0. */
function elemFlags(flags: UpdateFlag | number, map: string): number {
  if (typeof flags === 'string') {
    if (Object.hasOwn(UpdateFlags, flags)) return UpdateFlags[flags];
  } else if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xffff_ffff) {
    return flags;
  }
  throw new TsbpfError('BAD_FLAGS', `map '${map}': unknown flags ${JSON.stringify(flags)}; give one of ${Object.keys(UpdateFlags).join(', ')} or a BPF_* number`);
}

/** Sizes must be u32 integers (the attr fields are u32: 2^32 + 4 would wrap to 4), and indexed maps have 4-byte keys. */
function checkSpecSizes(type: number, spec: MapSpec, name: string): void {
  for (const f of ['keySize', 'valueSize', 'maxEntries', 'flags'] as const) {
    const v = spec[f] ?? 0;
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
      throw new TsbpfError('BAD_SPEC', `map '${name}': ${f} must be an integer in [0, 2^32), got ${String(v)}`);
    }
  }
  if (INDEXED.has(type) && spec.keySize !== 4) {
    throw new TsbpfError('BAD_SPEC', `map '${name}': ${mapTypeName(type)} keys are u32 indexes: keySize must be 4, got ${spec.keySize}`);
  }
  if (isKeyless(type) && spec.keySize !== 0) {
    throw new TsbpfError('BAD_SPEC', `map '${name}': ${mapTypeName(type)} has no keys: keySize must be 0, got ${spec.keySize}`);
  }
}

function describeSpec(type: number, spec: MapSpec, flags: number): string {
  return `type ${mapTypeName(type)}, key ${spec.keySize}, value ${spec.valueSize}, max_entries ${spec.maxEntries}, flags 0x${flags.toString(16)}`;
}

/** Decode BPF_OBJ_GET_INFO_BY_FD for a map fd. */
export function mapInfoByFd(fd: number, what = `fd ${fd}`): MapInfo {
  const info = new Uint8Array(MapInfoLayout.SIZE);
  objectInfo(fd, info, what);
  const d = new DataView(info.buffer, info.byteOffset, info.byteLength);
  const type = d.getUint32(MapInfoLayout.type, true);
  return {
    type,
    typeName: mapTypeName(type),
    id: d.getUint32(MapInfoLayout.id, true),
    keySize: d.getUint32(MapInfoLayout.key_size, true),
    valueSize: d.getUint32(MapInfoLayout.value_size, true),
    maxEntries: d.getUint32(MapInfoLayout.max_entries, true),
    flags: d.getUint32(MapInfoLayout.map_flags, true),
    name: getName(info, MapInfoLayout.name),
    ifindex: d.getUint32(MapInfoLayout.ifindex, true),
    btfVmlinuxValueTypeId: d.getUint32(MapInfoLayout.btf_vmlinux_value_type_id, true),
    btfId: d.getUint32(MapInfoLayout.btf_id, true),
    btfKeyTypeId: d.getUint32(MapInfoLayout.btf_key_type_id, true),
    btfValueTypeId: d.getUint32(MapInfoLayout.btf_value_type_id, true),
    mapExtra: d.getBigUint64(MapInfoLayout.map_extra, true),
  };
}

/** Ids of every map on the system (BPF_MAP_GET_NEXT_ID; needs CAP_SYS_ADMIN). */
export function mapIds(): Generator<number, void, undefined> {
  return objectIds(BpfCmd.MAP_GET_NEXT_ID);
}

/**
 * A map seen through codecs: keys and values are typed JS values, encoded
 * into and decoded from the map's scratch block without intermediate buffers.
 */
export class TypedMap<K, V> {
  /** Whether keys pass to the map as they are (the unsigned integer codecs, which mean what the map does with numbers). */
  readonly #rawKey: boolean;
  /** Where keys of other codecs are encoded (the map copies them into its scratch block at once). */
  readonly #kb: Uint8Array;
  readonly #kdv: DataView;

  constructor(
    readonly map: BpfMap,
    readonly key: Codec<K>,
    readonly value: Codec<V>,
  ) {
    // Per-CPU maps take a codec of every CPU's slot (perCpuCodec); a single value's would see CPU 0 only.
    if (map.perCpu && value.size !== map.valueBytes) throw new WrongMapTypeError(map.name, map.type, 'typed', PERCPU_CODEC);
    if (key.size !== map.keySize) throw new MapSizeError(`map '${map.name}': key codec is ${key.size} bytes, the map's key is ${map.keySize}`);
    if (!map.perCpu && value.size !== map.valueSize) throw new MapSizeError(`map '${map.name}': value codec is ${value.size} bytes, the map's value is ${map.valueSize}`);
    this.#rawKey = UNSIGNED.has(key);
    this.#kb = new Uint8Array(key.size);
    this.#kdv = new DataView(this.#kb.buffer);
  }

  #k(k: K): MapKey {
    if (k instanceof Uint8Array || (this.#rawKey && (typeof k === 'number' || typeof k === 'bigint'))) return k as MapKey;
    const b = this.#kb;
    this.key.encode(k, b, this.#kdv, 0);
    return b;
  }

  get(k: K): V | undefined {
    return this.map.lookupWith(this.#k(k), this.value);
  }

  set(k: K, v: V, flags: UpdateFlag | number = 0): void {
    this.map.updateWith(this.#k(k), v, this.value, flags);
  }

  delete(k: K): boolean {
    return this.map.delete(this.#k(k));
  }

  /** QUEUE / STACK / BLOOM_FILTER: push a value. */
  push(v: V, flags: UpdateFlag | number = 0): void {
    const b = new Uint8Array(this.value.size);
    this.value.encode(v, b, new DataView(b.buffer), 0);
    this.map.push(b, flags);
  }

  /** QUEUE / STACK: remove and decode the head; undefined when empty. */
  pop(): V | undefined {
    const b = this.map.pop();
    return b && this.value.decode(b, new DataView(b.buffer, b.byteOffset, b.byteLength), 0);
  }

  /** QUEUE / STACK: decode the head without removing it. */
  peek(): V | undefined {
    const b = this.map.peek();
    return b && this.value.decode(b, new DataView(b.buffer, b.byteOffset, b.byteLength), 0);
  }

  /** BLOOM_FILTER: whether `v` may be in the set (false: surely not). */
  mayContain(v: V): boolean {
    const b = new Uint8Array(this.value.size);
    this.value.encode(v, b, new DataView(b.buffer), 0);
    return this.map.mayContain(b);
  }

  /** The key after `k` (the first key when undefined); undefined at the end. */
  nextKey(k?: K): K | undefined {
    return this.map.nextKeyWith(k === undefined ? undefined : this.#k(k), this.key);
  }

  keys(): Generator<K, void, undefined> {
    return this.map.keysWith(this.key);
  }

  /** Every [key, value]; batched like BpfMap.entries(). */
  entries(): Generator<[K, V], void, undefined> {
    return this.map.entriesWith(this.key, this.value);
  }

  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.entries();
  }
}
