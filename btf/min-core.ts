/**
 * Minimal CO-RE BTF, as `bpftool gen min_core_btf` makes it: from a target
 * BTF (a kernel's vmlinux) keep only what the CO-RE relocations of some BPF
 * objects need, so the result can ship with the objects for kernels that
 * have no BTF of their own. Pure: no kernel access.
 *
 * What is kept, per relocation kind (bpftool's btfgen_record_*):
 * - field kinds: the root type and, along the target's access path, each
 *   struct/union with only the members walked through (at their original bit
 *   offsets, the struct keeping its full size), and those members' types;
 *   pointers met on the way are kept as pointers but not followed, so their
 *   targets become `void` unless something else keeps them;
 * - type_id_target, type_exists, type_size: the type and whatever it refers
 *   to, following pointers, but a struct/union without its members;
 * - type_matches: the type with all its members, recursively; a struct or
 *   union reached through a pointer is kept without members;
 * - enumval kinds: the whole enum;
 * - type_id_local needs no target and keeps nothing.
 * Kept types are written in their original order (so ids only shrink), each
 * reference to a type not kept becomes 0; strings are added in the order of
 * the types and members that use them. With these rules the bytes are the
 * ones bpftool writes.
 *
 * Unlike bpftool, TYPE_TAG and FWD types met while marking are kept (bpftool
 * stops with "unsupported kind"), and a reference cycle ends the marking
 * instead of recursing forever.
 */
import type { Btf } from './btf.ts';
import { BtfBuilder } from './builder.ts';
import { CoreCache, CoreReloKind, resolveCoreRelo, type CoreSpec } from './core.ts';
import { BtfError } from './errors.ts';
import type { BtfExt } from './ext.ts';
import { parseElfBtf } from './load.ts';
import { isComposite, isModifier, type BtfMember, type BtfType, type BtfTypeInput } from './types.ts';

/** One BPF object: its .BTF and .BTF.ext (parseElfBtf's result fits), or the ELF bytes. */
export interface MinCoreObject {
  btf: Btf;
  ext?: BtfExt;
  /** For messages (e.g. the file name). */
  name?: string;
}

/** Longest typedef/modifier chain walked along an access path before calling it a loop. */
const MAX_CHAIN = 1024;

/** Marks on the target's types, in bpftool's two walks (btfgen_mark_type and btfgen_mark_type_match). */
class Marks {
  readonly kept: Uint8Array;
  /** Kept members: type id -> member indexes. */
  readonly members = new Map<number, Set<number>>();
  // Visited (id, mode) pairs: a second visit in the same mode adds nothing, and cycles end.
  readonly #plain: Uint8Array;
  readonly #follow: Uint8Array;
  readonly #matchFull: Uint8Array;
  readonly #matchBehind: Uint8Array;

  constructor(readonly btf: Btf) {
    const n = btf.length;
    this.kept = new Uint8Array(n);
    this.#plain = new Uint8Array(n);
    this.#follow = new Uint8Array(n);
    this.#matchFull = new Uint8Array(n);
    this.#matchBehind = new Uint8Array(n);
  }

  member(typeId: number, index: number): void {
    let s = this.members.get(typeId);
    if (!s) this.members.set(typeId, (s = new Set()));
    s.add(index);
  }

  /** btfgen_mark_type: the type and what it refers to; pointers followed only with `follow`. */
  type(rootId: number, follow: boolean): void {
    const seen = follow ? this.#follow : this.#plain;
    const stack = [rootId];
    while (stack.length) {
      const id = stack.pop()!;
      if (id === 0 || seen[id] || (!follow && this.#follow[id])) continue;
      seen[id] = 1;
      this.kept[id] = 1;
      const t = this.btf.typeById(id);
      switch (t.kind) {
        case 'int':
        case 'float':
        case 'enum':
        case 'enum64':
        case 'struct':
        case 'union':
        case 'fwd':
          break;
        case 'ptr':
          if (follow) stack.push(t.type);
          break;
        case 'const':
        case 'volatile':
        case 'restrict':
        case 'typedef':
        case 'type_tag':
          stack.push(t.type);
          break;
        case 'array':
          stack.push(t.indexType, t.type);
          break;
        case 'func_proto':
          for (let i = t.params.length - 1; i >= 0; i--) stack.push(t.params[i]!.type);
          stack.push(t.returnType);
          break;
        default:
          throw unsupported(this.btf, t);
      }
    }
  }

  /** btfgen_mark_type_match: every member, recursively; composites behind a pointer without members. */
  typeMatch(rootId: number): void {
    const stack: [number, boolean][] = [[rootId, false]];
    while (stack.length) {
      const [id, behind] = stack.pop()!;
      if (id === 0) continue;
      const seen = behind ? this.#matchBehind : this.#matchFull;
      if (seen[id] || (behind && this.#matchFull[id])) continue;
      seen[id] = 1;
      this.kept[id] = 1;
      const t = this.btf.typeById(id);
      switch (t.kind) {
        case 'int':
        case 'float':
        case 'enum':
        case 'enum64':
        case 'fwd':
          break;
        case 'struct':
        case 'union':
          if (behind) break;
          for (let i = t.members.length - 1; i >= 0; i--) {
            this.member(id, i);
            stack.push([t.members[i]!.type, false]);
          }
          break;
        case 'const':
        case 'volatile':
        case 'restrict':
        case 'typedef':
        case 'type_tag':
          stack.push([t.type, behind]);
          break;
        case 'ptr':
          stack.push([t.type, true]);
          break;
        case 'array':
          stack.push([t.indexType, false], [t.type, false]);
          break;
        case 'func_proto':
          for (let i = t.params.length - 1; i >= 0; i--) stack.push([t.params[i]!.type, false]);
          stack.push([t.returnType, false]);
          break;
        default:
          throw unsupported(this.btf, t);
      }
    }
  }

  /** btfgen_record_field_relo: the root, then the members along the target's access path. */
  field(spec: CoreSpec): void {
    const btf = this.btf;
    let id = spec.rootTypeId;
    this.type(id, false);
    let t = btf.typeById(id);
    for (let i = 1; i < spec.raw.length; i++) {
      for (let n = 0; isModifier(t.kind); n++) {
        if (n > MAX_CHAIN) throw new BtfError('BTF_LOOP', `typedef/modifier chain from type [${id}] is too long`, { typeId: id });
        id = (t as { type: number }).type;
        t = btf.typeById(id);
      }
      const idx = spec.raw[i]!;
      if (isComposite(t)) {
        const m = t.members[idx];
        if (!m) throw new BtfError('BTF_MALFORMED', `${btf.describe(t)} [${id}] has no member #${idx}`, { typeId: id });
        this.member(id, idx);
        id = m.type;
        t = btf.typeById(id);
        this.type(id, false);
      } else if (t.kind === 'array') {
        id = t.type;
        t = btf.typeById(id);
      } else {
        throw unsupported(btf, t);
      }
    }
  }
}

function unsupported(btf: Btf, t: BtfType): BtfError {
  return new BtfError('BTF_INVALID_TYPE', `a CO-RE relocation reaches ${btf.describe(t)} [${t.id}], of kind ${t.kind}, which minimal BTF cannot keep`, { typeId: t.id });
}

/** Record what every CO-RE relocation of one object needs from the target. */
function recordObject(marks: Marks, obj: MinCoreObject, index: number): void {
  const label = obj.name ?? `object #${index}`;
  if (!obj.ext) throw new BtfError('BTF_NO_BTF_EXT', `${label}: no .BTF.ext section (no CO-RE relocation records)`);
  const cache = new CoreCache();
  for (const sec of obj.ext.coreRelos) {
    for (const relo of sec.records) {
      if (relo.kind === CoreReloKind.TYPE_ID_LOCAL) continue;
      let res;
      try {
        res = resolveCoreRelo(obj.btf, relo, marks.btf, cache);
      } catch (e) {
        if (e instanceof BtfError) {
          // Same class and code, with the object and section named.
          (e as { message: string }).message = `${label}, section ${sec.name || sec.nameOff}: ${e.message}`;
        }
        throw e;
      }
      const spec = res.target;
      if (!spec) continue; // nothing in the target matched: nothing to keep
      switch (relo.kind) {
        case CoreReloKind.TYPE_ID_TARGET:
        case CoreReloKind.TYPE_EXISTS:
        case CoreReloKind.TYPE_SIZE:
          marks.type(spec.rootTypeId, true);
          break;
        case CoreReloKind.TYPE_MATCHES:
          marks.typeMatch(spec.rootTypeId);
          break;
        case CoreReloKind.ENUMVAL_EXISTS:
        case CoreReloKind.ENUMVAL_VALUE:
          marks.type(spec.rootTypeId, false);
          break;
        default:
          marks.field(spec);
      }
    }
  }
}

/** The kept type `t` with references renumbered (`ids`, 0 for types not kept) and, for composites, only the kept members. */
function rewrite(t: Exclude<BtfType, { kind: 'void' }>, ids: Uint32Array, keptMembers: Set<number> | undefined): BtfTypeInput {
  const r = (id: number) => ids[id] ?? 0;
  switch (t.kind) {
    case 'struct':
    case 'union': {
      const members: BtfMember[] = [];
      t.members.forEach((m, i) => {
        if (keptMembers?.has(i)) members.push({ name: m.name, type: r(m.type), bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize });
      });
      // libbpf's btf__add_field sets kind_flag only for bitfields (or offsets inside a byte).
      const kindFlag = members.some((m) => m.bitfieldSize > 0 || m.bitOffset % 8 !== 0);
      return { kind: t.kind, name: t.name, size: t.size, members, kindFlag };
    }
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
      return { ...t, type: r(t.type) };
    case 'array':
      return { ...t, type: r(t.type), indexType: r(t.indexType) };
    case 'func_proto':
      return { ...t, returnType: r(t.returnType), params: t.params.map((p) => ({ name: p.name, type: r(p.type) })) };
    default:
      // int, float, enum, enum64, fwd: no references. (Marks never keeps func, var, datasec or decl_tag.)
      return { ...t } as BtfTypeInput;
  }
}

/**
 * The minimal BTF for `objects` out of `target` (bpftool gen min_core_btf),
 * as raw BTF bytes in host byte order. `target` is base BTF (vmlinux or a
 * BTF file); objects are ELF bytes or their parsed BTF and .BTF.ext.
 *
 * Throws BtfError: BTF_NO_BTF (an object without .BTF), BTF_NO_BTF_EXT (an
 * object without .BTF.ext, as bpftool refuses it), a parse error of either,
 * BTF_INVALID_TYPE (a relocation reaches a kind bpftool cannot keep either);
 * CoreError for malformed or ambiguous relocations (CORE_BAD_RELO,
 * CORE_AMBIGUOUS). Relocations nothing in the target matches keep nothing.
 */
export function minCoreBtf(target: Btf, objects: readonly (MinCoreObject | Uint8Array)[]): Uint8Array {
  if (target.base) throw new BtfError('BTF_INVALID_TYPE', 'the target must be base BTF (vmlinux), not split BTF');
  const marks = new Marks(target);
  objects.forEach((o, i) => recordObject(marks, o instanceof Uint8Array ? parseElfBtf(o) : o, i));

  const n = target.length;
  const ids = new Uint32Array(n);
  let next = 1;
  for (let id = 1; id < n; id++) if (marks.kept[id]) ids[id] = next++;
  const out = new BtfBuilder();
  for (let id = 1; id < n; id++) {
    if (!marks.kept[id]) continue;
    out.add(rewrite(target.typeById(id) as Exclude<BtfType, { kind: 'void' }>, ids, marks.members.get(id)));
  }
  return out.marshal();
}
