/**
 * CO-RE candidate lookup: the target types whose name equals a local type's
 * name once `___flavor` suffixes are stripped on both sides.
 *
 * libbpf walks every target type for each local type. Here the Btf's name
 * index is keyed by essential names (hashed from the raw name bytes, by
 * kind), so one lookup finds `task_struct` and `task_struct___v2` alike,
 * and only the names of the local type's kind are ever hashed. Types are
 * never decoded in bulk.
 */
import type { Btf } from './btf.ts';
import { essentialName } from './core-match.ts';
import type { BtfKind, BtfType } from './types.ts';

/** A target type that may correspond to a local type. */
export interface CoreCandidate {
  btf: Btf;
  id: number;
}

const ENUMS: readonly BtfKind[] = ['enum', 'enum64'];

/**
 * Candidates for `local` (a named local type) in `btf`, among ids >= startId,
 * ascending: same kind (or both enums) and the same essential name.
 */
export function candidatesIn(local: BtfType, btf: Btf, startId: number): CoreCandidate[] {
  const kinds = local.kind === 'enum' || local.kind === 'enum64' ? ENUMS : [local.kind];
  const ids = btf.findIdsByEssentialName(essentialName(local.name), kinds, startId >= btf.firstTypeId && btf.base !== undefined);
  const out: CoreCandidate[] = [];
  for (const id of ids) if (id >= startId) out.push({ btf, id });
  return out;
}

/**
 * Target BTFs whose tail is loaded on demand: `first` (vmlinux) is searched
 * in full, `rest()` (module BTFs, split on it) is called only when `first`
 * has no candidate for a type, as libbpf loads module BTF only then.
 * `rest()` should cache its result.
 */
export interface LazyCoreTargets {
  readonly first: Btf;
  rest(): readonly Btf[];
}

/** A list of target BTFs (vmlinux first), or a lazy one. */
export type CoreTargets = readonly Btf[] | LazyCoreTargets;

export function isLazyTargets(t: unknown): t is LazyCoreTargets {
  return typeof t === 'object' && t !== null && !Array.isArray(t) && typeof (t as LazyCoreTargets).rest === 'function' && 'first' in t;
}

/**
 * libbpf's candidate search over a list of target BTFs: the first target
 * (vmlinux) is searched in full; only when it has no candidate are the
 * others (module BTFs) searched, each over its own types when its base is
 * an earlier target, in full otherwise.
 */
export function findCandidates(local: BtfType, list: CoreTargets): CoreCandidate[] {
  let targets: readonly Btf[];
  if (isLazyTargets(list)) {
    const first = candidatesIn(local, list.first, 1);
    if (first.length) return first;
    targets = [list.first, ...list.rest()];
  } else {
    if (list.length === 0) return [];
    const first = candidatesIn(local, list[0]!, 1);
    if (first.length) return first;
    targets = list;
  }
  const out: CoreCandidate[] = [];
  for (let i = 1; i < targets.length; i++) {
    const t = targets[i]!;
    const own = t.base !== undefined && targets.slice(0, i).includes(t.base);
    out.push(...candidatesIn(local, t, own ? t.firstTypeId : 1));
  }
  return out;
}
