/**
 * `tsbpf map ...`: bpftool's map verbs with its arguments and output (plain,
 * `-j`/`--json`, `-p`/`--pretty`): show/list, dump, lookup, update, delete,
 * getnext, push/pop/peek/enqueue/dequeue, create, pin, freeze, event_pipe.
 */
import { BpfMap, mapIds, type MapInfo } from '../../bpf/maps/map.ts';
import { MapType, mapTypeBpftoolName } from '../../bpf/maps/types.ts';
import { BpfError } from '../../syscall/errors.ts';
import { Errno } from '../../syscall/errno.ts';
import { TsbpfError } from '../../errors.ts';
import { BpftoolJsonWriter } from '../../btf/format-bpftool.ts';
import { UsageError, type Command } from './types.ts';
import { isKeyword, parseArgs, parseUint } from './args.ts';
import { openMap, openMaps, parseElem, takeRef, type Elem } from './map-select.ts';
import { entryBtf, entryErrorJson, entryErrorPlain, entryJson, entryPlain, mapHeaderJson, mapHeaderPlain, mapShow, mapShowJson, mapShowPlain, mapValueBtf, type Entry } from './map-print.ts';
import { JSON_FLAGS, OUT_CHUNK, outputOpts, printJson, writeOut, type OutputOpts } from './out.ts';
import { mapEventPipe } from './map-event-pipe.ts';


/** Verbs whose JSON answer is `null` (bpftool prints it for update, delete, pin, create, freeze). */
const done = (o: OutputOpts) => (o.json ? writeOut('null\n') : Promise.resolve());

const closeAll = (ms: BpfMap[]) => ms.forEach((m) => m.close());

// ---- show ------------------------------------------------------------------

function showCommand(name: 'map show' | 'map list'): Command {
  return {
    name,
    usage: `${name} [id N | pinned PATH | name NAME] [-j|-p]`,
    summary: 'what the kernel reports about maps (every map without a selector), like bpftool map show',
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, max: 2 });
      const o = outputOpts(flags);
      let maps: BpfMap[];
      let single = false;
      if (positional.length) {
        const { ref } = takeRef(positional, 0);
        maps = openMaps(ref);
        if (!maps.length) throw new TsbpfError('NO_MATCH', `no map named '${ref.what}'`);
        single = maps.length === 1;
      } else {
        maps = [];
        try {
          for (const id of mapIds()) {
            try {
              maps.push(BpfMap.fromId(id));
            } catch (e) {
              if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
            }
          }
        } catch (e) {
          closeAll(maps);
          throw e;
        }
      }
      try {
        const rows = maps.map((m) => mapShow(m));
        if (o.json) await printJson(o, single ? mapShowJson(rows[0]!) : rows.map(mapShowJson));
        else await writeOut(rows.map(mapShowPlain).join(''));
      } finally {
        closeAll(maps);
      }
      return 0;
    },
  };
}

// ---- dump ------------------------------------------------------------------

/** glibc's strerror for the errors a lookup in a dump reports (bpftool prints them per key). */
function strerror(errno: number): string {
  const m: Record<number, string> = {
    [Errno.ENOENT]: 'No such file or directory',
    [Errno.EPERM]: 'Operation not permitted',
    [Errno.EINVAL]: 'Invalid argument',
    [Errno.ENOSPC]: 'No space left on device',
    [Errno.EOPNOTSUPP]: 'Operation not supported',
    [Errno.EFAULT]: 'Bad address',
    [Errno.EACCES]: 'Permission denied',
  };
  return m[errno] ?? `Unknown error ${errno}`;
}

const isMapOfMaps = (t: number) => t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS;

/** One element's value, or the errno that kept it from being read. */
function read(m: BpfMap, key: Uint8Array): Entry | number {
  try {
    const v = m.perCpu ? m.lookupPerCpu(key) : m.lookup(key);
    return v ? { key, value: v } : Errno.ENOENT;
  } catch (e) {
    if (e instanceof BpfError) return e.errno;
    throw e;
  }
}

/** Keys of a map; none for maps without keys (queue, stack, ring buffers: bpftool finds 0 elements there). */
function* keysOf(m: BpfMap): Generator<Uint8Array> {
  if (m.keySize === 0) return;
  yield* m.keys();
}

/** bpftool's map_dump for one map: elements streamed out as they are read. */
async function dumpOne(m: BpfMap, info: MapInfo, w: BpftoolJsonWriter | undefined, o: OutputOpts, header: boolean): Promise<void> {
  const btf = w ? mapValueBtf(info) : undefined;
  if (w) {
    if (header) {
      w.begin('{');
      mapHeaderJson(w, info);
      w.name('elements');
    }
    w.begin('[');
  } else if (header) await writeOut(mapHeaderPlain(info) + '\n');
  if (info.type === MapType.REUSEPORT_SOCKARRAY && info.valueSize !== 8) {
    process.stderr.write(`Warning: cannot read values from ${mapTypeBpftoolName(info.type)} map with value_size != 8\n`);
  }
  let n = 0;
  let text = '';
  for (const key of keysOf(m)) {
    const e = read(m, key);
    if (typeof e === 'number') {
      // Empty slots of prog arrays and maps of maps are no error.
      if (e === Errno.ENOENT && (isMapOfMaps(info.type) || info.type === MapType.PROG_ARRAY)) continue;
      const msg = e === Errno.ENOENT ? '<no entry>' : e === Errno.ENOSPC && info.type === MapType.REUSEPORT_SOCKARRAY ? '<cannot read>' : strerror(e);
      if (o.json) entryErrorJson(w!, key, strerror(e));
      else text += entryErrorPlain(info, key, msg);
    } else {
      n++;
      if (o.json) entryJson(w!, btf, info, e);
      else if (w && btf) entryBtf(w, btf, info, e, true);
      else text += entryPlain(info, e);
    }
    if (text.length > OUT_CHUNK) {
      await writeOut(text);
      text = '';
    }
    if (w && w.pending > OUT_CHUNK) await writeOut(w.take());
  }
  if (w) {
    w.end(']');
    if (header) w.end('}');
  } else {
    text += `Found ${n} element${n !== 1 ? 's' : ''}\n`;
  }
  await writeOut(text);
}

const dump: Command = {
  name: 'map dump',
  usage: 'map dump (id N | pinned PATH | name NAME) [-j|-p]',
  summary: 'print every element, formatted with the map\'s BTF when it has some (like bpftool map dump)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 2 });
    const o = outputOpts(flags);
    const { ref } = takeRef(positional, 0);
    const maps = openMaps(ref);
    if (!maps.length) throw new TsbpfError('NO_MATCH', `no map named '${ref.what}'`);
    try {
      const infos = maps.map((m) => m.info());
      // Plain text goes through bpftool's pretty JSON writer when every map has BTF.
      const w = o.json ? new BpftoolJsonWriter(o.pretty) : infos.every((i) => i.btfId) ? new BpftoolJsonWriter(true) : undefined;
      const many = maps.length > 1;
      if (w && many) w.begin('[');
      for (let k = 0; k < maps.length; k++) {
        await dumpOne(maps[k]!, infos[k]!, w, o, many);
        if (!w && k !== maps.length - 1) await writeOut('\n');
        if (w) await writeOut(w.take());
      }
      if (w) {
        if (many) w.end(']');
        await writeOut(w.take() + '\n');
      }
    } finally {
      closeAll(maps);
    }
    return 0;
  },
};

// ---- element verbs ---------------------------------------------------------

/** `MAP ...rest` -> the one map and the words after its selector. */
function mapAndRest(positional: string[]): { m: BpfMap; rest: string[] } {
  const { ref, next } = takeRef(positional, 0);
  return { m: openMap(ref), rest: positional.slice(next) };
}

/** print_key_value: one element as JSON, BTF-formatted text, or hex. */
async function printEntry(m: BpfMap, e: Entry, o: OutputOpts): Promise<void> {
  const info = m.info();
  const btf = mapValueBtf(info);
  if (o.json || btf) {
    const w = new BpftoolJsonWriter(o.json ? o.pretty : true);
    if (o.json) entryJson(w, btf, info, e);
    else entryBtf(w, btf!, info, e, true);
    await writeOut(w.take() + '\n');
  } else await writeOut(entryPlain(info, e));
}

const hexPlain = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

function elemCommand(name: string, usage: string, summary: string, run: (m: BpfMap, rest: string[], o: OutputOpts) => Promise<number>): Command {
  return {
    name: `map ${name}`,
    usage: `map ${name} ${usage} [-j|-p]`,
    summary,
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 2, max: Infinity });
      const { m, rest } = mapAndRest(positional);
      try {
        return await run(m, rest, outputOpts(flags));
      } finally {
        m.close();
      }
    },
  };
}

async function lookupOrPeek(m: BpfMap, rest: string[], o: OutputOpts): Promise<number> {
  const { key } = parseElem(m, rest, 0, { key: true });
  const k = key ?? new Uint8Array(0);
  const v = m.keySize === 0 ? m.peek() : m.perCpu ? m.lookupPerCpu(k) : m.lookup(k);
  if (!v) {
    await writeOut(o.json ? 'null\n' : `key:\n${hexPlain(k)}\n\nNot found\n`);
    return 1;
  }
  await printEntry(m, { key: k, value: v }, o);
  return 0;
}

async function update(m: BpfMap, rest: string[], o: OutputOpts): Promise<number> {
  const e: Elem = parseElem(m, rest, 0, { key: true, value: true, flags: true });
  try {
    const key = e.key ?? new Uint8Array(0);
    if (m.keySize === 0) m.push(e.value ?? new Uint8Array(0), e.flags);
    else if (e.valueObj) m.update(key, { fd: e.valueObj.fd }, e.flags);
    else if (m.perCpu) m.updatePerCpu(key, new Array<Uint8Array>(m.valueBytes / m.valueStride).fill(e.value!), e.flags);
    else m.update(key, e.value ?? new Uint8Array(0), e.flags);
  } finally {
    e.valueObj?.close();
  }
  await done(o);
  return 0;
}

async function popOrDequeue(m: BpfMap, rest: string[], o: OutputOpts): Promise<number> {
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (m.keySize !== 0) throw new TsbpfError('WRONG_MAP_TYPE', `map '${m.name}' is ${mapTypeBpftoolName(m.type)}: pop and dequeue need a queue or a stack`);
  const v = m.pop();
  if (!v) {
    await writeOut(o.json ? 'null\n' : 'Error: empty map\n');
    return 1;
  }
  await printEntry(m, { key: new Uint8Array(0), value: v }, o);
  return 0;
}

const lookup = elemCommand('lookup', '(id N | pinned PATH | name NAME) key [hex] BYTES...', 'print the value at a key', lookupOrPeek);
const peek = elemCommand('peek', '(id N | pinned PATH | name NAME)', 'print the head of a queue or stack without removing it', lookupOrPeek);
const updateCmd = elemCommand('update', '(id N | pinned PATH | name NAME) key [hex] BYTES... value VALUE [any|exist|noexist]', 'set the value at a key (VALUE: [hex] BYTES..., a map for maps of maps, a program for prog arrays)', update);
const push = elemCommand('push', '(id N | pinned PATH | name NAME) value [hex] BYTES...', 'push a value onto a queue or stack', update);
const enqueue = elemCommand('enqueue', '(id N | pinned PATH | name NAME) value [hex] BYTES...', 'add a value to a queue', update);
const pop = elemCommand('pop', '(id N | pinned PATH | name NAME)', 'remove and print the head of a queue or stack', popOrDequeue);
const dequeue = elemCommand('dequeue', '(id N | pinned PATH | name NAME)', 'remove and print the head of a queue', popOrDequeue);

const del = elemCommand('delete', '(id N | pinned PATH | name NAME) key [hex] BYTES...', 'delete the element at a key', async (m, rest, o) => {
  const { key } = parseElem(m, rest, 0, { key: true });
  if (!m.delete(key ?? new Uint8Array(0))) throw new TsbpfError('ENOENT', `delete failed: no element at key ${hexPlain(key ?? new Uint8Array(0))}`);
  await done(o);
  return 0;
});

const getnext = elemCommand('getnext', '(id N | pinned PATH | name NAME) [key [hex] BYTES...]', 'print the key after KEY (the first key without one)', async (m, rest, o) => {
  const key = rest.length ? parseElem(m, rest, 0, { key: true }).key : undefined;
  const next = m.nextKey(key);
  if (!next) throw new TsbpfError('ENOENT', `can't get next key: ${key ? `no key after ${hexPlain(key)}` : 'the map is empty'}`);
  if (o.json) {
    const w = new BpftoolJsonWriter(o.pretty);
    w.begin('{');
    w.name('key');
    if (key) w.hexArray(key);
    else w.raw('null');
    w.name('next_key');
    w.hexArray(next);
    w.end('}');
    await writeOut(w.take() + '\n');
  } else {
    await writeOut(`${key ? `key:\n${hexPlain(key)}\n` : 'key: None\n'}next key:\n${hexPlain(next)}\n`);
  }
  return 0;
});

const pin = elemCommand('pin', '(id N | pinned PATH | name NAME) FILE', 'pin the map at FILE on bpffs', async (m, rest, o) => {
  if (rest.length !== 1) throw new UsageError(rest.length ? `unexpected argument '${rest[1]}'` : 'missing FILE');
  m.pin(rest[0]!);
  await done(o);
  return 0;
});

const freeze = elemCommand('freeze', '(id N | pinned PATH | name NAME)', 'make the map read-only for user space', async (m, rest, o) => {
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  m.freeze();
  await done(o);
  return 0;
});

// ---- create ----------------------------------------------------------------

/** bpftool's map type names (libbpf_bpf_map_type_str), name -> type. */
function mapTypeByName(name: string): number | undefined {
  for (const [n, v] of Object.entries(MapType)) if (n !== 'UNSPEC' && n.toLowerCase() === name) return v;
  return undefined;
}

const create: Command = {
  name: 'map create',
  usage: 'map create FILE type TYPE key KEY_SIZE value VALUE_SIZE entries MAX_ENTRIES name NAME [flags FLAGS] [inner_map MAP] [-j|-p]',
  summary: 'create a map and pin it at FILE (like bpftool map create)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 1, max: Infinity });
    const o = outputOpts(flags);
    const [path, ...rest] = positional as [string, ...string[]];
    let type: number | undefined;
    let name: string | undefined;
    const nums: Partial<Record<'key' | 'value' | 'entries' | 'flags', number>> = {};
    let inner: BpfMap | undefined;
    try {
      for (let i = 0; i < rest.length; ) {
        const w = rest[i]!;
        const v = rest[i + 1];
        if (v === undefined) throw new UsageError(`'${w}' needs a value`);
        if (isKeyword(w, 'type')) {
          if (type !== undefined) throw new UsageError('map type already specified');
          type = mapTypeByName(v);
          if (type === undefined) throw new UsageError(`unrecognized map type: ${v} (e.g. hash, array, percpu_array, lpm_trie, queue, ringbuf)`);
        } else if (isKeyword(w, 'name')) {
          if (!/^[A-Za-z0-9_.]{1,15}$/.test(v)) throw new UsageError(`name must be 1 to 15 letters, digits, '_' or '.', got '${v}'`);
          name = v;
        } else if (w === 'inner_map' || (w.length > 1 && isKeyword(w, 'inner_map'))) {
          if (inner) throw new UsageError('inner_map already specified');
          const { ref, next } = takeRef(rest, i + 1);
          inner = openMap(ref);
          i = next;
          continue;
        } else {
          const k = (['key', 'value', 'entries', 'flags'] as const).find((x) => isKeyword(w, x));
          if (!k) throw new UsageError(`unknown arg ${w}`);
          if (nums[k] !== undefined) throw new UsageError(`'${k}' given twice`);
          nums[k] = parseUint(k, v);
        }
        i += 2;
      }
      if (type === undefined) throw new UsageError("missing 'type'");
      for (const k of ['key', 'value', 'entries'] as const) if (nums[k] === undefined) throw new UsageError(`missing '${k}'`);
      if (name === undefined) throw new UsageError('map name not specified');
      const innerInfo = inner?.info();
      using m = BpfMap.create({
        type,
        keySize: nums.key!,
        valueSize: nums.value!,
        maxEntries: nums.entries!,
        flags: nums.flags ?? 0,
        name,
        ...(innerInfo ? { innerMap: { type: innerInfo.type, keySize: innerInfo.keySize, valueSize: innerInfo.valueSize, maxEntries: innerInfo.maxEntries, flags: innerInfo.flags } } : {}),
      });
      m.pin(path);
    } finally {
      inner?.close();
    }
    await done(o);
    return 0;
  },
};

export const mapCommands: Command[] = [
  showCommand('map show'),
  showCommand('map list'),
  dump,
  lookup,
  updateCmd,
  del,
  getnext,
  push,
  pop,
  peek,
  enqueue,
  dequeue,
  create,
  pin,
  freeze,
  mapEventPipe,
];
