/** `tsbpf map ...`: bpftool's everyday map verbs. */
import { BpfMap, mapIds, type MapInfo } from '../../bpf/maps/map.ts';
import { mapTypeBpftoolName, resolveMapType, type MapTypeName } from '../../bpf/maps/types.ts';
import { TsbpfError } from '../../errors.ts';
import { infosOf, parseArgs, type Command } from './types.ts';

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

function describe(info: MapInfo): string {
  const flags = info.flags ? `  flags 0x${info.flags.toString(16)}` : '';
  return `${info.id}: ${mapTypeBpftoolName(info.type)}  name ${info.name}${flags}\n\tkey ${info.keySize}B  value ${info.valueSize}B  max_entries ${info.maxEntries}${info.btfId ? `  btf_id ${info.btfId}` : ''}`;
}

function infoJson(info: MapInfo): Record<string, unknown> {
  return {
    id: info.id,
    type: mapTypeBpftoolName(info.type),
    name: info.name,
    flags: info.flags,
    bytes_key: info.keySize,
    bytes_value: info.valueSize,
    max_entries: info.maxEntries,
    ...(info.btfId ? { btf_id: info.btfId } : {}),
  };
}

/** `id N` or `pinned PATH` -> an open map the caller closes. */
function openRef(words: string[]): BpfMap {
  const [how, what] = words;
  if (how === 'id' && what && /^\d+$/.test(what)) return BpfMap.fromId(Number(what));
  if (how === 'pinned' && what) return BpfMap.fromPin(what);
  throw new TsbpfError('USAGE', `expected 'id N' or 'pinned PATH', got '${words.join(' ')}'`);
}

const list: Command = {
  name: 'map list',
  usage: 'map list [--json]',
  summary: 'list every BPF map on the system (like bpftool map show)',
  async run(args) {
    const { flags } = parseArgs(args, ['json']);
    const out = infosOf(mapIds(), (id) => BpfMap.fromId(id));
    if (flags.has('json')) process.stdout.write(JSON.stringify(out.map(infoJson)) + '\n');
    else for (const i of out) process.stdout.write(describe(i) + '\n');
    return 0;
  },
};

const show: Command = {
  name: 'map show',
  usage: 'map show (id N | pinned PATH) [--json]',
  summary: 'what the kernel reports about one map',
  async run(args) {
    const { positional, flags } = parseArgs(args, ['json']);
    using m = openRef(positional);
    const info = m.info();
    process.stdout.write((flags.has('json') ? JSON.stringify(infoJson(info)) : describe(info)) + '\n');
    return 0;
  },
};

const dump: Command = {
  name: 'map dump',
  usage: 'map dump (id N | pinned PATH) [--json]',
  summary: 'print every key and value as hex bytes',
  async run(args) {
    const { positional, flags } = parseArgs(args, ['json']);
    using m = openRef(positional);
    const rows: { key: string; value: string | string[] }[] = [];
    for (const k of m.keys()) {
      if (m.perCpu) {
        const v = m.lookupPerCpu(k);
        if (v) rows.push({ key: hex(k), value: v.map(hex) });
      } else {
        const v = m.lookup(k);
        if (v) rows.push({ key: hex(k), value: hex(v) });
      }
    }
    if (flags.has('json')) process.stdout.write(JSON.stringify(rows) + '\n');
    else {
      for (const r of rows) process.stdout.write(`key: ${r.key}  value: ${Array.isArray(r.value) ? r.value.join(' | ') : r.value}\n`);
      process.stdout.write(`Found ${rows.length} element${rows.length === 1 ? '' : 's'}\n`);
    }
    return 0;
  },
};

const create: Command = {
  name: 'map create',
  usage: 'map create PATH type T key K value V entries N [name NAME] [flags F]',
  summary: 'create a map and pin it at PATH (like bpftool map create)',
  async run(args) {
    const [path, ...rest] = args;
    if (!path) throw new TsbpfError('USAGE', 'map create needs a pin path');
    const kv = new Map<string, string>();
    for (let i = 0; i + 1 < rest.length; i += 2) kv.set(rest[i]!, rest[i + 1]!);
    const num = (k: string, d?: number) => {
      const v = kv.get(k);
      if (v === undefined) {
        if (d !== undefined) return d;
        throw new TsbpfError('USAGE', `map create: missing '${k}'`);
      }
      return Number(v);
    };
    const type = resolveMapType((kv.get('type') ?? '').toUpperCase() as MapTypeName);
    using m = BpfMap.create({
      type,
      keySize: num('key'),
      valueSize: num('value'),
      maxEntries: num('entries'),
      flags: num('flags', 0),
      name: kv.get('name') ?? '',
    });
    m.pin(path);
    return 0;
  },
};

export const mapCommands: Command[] = [list, show, dump, create];
