/**
 * CO-RE type comparison rules (the semantics of libbpf's relo_core.c, which
 * the kernel shares): flavor-insensitive names, the "compatible" relation used
 * by field and type relocations, and the stricter "match" relation of
 * TYPE_MATCHES (`bpf_core_type_matches`).
 *
 * All functions return 1 (yes), 0 (no) or throw CoreError CORE_BAD_RELO on
 * malformed input (too deep, references out of range), as libbpf returns a
 * negative errno.
 */
import type { Btf } from './btf.ts';
import { BtfError } from './errors.ts';
import { isComposite, isEnum, type BtfType } from './types.ts';
import { CoreError } from './core-error.ts';

/** libbpf's recursion limit of the compat/match walks. */
const MAX_DEPTH = 32;

/** Is s[i..] a flavor separator `X___Y` (X and Y not underscores)? */
function isFlavorSep(s: string, i: number): boolean {
  return (
    s.charCodeAt(i) !== 95 &&
    s.charCodeAt(i + 1) === 95 &&
    s.charCodeAt(i + 2) === 95 &&
    s.charCodeAt(i + 3) === 95 &&
    s.charCodeAt(i + 4) !== 95
  );
}

/**
 * Length of a name without its flavor suffix: `task_struct___old` → 11
 * (the last `X___Y` separator counts, as in libbpf's
 * bpf_core_essential_name_len).
 */
export function essentialNameLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) if (isFlavorSep(name, i)) return i + 1;
  return name.length;
}

/** The name without its `___flavor` suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

/** Same kind, or both any enum (enum / enum64). */
export function kindsCoreCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isEnum(a) && isEnum(b));
}

/** Typedefs/qualifiers skipped, BtfErrors (loops, bad ids) turned into CORE_BAD_RELO. */
export function skipModsAndTypedefs(btf: Btf, id: number): BtfType {
  try {
    return btf.resolve(id);
  } catch (e) {
    throw wrap(e, `resolving type ${id}`);
  }
}

export function wrap(e: unknown, what: string): unknown {
  if (e instanceof BtfError && !(e instanceof CoreError)) {
    return new CoreError('CORE_BAD_RELO', `${what}: ${e.message}`, { cause: e, typeId: e.typeId });
  }
  return e;
}

function tooDeep(localId: number, targId: number): CoreError {
  return new CoreError('CORE_BAD_RELO', `types nest too deep comparing local [${localId}] with target [${targId}]`, { typeId: localId });
}

/** Names equal after stripping flavors; an empty target name only matches an empty local name. */
function namesMatch(local: string, targ: string): boolean {
  if (targ === '') return local === '';
  const tl = essentialNameLength(targ);
  const ll = essentialNameLength(local);
  return tl === ll && local.startsWith(targ.slice(0, tl));
}

/**
 * libbpf's bpf_core_fields_are_compat: can a field of local type `localId` be
 * relocated to a target field of type `targId`? Composites are compatible
 * with composites (their members are matched separately by the accessors),
 * ints with ints (no legacy bit offsets), pointers with pointers, enums and
 * forward declarations by flavor-less name (or when either is anonymous),
 * arrays by element.
 */
export function fieldsAreCompatible(local: Btf, localId: number, targ: Btf, targId: number): boolean {
  for (let depth = 0; ; depth++) {
    if (depth > MAX_DEPTH) throw tooDeep(localId, targId);
    const lt = skipModsAndTypedefs(local, localId);
    const tt = skipModsAndTypedefs(targ, targId);
    if (isComposite(lt) && isComposite(tt)) return true;
    if (!kindsCoreCompatible(lt, tt)) return false;
    switch (lt.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64': {
        const ll = essentialNameLength(lt.name);
        const tl = essentialNameLength(tt.name);
        return ll === 0 || tl === 0 || (ll === tl && lt.name.slice(0, ll) === tt.name.slice(0, tl));
      }
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0;
      case 'array':
        localId = lt.type;
        targId = (tt as typeof lt).type;
        continue;
      default:
        return false;
    }
  }
}

/**
 * libbpf's bpf_core_types_are_compat (TYPE_ID_TARGET, TYPE_EXISTS,
 * TYPE_SIZE): after typedefs/qualifiers, kinds must agree; composites, enums
 * and forward declarations are then compatible (names were matched when the
 * candidate was picked); ints must have no bit offset; pointers and arrays
 * compare their targets; function prototypes compare parameters and return
 * types.
 */
export function typesAreCompatible(local: Btf, localId: number, targ: Btf, targId: number, level = 0x7fffffff): boolean {
  if (!kindsCoreCompatible(typeOf(local, localId), typeOf(targ, targId))) return false;
  for (let depth = MAX_DEPTH; ; ) {
    if (--depth < 0) throw tooDeep(localId, targId);
    const lt = skipModsAndTypedefs(local, localId);
    const tt = skipModsAndTypedefs(targ, targId);
    if (!kindsCoreCompatible(lt, tt)) return false;
    switch (lt.kind) {
      case 'void':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
        return true;
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0;
      case 'ptr':
        localId = lt.type;
        targId = (tt as typeof lt).type;
        continue;
      case 'array':
        localId = lt.type;
        targId = (tt as typeof lt).type;
        continue;
      case 'func_proto': {
        const tp = tt as typeof lt;
        if (lt.params.length !== tp.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) throw tooDeep(localId, targId);
          const li = skipModsAndTypedefs(local, lt.params[i]!.type).id;
          const ti = skipModsAndTypedefs(targ, tp.params[i]!.type).id;
          if (!typesAreCompatible(local, li, targ, ti, level - 1)) return false;
        }
        localId = skipModsAndTypedefs(local, lt.returnType).id;
        targId = skipModsAndTypedefs(targ, tp.returnType).id;
        continue;
      }
      default:
        return false;
    }
  }
}

function typeOf(btf: Btf, id: number): BtfType {
  try {
    return btf.typeById(id);
  } catch (e) {
    throw wrap(e, `type ${id}`);
  }
}

function enumsMatch(lt: BtfType, tt: BtfType): boolean {
  if (!isEnum(lt) || !isEnum(tt)) return false;
  if (lt.size !== tt.size) return false;
  if (lt.values.length > tt.values.length) return false;
  for (const lv of lt.values) {
    if (!tt.values.some((tv) => namesMatch(lv.name, tv.name))) return false;
  }
  return true;
}

/**
 * libbpf's bpf_core_types_match (TYPE_MATCHES), the relation behind
 * `bpf_core_type_matches()`: names match without flavors at every level;
 * ints by size and signedness; enums when every local enumerator has a
 * namesake and sizes agree; structs/unions when every local member has a
 * matching target member of the same name (the target may have more);
 * arrays by length and element; pointers by pointee, where a struct/union may
 * match a forward declaration of the same kind; function prototypes by
 * parameters and return type.
 */
export function typesMatch(local: Btf, localId: number, targ: Btf, targId: number, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) throw tooDeep(localId, targId);
  for (let depth = MAX_DEPTH; ; ) {
    if (--depth < 0) throw tooDeep(localId, targId);
    const lt = skipModsAndTypedefs(local, localId);
    const tt = skipModsAndTypedefs(targ, targId);
    if (!namesMatch(lt.name, tt.name)) return false;
    switch (lt.kind) {
      case 'void':
        return tt.kind === 'void';
      case 'fwd': {
        const lu = lt.fwdKind === 'union';
        if (behindPtr) {
          if (tt.kind === 'fwd') return lu === (tt.fwdKind === 'union');
          return (tt.kind === 'struct' && !lu) || (tt.kind === 'union' && lu);
        }
        return tt.kind === 'fwd' && lu === (tt.fwdKind === 'union');
      }
      case 'enum':
      case 'enum64':
        return enumsMatch(lt, tt);
      case 'struct':
      case 'union':
        if (behindPtr) {
          if (lt.kind === tt.kind) return true;
          if (tt.kind !== 'fwd') return false;
          return (lt.kind === 'union') === (tt.fwdKind === 'union');
        }
        if (lt.kind !== tt.kind) return false;
        return compositesMatch(local, lt, targ, tt as typeof lt, behindPtr, level);
      case 'int':
        if (tt.kind !== 'int') return false;
        return lt.size === tt.size && (lt.encoding === 'signed') === (tt.encoding === 'signed');
      case 'ptr':
        if (tt.kind !== 'ptr') return false;
        behindPtr = true;
        localId = lt.type;
        targId = tt.type;
        continue;
      case 'array':
        if (tt.kind !== 'array' || lt.nelems !== tt.nelems) return false;
        localId = lt.type;
        targId = tt.type;
        continue;
      case 'func_proto': {
        if (tt.kind !== 'func_proto' || lt.params.length !== tt.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (!typesMatch(local, lt.params[i]!.type, targ, tt.params[i]!.type, behindPtr, level - 1)) return false;
        }
        localId = lt.returnType;
        targId = tt.returnType;
        continue;
      }
      default:
        return false;
    }
  }
}

function compositesMatch(
  local: Btf,
  lt: Extract<BtfType, { kind: 'struct' | 'union' }>,
  targ: Btf,
  tt: Extract<BtfType, { kind: 'struct' | 'union' }>,
  behindPtr: boolean,
  level: number,
): boolean {
  if (lt.members.length > tt.members.length) return false;
  for (const lm of lt.members) {
    let matched = false;
    for (const tm of tt.members) {
      if (!namesMatch(lm.name, tm.name)) continue;
      if (typesMatch(local, lm.type, targ, tm.type, behindPtr, level - 1)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  return true;
}
