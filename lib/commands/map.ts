/** `tsbpf map ...`: bpftool's everyday map verbs. */
import { BpfMap, mapIds, type MapInfo } from '../../bpf/maps/map.ts';
import { mapTypeBpftoolName, resolveMapType, type MapTypeName } from '../../bpf/maps/types.ts';
import { TsbpfError } from '../../errors.ts';
import { infosOf, UsageError, type Command } from './types.ts';
import { parseArgs, parseUint } from './args.ts';

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
  if (words.length === 2 && how === 'id') return BpfMap.fromId(parseUint('id', what!, 0xffffffff, 1));
  if (words.length === 2 && how === 'pinned') return BpfMap.fromPin(what!);
  throw new UsageError(`expected 'id N' or 'pinned PATH', got '${words.join(' ')}'`);
}

const list: Command = {
  name: 'map list',
  usage: 'map list [--json]',
  summary: 'list every BPF map on the system (like bpftool map show)',
  async run(args) {
    const { flags } = parseArgs(args, { booleans: ['json'] });
    const out = infosOf(mapIds(), (id) => BpfMap.fromId(id));
    if (flags.has('json')) process.stdout.write(JSON.stringify(out.map(infoJson)) + '\n');
    else for (const i of out) process.stdout.write(describe(i) + '\n');
    return 0;
  },
};

const show: Command = {
  name: 'map show',
  usage: 'map show [id N | pinned PATH | name N] [--json]',
  summary: 'what the kernel reports about one map (every map without a selector)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { booleans: ['json'], max: 2 });
    const json = flags.has('json');
    if (positional.length === 0 || positional[0] === 'name') {
      if (positional.length === 1) throw new UsageError(`'name' needs a value`);
      const all = infosOf(mapIds(), (id) => BpfMap.fromId(id));
      const rows = positional.length ? all.filter((i) => i.name === positional[1]) : all;
      if (positional.length && !rows.length) throw new TsbpfError('ENOENT', `no map named '${positional[1]}'`);
      if (json) process.stdout.write(JSON.stringify(rows.map(infoJson)) + '\n');
      else for (const i of rows) process.stdout.write(describe(i) + '\n');
      return 0;
    }
    using m = openRef(positional);
    const info = m.info();
    process.stdout.write((json ? JSON.stringify(infoJson(info)) : describe(info)) + '\n');
    return 0;
  },
};

const dump: Command = {
  name: 'map dump',
  usage: 'map dump (id N | pinned PATH) [--json]',
  summary: 'print every key and value as hex bytes',
  async run(args) {
    const { positional, flags } = parseArgs(args, { booleans: ['json'], min: 2 });
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
    const { positional } = parseArgs(args, { min: 1, max: 13 });
    const [path, ...rest] = positional as [string, ...string[]];
    if (rest.length % 2) throw new UsageError(`'${rest[rest.length - 1]}' needs a value`);
    const kv = new Map<string, string>();
    for (let i = 0; i < rest.length; i += 2) {
      const k = rest[i]!;
      if (!CREATE_KEYS.includes(k)) throw new UsageError(`unknown parameter '${k}' (${CREATE_KEYS.join(', ')})`);
      if (kv.has(k)) throw new UsageError(`'${k}' given twice`);
      kv.set(k, rest[i + 1]!);
    }
    const num = (k: string, d?: number) => {
      const v = kv.get(k);
      if (v === undefined) {
        if (d !== undefined) return d;
        throw new UsageError(`missing '${k}'`);
      }
      return parseUint(k, v);
    };
    const typeName = kv.get('type');
    if (typeName === undefined) throw new UsageError(`missing 'type'`);
    let type: number;
    try {
      type = resolveMapType(typeName.toUpperCase() as MapTypeName);
    } catch {
      throw new UsageError(`unknown map type '${typeName}' (e.g. hash, array, percpu_array, lpm_trie, ringbuf)`);
    }
    const spec = { keySize: num('key'), valueSize: num('value'), maxEntries: num('entries'), flags: num('flags', 0) };
    const name = kv.get('name') ?? '';
    if (!/^[A-Za-z0-9_.]{0,15}$/.test(name)) throw new UsageError(`name must be at most 15 letters, digits, '_' or '.', got '${name}'`);
    using m = BpfMap.create({ type, ...spec, name });
    m.pin(path);
    return 0;
  },
};

const CREATE_KEYS = ['type', 'key', 'value', 'entries', 'name', 'flags'];

export const mapCommands: Command[] = [list, show, dump, create];
