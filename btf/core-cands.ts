/**
 * CO-RE candidate lookup: the target types whose name equals a local type's
 * name once `___flavor` suffixes are stripped on both sides.
 *
 * libbpf walks every target type for each local type. Here the exact
 * essential name is looked up with the Btf's own name index (built once per
 * Btf, ~70 ms for vmlinux), and flavored target names are found through a
 * small per-Btf table built by scanning the string section for `___` (a
 * native byte search; vmlinux has a handful of such strings). Each flavored
 * string found is then looked up by its full name in the same index. Types
 * are never decoded in bulk.
 */
import { Buffer } from 'node:buffer';
import type { Btf } from './btf.ts';
import { essentialName, kindsCoreCompatible } from './core-match.ts';
import type { BtfType } from './types.ts';

/** A target type that may correspond to a local type. */
export interface CoreCandidate {
  btf: Btf;
  id: number;
}

/** essential name → flavored names with that essential name, per string section. */
const flavorTables = new WeakMap<Btf, Map<string, string[]>>();
const SEP = Buffer.from('___');

/** Flavored names (`X___Y`) of one Btf's own string section, by essential name. */
function ownFlavoredNames(btf: Btf): Map<string, string[]> {
  let table = flavorTables.get(btf);
  if (table) return table;
  table = new Map();
  const s = btf.strings;
  let p = s.indexOf(SEP, 0);
  while (p >= 0) {
    let start = p;
    while (start > 0 && s[start - 1] !== 0) start--;
    let end = s.indexOf(0, p);
    if (end < 0) end = s.length;
    const str = s.toString('utf8', start, end);
    // A name offset may point into the middle of a string (tail sharing): index every suffix.
    for (let q = 0; q < str.length; q++) {
      const name = str.slice(q);
      const ess = essentialName(name);
      if (ess === name || ess === '') continue;
      const list = table.get(ess);
      if (!list) table.set(ess, [name]);
      else if (!list.includes(name)) list.push(name);
    }
    p = s.indexOf(SEP, end);
  }
  flavorTables.set(btf, table);
  return table;
}

/** Names whose essential name is `ess` in btf's string sections (its own and its bases'). */
function namesWithEssential(btf: Btf, ess: string): string[] {
  const names = [ess];
  for (let b: Btf | undefined = btf; b; b = b.base) {
    for (const n of ownFlavoredNames(b).get(ess) ?? []) if (!names.includes(n)) names.push(n);
  }
  return names;
}

/**
 * Candidates for `local` (a named local type) in `btf`, among ids >= startId,
 * ascending: same kind (or both enums) and the same essential name.
 */
export function candidatesIn(local: BtfType, btf: Btf, startId: number): CoreCandidate[] {
  const ess = essentialName(local.name);
  const out: CoreCandidate[] = [];
  for (const name of namesWithEssential(btf, ess)) {
    for (const t of btf.findAllByName(name)) {
      if (t.id >= startId && kindsCoreCompatible(t, local)) out.push({ btf, id: t.id });
    }
  }
  return out.sort((a, b) => a.id - b.id);
}

/**
 * libbpf's candidate search over a list of target BTFs: the first target
 * (vmlinux) is searched in full; only when it has no candidate are the
 * others (module BTFs) searched, each over its own types when its base is
 * an earlier target, in full otherwise.
 */
export function findCandidates(local: BtfType, targets: readonly Btf[]): CoreCandidate[] {
  if (targets.length === 0) return [];
  const first = candidatesIn(local, targets[0]!, 1);
  if (first.length) return first;
  const out: CoreCandidate[] = [];
  for (let i = 1; i < targets.length; i++) {
    const t = targets[i]!;
    const own = t.base !== undefined && targets.slice(0, i).includes(t.base);
    out.push(...candidatesIn(local, t, own ? t.firstTypeId : 1));
  }
  return out;
}
