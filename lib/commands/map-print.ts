/**
 * What the map verbs print, field for field as bpftool 7.x: `map show` (JSON
 * keys and plain lines of show_map_close_*), and elements (print_entry_json,
 * print_entry_plain, and BTF-formatted values through btf/format-bpftool.ts).
 */
import type { BpfMap, MapInfo } from '../../bpf/maps/map.ts';
import { MapType, mapTypeBpftoolName } from '../../bpf/maps/types.ts';
import { progTypeName } from '../../bpf/programs/types.ts';
import { fdInfo } from '../../bpf/fdinfo.ts';
import { btfById } from '../../bpf/btf/objects.ts';
import { kernelBtf } from '../../bpf/btf/kernel.ts';
import type { Btf } from '../../btf/btf.ts';
import { BpftoolJsonWriter, formatBtfValue } from '../../btf/format-bpftool.ts';

/** What `map show` reports of one map: its info and fdinfo's extras. */
export interface MapShow {
  info: MapInfo;
  memlock?: number;
  frozen: number;
  ownerProgType?: number;
  ownerJited?: boolean;
  pinned?: string[];
}

export function mapShow(m: BpfMap, pinned?: string[]): MapShow {
  const info = m.info();
  const fi = fdInfo(m.fd);
  const num = (k: string) => (fi.has(k) ? Number(fi.get(k)) : undefined);
  const jited = num('owner_jited');
  return {
    info,
    memlock: num('memlock'),
    frozen: num('frozen') ?? 0,
    ...(info.type === MapType.PROG_ARRAY ? { ownerProgType: num('owner_prog_type'), ownerJited: jited === undefined ? undefined : jited !== 0 } : {}),
    ...(pinned ? { pinned } : {}),
  };
}

const progTypeStr = (t: number) => progTypeName(t).toLowerCase();

/** bpftool -j map show: the same keys in the same order. */
export function mapShowJson(s: MapShow): Record<string, unknown> {
  const i = s.info;
  const o: Record<string, unknown> = { id: i.id, type: mapTypeBpftoolName(i.type) };
  if (i.name) o.name = i.name;
  o.flags = i.flags;
  if (i.ifindex) o.dev = { ifindex: i.ifindex };
  o.bytes_key = i.keySize;
  o.bytes_value = i.valueSize;
  o.max_entries = i.maxEntries;
  if (s.memlock !== undefined) o.bytes_memlock = s.memlock;
  if (s.ownerProgType !== undefined) o.owner_prog_type = progTypeStr(s.ownerProgType);
  if (s.ownerJited !== undefined) o.owner_jited = s.ownerJited;
  o.frozen = s.frozen;
  if (i.btfId) o.btf_id = i.btfId;
  if (s.pinned) o.pinned = s.pinned;
  return o;
}

/** The first line of bpftool's plain map header (show_map_header_plain). */
export function mapHeaderPlain(i: MapInfo): string {
  return `${i.id}: ${mapTypeBpftoolName(i.type)}  ${i.name ? `name ${i.name}  ` : ''}flags 0x${i.flags.toString(16)}${i.ifindex ? `  offloaded_to ifindex ${i.ifindex}` : ''}`;
}

/** bpftool map show, plain. */
export function mapShowPlain(s: MapShow): string {
  const i = s.info;
  let out = `${mapHeaderPlain(i)}\n\tkey ${i.keySize}B  value ${i.valueSize}B  max_entries ${i.maxEntries}`;
  if (s.memlock !== undefined) out += `  memlock ${s.memlock}B`;
  if (i.type === MapType.PROG_ARRAY && (s.ownerProgType !== undefined || s.ownerJited !== undefined)) {
    out += '\n\t';
    if (s.ownerProgType !== undefined) out += `owner_prog_type ${progTypeStr(s.ownerProgType)}  `;
    if (s.ownerJited !== undefined) out += `owner${s.ownerJited ? '' : ' not'} jited`;
  }
  for (const p of s.pinned ?? []) out += `\n\tpinned ${p}`;
  if (i.btfId || s.frozen) out += '\n\t';
  if (i.btfId) out += `btf_id ${i.btfId}`;
  if (s.frozen) out += `${i.btfId ? '  ' : ''}frozen`;
  return out + '\n';
}

/** The BTF map values are printed with (bpftool's get_map_kv_btf): vmlinux's for struct_ops, the map's own, or none. */
export function mapValueBtf(i: MapInfo): Btf | undefined {
  if (i.btfVmlinuxValueTypeId) return kernelBtf();
  if (i.btfValueTypeId && i.btfId) return btfById(i.btfId);
  return undefined;
}

/** One element: its key, its value (one per possible CPU for per-CPU maps). */
export interface Entry {
  key: Uint8Array;
  value: Uint8Array | Uint8Array[];
}

const hexPlain = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

/** print_entry_plain: hex, on one line when key and value are small. */
export function entryPlain(i: MapInfo, e: Entry): string {
  if (!Array.isArray(e.value)) {
    const breakNames = i.keySize > 16 || i.valueSize > 16;
    const single = i.keySize + i.valueSize <= 24 && !breakNames;
    let out = '';
    if (i.keySize) out += `key:${breakNames ? '\n' : ' '}${hexPlain(e.key)}${single ? '  ' : '\n'}`;
    if (i.valueSize) out += `value:${breakNames ? '\n' : ' '}${hexPlain(e.value)}`;
    return out + '\n';
  }
  let out = i.keySize ? `key:\n${hexPlain(e.key)}\n` : '';
  if (i.valueSize) e.value.forEach((v, cpu) => (out += `value (CPU ${String(cpu).padStart(2, '0')}):${i.valueSize > 16 ? '\n' : ' '}${hexPlain(v)}\n`));
  return out;
}

/** print_entry_error_msg: a key whose value could not be read. */
export function entryErrorPlain(i: MapInfo, key: Uint8Array, msg: string): string {
  const breakNames = i.keySize > 16 || msg.length > 16;
  const single = i.keySize + msg.length <= 24 && !breakNames;
  return `key:${breakNames ? '\n' : ' '}${hexPlain(key)}${single ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${msg}\n`;
}

export function entryErrorJson(w: BpftoolJsonWriter, key: Uint8Array, msg: string): void {
  w.begin('{');
  w.name('key');
  w.hexArray(key);
  w.name('value');
  w.begin('{');
  w.name('error');
  w.string(msg);
  w.end('}');
  w.end('}');
}

/** do_dump_btf: the element through BTF ({"key": ..., "value": ...} or per-CPU "values"). */
export function entryBtf(w: BpftoolJsonWriter, btf: Btf, i: MapInfo, e: Entry, plain: boolean): void {
  w.begin('{');
  if (i.btfKeyTypeId) {
    w.name('key');
    formatBtfValue(w, btf, i.btfKeyTypeId, e.key, 0, { plain });
  }
  const valueId = i.btfVmlinuxValueTypeId || i.btfValueTypeId;
  if (!Array.isArray(e.value)) {
    w.name('value');
    formatBtfValue(w, btf, valueId, e.value, 0, { plain });
  } else {
    w.name('values');
    w.begin('[');
    e.value.forEach((v, cpu) => {
      w.begin('{');
      w.name('cpu');
      w.raw(String(cpu));
      w.name('value');
      formatBtfValue(w, btf, valueId, v, 0, { plain });
      w.end('}');
    });
    w.end(']');
  }
  w.end('}');
}

/** print_entry_json: hex key and value(s), and `formatted` when the map has BTF. */
export function entryJson(w: BpftoolJsonWriter, btf: Btf | undefined, i: MapInfo, e: Entry): void {
  w.begin('{');
  w.name('key');
  w.hexArray(e.key);
  if (!Array.isArray(e.value)) {
    w.name('value');
    w.hexArray(e.value);
  } else {
    w.name('values');
    w.begin('[');
    e.value.forEach((v, cpu) => {
      w.begin('{');
      w.name('cpu');
      w.raw(String(cpu));
      w.name('value');
      w.hexArray(v);
      w.end('}');
    });
    w.end(']');
  }
  if (btf) {
    w.name('formatted');
    entryBtf(w, btf, i, e, false);
  }
  w.end('}');
}

/** The JSON header of one map inside a multi-map dump (show_map_header_json). */
export function mapHeaderJson(w: BpftoolJsonWriter, i: MapInfo): void {
  w.name('id');
  w.raw(String(i.id));
  w.name('type');
  w.string(mapTypeBpftoolName(i.type));
  if (i.name) {
    w.name('name');
    w.string(i.name);
  }
  w.name('flags');
  w.raw(String(i.flags));
}

