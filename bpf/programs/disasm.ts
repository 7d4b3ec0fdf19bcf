/**
 * The BPF instruction printer: one line per instruction in the kernel
 * verifier's notation (kernel/bpf/disasm.c), which bpftool's `prog dump
 * xlated` also prints, so that the two can be compared line by line. Pure:
 * names of helpers, calls and 64-bit immediates come from the caller.
 */
import { INSN_SIZE } from './insn.ts';

/** One decoded instruction. */
export interface RawInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Names the printer cannot know by itself (bpftool's print_call and print_imm callbacks). */
export interface DisasmNames {
  /** Name of helper or kernel function call `insn` (src 0 or 2), undefined for the default. */
  call?(insn: RawInsn): string | undefined;
  /** Text of a 64-bit immediate load (map references, subprogs); undefined for the default 0x... */
  imm?(insn: RawInsn, next: RawInsn, full: bigint): string | undefined;
}

export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

const CLASS = ['ld', 'ldx', 'st', 'stx', 'alu', 'jmp', 'jmp32', 'alu64'];
const ALU_OP: (string | undefined)[] = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];
const JMP_OP: (string | undefined)[] = ['jmp', '==', '>', '>=', '&', '!=', 's>', 's>=', 'call', 'exit', '<', '<=', 's<', 's<='];
const ATOMIC_OP: Record<number, string> = { 0x00: 'add', 0x40: 'or', 0x50: 'and', 0xa0: 'xor' };
const LDST = ['u32', 'u16', 'u8', 'u64'];
const LDSX = ['s32', 's16', 's8'];
const MOVSX: Record<number, string> = { 8: '(s8)', 16: '(s16)', 32: '(s32)' };
const BPF_FETCH = 0x01;
const BPF_XCHG = 0xe0 | BPF_FETCH;
const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
const BPF_LOAD_ACQ = 0x100;
const BPF_STORE_REL = 0x110;

/** Decode instruction `i` of `insns` (8 bytes each, little-endian). */
export function decodeInsn(insns: Uint8Array, i: number): RawInsn {
  const o = i * INSN_SIZE;
  const v = new DataView(insns.buffer, insns.byteOffset + o, INSN_SIZE);
  const regs = insns[o + 1]!;
  return { code: insns[o]!, dst: regs & 0xf, src: regs >> 4, off: v.getInt16(2, true), imm: v.getInt32(4, true) };
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
/** C's "%+d". */
const signed = (n: number) => (n < 0 ? `${n}` : `+${n}`);

/**
 * The text of one instruction, "(bf) r6 = r1", without the index. `next` is
 * the second half of a 64-bit immediate load (zeros when it is missing).
 */
export function formatInsn(insn: RawInsn, next: RawInsn | undefined, names: DisasmNames = {}): string {
  const { code, dst, src, off, imm } = insn;
  const cls = code & 0x07;
  const op = code & 0xf0;
  const size = (code & 0x18) >> 3;
  const mode = code & 0xe0;
  const c = `(${hex2(code)})`;
  if (cls === 4 || cls === 7) {
    const r = cls === 4 ? 'w' : 'r';
    if (op === 0xd0) return cls === 7 ? `${c} r${dst} = bswap${imm} r${dst}` : `${c} r${dst} = ${code & 0x08 ? 'be' : 'le'}${imm} r${dst}`;
    if (op === 0x80) return `${c} ${r}${dst} = -${r}${dst}`;
    if (code === 0xbf && off === 1) return `${c} r${dst} = addr_space_cast(r${src}, ${(imm >>> 16) & 0xffff}, ${imm & 0xffff})`;
    if (code === 0xbf && off === -1) return `${c} r${dst} = &(void __percpu *)(r${src})`;
    const sdivmod = (op === 0x30 || op === 0x90) && off === 1;
    const opText = sdivmod ? (op === 0x30 ? 's/=' : 's%=') : (ALU_OP[op >> 4] ?? '?');
    if (code & 0x08) return `${c} ${r}${dst} ${opText} ${op === 0xb0 ? (MOVSX[off] ?? '') : ''}${r}${src}`;
    return `${c} ${r}${dst} ${opText} ${imm}`;
  }
  if (cls === 3) {
    const sz = LDST[size];
    if (mode === 0x60) return `${c} *(${sz} *)(r${dst} ${signed(off)}) = r${src}`;
    if (mode === 0xc0) {
      const aop = ATOMIC_OP[imm & ~BPF_FETCH];
      const w = size === 3 ? '64' : '';
      if (aop && !(imm & BPF_FETCH)) return `${c} lock *(${sz} *)(r${dst} ${signed(off)}) ${ALU_OP[(imm & 0xf0) >> 4]} r${src}`;
      if (aop) return `${c} r${src} = atomic${w}_fetch_${aop}((${sz} *)(r${dst} ${signed(off)}), r${src})`;
      if (imm === BPF_CMPXCHG) return `${c} r0 = atomic${w}_cmpxchg((${sz} *)(r${dst} ${signed(off)}), r0, r${src})`;
      if (imm === BPF_XCHG) return `${c} r${src} = atomic${w}_xchg((${sz} *)(r${dst} ${signed(off)}), r${src})`;
      if (imm === BPF_LOAD_ACQ) return `${c} r${dst} = load_acquire((${sz} *)(r${src} ${signed(off)}))`;
      if (imm === BPF_STORE_REL) return `${c} store_release((${sz} *)(r${dst} ${signed(off)}), r${src})`;
    }
    return `BUG_${hex2(code)}`;
  }
  if (cls === 2) {
    if (mode === 0x60) return `${c} *(${LDST[size]} *)(r${dst} ${signed(off)}) = ${imm}`;
    if (mode === 0xc0) return `${c} nospec`;
    return `BUG_st_${hex2(code)}`;
  }
  if (cls === 1) {
    if (mode !== 0x60 && mode !== 0x80) return `BUG_ldx_${hex2(code)}`;
    return `${c} r${dst} = *(${mode === 0x60 ? LDST[size] : LDSX[size]} *)(r${src} ${signed(off)})`;
  }
  if (cls === 0) {
    if (mode === 0x20) return `${c} r0 = *(${LDST[size]} *)skb[${imm}]`;
    if (mode === 0x40) return `${c} r0 = *(${LDST[size]} *)skb[r${src} + ${imm}]`;
    if (mode === 0x00 && size === 3) {
      const n = next ?? { code: 0, dst: 0, src: 0, off: 0, imm: 0 };
      const full = (BigInt(n.imm >>> 0) << 32n) | BigInt(imm >>> 0);
      return `${c} r${dst} = ${names.imm?.(insn, n, full) ?? `0x${full.toString(16)}`}`;
    }
    return `BUG_ld_${hex2(code)}`;
  }
  // JMP and JMP32.
  const r = cls === 6 ? 'w' : 'r';
  if (op === 0x80) {
    if (src === BPF_PSEUDO_CALL) return `${c} call pc${names.call?.(insn) ?? signed(imm)}`;
    const name = names.call?.(insn) ?? (src === BPF_PSEUDO_KFUNC_CALL ? 'kernel-function' : 'unknown');
    return `${c} call ${name}#${imm}`;
  }
  if (code === 0x05) return `${c} goto pc${signed(off)}`;
  if (code === 0x0d) return `${c} gotox r${dst}`;
  if (code === 0xe5 && src === 0) return `${c} may_goto pc${signed(off)}`;
  if (code === 0x06) return `${c} gotol pc${signed(imm)}`;
  if (code === 0x95) return `${c} exit`;
  if (op === 0x00 || op === 0x90 || (op >> 4) >= JMP_OP.length) return `${c} ${CLASS[cls]}`;
  if (code & 0x08) return `${c} if ${r}${dst} ${JMP_OP[op >> 4]} ${r}${src} goto pc${signed(off)}`;
  return `${c} if ${r}${dst} ${JMP_OP[op >> 4]} 0x${(imm >>> 0).toString(16)} goto pc${signed(off)}`;
}

/** Whether `insn` is the first half of a 64-bit immediate load (it takes two slots). */
export function isWideInsn(insn: RawInsn): boolean {
  return insn.code === 0x18;
}

/** Every instruction of `insns` with its index, the second half of each wide load skipped. */
export function* disassemble(insns: Uint8Array, names: DisasmNames = {}): Generator<{ index: number; insn: RawInsn; next: RawInsn | undefined; text: string }> {
  const n = Math.floor(insns.byteLength / INSN_SIZE);
  for (let i = 0; i < n; i++) {
    const insn = decodeInsn(insns, i);
    const next = isWideInsn(insn) && i + 1 < n ? decodeInsn(insns, i + 1) : undefined;
    yield { index: i, insn, next, text: formatInsn(insn, next, names) };
    if (isWideInsn(insn)) i++;
  }
}
