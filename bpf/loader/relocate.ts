/**
 * Relocating one program (instruction linking, not BPF links): its entry function followed by every subprogram it
 * reaches, appended in the order libbpf appends them (depth first, at the
 * first call), so that the final instructions, and so the kernel's program
 * tag, are the same as libbpf's. Then every reference is resolved: maps,
 * global data, calls, callbacks, externs and CO-RE.
 */
import type { BtfLineInfo } from '../../btf/ext.ts';
import { TsbpfError } from '../../errors.ts';
import { type CollectionSpec, type FuncSpec, type Reloc, funcKey } from './collection-spec.ts';
import { INSN_SIZE, Op, PseudoCall, PseudoSrc } from '../programs/insn.ts';

export interface RelocatedProgram {
  insns: Uint8Array;
  /** Functions in the final layout with their first instruction. */
  layout: { func: FuncSpec; start: number }[];
  /** bpf_func_info records (insn_off in instructions, type_id), 8 bytes each. */
  funcInfo: Uint8Array | undefined;
  /** bpf_line_info records, 16 bytes each. */
  lineInfo: Uint8Array | undefined;
  /** Line info with absolute instruction offsets, for mapping verifier errors to source. */
  lines: BtfLineInfo[];
}

/** What the loader knows at link time: fds of maps, and how to resolve externs and CO-RE. */
export interface RelocationContext {
  mapFd(name: string): number;
  /** Resolve an extern reference at `insn` (absolute) of `insns`; patch it in place. */
  extern(name: string, insns: DataView, insn: number, func: FuncSpec): void;
  /** Apply the CO-RE relocations of `func`, placed at `start` in `insns`. */
  core?(func: FuncSpec, insns: Uint8Array, start: number): void;
}

export class RelocationError extends TsbpfError {
  declare readonly code: 'RELOCATION_FAILED';
  constructor(program: string, message: string) {
    super('RELOCATION_FAILED', `program '${program}': ${message}`);
  }
}

const CALL = Op.JMP | Op.CALL;
const LD_IMM64 = Op.LD | Op.DW | Op.IMM;

function lengthOf(f: FuncSpec): number {
  return f.insns.byteLength / INSN_SIZE;
}

export function relocateProgram(spec: CollectionSpec, programName: string, ctx: RelocationContext): RelocatedProgram {
  const prog = spec.programs[programName];
  if (!prog) throw new RelocationError(programName, 'no such program');
  const entry = spec.functions[prog.func];
  if (!entry) throw new RelocationError(programName, `entry function ${prog.func} is missing`);

  const layout: { func: FuncSpec; start: number }[] = [];
  const placed = new Map<FuncSpec, number>();
  let total = 0;
  const place = (f: FuncSpec): number => {
    const start = total;
    layout.push({ func: f, start });
    placed.set(f, start);
    total += lengthOf(f);
    return start;
  };

  const target = (from: FuncSpec, r: Reloc | undefined, local: number, imm: number): FuncSpec => {
    let sec: number;
    let insn: number;
    if (r && (r.kind === 'call' || r.kind === 'func')) {
      sec = r.section;
      insn = r.target;
    } else {
      // An unrelocated call is pc-relative within the same section.
      sec = from.sectionIndex;
      insn = from.offset + local + imm + 1;
    }
    const f = spec.functions[funcKey(sec, insn)];
    if (!f) throw new RelocationError(programName, `'${from.name}' instruction ${local} calls instruction ${insn} of section ${sec}, which does not start a function`);
    return f;
  };

  // Depth-first, in instruction order: a callee is appended the first time it is called,
  // and its own callees are appended before the caller's next call is looked at.
  const walk = (f: FuncSpec): void => {
    const byInsn = new Map(f.relocs.map((r) => [r.insn, r]));
    const v = new DataView(f.insns.buffer, f.insns.byteOffset, f.insns.byteLength);
    for (let i = 0; i < lengthOf(f); i++) {
      const code = f.insns[i * INSN_SIZE]!;
      const src = f.insns[i * INSN_SIZE + 1]! >> 4;
      const r = byInsn.get(i);
      // Clang emits kfunc calls as pseudo calls too (src 1, relocated against the undefined symbol): those are externs.
      const isSubCall = code === CALL && src === PseudoCall.CALL && r?.kind !== 'extern';
      const isFuncRef = code === LD_IMM64 && (r?.kind === 'func' || src === PseudoSrc.FUNC);
      if (isSubCall || isFuncRef) {
        const callee = target(f, r, i, v.getInt32(i * INSN_SIZE + 4, true));
        if (!placed.has(callee)) {
          place(callee);
          walk(callee);
        }
      }
      if (code === LD_IMM64) i++;
    }
  };
  place(entry);
  walk(entry);

  const insns = new Uint8Array(total * INSN_SIZE);
  for (const { func, start } of layout) insns.set(func.insns, start * INSN_SIZE);
  const v = new DataView(insns.buffer);

  for (const { func, start } of layout) {
    for (const r of func.relocs) {
      const at = start + r.insn;
      const o = at * INSN_SIZE;
      switch (r.kind) {
        case 'map': {
          insns[o + 1] = (insns[o + 1]! & 0x0f) | (PseudoSrc.MAP_FD << 4);
          v.setInt32(o + 4, ctx.mapFd(r.map), true);
          break;
        }
        case 'data': {
          insns[o + 1] = (insns[o + 1]! & 0x0f) | (PseudoSrc.MAP_VALUE << 4);
          v.setInt32(o + 4, ctx.mapFd(r.map), true);
          v.setInt32(o + INSN_SIZE + 4, r.offset, true);
          break;
        }
        case 'call':
        case 'func': {
          const callee = target(func, r, r.insn, 0);
          const dest = placed.get(callee)!;
          v.setInt32(o + 4, dest - at - 1, true);
          if (r.kind === 'func') {
            insns[o + 1] = (insns[o + 1]! & 0x0f) | (PseudoSrc.FUNC << 4);
            v.setInt32(o + INSN_SIZE + 4, 0, true);
          }
          break;
        }
        case 'extern':
          ctx.extern(r.name, v, at, func);
          break;
      }
    }
    // Unrelocated pc-relative calls into functions placed elsewhere.
    const relocated = new Set(func.relocs.map((r) => r.insn));
    for (let i = 0; i < lengthOf(func); i++) {
      const o = (start + i) * INSN_SIZE;
      const code = insns[o]!;
      if (code === CALL && insns[o + 1]! >> 4 === PseudoCall.CALL && !relocated.has(i)) {
        const callee = target(func, undefined, i, func.insns.byteLength ? new DataView(func.insns.buffer, func.insns.byteOffset).getInt32(i * INSN_SIZE + 4, true) : 0);
        v.setInt32(o + 4, placed.get(callee)! - (start + i) - 1, true);
      }
      if (code === LD_IMM64) i++;
    }
    ctx.core?.(func, insns, start);
  }

  // func_info and line_info, re-based onto the final layout.
  let funcInfo: Uint8Array | undefined;
  let lineInfo: Uint8Array | undefined;
  const lines: BtfLineInfo[] = [];
  if (layout.every((l) => l.func.funcTypeId !== undefined)) {
    funcInfo = new Uint8Array(layout.length * 8);
    const fv = new DataView(funcInfo.buffer);
    layout.forEach(({ func, start }, n) => {
      fv.setUint32(n * 8, start, true);
      fv.setUint32(n * 8 + 4, func.funcTypeId!, true);
    });
  }
  for (const { func, start } of layout) for (const l of func.lineInfo) lines.push({ ...l, insnOff: l.insnOff + start });
  if (lines.length) {
    lineInfo = new Uint8Array(lines.length * 16);
    const lv = new DataView(lineInfo.buffer);
    lines.forEach((l, n) => {
      lv.setUint32(n * 16, l.insnOff, true);
      lv.setUint32(n * 16 + 4, l.fileNameOff, true);
      lv.setUint32(n * 16 + 8, l.lineOff, true);
      lv.setUint32(n * 16 + 12, (l.line << 10) | (l.column & 0x3ff), true);
    });
  }
  return { insns, layout, funcInfo, lineInfo, lines };
}
