/**
 * Make an object's BTF acceptable to the kernel, as libbpf does before
 * BPF_BTF_LOAD: DATASEC sizes and variable offsets come from the ELF (the
 * compiler leaves them zero), extern variables become allocated globals,
 * extern functions (kfuncs) become global functions with named parameters and
 * leave the .ksyms DATASEC to a dummy int variable.
 *
 * What most objects need (sizes, offsets, linkages, on a kernel that accepts
 * every kind they use) changes words, not the layout: that is patched into a
 * copy of the object's own type words, its strings as they are. Only what
 * adds types or strings (kfuncs, ksyms, unnamed extern parameters) or
 * sanitises kinds rebuilds the BTF.
 */
import type { Btf } from '../../btf/btf.ts';
import { BtfBuilder } from '../../btf/builder.ts';
import { btfBlob } from '../../btf/marshal.ts';
import type { BtfType, BtfTypeInput } from '../../btf/types.ts';
import type { CollectionSpec } from './collection-spec.ts';
import { ALL_BTF_FEATURES, type BtfFeature, type BtfFeatures } from '../btf/features.ts';

// Kind numbers and linkages (include/uapi/linux/btf.h).
const K_FUNC = 12, K_FUNC_PROTO = 13, K_VAR = 14, K_DATASEC = 15, K_FLOAT = 16, K_DECL_TAG = 17, K_TYPE_TAG = 18, K_ENUM64 = 19;
const STATIC = 0, GLOBAL = 1, EXTERN = 2;

/** The BTF features (see ../btf/features.ts) the kinds of `btf` need from the kernel. */
export function btfFeaturesNeeded(btf: Btf): BtfFeature[] {
  const { words, offsets, kinds } = btf.rawTypes();
  let seen = 0;
  let global = false;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i]!;
    seen |= 1 << k;
    if (k === K_FUNC && (words[offsets[i]! + 1]! & 0xffff) !== STATIC) global = true;
  }
  const out: BtfFeature[] = [];
  const has = (k: number) => (seen & (1 << k)) !== 0;
  if (has(K_VAR) || has(K_DATASEC)) out.push('datasec');
  if (has(K_FLOAT)) out.push('float');
  if (has(K_FUNC) || has(K_FUNC_PROTO)) out.push('func');
  if (global) out.push('funcGlobal');
  if (has(K_DECL_TAG)) out.push('declTag');
  if (has(K_TYPE_TAG)) out.push('typeTag');
  if (has(K_ENUM64)) out.push('enum64');
  return out;
}

export function fixupBtfForKernel(spec: CollectionSpec, btf: Btf, features: BtfFeatures = ALL_BTF_FEATURES): Uint8Array {
  return patchedInPlace(spec, btf, features) ?? rebuilt(spec, btf, features);
}

/**
 * The fix-up as word edits on a copy of the type section, or undefined when
 * it needs more (new types or strings, sanitised kinds, split BTF): then the
 * BTF is rebuilt. Same result as rebuilt(), type for type.
 */
function patchedInPlace(spec: CollectionSpec, btf: Btf, features: BtfFeatures): Uint8Array | undefined {
  if (btf.firstTypeId !== 1) return undefined;
  for (const f of btfFeaturesNeeded(btf)) if (!features[f]) return undefined;
  const raw = btf.rawTypes();
  const { offsets, kinds } = raw;
  const w = raw.words.slice();
  const first = btf.firstTypeId;
  const hidden = new Set(Object.values(spec.functions).filter((f) => f.hidden).map((f) => f.name));
  const setLinkage = (o: number, l: number) => (w[o + 1] = ((w[o + 1]! & ~0xffff) | l) >>> 0);
  for (let i = 0; i < kinds.length; i++) {
    const o = offsets[i]!;
    switch (kinds[i]) {
      case K_FUNC: {
        const linkage = w[o + 1]! & 0xffff;
        if (linkage === GLOBAL && hidden.has(btf.stringAt(w[o]!))) setLinkage(o, STATIC);
        else if (linkage === EXTERN) {
          // The kernel insists on named parameters for global functions: naming them adds strings.
          const proto = btf.typeById(w[o + 2]!);
          if (proto.kind !== 'func_proto' || proto.params.some((p, j) => !p.name && !(j === proto.params.length - 1 && p.type === 0))) return undefined;
          setLinkage(o, GLOBAL);
        }
        break;
      }
      case K_VAR:
        if (w[o + 3] === EXTERN) w[o + 3] = GLOBAL;
        break;
      case K_DATASEC: {
        const name = btf.stringAt(w[o]!);
        if (name === '.ksyms') return undefined; // kfuncs and ksyms: new types
        const layout = spec.sectionLayout[name];
        let size = layout?.size ?? w[o + 2]!;
        if (name === '.kconfig') size = spec.maps['.kconfig']?.valueSize ?? size;
        const n = w[o + 1]! & 0xffff;
        const vars: { type: number; offset: number; size: number }[] = [];
        for (let j = 0; j < n; j++) {
          const e = o + 3 + 3 * j;
          const type = w[e]!;
          let offset = w[e + 1]!;
          const ti = type - first;
          if (ti < 0 || ti >= kinds.length || kinds[ti] === K_FUNC) return undefined; // let the rebuild judge it
          const vname = btf.stringAt(raw.words[offsets[ti]!]!);
          if (name === '.kconfig') offset = spec.externs[vname]?.offset ?? offset;
          else if (layout && vname in layout.symbols) offset = layout.symbols[vname]!;
          vars.push({ type, offset, size: w[e + 2]! });
        }
        vars.sort((x, y) => x.offset - y.offset);
        w[o + 2] = size;
        for (let j = 0; j < n; j++) {
          const e = o + 3 + 3 * j;
          w[e] = vars[j]!.type;
          w[e + 1] = vars[j]!.offset;
          w[e + 2] = vars[j]!.size;
        }
        break;
      }
    }
  }
  // The kernel reads BTF in its own byte order; the words are native already.
  return btfBlob(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), btf.strings);
}

/** The fix-up by rebuilding the BTF (kfuncs, ksyms, sanitised kinds). Exported for tests: patched and rebuilt agree. */
export function rebuilt(spec: CollectionSpec, btf: Btf, features: BtfFeatures): Uint8Array {
  const b = BtfBuilder.from(btf);
  let dummyVar = 0;
  let intType = 0;
  const intId = (): number => {
    if (intType) return intType;
    for (const t of btf.types()) if (t.kind === 'int' && t.size === 4 && t.name === 'int') return (intType = t.id);
    return (intType = b.add({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 } as BtfTypeInput));
  };
  const replace = (t: BtfType, next: Record<string, unknown>) => b.replace(t.id, { ...t, ...next } as unknown as BtfTypeInput);

  const hidden = new Set(Object.values(spec.functions).filter((f) => f.hidden).map((f) => f.name));
  for (const t of btf.types()) {
    // Hidden global functions (e.g. usdt.bpf.h's helpers) are checked with their caller's context, as libbpf does.
    if (t.kind === 'func' && t.linkage === 'global' && hidden.has(t.name)) replace(t, { linkage: 'static' });
    if (t.kind === 'var' && t.linkage === 'extern') replace(t, { linkage: 'global' });
    if (t.kind === 'func' && t.linkage === 'extern') {
      replace(t, { linkage: 'global' });
      // The kernel insists on named parameters for global functions.
      const proto = btf.typeById(t.type);
      if (proto.kind === 'func_proto' && proto.params.some((p, i) => !p.name && !(i === proto.params.length - 1 && p.type === 0))) {
        replace(proto, { params: proto.params.map((p, i) => (p.name || (i === proto.params.length - 1 && p.type === 0) ? p : { ...p, name: `arg${i}` })) });
      }
    }
  }
  for (const t of btf.types()) {
    if (t.kind !== 'datasec') continue;
    const layout = spec.sectionLayout[t.name];
    let size = layout?.size ?? t.size;
    let vars = t.vars.map((v) => {
      const vt = btf.typeById(v.type);
      let offset = v.offset;
      let type = v.type;
      if (t.name === '.kconfig') offset = spec.externs[vt.name]?.offset ?? offset;
      else if (layout && vt.name in layout.symbols) offset = layout.symbols[vt.name]!;
      if (vt.kind === 'func') {
        // DATASECs hold only VARs: stand a dummy int variable in for each kfunc.
        dummyVar ||= b.add({ kind: 'var', name: 'dummy_ksym', type: intId(), linkage: 'global' } as BtfTypeInput);
        type = dummyVar;
      } else if (t.name === '.ksyms' && vt.kind === 'var') {
        // As libbpf: every ksym variable becomes a 4-byte int. An untyped one (`const void`) is otherwise
        // a VAR of type void, which the kernel rejects ("Invalid type_id"), and with it the whole program BTF.
        replace(vt, { linkage: 'global', type: intId() });
      }
      return { type, offset, size: t.name === '.ksyms' ? 4 : v.size };
    });
    if (t.name === '.kconfig') size = spec.maps['.kconfig']?.valueSize ?? size;
    if (t.name === '.ksyms') {
      // Extern symbols take no room; lay them out back to back so offsets are valid.
      let off = 0;
      vars = vars.map((v) => ({ ...v, offset: (off += v.size) - v.size }));
      size = off;
    }
    vars.sort((x, y) => x.offset - y.offset);
    replace(t, { size, vars });
  }
  sanitize(b, features);
  return b.marshal();
}

const input = (x: Record<string, unknown>) => x as unknown as BtfTypeInput;

/**
 * Rewrite kinds an older kernel rejects into ones it accepts, keeping every
 * type id and size, as libbpf does: VAR becomes a 1-byte INT and DATASEC a
 * STRUCT of them (5.2), FLOAT an empty STRUCT of its size (5.13), DECL_TAG a
 * 1-byte INT (5.16), TYPE_TAG a CONST (5.17), ENUM64 an empty UNION of its
 * size and a signed ENUM an unsigned one, same bits (6.0), global functions
 * static (5.6).
 */
export function sanitize(b: BtfBuilder, f: BtfFeatures): void {
  if (Object.values(f).every(Boolean)) return;
  const byte = (name: string) => input({ kind: 'int', name, size: 1, encoding: 'none', bitOffset: 0, bits: 8 });
  for (const t of [...b.types()]) {
    switch (t.kind) {
      case 'var':
        if (!f.datasec) b.replace(t.id, byte(t.name));
        break;
      case 'datasec':
        if (!f.datasec) {
          const members = t.vars.map((v) => ({ name: b.typeById(v.type).name, type: v.type, bitOffset: v.offset * 8, bitfieldSize: 0 }));
          b.replace(t.id, input({ kind: 'struct', name: t.name.replace(/\./g, '_'), size: t.size, kindFlag: false, members }));
        }
        break;
      case 'float':
        if (!f.float) b.replace(t.id, input({ kind: 'struct', name: t.name, size: t.size, kindFlag: false, members: [] }));
        break;
      case 'func':
        if (!f.funcGlobal && t.linkage === 'global') b.replace(t.id, input({ ...t, linkage: 'static' }));
        break;
      case 'decl_tag':
        if (!f.declTag) b.replace(t.id, byte(''));
        break;
      case 'type_tag':
        if (!f.typeTag) b.replace(t.id, input({ kind: 'const', name: '', type: t.type }));
        break;
      case 'enum64':
        if (!f.enum64) b.replace(t.id, input({ kind: 'union', name: t.name, size: t.size, kindFlag: false, members: [] }));
        break;
      case 'enum':
        // kind_flag on an ENUM (signed values) came with ENUM64: before 6.0 it is "Invalid btf_info kind_flag".
        if (!f.enum64 && t.signed) b.replace(t.id, input({ ...t, signed: false }));
        break;
    }
  }
}
