/**
 * CO-RE (Compile Once, Run Everywhere) relocation engine. Pure: the target
 * is just a {@link Btf} (vmlinux, plus module BTFs), no kernel access.
 *
 * Semantics are libbpf's (relo_core.c, shared with the kernel), for every
 * `enum bpf_core_relo_kind`:
 *
 * - The relocation's local root type (program BTF) is matched against target
 *   candidates: types of the same kind (or both enums) whose name equals the
 *   local name once a `___flavor` suffix is stripped from both.
 * - Field relocations walk the access string ("0:1:2": an array index into
 *   the root, then member / array indexes) through each candidate: members
 *   are matched by name, anonymous struct/union members searched
 *   recursively, arrays indexed (flexible arrays allowed at the end of a
 *   struct), member types checked for compatibility (ints of any size,
 *   pointers, composites, enums/fwds by name, arrays by element).
 * - Candidates that match must all give the same value (and, for fields,
 *   the same bit offset), else {@link CoreError} CORE_AMBIGUOUS. Matching
 *   candidates replace the cached candidate list of that local type, as in
 *   libbpf, so later relocations of the type only consider them.
 * - No match: FIELD_EXISTS, ENUMVAL_EXISTS and the type-based kinds
 *   (TYPE_EXISTS, TYPE_MATCHES, TYPE_SIZE, TYPE_ID_TARGET) give 0; the other
 *   field kinds and ENUMVAL_VALUE poison the instruction.
 *
 * Usage, per loaded object:
 * ```ts
 * const cache = new CoreCache();
 * for (const sec of ext.coreRelos) for (const r of sec.records) {
 *   const res = resolveCoreRelo(objBtf, r, [vmlinux, ...modules], cache);
 *   const poisoned = applyCoreRelo(sectionInsns, r.insnOff / 8, res);
 *   if (poisoned) log(poisoned); // the verifier rejects the insn if reachable
 * }
 * ```
 */
import type { Btf } from './btf.ts';
import { CoreError } from './core-error.ts';
import { findCandidates, isLazyTargets, type CoreCandidate, type CoreTargets } from './core-cands.ts';
import {
  essentialName,
  essentialNameLength,
  fieldsAreCompatible,
  skipModsAndTypedefs,
  typesAreCompatible,
  typesMatch,
  wrap,
} from './core-match.ts';
import { CORE_RELO_KINDS, type CoreReloKindName } from './ext.ts';
import { isComposite, isEnum, type BtfArray, type BtfType } from './types.ts';

export { CoreError, type CoreErrorCode } from './core-error.ts';
export type { CoreCandidate, CoreTargets, LazyCoreTargets } from './core-cands.ts';
export { essentialName, fieldsAreCompatible, typesAreCompatible, typesMatch } from './core-match.ts';

/** `enum bpf_core_relo_kind` */
export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;

/** imm of the helper call that replaces a poisoned instruction (libbpf's 0xbad2310; the verifier says "invalid func unknown#195896080"). */
export const CORE_POISON_HELPER = 0xbad2310;

/** libbpf's BPF_CORE_SPEC_MAX_LEN. */
const SPEC_MAX_LEN = 64;

/** One relocation record (`struct bpf_core_relo`): a {@link BtfCoreRelo} from parseBtfExt fits. */
export interface CoreRelo {
  /** Byte offset of the instruction in its section (for messages). */
  insnOff: number;
  /** Local root type id. */
  typeId: number;
  /** `enum bpf_core_relo_kind`. */
  kind: number;
  /** The access string; looked up from accessStrOff in the local BTF when absent. */
  accessStr?: string;
  accessStrOff?: number;
}

/** One step of a spec: the root / an array element (no name), a named member or an enumerator. */
export interface CoreAccessor {
  /** Root: the root type (typedefs skipped); member: the struct/union; array: the element type; enumerator: the enum. */
  typeId: number;
  /** Array index, member index or enumerator index. */
  index: number;
  name: string | undefined;
}

/** A relocation resolved in one BTF (libbpf's bpf_core_spec). */
export interface CoreSpec {
  btf: Btf;
  rootTypeId: number;
  /** Access indexes: the access string locally; the equivalent path in a target (anonymous members included). */
  raw: number[];
  /** The root, array elements, named members (anonymous members are not accessors) or the enumerator. */
  accessors: CoreAccessor[];
  /** Bit offset of the field from the start of the root (field kinds). */
  bitOffset: number;
}

/** What a relocation computes: the values, and whether the instruction is checked or poisoned. */
export interface CoreValues {
  /** Value the instruction holds now (as u64, libbpf's orig_val). */
  localValue: bigint;
  /** Value to patch in (as u64, libbpf's new_val). */
  targetValue: bigint;
  /** Whether applyCoreRelo checks the instruction holds localValue (off for bitfield offsets/shifts and type ids). */
  validate: boolean;
  /** Unresolved: the instruction gets poisoned. */
  poison: boolean;
  /** Memory size of the accessed field (non-bitfield FIELD_BYTE_OFFSET), locally and in the target; 0 otherwise. */
  localSize: number;
  targetSize: number;
  /** The size differs and is not a pointer or unsigned int on both sides: a load/store of it gets poisoned. */
  badSizeChange: boolean;
}

export interface CoreResolution extends CoreValues {
  insnOff: number;
  kind: number;
  kindName: CoreReloKindName;
  accessStr: string;
  local: CoreSpec;
  /** The (first) matching target, undefined when none matched. */
  target: CoreSpec | undefined;
  /** Number of target candidates that matched (they all agree). */
  matches: number;
  /** e.g. "field_byte_offset struct task_struct.pid: 4 -> 2416". */
  description: string;
  /** Why the instruction is (or, for a load/store with badSizeChange, would be) poisoned. */
  poisonReason: string | undefined;
}

/**
 * Per-load cache: candidate lists by local type id (found once, then
 * narrowed to the candidates that matched, as libbpf does). Use one per
 * object being loaded, with the same local and target BTFs throughout.
 */
export class CoreCache {
  #local: Btf | undefined;
  #targets: CoreTargets | undefined;
  readonly #cands = new Map<number, CoreCandidate[]>();
  /** Candidate searches done, and searches saved by the cache. */
  readonly stats = { lookups: 0, hits: 0 };

  /** @internal */
  candidates(local: Btf, targets: CoreTargets, localType: BtfType): CoreCandidate[] {
    if (this.#local === undefined) {
      this.#local = local;
      this.#targets = isLazyTargets(targets) ? targets : [...targets];
    } else if (this.#local !== local || !sameTargets(this.#targets!, targets)) {
      throw new CoreError('CORE_BAD_RELO', 'a CoreCache serves one local BTF and one target list: use one cache per load');
    }
    let list = this.#cands.get(localType.id);
    if (list) {
      this.stats.hits++;
      return list;
    }
    this.stats.lookups++;
    list = findCandidates(localType, targets);
    this.#cands.set(localType.id, list);
    return list;
  }

  /** @internal */
  narrow(localId: number, matched: CoreCandidate[]): void {
    if (this.#cands.has(localId)) this.#cands.set(localId, matched);
  }
}

function sameTargets(a: CoreTargets, b: CoreTargets): boolean {
  if (isLazyTargets(a) || isLazyTargets(b)) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const isFieldKind = (k: number) => k <= CoreReloKind.FIELD_RSHIFT_U64;
const isTypeKind = (k: number) =>
  k === CoreReloKind.TYPE_ID_LOCAL ||
  k === CoreReloKind.TYPE_ID_TARGET ||
  k === CoreReloKind.TYPE_EXISTS ||
  k === CoreReloKind.TYPE_SIZE ||
  k === CoreReloKind.TYPE_MATCHES;
const isEnumvalKind = (k: number) => k === CoreReloKind.ENUMVAL_EXISTS || k === CoreReloKind.ENUMVAL_VALUE;

/** Context for messages. */
interface Ctx {
  label: string;
  typeId: number;
  insnOff: number;
}

function bad(ctx: Ctx, why: string): CoreError {
  return new CoreError('CORE_BAD_RELO', `${ctx.label}: ${why}`, { typeId: ctx.typeId, insnOff: ctx.insnOff });
}

function sizeOf(btf: Btf, id: number, ctx: Ctx): number {
  try {
    return btf.sizeOf(id);
  } catch (e) {
    throw wrap(e, `${ctx.label}: size of type [${id}]`);
  }
}

function skip(btf: Btf, id: number, ctx: Ctx): BtfType {
  try {
    return skipModsAndTypedefs(btf, id);
  } catch (e) {
    throw wrap(e, ctx.label);
  }
}

/** libbpf's is_flex_arr: a zero-length array that is the last member of the struct it was reached through. */
function isFlexArray(btf: Btf, prev: CoreAccessor | undefined, arr: BtfArray): boolean {
  if (!prev || prev.name === undefined || arr.nelems > 0) return false;
  const t = btf.typeById(prev.typeId);
  return isComposite(t) && prev.index === t.members.length - 1;
}

/** libbpf's bpf_core_parse_spec: the local side. */
function parseLocalSpec(btf: Btf, typeId: number, kind: number, accessStr: string, ctx: Ctx): CoreSpec {
  if (!/^\d+(:\d+)*$/.test(accessStr)) throw bad(ctx, `invalid access string '${accessStr}'`);
  const raw = accessStr.split(':').map(Number);
  if (raw.length > SPEC_MAX_LEN) throw bad(ctx, `access string has more than ${SPEC_MAX_LEN} indexes`);
  const spec: CoreSpec = { btf, rootTypeId: typeId, raw, accessors: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    if (accessStr !== '0') throw bad(ctx, `type relocations take the access string '0', not '${accessStr}'`);
    return spec;
  }
  const root = skip(btf, typeId, ctx);
  const idx0 = raw[0]!;
  const acc0: CoreAccessor = { typeId: root.id, index: idx0, name: undefined };
  spec.accessors.push(acc0);
  if (isEnumvalKind(kind)) {
    if (!isEnum(root)) throw bad(ctx, `enum value relocation on ${btf.describe(root)}`);
    if (raw.length > 1 || idx0 >= root.values.length) throw bad(ctx, `invalid enumerator index '${accessStr}' (${root.values.length} values)`);
    const name = root.values[idx0]!.name;
    if (name === '') throw bad(ctx, `enumerator ${idx0} has no name`);
    acc0.name = name;
    return spec;
  }
  if (!isFieldKind(kind)) throw bad(ctx, `unknown relocation kind ${kind}`);
  spec.bitOffset = idx0 * sizeOf(btf, root.id, ctx) * 8;
  let id = root.id;
  for (let i = 1; i < raw.length; i++) {
    const t = skip(btf, id, ctx);
    id = t.id;
    const a = raw[i]!;
    if (isComposite(t)) {
      if (a >= t.members.length) throw bad(ctx, `member index ${a} out of range in ${btf.describe(t)} (${t.members.length} members)`);
      const m = t.members[a]!;
      spec.bitOffset += m.bitOffset;
      if (m.name !== '') spec.accessors.push({ typeId: id, index: a, name: m.name });
      id = m.type;
    } else if (t.kind === 'array') {
      const elem = skip(btf, t.type, ctx);
      id = elem.id;
      if (!isFlexArray(btf, spec.accessors[spec.accessors.length - 1], t) && a >= t.nelems) {
        throw bad(ctx, `array index ${a} out of range (${t.nelems} elements)`);
      }
      spec.accessors.push({ typeId: id, index: a, name: undefined });
      spec.bitOffset += a * sizeOf(btf, id, ctx) * 8;
    } else {
      throw bad(ctx, `access index #${i} (${a}) applies to ${btf.describe(t)} [${id}], not a struct, union or array`);
    }
  }
  return spec;
}

/** libbpf's bpf_core_match_member: find the local member in target composite targId (anonymous members recursively). */
function matchMember(local: Btf, la: CoreAccessor, targ: Btf, targId: number, ts: CoreSpec, ctx: Ctx, depth: number): number | undefined {
  if (depth > SPEC_MAX_LEN) throw bad(ctx, 'anonymous members nest too deep in the target');
  const tt = skip(targ, targId, ctx);
  if (!isComposite(tt)) return undefined;
  const lt = local.typeById(la.typeId);
  if (!isComposite(lt)) throw bad(ctx, `accessor type [${la.typeId}] is not a struct or union`);
  const lm = lt.members[la.index]!;
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i]!;
    if (ts.raw.length >= SPEC_MAX_LEN) throw bad(ctx, 'target access path too long');
    ts.bitOffset += m.bitOffset;
    ts.raw.push(i);
    if (m.name === '') {
      const found = matchMember(local, la, targ, m.type, ts, ctx, depth + 1);
      if (found !== undefined) return found;
    } else if (m.name === lm.name) {
      let ok: boolean;
      try {
        ok = fieldsAreCompatible(local, lm.type, targ, m.type);
      } catch (e) {
        throw wrap(e, ctx.label);
      }
      if (ok) {
        ts.accessors.push({ typeId: tt.id, index: i, name: m.name });
        return m.type;
      }
      ts.bitOffset -= m.bitOffset;
      ts.raw.pop();
      return undefined;
    }
    ts.bitOffset -= m.bitOffset;
    ts.raw.pop();
  }
  return undefined;
}

/** libbpf's bpf_core_spec_match: the candidate's spec, or undefined when it does not match. */
function matchSpec(ls: CoreSpec, kind: number, targ: Btf, targId: number, ctx: Ctx): CoreSpec | undefined {
  const ts: CoreSpec = { btf: targ, rootTypeId: targId, raw: [], accessors: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    try {
      const ok =
        kind === CoreReloKind.TYPE_MATCHES
          ? typesMatch(ls.btf, ls.rootTypeId, targ, targId)
          : typesAreCompatible(ls.btf, ls.rootTypeId, targ, targId);
      return ok ? ts : undefined;
    } catch (e) {
      throw wrap(e, ctx.label);
    }
  }
  const la0 = ls.accessors[0]!;
  if (isEnumvalKind(kind)) {
    const tt = skip(targ, targId, ctx);
    if (!isEnum(tt)) return undefined;
    const lname = la0.name!;
    const len = essentialNameLength(lname);
    for (let i = 0; i < tt.values.length; i++) {
      const n = tt.values[i]!.name;
      if (essentialNameLength(n) === len && n.slice(0, len) === lname.slice(0, len)) {
        ts.accessors.push({ typeId: tt.id, index: i, name: n });
        ts.raw.push(i);
        return ts;
      }
    }
    return undefined;
  }
  let id = targId;
  for (let i = 0; i < ls.accessors.length; i++) {
    const la = ls.accessors[i]!;
    const tt = skip(targ, id, ctx);
    id = tt.id;
    if (la.name !== undefined) {
      const next = matchMember(ls.btf, la, targ, id, ts, ctx, 0);
      if (next === undefined) return undefined;
      id = next;
      continue;
    }
    if (i > 0) {
      if (tt.kind !== 'array') return undefined;
      if (!isFlexArray(targ, ts.accessors[ts.accessors.length - 1], tt) && la.index >= tt.nelems) return undefined;
      id = skip(targ, tt.type, ctx).id;
    }
    if (ts.raw.length >= SPEC_MAX_LEN) throw bad(ctx, 'target access path too long');
    ts.accessors.push({ typeId: id, index: la.index, name: undefined });
    ts.raw.push(la.index);
    ts.bitOffset += la.index * sizeOf(targ, id, ctx) * 8;
  }
  return ts;
}

interface FieldValue {
  val: bigint;
  /** Memory size for load/store size adjustment (non-bitfield byte offsets). */
  size: number;
  typeId: number;
  validate: boolean;
}

/** libbpf's bpf_core_calc_field_relo; undefined = poison. */
function calcField(kind: number, spec: CoreSpec | undefined, littleEndian: boolean, ctx: Ctx, kindName: string): FieldValue | undefined {
  if (kind === CoreReloKind.FIELD_EXISTS) return { val: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) return undefined;
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1]!;
  if (acc.name === undefined) {
    // Root or array element.
    const sz = sizeOf(btf, acc.typeId, ctx);
    if (kind === CoreReloKind.FIELD_BYTE_OFFSET) return { val: BigInt(Math.floor(spec.bitOffset / 8)), size: sz, typeId: acc.typeId, validate: true };
    if (kind === CoreReloKind.FIELD_BYTE_SIZE) return { val: BigInt(sz), size: 0, typeId: 0, validate: true };
    throw bad(ctx, `${kindName} cannot be applied to an array element or the root (only byte offset and size can)`);
  }
  const t = btf.typeById(acc.typeId);
  if (!isComposite(t)) throw bad(ctx, `accessor type [${acc.typeId}] is not a struct or union`);
  const m = t.members[acc.index]!;
  const mt = skip(btf, m.type, ctx);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    if (mt.kind !== 'int' && !isEnum(mt)) throw bad(ctx, `bitfield '${m.name}' of ${btf.describe(mt)}`);
    byteSz = mt.size;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    // The smallest load covering the bitfield.
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw bad(ctx, `bitfield '${m.name}' cannot be read with a 64-bit load`);
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOf(btf, mt.id, ctx);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // Bitfield offsets/sizes/shifts are ambiguous (the compiler may pick another load size): not validated.
  const out: FieldValue = { val: 0n, size: 0, typeId: 0, validate: !bitfield };
  switch (kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET:
      out.val = BigInt(byteOff);
      if (!bitfield) {
        out.size = byteSz;
        out.typeId = mt.id;
      }
      break;
    case CoreReloKind.FIELD_BYTE_SIZE:
      out.val = BigInt(byteSz);
      break;
    case CoreReloKind.FIELD_SIGNED:
      out.val = (isEnum(mt) && mt.signed) || (mt.kind === 'int' && mt.encoding === 'signed') ? 1n : 0n;
      out.validate = true;
      break;
    case CoreReloKind.FIELD_LSHIFT_U64:
      out.val = BigInt(littleEndian ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8));
      break;
    case CoreReloKind.FIELD_RSHIFT_U64:
      out.val = BigInt(64 - bitSz);
      out.validate = true;
      break;
    default:
      throw bad(ctx, `unsupported field relocation kind ${kind}`);
  }
  return out;
}

/** libbpf's bpf_core_calc_type_relo: no target gives 0. */
function calcType(kind: number, spec: CoreSpec | undefined, ctx: Ctx): { val: bigint; validate: boolean } {
  if (!spec) return { val: 0n, validate: true };
  switch (kind) {
    case CoreReloKind.TYPE_ID_TARGET:
      // Type ids may change when objects are linked: not validated.
      return { val: BigInt(spec.rootTypeId), validate: false };
    case CoreReloKind.TYPE_EXISTS:
    case CoreReloKind.TYPE_MATCHES:
      return { val: 1n, validate: true };
    case CoreReloKind.TYPE_SIZE:
      return { val: BigInt(sizeOf(spec.btf, spec.rootTypeId, ctx)), validate: true };
    default:
      throw bad(ctx, `unsupported type relocation kind ${kind}`);
  }
}

/** libbpf's bpf_core_calc_enumval_relo; undefined = poison. 32-bit enumerators are sign-extended, as libbpf reads them (s32). */
function calcEnumval(kind: number, spec: CoreSpec | undefined): bigint | undefined {
  if (kind === CoreReloKind.ENUMVAL_EXISTS) return spec ? 1n : 0n;
  if (!spec) return undefined;
  const acc = spec.accessors[0]!;
  const t = spec.btf.typeById(acc.typeId);
  if (t.kind === 'enum') return BigInt.asUintN(64, BigInt(t.values[acc.index]!.value | 0));
  if (t.kind === 'enum64') return BigInt.asUintN(64, t.values[acc.index]!.value);
  return undefined;
}

type Calc = CoreValues;

/** libbpf's bpf_core_calc_relo: local and target values of one candidate (or of no target). */
function calc(kind: number, kindName: string, ls: CoreSpec, ts: CoreSpec | undefined, ctx: Ctx): Calc {
  const r: Calc = { localValue: 0n, targetValue: 0n, validate: true, poison: false, localSize: 0, targetSize: 0, badSizeChange: false };
  if (isFieldKind(kind)) {
    const le = ls.btf.littleEndian;
    const lv = calcField(kind, ls, le, ctx, kindName)!;
    r.localValue = lv.val;
    r.localSize = lv.size;
    r.validate = lv.validate;
    const tv = calcField(kind, ts, le, ctx, kindName);
    if (!tv) {
      r.poison = true;
      return r;
    }
    r.targetValue = tv.val;
    r.targetSize = tv.size;
    if (lv.size !== tv.size) {
      // Only pointers (32-bit kernel pointers) and unsigned ints keep their value when the load size changes.
      const lt = ls.btf.typeById(lv.typeId);
      const tt = ts!.btf.typeById(tv.typeId);
      const ok =
        (lt.kind === 'ptr' && tt.kind === 'ptr') ||
        (lt.kind === 'int' && tt.kind === 'int' && lt.encoding !== 'signed' && tt.encoding !== 'signed');
      r.badSizeChange = !ok;
    }
  } else if (isTypeKind(kind)) {
    const lv = calcType(kind, ls, ctx);
    r.localValue = lv.val;
    r.validate = lv.validate;
    r.targetValue = calcType(kind, ts, ctx).val;
  } else {
    r.localValue = calcEnumval(kind, ls)!;
    const tv = calcEnumval(kind, ts);
    if (tv === undefined) r.poison = true;
    else r.targetValue = tv;
  }
  return r;
}

/** "pid", "se.vruntime", "comm[3]", "[1].u._2" (local field path), or the enumerator name. */
function fieldPath(spec: CoreSpec): string {
  let s = spec.raw.length && spec.raw[0] !== 0 && spec.accessors[0]?.name === undefined ? `[${spec.raw[0]}]` : '';
  for (let i = 1; i < spec.accessors.length; i++) {
    const a = spec.accessors[i]!;
    s += a.name !== undefined ? (s === '' ? a.name : `.${a.name}`) : `[${a.index}]`;
  }
  return s;
}

/**
 * Resolve one CO-RE relocation: its local value (what the compiler put in
 * the instruction) and its value in the target BTF(s).
 *
 * @param local   the program's BTF (the object's .BTF)
 * @param relo    the relocation record (from parseBtfExt: insnOff, typeId, accessStr / accessStrOff, kind)
 * @param targets the target BTF, or a list: vmlinux first, then module BTFs
 *                (split BTF on top of vmlinux); modules are searched only
 *                when vmlinux has no candidate, as libbpf does. A
 *                {@link LazyCoreTargets} loads the modules only then.
 * @param cache   a per-load {@link CoreCache}: candidates are looked up once per local type
 *
 * Throws {@link CoreError}: CORE_BAD_RELO (malformed record, anonymous
 * root type), CORE_AMBIGUOUS. An unresolved relocation is not an error: the
 * result has `poison` set and a `poisonReason`.
 */
export function resolveCoreRelo(local: Btf, relo: CoreRelo, targets: Btf | CoreTargets, cache?: CoreCache): CoreResolution {
  const kind = relo.kind;
  const kindName = CORE_RELO_KINDS[kind];
  const typeId = relo.typeId;
  const base: Ctx = { label: `CO-RE relocation at insn #${relo.insnOff / 8}`, typeId, insnOff: relo.insnOff };
  if (kindName === undefined) throw bad(base, `unknown relocation kind ${kind}`);
  if (!(Number.isInteger(relo.insnOff) && relo.insnOff >= 0 && relo.insnOff % 8 === 0)) throw bad(base, `instruction offset ${relo.insnOff} is not a multiple of 8`);
  if (!(Number.isInteger(typeId) && typeId >= 0 && typeId < local.length)) throw bad(base, `type id ${typeId} out of range`);
  let accessStr = relo.accessStr;
  if (accessStr === undefined) {
    if (relo.accessStrOff === undefined) throw bad(base, 'no access string');
    try {
      accessStr = local.stringAt(relo.accessStrOff);
    } catch (e) {
      throw wrap(e, `${base.label}: access string`);
    }
  }
  const localType = local.typeById(typeId);
  const typeLabel = local.describe(localType);
  const ctx: Ctx = { ...base, label: `${base.label} (${kindName} [${typeId}] ${typeLabel} + ${accessStr})` };
  const ls = parseLocalSpec(local, typeId, kind, accessStr, ctx);
  const path = isFieldKind(kind) ? fieldPath(ls) : '';
  const what = isEnumvalKind(kind) ? `::${ls.accessors[0]!.name}` : path === '' || path[0] === '[' ? path : `.${path}`;
  const result = (c: Calc, target: CoreSpec | undefined, matches: number, poisonReason?: string): CoreResolution => ({
    insnOff: relo.insnOff,
    kind,
    kindName,
    accessStr: accessStr!,
    local: ls,
    target,
    matches,
    ...c,
    description: `${kindName} ${typeLabel}${what}: ${c.localValue} -> ${c.poison ? 'poison' : c.targetValue}`,
    poisonReason: c.poison ? poisonReason : c.badSizeChange ? sizeReason(typeLabel, ls, c) : undefined,
  });

  if (kind === CoreReloKind.TYPE_ID_LOCAL) {
    const v = BigInt(typeId);
    return result({ localValue: v, targetValue: v, validate: false, poison: false, localSize: 0, targetSize: 0, badSizeChange: false }, ls, 1);
  }
  if (localType.name === '') throw bad(ctx, `${kindName} relocations of anonymous types are not supported`);

  const list: CoreTargets = Array.isArray(targets) || isLazyTargets(targets) ? (targets as CoreTargets) : [targets as Btf];
  const cands = cache ? cache.candidates(local, list, localType) : findCandidates(localType, list);
  let chosen: { spec: CoreSpec; calc: Calc } | undefined;
  const matched: CoreCandidate[] = [];
  for (const c of cands) {
    const ts = matchSpec(ls, kind, c.btf, c.id, ctx);
    if (!ts) continue;
    const r = calc(kind, kindName, ls, ts, ctx);
    if (!chosen) {
      chosen = { spec: ts, calc: r };
    } else if (ts.bitOffset !== chosen.spec.bitOffset) {
      throw new CoreError(
        'CORE_AMBIGUOUS',
        `${ctx.label}: field offset ambiguity: candidate [${c.id}] ${c.btf.typeName(c.id)} at bit ${ts.bitOffset}, ` +
          `[${chosen.spec.rootTypeId}] ${chosen.spec.btf.typeName(chosen.spec.rootTypeId)} at bit ${chosen.spec.bitOffset}`,
        { typeId, insnOff: relo.insnOff },
      );
    } else if (r.poison !== chosen.calc.poison || r.targetValue !== chosen.calc.targetValue) {
      const v = (x: Calc) => (x.poison ? 'failure' : `success ${x.targetValue}`);
      throw new CoreError(
        'CORE_AMBIGUOUS',
        `${ctx.label}: relocation decision ambiguity: candidate [${c.id}] ${c.btf.typeName(c.id)} gives ${v(r)}, ` +
          `[${chosen.spec.rootTypeId}] ${chosen.spec.btf.typeName(chosen.spec.rootTypeId)} gives ${v(chosen.calc)}`,
        { typeId, insnOff: relo.insnOff },
      );
    }
    matched.push(c);
  }
  if (matched.length && cache) cache.narrow(typeId, matched);
  if (chosen) return result(chosen.calc, chosen.spec, matched.length);

  const c = calc(kind, kindName, ls, undefined, ctx);
  let reason: string | undefined;
  if (c.poison) {
    const noType = cands.length === 0 ? ` (no candidate type named '${essentialName(localType.name)}')` : '';
    reason = isEnumvalKind(kind)
      ? `${typeLabel}: value '${ls.accessors[0]!.name}' not found in target BTF${noType}`
      : `${typeLabel}: field '${fieldPath(ls) || accessStr}' not found in target BTF${noType}`;
  }
  return result(c, undefined, 0, reason);
}

function sizeReason(typeLabel: string, ls: CoreSpec, c: Calc): string {
  return (
    `${typeLabel}: field '${fieldPath(ls)}' is ${c.localSize} bytes locally and ${c.targetSize} in target BTF; ` +
    'a load/store can only change size for pointers and unsigned integers'
  );
}

// ---------------------------------------------------------------- patching

const CLASS_LD = 0x00;
const CLASS_LDX = 0x01;
const CLASS_ST = 0x02;
const CLASS_STX = 0x03;
const CLASS_ALU = 0x04;
const CLASS_ALU64 = 0x07;
const LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const CALL = 0x85; // BPF_JMP | BPF_CALL
const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const BYTES_SIZE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

export interface ApplyOptions {
  /** Byte order of the instructions (default little-endian). */
  littleEndian?: boolean;
}

/**
 * Patch instruction `insnIndex` of `insns` (8-byte instructions, e.g. a
 * section's or a program's code) with a resolution, as libbpf's
 * bpf_core_patch_insn does:
 * - ALU/ALU64 with an immediate source: imm;
 * - LDX/ST/STX: off; for a field whose size differs in the target, the
 *   access size too (pointers and unsigned ints only; other size changes
 *   poison the instruction);
 * - ld_imm64: the 64-bit immediate.
 *
 * Unless the resolution says not to (`validate`), the instruction must hold
 * the local value first (CORE_UNEXPECTED_INSN otherwise). An unresolved
 * relocation replaces the instruction (both slots of an ld_imm64) with a call
 * to the invalid helper {@link CORE_POISON_HELPER}: harmless in dead code,
 * reported by the verifier at that instruction otherwise.
 *
 * Returns the reason when the instruction was poisoned, else undefined.
 */
export function applyCoreRelo(insns: Uint8Array, insnIndex: number, res: CoreResolution, opts: ApplyOptions = {}): string | undefined {
  const le = opts.littleEndian ?? true;
  const count = Math.floor(insns.length / 8);
  const where = `CO-RE relocation at insn #${insnIndex} (${res.description})`;
  const unexpected = (why: string) => new CoreError('CORE_UNEXPECTED_INSN', `${where}: ${why}`, { insnOff: res.insnOff });
  if (!(Number.isInteger(insnIndex) && insnIndex >= 0 && insnIndex < count)) {
    throw new CoreError('CORE_BAD_RELO', `${where}: no instruction #${insnIndex} (${count} instructions)`, { insnOff: res.insnOff });
  }
  const dv = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const o = insnIndex * 8;
  const code = insns[o]!;
  const srcReg = (at: number) => (le ? insns[at + 1]! >>> 4 : insns[at + 1]! & 0xf);
  const poisonAt = (at: number) => {
    insns[at] = CALL;
    insns[at + 1] = 0;
    dv.setInt16(at + 2, 0, le);
    dv.setInt32(at + 4, CORE_POISON_HELPER, le);
  };
  const poison = (reason: string) => {
    // Both slots of an ld_imm64, so the verifier does not first trip on "unknown opcode 00".
    if (code === LD_IMM64 && insnIndex + 1 < count) poisonAt(o + 8);
    poisonAt(o);
    return reason;
  };
  if (res.poison) return poison(res.poisonReason ?? `${res.description}: not found in target BTF`);

  const cls = code & 0x07;
  switch (cls) {
    case CLASS_ALU:
    case CLASS_ALU64: {
      if (code & 0x08) throw unexpected(`ALU instruction 0x${code.toString(16)} has a register source, not an immediate`);
      const imm = dv.getInt32(o + 4, le);
      if (res.validate && BigInt.asUintN(64, BigInt(imm)) !== res.localValue) {
        throw unexpected(`ALU imm is ${imm}, expected ${res.localValue}`);
      }
      dv.setInt32(o + 4, Number(BigInt.asIntN(32, res.targetValue)), le);
      return undefined;
    }
    case CLASS_LDX:
    case CLASS_ST:
    case CLASS_STX: {
      const off = dv.getInt16(o + 2, le);
      if (res.validate && BigInt.asUintN(64, BigInt(off)) !== res.localValue) {
        throw unexpected(`memory offset is ${off}, expected ${res.localValue}`);
      }
      if (res.targetValue > 0x7fffn) {
        throw new CoreError('CORE_OFFSET_RANGE', `${where}: offset ${res.targetValue} does not fit a load/store (max 32767)`, { insnOff: res.insnOff });
      }
      if (res.badSizeChange) return poison(res.poisonReason!);
      dv.setInt16(o + 2, Number(res.targetValue), le);
      if (res.targetSize !== res.localSize) {
        const bytes = SIZE_BYTES[code & 0x18]!;
        if (bytes !== res.localSize) throw unexpected(`memory access is ${bytes} bytes, expected ${res.localSize}`);
        const sz = BYTES_SIZE[res.targetSize];
        if (sz === undefined) throw unexpected(`cannot access ${res.targetSize} bytes with one load/store`);
        insns[o] = (code & 0xe0) | sz | cls;
      }
      return undefined;
    }
    case CLASS_LD: {
      if (
        code !== LD_IMM64 ||
        insnIndex + 1 >= count ||
        srcReg(o) !== 0 ||
        dv.getInt16(o + 2, le) !== 0 ||
        insns[o + 8] !== 0 ||
        insns[o + 9] !== 0 ||
        dv.getInt16(o + 10, le) !== 0
      ) {
        throw unexpected('not a plain ld_imm64');
      }
      const imm = (BigInt(dv.getUint32(o + 12, le)) << 32n) | BigInt(dv.getUint32(o + 4, le));
      if (res.validate && imm !== res.localValue) throw unexpected(`ld_imm64 value is ${imm}, expected ${res.localValue}`);
      dv.setUint32(o + 4, Number(res.targetValue & 0xffffffffn), le);
      dv.setUint32(o + 12, Number((res.targetValue >> 32n) & 0xffffffffn), le);
      return undefined;
    }
    default:
      throw unexpected(`instruction 0x${code.toString(16)} cannot be relocated (ALU, LDX/ST/STX or ld_imm64 only)`);
  }
}
