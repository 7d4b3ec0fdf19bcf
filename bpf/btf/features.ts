/**
 * Which BTF kinds the running kernel accepts, probed by loading tiny blobs
 * that use them (as libbpf does), so the loader can sanitise program BTF for
 * older kernels instead of losing it. Only the features an object's BTF
 * needs are probed, all in one blob first (one syscall on a current kernel),
 * one at a time only if that is refused; each answer is cached per process.
 * The blobs are written as raw words: no BTF builder runs for a probe.
 */
import { closeFd } from '../../syscall/index.ts';
import { loadBtfBlob } from './handle.ts';
import { btfBlob } from '../../btf/marshal.ts';

export type BtfFeature = 'datasec' | 'float' | 'func' | 'funcGlobal' | 'declTag' | 'typeTag' | 'enum64';

export type BtfFeatures = Record<BtfFeature, boolean>;

export const BTF_FEATURES: readonly BtfFeature[] = ['datasec', 'float', 'func', 'funcGlobal', 'declTag', 'typeTag', 'enum64'];

/** All features present: nothing to sanitise. */
export const ALL_BTF_FEATURES: BtfFeatures = { datasec: true, float: true, func: true, funcGlobal: true, declTag: true, typeTag: true, enum64: true };

// Kind numbers and linkages (include/uapi/linux/btf.h).
const INT = 1, PTR = 2, TYPEDEF = 8, FUNC = 12, FUNC_PROTO = 13, VAR = 14, DATASEC = 15, FLOAT = 16, DECL_TAG = 17, TYPE_TAG = 18, ENUM64 = 19;
const info = (kind: number, vlen = 0) => ((kind << 24) | vlen) >>> 0;

/**
 * The types exercising each feature, on top of type 1 `int`: `words(id, s)`
 * gets the id its first type will have and the string offset of a name.
 */
const PARTS: Record<BtfFeature, { names: string[]; words: (id: number, s: (n: string) => number) => number[] }> = {
  datasec: { names: ['x', '.data'], words: (id, s) => [s('x'), info(VAR), 1, 1, s('.data'), info(DATASEC, 1), 4, id, 0, 4] },
  float: { names: ['float'], words: (_, s) => [s('float'), info(FLOAT), 4] },
  func: { names: ['f'], words: (id, s) => [0, info(FUNC_PROTO), 1, s('f'), info(FUNC, 0), id] },
  funcGlobal: { names: ['g'], words: (id, s) => [0, info(FUNC_PROTO), 1, s('g'), info(FUNC, 1), id] },
  // Tags attach to structs, unions, typedefs, vars and funcs, not to ints.
  declTag: { names: ['t', 'tag'], words: (id, s) => [s('t'), info(TYPEDEF), 1, s('tag'), info(DECL_TAG), id, 0xffffffff] },
  typeTag: { names: ['ttag'], words: (id, s) => [s('ttag'), info(TYPE_TAG), 1, 0, info(PTR), id] },
  enum64: { names: ['e', 'A'], words: (_, s) => [s('e'), info(ENUM64, 1), 8, s('A'), 0, 1 << 8] },
};
/** Types each part adds (ids advance by these). */
const PART_TYPES: Record<BtfFeature, number> = { datasec: 2, float: 1, func: 2, funcGlobal: 2, declTag: 2, typeTag: 2, enum64: 1 };

/** Raw little-endian BTF exercising `features` on top of `int` (type 1). */
export function probeBlob(features: readonly BtfFeature[]): Uint8Array {
  let strs = '\0int\0';
  const at = new Map<string, number>();
  const s = (n: string): number => {
    let o = at.get(n);
    if (o === undefined) {
      o = strs.length;
      strs += n + '\0';
      at.set(n, o);
    }
    return o;
  };
  const words: number[] = [1, info(INT), 4, (1 << 24) | 32]; // "int": BTF_INT_SIGNED, 32 bits
  let id = 2;
  for (const f of features) {
    for (const n of PARTS[f].names) s(n);
    words.push(...PARTS[f].words(id, s));
    id += PART_TYPES[f];
  }
  return btfBlob(new Uint8Array(Uint32Array.from(words).buffer), Buffer.from(strs, 'latin1'));
}

const cached: Partial<BtfFeatures> = {};

function accepts(features: readonly BtfFeature[]): boolean {
  try {
    closeFd(loadBtfBlob(probeBlob(features)));
    return true;
  } catch {
    return false;
  }
}

/**
 * What this kernel's BTF loader accepts, for the features asked (all by
 * default); features not asked are reported present (nothing of theirs needs
 * sanitising). Probed once per process per feature.
 */
export function btfFeatures(need: readonly BtfFeature[] = BTF_FEATURES): BtfFeatures {
  const open = need.filter((f) => cached[f] === undefined);
  if (open.length > 1 && accepts(open)) for (const f of open) cached[f] = true;
  else for (const f of open) cached[f] = accepts([f]);
  const out = { ...ALL_BTF_FEATURES };
  for (const f of need) out[f] = cached[f]!;
  return out;
}
