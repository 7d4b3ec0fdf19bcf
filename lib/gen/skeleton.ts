/**
 * `tsbpf gen skeleton`: one TypeScript module for a compiled BPF object, as
 * bpftool writes a C skeleton and bpf2go Go bindings. The module declares the
 * object's types (from BTF), embeds the object as base64 and exports
 * `load(options?)`, whose result names every map, variable and program with
 * its type (bpf/loader/skeleton.ts is the runtime it calls). Pure: the same
 * object gives the same bytes.
 */
import type { Btf } from '../../btf/btf.ts';
import { btfCodec } from '../../btf/codec.ts';
import { TsbpfError } from '../../errors.ts';
import type { CollectionSpec, ObjMapSpec } from '../../bpf/loader/collection-spec.ts';
import type { SkeletonLayout } from '../../bpf/loader/skeleton.ts';
import { MapType, isMapOfMaps, isPerCpu, resolveMapType } from '../../bpf/maps/types.ts';
import { TsTypes, commentSafe, propKey, sanitize } from './ts-types.ts';

export interface SkeletonGenOptions {
  /** Prefix of the generated interface names (`ExecsnoopMaps`...): default the object's name. */
  name?: string;
  /** Types to declare and hand out codecs for (events no map or variable names), by C name. */
  types?: readonly string[];
  /** The object's file name, for the header comment. */
  source?: string;
}

/** Maps whose values are fds, streams or kernel objects: handed out as the BpfMap itself. */
const UNTYPED_MAPS = new Set<number>([
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.RINGBUF,
  MapType.USER_RINGBUF,
  MapType.STRUCT_OPS,
  MapType.ARENA,
]);

/** Event streams: a declared value type there is the type of their records. */
const STREAM_MAPS = new Set<number>([MapType.RINGBUF, MapType.USER_RINGBUF, MapType.PERF_EVENT_ARRAY]);

/** `exec_snoop` -> `ExecSnoop`. */
function pascal(name: string): string {
  const s = name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return sanitize(s || 'Bpf');
}

/** Whether btfCodec can hold type `id` (at exactly `size` bytes when given: what the runtime will ask of it). */
function codecFits(btf: Btf, id: number | undefined, size?: number): boolean {
  if (!id) return false;
  try {
    const c = btfCodec(btf, id);
    return size === undefined || c.size === size;
  } catch {
    return false;
  }
}

/** The struct/union/enum a variable points to (the unused-pointer convention: `struct event *unused_event;`), if any. */
function pointee(btf: Btf, id: number): number | undefined {
  try {
    const p = btf.resolve(id);
    if (p.kind !== 'ptr') return undefined;
    const t = btf.resolve(p.type);
    const named = t.name || btf.skipQualifiers(p.type).name;
    return (t.kind === 'struct' || t.kind === 'union') && named ? p.type : undefined;
  } catch {
    return undefined;
  }
}

/** A type by C name: struct, union, enum, then typedef. */
function typeByName(btf: Btf, name: string): number {
  for (const kind of ['struct', 'union', 'enum', 'enum64', 'typedef'] as const) {
    const id = btf.findIdByName(name, kind);
    if (id) return id;
  }
  throw new TsbpfError('NO_BTF_TYPE', `--type ${name}: the object's BTF has no struct, union, enum or typedef named '${name}'`);
}

type MapPlan = { name: string; how: SkeletonLayout['maps'][string]; ts: string };

/** The TypeScript module for `spec` (loaded from `object`, whose bytes it embeds). */
export function generateSkeleton(spec: CollectionSpec, object: Uint8Array, opts: SkeletonGenOptions = {}): string {
  const btf = spec.btf;
  const prefix = pascal(opts.name ?? spec.name);
  const own = ['Maps', 'Variables', 'Programs', 'Types', 'Rodata', 'Data', 'LoadOptions', 'Skeleton'].map((s) => prefix + s);
  const types = btf ? new TsTypes(btf, own) : undefined;

  // 1. Roots: map keys and values (inner maps too), variables, event types.
  const roots: number[] = [];
  const eventRoots: { name: string; id: number }[] = [];
  const typedMap = (m: ObjMapSpec): boolean =>
    !!btf && codecFits(btf, m.btfValueType, m.valueSize) && (m.keySize === 0 || codecFits(btf, m.btfKeyType, m.keySize));
  for (const m of Object.values(spec.maps)) {
    const t = resolveMapType(m.type);
    if (STREAM_MAPS.has(t) && btf && m.btfValueType && codecFits(btf, m.btfValueType)) eventRoots.push({ name: '', id: m.btfValueType });
    if (m.origin === 'data' || m.origin === 'kconfig' || UNTYPED_MAPS.has(t)) continue;
    if (isMapOfMaps(t)) {
      if (m.btfKeyType) roots.push(m.btfKeyType);
      const inner = m.innerMap as ObjMapSpec | undefined;
      if (inner && typedMap(inner)) roots.push(...[inner.btfKeyType, inner.btfValueType].filter((x): x is number => !!x));
    } else if (typedMap(m)) roots.push(...[m.btfKeyType, m.btfValueType].filter((x): x is number => !!x));
  }
  const varTyped = new Map<string, boolean>();
  for (const v of Object.values(spec.variables)) {
    const ok = !!btf && codecFits(btf, v.type, v.size);
    varTyped.set(v.name, ok);
    if (ok) roots.push(v.type!);
    const p = btf && v.type ? pointee(btf, v.type) : undefined;
    if (p && codecFits(btf!, p)) eventRoots.push({ name: '', id: p });
  }
  for (const n of opts.types ?? []) {
    if (!btf) throw new TsbpfError('NO_BTF', `--type ${n}: the object has no BTF`);
    const id = typeByName(btf, n);
    btfCodec(btf, id); // a type no codec can hold is an error here (BtfError), not in the generated module
    eventRoots.push({ name: n, id });
  }
  for (const r of roots) types!.visit(r);
  for (const r of eventRoots) types!.visit(r.id);
  const decls = types ? types.finish() : [];
  const tsOf = (id: number) => types!.expr(id, '  ');

  // 2. Maps.
  const maps: MapPlan[] = [];
  for (const m of Object.values(spec.maps)) {
    const t = resolveMapType(m.type);
    const inner = m.innerMap as ObjMapSpec | undefined;
    let plan: MapPlan = { name: m.name, how: 'raw', ts: 'tsbpf.BpfMap' };
    if (m.origin !== 'data' && m.origin !== 'kconfig' && !UNTYPED_MAPS.has(t)) {
      if (isMapOfMaps(t)) {
        const key = btf && m.btfKeyType && codecFits(btf, m.btfKeyType, m.keySize) ? tsOf(m.btfKeyType) : m.keySize === 4 && !m.btfKeyType ? 'number' : undefined;
        if (key && inner) {
          const ok = typedMap(inner);
          const it = ok ? `tsbpf.TypedMap<${inner.keySize === 0 ? 'null' : tsOf(inner.btfKeyType!)}, ${tsOf(inner.btfValueType!)}${isPerCpu(resolveMapType(inner.type)) ? '[]' : ''}>` : 'tsbpf.BpfMap';
          plan = { name: m.name, how: ok ? 'outer:typed' : 'outer:raw', ts: `tsbpf.MapOfMaps<${key}, ${it}>` };
        }
      } else if (typedMap(m)) {
        const k = m.keySize === 0 ? 'null' : tsOf(m.btfKeyType!);
        const v = tsOf(m.btfValueType!) + (isPerCpu(t) ? '[]' : '');
        plan = { name: m.name, how: 'typed', ts: `tsbpf.TypedMap<${k}, ${v}>` };
      }
    }
    maps.push(plan);
  }

  // 3. Event types: a declaration's name, or the C name given.
  const typeEntries = new Map<string, { id: number; ts: string }>();
  for (const r of eventRoots) {
    const ts = tsOf(r.id);
    const key = /^[A-Za-z_$][\w$]*$/.test(ts) && !['number', 'bigint', 'string', 'boolean', 'null'].includes(ts) ? ts : sanitize(r.name || `type_${r.id}`);
    if (!typeEntries.has(key)) typeEntries.set(key, { id: r.id, ts });
  }

  // 4. The module.
  const out: string[] = [];
  out.push(`// Generated by \`tsbpf gen skeleton\`${opts.source ? ` from ${commentSafe(opts.source)}` : ''}: do not edit.`);
  out.push(`// The object (${object.byteLength} bytes) is embedded below as base64, so this module runs from anywhere.`);
  out.push(`import * as tsbpf from 'tsbpf';`, '');
  for (const d of decls) out.push(types!.declaration(d));

  const [Maps, Variables, Programs, Types, Rodata, Data, LoadOptions, Skeleton] = own;
  const block = (name: string, lines: string[], doc: string) => {
    out.push(`/** ${doc} */`);
    out.push(lines.length ? `export interface ${name} {\n${lines.join('\n')}\n}\n` : `export interface ${name} {}\n`);
  };
  block(Maps!, maps.map((m) => `  readonly ${propKey(m.name)}: ${m.ts};`), 'The maps, typed by their BTF key and value (per-CPU values: one per possible CPU).');
  const vars = Object.values(spec.variables);
  const frozen = (name: string) => !!spec.maps[spec.variables[name]!.map]?.freeze;
  const varTs = (name: string) => (varTyped.get(name) ? tsOf(spec.variables[name]!.type!) : 'Uint8Array');
  block(
    Variables!,
    vars.map((v) => `  readonly ${propKey(v.name)}: tsbpf.${frozen(v.name) ? 'SkeletonConstant' : 'SkeletonVariable'}<${varTs(v.name)}>;`),
    'Global variables (read-only sections: get() only; set them before load through load({ rodata })).',
  );
  block(Programs!, Object.keys(spec.programs).map((p) => `  readonly ${propKey(p)}: tsbpf.Program;`), 'The programs.');
  block(Types!, [...typeEntries].map(([k, e]) => `  readonly ${propKey(k)}: tsbpf.Codec<${e.ts}>;`), 'Codecs of the event types (records({ codec: skel.types.NAME })).');
  block(Rodata!, vars.filter((v) => frozen(v.name)).map((v) => `  ${propKey(v.name)}?: ${varTs(v.name)};`), 'Read-only variables, set before load.');
  block(Data!, vars.filter((v) => !frozen(v.name)).map((v) => `  ${propKey(v.name)}?: ${varTs(v.name)};`), 'Initial values of writable variables, set before load.');
  out.push(`export interface ${LoadOptions} extends Omit<tsbpf.SkeletonLoadOptions, 'rodata' | 'data'> {\n  rodata?: ${Rodata};\n  data?: ${Data};\n}\n`);
  const attachable = Object.values(spec.programs)
    .filter((p) => p.autoAttach)
    .map((p) => JSON.stringify(p.name));
  out.push(`export type ${Skeleton} = tsbpf.Skeleton<${Maps}, ${Variables}, ${Programs}, ${Types}, ${attachable.join(' | ') || 'never'}>;\n`);

  const layout: SkeletonLayout = {
    name: spec.name,
    maps: Object.fromEntries(maps.map((m) => [m.name, m.how])),
    types: Object.fromEntries([...typeEntries].map(([k, e]) => [k, e.id])),
  };
  // Parsed, not a literal: a map named __proto__ stays a key (a literal would set the prototype).
  out.push(`const LAYOUT: tsbpf.SkeletonLayout = JSON.parse(${JSON.stringify(JSON.stringify(layout))});\n`);
  const b64 = Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64');
  const chunks: string[] = [];
  for (let i = 0; i < b64.length; i += 4096) chunks.push(`  '${b64.slice(i, i + 4096)}',`);
  out.push(`const OBJECT = [\n${chunks.join('\n')}\n].join('');\n`);
  out.push(`/** Load the object: maps, programs, variables (rodata and data written first). Close it (or \`using\`) when done. */`);
  out.push(`export function load(options: ${LoadOptions} = {}): ${Skeleton} {\n  return tsbpf.loadSkeleton<${Skeleton}>(OBJECT, LAYOUT, options);\n}\n`);
  return out.join('\n');
}
