/**
 * Externs of an object, resolved at link time: `.kconfig` values (through the
 * kconfig map), kfuncs and typed ksyms (BTF ids in the kernel's BTF), untyped
 * ksyms (addresses from /proc/kallsyms). Weak externs that are missing become
 * 0, as in libbpf.
 */
import { readFileSync } from 'node:fs';
import type { Btf } from '../../btf/btf.ts';
import { TsbpfError, type ExternErrorCode } from '../../errors.ts';
import { INSN_SIZE, Op, PseudoCall, PseudoSrc } from '../programs/insn.ts';
import type { CollectionSpec } from './collection-spec.ts';

/** An extern the kernel does not have, or one referenced in a way tsbpf cannot resolve. */
export class ExternError extends TsbpfError {
  declare readonly code: ExternErrorCode;
  constructor(code: ExternErrorCode, message: string) {
    super(code, message);
  }
}

/** Resolve an extern reference at instruction `insn` (absolute index). */
export function resolveExtern(spec: CollectionSpec, kconfigFd: () => number, name: string, v: DataView, insn: number, prog: string, target: () => Btf): void {
  const e = spec.externs[name];
  if (!e) throw new ExternError('UNKNOWN_EXTERN', `program '${prog}' refers to undefined symbol '${name}'`);
  const o = insn * INSN_SIZE;
  const code = v.getUint8(o);
  const setSrc = (src: number) => v.setUint8(o + 1, (v.getUint8(o + 1) & 0x0f) | (src << 4));
  switch (e.kind) {
    case 'kconfig': {
      setSrc(PseudoSrc.MAP_VALUE);
      v.setInt32(o + 4, kconfigFd(), true);
      v.setInt32(o + INSN_SIZE + 4, e.offset!, true);
      return;
    }
    case 'kfunc': {
      const isLoad = code === (Op.LD | Op.DW | Op.IMM);
      if (code !== (Op.JMP | Op.CALL) && !isLoad) throw new ExternError('BAD_EXTERN', `program '${prog}': kfunc '${name}' is referenced by an instruction that is neither a call nor ld_imm64`);
      const id = findKernelId(target(), name, 'func');
      if (isLoad) {
        // `if (kfunc)` / bpf_ksym_exists(kfunc): the kfunc's BTF id when the kernel has it, 0 when a weak one is missing (as libbpf).
        if (id === undefined && !e.weak) throw new ExternError('KFUNC_MISSING', `program '${prog}': kfunc '${name}' is not in the kernel's BTF`);
        if (id !== undefined) setSrc(PseudoSrc.BTF_ID);
        v.setInt32(o + 4, id ?? 0, true);
        v.setInt32(o + INSN_SIZE + 4, 0, true);
        return;
      }
      if (id === undefined) {
        if (!e.weak) throw new ExternError('KFUNC_MISSING', `program '${prog}': kfunc '${name}' is not in the kernel's BTF`);
        // A missing weak kfunc: a kfunc call to BTF id 0, exactly as libbpf 1.1 (the verifier rejects it only if
        // reached; the program tag stays libbpf's). Later libbpf turns it into a bogus helper call instead.
        setSrc(PseudoCall.KFUNC_CALL);
        v.setInt16(o + 2, 0, true);
        v.setInt32(o + 4, 0, true);
        return;
      }
      setSrc(PseudoCall.KFUNC_CALL);
      v.setInt16(o + 2, 0, true);
      v.setInt32(o + 4, id, true);
      return;
    }
    case 'ksym': {
      const varType = e.btfId !== undefined ? spec.btf?.typeById(e.btfId) : undefined;
      const typed = varType?.kind === 'var' && spec.btf!.resolve(varType.type).kind !== 'void';
      if (typed) {
        const id = findKernelId(target(), name, 'var');
        if (id === undefined) {
          if (!e.weak) throw new ExternError('KSYM_MISSING', `program '${prog}': ksym '${name}' is not in the kernel's BTF`);
          v.setInt32(o + 4, 0, true);
          v.setInt32(o + INSN_SIZE + 4, 0, true);
          return;
        }
        setSrc(PseudoSrc.BTF_ID);
        v.setInt32(o + 4, id, true);
        v.setInt32(o + INSN_SIZE + 4, 0, true);
        return;
      }
      const addr = kallsymsAddress(name);
      if (addr === undefined && !e.weak) throw new ExternError('KSYM_MISSING', `program '${prog}': ksym '${name}' is not in /proc/kallsyms`);
      const a = addr ?? 0n;
      v.setInt32(o + 4, Number(BigInt.asIntN(32, a)), true);
      v.setInt32(o + INSN_SIZE + 4, Number(BigInt.asIntN(32, a >> 32n)), true);
      return;
    }
  }
}

function findKernelId(btf: Btf, name: string, kind: 'func' | 'var'): number | undefined {
  const t = btf.findByName(name, kind);
  return t?.id;
}

let kallsyms: Map<string, bigint> | undefined;
function kallsymsAddress(name: string): bigint | undefined {
  if (!kallsyms) {
    kallsyms = new Map();
    for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
      const [addr, , sym] = line.split(/\s+/);
      if (sym && addr && !kallsyms.has(sym)) kallsyms.set(sym, BigInt('0x' + addr));
    }
  }
  return kallsyms.get(name);
}
