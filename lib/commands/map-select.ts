/**
 * How the map verbs name maps and elements, as bpftool does: `id N`,
 * `pinned PATH`, `name NAME` (every map of that name), and
 * `key [hex] BYTES... value VALUE [any|exist|noexist]` with VALUE bytes, a map
 * (maps of maps) or a program (prog arrays).
 */
import { BpfMap, mapIds } from '../../bpf/maps/map.ts';
import { MapType } from '../../bpf/maps/types.ts';
import { Program, progIds } from '../../bpf/programs/program.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError } from './types.ts';
import { isKeyword, parseBytes, parseUint } from './args.ts';

export interface ObjRef {
  how: 'id' | 'pinned' | 'name' | 'tag';
  what: string;
}

/** Read `id N | pinned PATH | name NAME` (and `tag T` for programs) at `words[at]`. */
export function takeRef(words: string[], at: number, kinds: readonly ObjRef['how'][] = ['id', 'pinned', 'name']): { ref: ObjRef; next: number } {
  const how = kinds.find((k) => words[at] === k || (words[at] && isKeyword(words[at], k) && words[at]!.length > 1));
  const list = kinds.map((k) => `'${k}'`).join(', ');
  if (!how) throw new UsageError(words[at] === undefined ? `expected ${list}` : `expected ${list}, got: '${words[at]}'`);
  const what = words[at + 1];
  if (what === undefined) throw new UsageError(`'${how}' needs a value`);
  if (how === 'id') parseUint('id', what, 0xffffffff, 1);
  if (how === 'name' && what.length > 15) throw new UsageError(`a name has at most 15 characters, got '${what}'`);
  return { ref: { how, what }, next: at + 2 };
}

/** Every map `ref` names (several for a name), open; the caller closes them. */
export function openMaps(ref: ObjRef): BpfMap[] {
  if (ref.how === 'id') return [BpfMap.fromId(parseUint('id', ref.what, 0xffffffff, 1))];
  if (ref.how === 'pinned') return [BpfMap.fromPin(ref.what)];
  const out: BpfMap[] = [];
  try {
    for (const id of mapIds()) {
      let m: BpfMap;
      try {
        m = BpfMap.fromId(id);
      } catch (e) {
        if ((e as { code?: unknown }).code === 'ENOENT') continue; // gone meanwhile
        throw e;
      }
      if (m.name === ref.what) out.push(m);
      else m.close();
    }
  } catch (e) {
    for (const m of out) m.close();
    throw e;
  }
  return out;
}

/** The one map `ref` names. */
export function openMap(ref: ObjRef): BpfMap {
  const maps = openMaps(ref);
  if (maps.length === 1) return maps[0]!;
  for (const m of maps) m.close();
  if (!maps.length) throw new TsbpfError('NO_MATCH', `no map named '${ref.what}'`);
  throw new TsbpfError('AMBIGUOUS', `several maps match this handle (name ${ref.what}): use 'id N' or 'pinned PATH'`);
}

/** The one program `ref` names (prog array values). */
export function openProgram(ref: ObjRef): Program {
  if (ref.how === 'id') return Program.fromId(parseUint('id', ref.what, 0xffffffff, 1));
  if (ref.how === 'pinned') return Program.fromPin(ref.what);
  const hits: number[] = [];
  for (const id of progIds()) {
    try {
      using p = Program.fromId(id);
      const i = p.info();
      if (ref.how === 'name' ? i.name === ref.what : i.tag === ref.what.toLowerCase()) hits.push(id);
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
  }
  if (hits.length === 1) return Program.fromId(hits[0]!);
  if (!hits.length) throw new TsbpfError('NO_MATCH', `no program with ${ref.how} '${ref.what}'`);
  throw new TsbpfError('AMBIGUOUS', `several programs match this handle (${ref.how} ${ref.what}): use 'id N' or 'pinned PATH'`);
}

/** A parsed `key ... value ... FLAGS` tail. */
export interface Elem {
  key?: Uint8Array;
  value?: Uint8Array;
  /** A map-of-maps or prog-array value: the object to store, open (the caller closes it). */
  valueObj?: BpfMap | Program;
  flags: 'ANY' | 'EXIST' | 'NOEXIST';
}

const UPDATE_FLAGS = [
  ['any', 'ANY'],
  ['noexist', 'NOEXIST'],
  ['exist', 'EXIST'],
] as const;

/**
 * bpftool's parse_elem: `key` when `want.key` (and the map has keys), `value`
 * when `want.value`, flags when `want.flags`, in any order, each once, and
 * nothing else.
 */
export function parseElem(map: BpfMap, words: string[], at: number, want: { key?: boolean; value?: boolean; flags?: boolean }): Elem {
  const needKey = !!want.key && map.keySize > 0;
  const needValue = !!want.value && map.valueSize > 0;
  const elem: Elem = { flags: 'ANY' };
  let flagsSeen = false;
  try {
    for (let i = at; i < words.length; ) {
      const w = words[i]!;
      if (isKeyword(w, 'key')) {
        if (!needKey || elem.key) throw new UsageError(needKey || elem.key ? 'duplicate key' : map.keySize ? 'unexpected key' : 'unnecessary key');
        ({ bytes: elem.key, next: i } = parseBytes('key', words, i + 1, map.keySize));
      } else if (isKeyword(w, 'value')) {
        if (!needValue || elem.value || elem.valueObj) throw new UsageError(needValue || elem.value || elem.valueObj ? 'duplicate value' : map.valueSize ? 'unexpected value' : 'unnecessary value');
        if (map.type === MapType.ARRAY_OF_MAPS || map.type === MapType.HASH_OF_MAPS) {
          const { ref, next } = takeRef(words, i + 1);
          elem.valueObj = openMap(ref);
          i = next;
        } else if (map.type === MapType.PROG_ARRAY) {
          const { ref, next } = takeRef(words, i + 1, ['id', 'pinned', 'tag', 'name']);
          elem.valueObj = openProgram(ref);
          i = next;
        } else {
          ({ bytes: elem.value, next: i } = parseBytes('value', words, i + 1, map.valueSize));
        }
      } else {
        const f = want.flags ? UPDATE_FLAGS.find(([word]) => isKeyword(w, word)) : undefined;
        if (!f) throw new UsageError(`expected ${[needKey && !elem.key ? 'key' : '', needValue && !elem.value && !elem.valueObj ? 'value' : '', want.flags && !flagsSeen ? 'any|exist|noexist' : ''].filter(Boolean).join(' or ') || 'nothing more'}, got: '${w}'`);
        if (flagsSeen) throw new UsageError(`flags specified multiple times: ${w}`);
        flagsSeen = true;
        elem.flags = f[1];
        i++;
      }
    }
    if (needKey && !elem.key) throw new UsageError('did not find key');
    if (needValue && !elem.value && !elem.valueObj) throw new UsageError('did not find value');
  } catch (e) {
    elem.valueObj?.close();
    throw e;
  }
  return elem;
}
