/**
 * Reading struct_ops maps out of an object (pure, no kernel access): each
 * variable of a `SEC(".struct_ops")` or `SEC(".struct_ops.link")` section is
 * one map, whose value is the object's own (partial) declaration of a kernel
 * struct such as `struct tcp_congestion_ops`: its initialised bytes, and the
 * programs its function pointers name (relocations against code sections).
 */
import type { Btf } from '../../btf/btf.ts';
import { STT_SECTION, type ElfFile, type ElfSymbol } from '../../elf/index.ts';
import { TsbpfError, type StructOpsErrorCode } from '../../errors.ts';
import { INSN_SIZE } from '../programs/insn.ts';

/** What the object says about one struct_ops map. */
export interface StructOpsMapSpec {
  /** The kernel struct it fills in ('tcp_congestion_ops'). */
  typeName: string;
  /** That struct in the object's BTF (the object's own declaration of it). */
  localTypeId: number;
  /** The variable's initial bytes, laid out as the object's declaration. */
  data: Uint8Array;
  /** Function pointer members set to a program: member name -> program (function) name. */
  funcs: Record<string, string>;
  /** SEC(".struct_ops.link"): created with BPF_F_LINK and registered through a BPF link. */
  link: boolean;
}

export const STRUCT_OPS_SECTIONS = ['.struct_ops', '.struct_ops.link'] as const;

/**
 * A struct_ops map that cannot be read or filled in: the object's declaration
 * is malformed (BAD_STRUCT_OPS), the kernel's BTF has no such struct
 * (STRUCT_OPS_UNKNOWN), or a member differs from the kernel's
 * (STRUCT_OPS_MISMATCH: missing, another kind, another size).
 */
export class StructOpsError extends TsbpfError {
  declare readonly code: StructOpsErrorCode;
  constructor(code: StructOpsErrorCode, message: string) {
    super(code, message);
  }
}

const bad = (msg: string) => new StructOpsError('BAD_STRUCT_OPS', msg);

/**
 * The struct_ops maps of `elf`, by variable name. `funcName(sectionIndex,
 * insn)` names the function starting at an instruction of a code section.
 */
export function readStructOps(
  elf: ElfFile,
  btf: Btf | undefined,
  syms: readonly ElfSymbol[],
  datasecs: ReadonlyMap<string, { vars: { name: string; type: number }[] }>,
  funcName: (sectionIndex: number, insn: number) => string | undefined,
): Record<string, StructOpsMapSpec> {
  const out: Record<string, StructOpsMapSpec> = {};
  for (const secName of STRUCT_OPS_SECTIONS) {
    const sec = elf.section(secName);
    if (!sec) continue;
    if (!btf) throw bad(`the object has a ${secName} section but no .BTF to describe it`);
    const ds = datasecs.get(secName);
    if (!ds) throw bad(`the object has a ${secName} section but no DATASEC ${secName} in its BTF`);
    const relocs = elf.relocationsFor(sec.index).flatMap((r) => r.entries);
    const view = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    for (const v of ds.vars) {
      const sym = syms.find((s) => s.sectionIndex === sec.index && s.name === v.name && s.type !== STT_SECTION);
      if (!sym) throw bad(`struct_ops map '${v.name}' has BTF but no symbol in ${secName}`);
      const st = btf.resolve(v.type);
      if (st.kind !== 'struct' || !st.name) throw bad(`struct_ops map '${v.name}' is a ${st.kind}, not a named struct`);
      const base = Number(sym.value);
      if (base < 0 || base + st.size > sec.data.byteLength) throw bad(`struct_ops map '${v.name}' (${st.size} bytes at ${base}) extends past ${secName}`);
      if (out[v.name]) throw bad(`two struct_ops maps named '${v.name}'`);
      const funcs: Record<string, string> = {};
      for (const r of relocs) {
        const off = Number(r.offset) - base;
        if (off < 0 || off >= st.size) continue;
        const m = st.members.find((x) => x.bitOffset === off * 8);
        if (!m || !m.name) throw bad(`struct_ops map '${v.name}': a relocation at byte ${off} is not on a member`);
        const target = syms[r.symbolIndex];
        const tsec = target && elf.sections[target.sectionIndex];
        if (!target || !tsec) throw bad(`struct_ops map '${v.name}': member '${m.name}' names symbol ${r.symbolIndex}, which does not exist`);
        // A section symbol carries the offset in the relocated word (REL, no addend); a function symbol in its value.
        const at = Number(target.value) + (target.type === STT_SECTION ? Number(view.getBigUint64(Number(r.offset), elf.littleEndian)) : 0);
        const name = at % INSN_SIZE ? undefined : funcName(tsec.index, at / INSN_SIZE);
        if (!name) throw bad(`struct_ops map '${v.name}': member '${m.name}' points into '${tsec.name}' at ${at}, where no program starts`);
        funcs[m.name] = name;
      }
      const data = sec.data.slice(base, base + st.size);
      // The relocated words hold offsets, not values: the kernel gets program fds there.
      for (const m of st.members) if (funcs[m.name]) data.fill(0, m.bitOffset / 8, m.bitOffset / 8 + 8);
      out[v.name] = { typeName: st.name, localTypeId: st.id, data, funcs, link: secName === '.struct_ops.link' };
    }
  }
  return out;
}
