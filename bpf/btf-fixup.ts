/**
 * Make an object's BTF acceptable to the kernel, as libbpf does before
 * BPF_BTF_LOAD: DATASEC sizes and variable offsets come from the ELF (the
 * compiler leaves them zero), extern variables become allocated globals,
 * extern functions (kfuncs) become global functions with named parameters and
 * leave the .ksyms DATASEC to a dummy int variable.
 */
import type { Btf } from '../btf/btf.ts';
import { BtfBuilder } from '../btf/builder.ts';
import type { BtfType, BtfTypeInput } from '../btf/types.ts';
import type { CollectionSpec } from './collection-spec.ts';

export function fixupBtfForKernel(spec: CollectionSpec, btf: Btf): Uint8Array {
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
  return b.marshal();
}
