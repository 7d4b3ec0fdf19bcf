/**
 * The runtime half of `tsbpf gen skeleton`: what a generated module calls to
 * load its embedded object and hand out maps, variables, programs and event
 * codecs under the names and types the generator wrote. The types here are
 * generic; the generated module fills them in for one object.
 */
import { Buffer } from 'node:buffer';
import { btfCodec, type BtfValue, type Codec } from '../../btf/codec.ts';
import { TsbpfError } from '../../errors.ts';
import { BpfMap, TypedMap } from '../maps/map.ts';
import { u32 } from '../maps/codec.ts';
import type { MapSpec } from '../maps/spec.ts';
import type { UpdateFlag } from '../maps/types.ts';
import type { Link } from '../link/link.ts';
import { loadCollectionSpec, type CollectionSpec, type ObjMapSpec, type VariableSpec } from './collection-spec.ts';
import { loadCollection, setVariable, type Collection, type CollectionOptions } from './collection.ts';

/** A global variable of a writable section (.data, .bss), typed by its BTF. */
export interface SkeletonVariable<T> {
  readonly spec: VariableSpec;
  readonly writable: boolean;
  get(): T;
  set(value: T): void;
  /** A copy of its current bytes. */
  bytes(): Buffer;
}

/** A variable of a read-only section (.rodata): fixed at load, so no set() (give it to load({ rodata }) instead). */
export interface SkeletonConstant<T> {
  readonly spec: VariableSpec;
  readonly writable: false;
  get(): T;
  bytes(): Buffer;
}

/**
 * An ARRAY_OF_MAPS or HASH_OF_MAPS seen through its inner map's types:
 * `get(k)` opens the inner map at `k` typed as the object declares it (a new
 * handle: close its `.map`), `set(k, inner)` stores any map's fd, and
 * `createInner()` makes a new map from the object's inner template.
 */
export class MapOfMaps<K, Inner> {
  readonly #key: Codec<K>;
  readonly #open: (m: BpfMap) => Inner;
  readonly #template: MapSpec;
  constructor(
    readonly map: BpfMap,
    key: Codec<K>,
    open: (m: BpfMap) => Inner,
    template: MapSpec,
  ) {
    this.#key = key;
    this.#open = open;
    this.#template = template;
  }

  #k(k: K): Uint8Array | number {
    if (typeof k === 'number' && this.#key === (u32 as unknown)) return k;
    const b = new Uint8Array(this.#key.size);
    this.#key.encode(k, b, new DataView(b.buffer), 0);
    return b;
  }

  /** The id of the inner map at `k`, or undefined. */
  innerId(k: K): number | undefined {
    return this.map.innerMapId(this.#k(k));
  }

  /** The inner map at `k`, opened by id and typed (the caller owns the handle), or undefined. */
  get(k: K): Inner | undefined {
    const id = this.innerId(k);
    return id === undefined ? undefined : this.#wrap(BpfMap.fromId(id));
  }

  #wrap(m: BpfMap): Inner {
    try {
      return this.#open(m);
    } catch (e) {
      m.close();
      throw e;
    }
  }

  /** Store a map (its fd) at `k`. */
  set(k: K, inner: BpfMap | { readonly map: BpfMap }, flags: UpdateFlag | number = 0): void {
    const m = inner instanceof BpfMap ? inner : inner.map;
    this.map.update(this.#k(k), { fd: m.fd }, flags);
  }

  delete(k: K): boolean {
    return this.map.delete(this.#k(k));
  }

  *keys(): Generator<K, void, undefined> {
    for (const kb of this.map.keys()) yield this.#key.decode(kb, new DataView(kb.buffer, kb.byteOffset, kb.byteLength), 0);
  }

  /** A new map made from the object's inner map template, typed as the inner map (the caller owns it). */
  createInner(name?: string): Inner {
    return this.#wrap(BpfMap.create({ ...this.#template, name: name ?? this.#template.name?.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15) }));
  }
}

/** What one generated module knows of its object (written by the generator; not for hand use). */
export interface SkeletonLayout {
  /** Object name (internal map names derive from it, as libbpf's). */
  name: string;
  /** How each map is handed out: through its BTF codecs, as a map of maps, or as the BpfMap itself. */
  maps: Record<string, 'typed' | 'raw' | 'outer:typed' | 'outer:raw'>;
  /** Named types (events) with their BTF type ids in the embedded object. */
  types: Record<string, number>;
}

export interface SkeletonLoadOptions extends CollectionOptions {
  /** Values of read-only (.rodata) variables by name, written before load (a generated module types them). */
  rodata?: object;
  /** Initial values of writable (.data, .bss) variables by name, written before load. */
  data?: object;
}

/** A loaded skeleton: everything typed by the generated module's type arguments. */
export interface Skeleton<Maps, Variables, Programs, Types, Attachable extends string> extends Disposable {
  readonly maps: Maps;
  readonly variables: Variables;
  readonly programs: Programs;
  /** Codecs of the object's named (event) types: `reader.records({ codec: skel.types.event })`. */
  readonly types: Types;
  /** The underlying collection (untyped). */
  readonly collection: Collection;
  /** The spec the collection was loaded from. */
  readonly spec: CollectionSpec;
  /** Attach every program whose section names its hook; the new links (also closed by close()). */
  attach(): { readonly [P in Attachable]?: Link };
  /** Detach, unload and close every map, program and link. */
  close(): void;
}

/** Codecs of the named types of a spec (events), by the names the generator gave them. */
function typeCodecs(spec: CollectionSpec, types: Record<string, number>): Record<string, Codec<BtfValue>> {
  const out = Object.create(null) as Record<string, Codec<BtfValue>>;
  for (const [name, id] of Object.entries(types)) {
    if (!spec.btf) throw new TsbpfError('NO_BTF', `skeleton type '${name}': the object has no BTF`);
    out[name] = btfCodec(spec.btf, id);
  }
  return out;
}

function innerOpener(spec: CollectionSpec, inner: ObjMapSpec | undefined, typed: boolean): (m: BpfMap) => BpfMap | TypedMap<BtfValue, BtfValue> {
  if (!typed || !spec.btf || !inner) return (m) => m;
  const btf = spec.btf;
  return (m) => {
    BpfMap.describe(m, btf, inner.btfKeyType ?? 0, inner.btfValueType ?? 0);
    return m.typed();
  };
}

function outerKey(spec: CollectionSpec, m: ObjMapSpec): Codec<BtfValue> {
  if (spec.btf && m.btfKeyType) return btfCodec(spec.btf, m.btfKeyType, { name: `${m.name}.key` });
  if (m.keySize === 4) return u32 as Codec<unknown> as Codec<BtfValue>;
  throw new TsbpfError('NO_BTF', `map '${m.name}': no BTF for its ${m.keySize}-byte key`);
}

function writeVariables(spec: CollectionSpec, values: object | undefined, readOnly: boolean): void {
  if (!values) return;
  for (const [name, value] of Object.entries(values) as [string, unknown][]) {
    if (value === undefined) continue;
    const v = spec.variables[name];
    const frozen = v ? !!spec.maps[v.map]?.freeze : false;
    if (v && frozen !== readOnly) {
      throw new TsbpfError('BAD_OPTION', `variable '${name}' is ${frozen ? 'read-only: give it in { rodata }' : 'writable: give it in { data }'}`);
    }
    setVariable(spec, name, value as BtfValue);
  }
}

/**
 * Load a generated skeleton's object (base64) and dress the collection up as
 * `layout` says. Called by generated modules; the type argument is theirs.
 */
export function loadSkeleton<S>(objectBase64: string, layout: SkeletonLayout, options: SkeletonLoadOptions = {}): S {
  const { rodata, data, ...collOpts } = options;
  const spec = loadCollectionSpec(Buffer.from(objectBase64, 'base64'), { name: layout.name });
  writeVariables(spec, rodata, true);
  writeVariables(spec, data, false);
  const types = typeCodecs(spec, layout.types);
  const coll = loadCollection(spec, collOpts);
  try {
    const maps: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // names from the object: no prototype to hit
    for (const [name, how] of Object.entries(layout.maps)) {
      const m = coll.maps[name];
      const ms = spec.maps[name];
      if (!m || !ms) throw new TsbpfError('NO_MAP', `skeleton map '${name}' is not in the object`);
      if (how === 'typed') maps[name] = m.typed();
      else if (how === 'outer:typed' || how === 'outer:raw') {
        if (!ms.innerMap) throw new TsbpfError('NO_MAP', `skeleton map '${name}' has no inner map template`);
        maps[name] = new MapOfMaps(m, outerKey(spec, ms), innerOpener(spec, ms.innerMap as ObjMapSpec, how === 'outer:typed'), ms.innerMap);
      }
      else maps[name] = m;
    }
    const skel: Skeleton<unknown, unknown, unknown, unknown, string> = {
      maps,
      variables: coll.variables,
      programs: coll.programs,
      types,
      collection: coll,
      spec,
      attach: () => coll.attachAll(),
      close: () => coll.close(),
      [Symbol.dispose]: () => coll.close(),
    };
    return skel as S;
  } catch (e) {
    coll.close();
    throw e;
  }
}
