/**
 * BPF instructions: 8 bytes each (opcode, dst/src registers, s16 offset,
 * s32 immediate); 64-bit immediate loads take two. A tiny assembler for the
 * handful of instructions tests and probes write by hand.
 */

export const INSN_SIZE = 8;

export const Op = {
  // classes
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
  // sizes
  W: 0x00,
  H: 0x08,
  B: 0x10,
  DW: 0x18,
  // modes
  IMM: 0x00,
  MEM: 0x60,
  // ALU ops
  ADD: 0x00,
  MOV: 0xb0,
  // JMP ops
  JA: 0x00,
  JEQ: 0x10,
  CALL: 0x80,
  EXIT: 0x90,
  // sources
  K: 0x00,
  X: 0x08,
} as const;

/** src_reg values of a 64-bit immediate load (ld_imm64) that the loader rewrites. */
export const PseudoSrc = {
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
} as const;

/** src_reg of a call: helper (0), bpf-to-bpf (1), kfunc (2). */
export const PseudoCall = { HELPER: 0, CALL: 1, KFUNC_CALL: 2 } as const;

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export function encodeInsns(insns: Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * INSN_SIZE);
  const v = new DataView(out.buffer);
  insns.forEach((i, n) => {
    const o = n * INSN_SIZE;
    v.setUint8(o, i.code);
    v.setUint8(o + 1, ((i.src & 0xf) << 4) | (i.dst & 0xf));
    v.setInt16(o + 2, i.off, true);
    v.setInt32(o + 4, i.imm, true);
  });
  return out;
}

export const asm = {
  mov64Imm: (dst: number, imm: number): Insn => ({ code: Op.ALU64 | Op.MOV | Op.K, dst, src: 0, off: 0, imm }),
  mov64Reg: (dst: number, src: number): Insn => ({ code: Op.ALU64 | Op.MOV | Op.X, dst, src, off: 0, imm: 0 }),
  add64Imm: (dst: number, imm: number): Insn => ({ code: Op.ALU64 | Op.ADD | Op.K, dst, src: 0, off: 0, imm }),
  /** Two instructions: dst = imm64 (or a map fd / value reference with a pseudo src). */
  ldImm64: (dst: number, imm: bigint, src = 0): Insn[] => [
    { code: Op.LD | Op.DW | Op.IMM, dst, src, off: 0, imm: Number(BigInt.asIntN(32, imm)) },
    { code: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, imm >> 32n)) },
  ],
  ldMapFd: (dst: number, fd: number): Insn[] => asm.ldImm64(dst, BigInt(fd), PseudoSrc.MAP_FD),
  stxMem: (size: number, dst: number, src: number, off: number): Insn => ({ code: Op.STX | Op.MEM | size, dst, src, off, imm: 0 }),
  stMem: (size: number, dst: number, off: number, imm: number): Insn => ({ code: Op.ST | Op.MEM | size, dst, src: 0, off, imm }),
  ldxMem: (size: number, dst: number, src: number, off: number): Insn => ({ code: Op.LDX | Op.MEM | size, dst, src, off, imm: 0 }),
  jeqImm: (dst: number, imm: number, off: number): Insn => ({ code: Op.JMP | Op.JEQ | Op.K, dst, src: 0, off, imm }),
  ja: (off: number): Insn => ({ code: Op.JMP | Op.JA, dst: 0, src: 0, off, imm: 0 }),
  call: (helper: number): Insn => ({ code: Op.JMP | Op.CALL, dst: 0, src: 0, off: 0, imm: helper }),
  exit: (): Insn => ({ code: Op.JMP | Op.EXIT, dst: 0, src: 0, off: 0, imm: 0 }),
};

/** Helper function ids used by probes and tests. */
export const Helper = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_smp_processor_id: 8,
  tail_call: 12,
  get_current_pid_tgid: 14,
  perf_event_output: 25,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  loop: 181,
} as const;
