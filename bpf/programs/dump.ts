/**
 * What the kernel holds of a loaded program beyond its summary: the
 * translated (xlated) and JIT-compiled instructions, the JIT symbols of its
 * functions, and its func and line info (BPF_OBJ_GET_INFO_BY_FD a second time,
 * with buffers sized from the first answer).
 */
import { ProgInfoLayout, addressOf, putPtr } from '../../syscall/index.ts';
import { objectInfo } from '../handle.ts';

export interface ProgramImage {
  /** Instructions as the verifier left them (map fds replaced by map ids, helper calls by offsets). */
  xlated: Uint8Array;
  /** Machine code; empty for an interpreted program. */
  jited: Uint8Array;
  /** Start address of each JIT-compiled function (the main program first). */
  jitedKsyms: bigint[];
  /** bpf_func_info records ({ insn_off, type_id }) over the xlated instructions. */
  funcInfo: Uint8Array;
  funcInfoRecSize: number;
  /** bpf_line_info records ({ insn_off, file_name_off, line_off, line_col }). */
  lineInfo: Uint8Array;
  lineInfoRecSize: number;
  /** The program's BTF object, 0 without one. */
  btfId: number;
  /** JIT address of each line info record (same index); empty for an interpreted program or one without line info. */
  jitedLineInfo: bigint[];
  /** The whole program's tag (hex): kallsyms names the main function by it too, besides its own function tag. */
  tag: string;
  /** Tag of each JIT-compiled function (hex, the main program first): kallsyms names subprograms `bpf_prog_<its tag>_<name>`. */
  progTags: string[];
}

export interface ProgramImageOptions {
  /** Read the xlated and jited instructions too; default true. Without, they are empty (a symbolizer needs only the tables). */
  code?: boolean;
  /** Read func and line info (and their JIT addresses); default true. Without, only the JIT symbols and tags. */
  lines?: boolean;
}

/** Upper bound on any one array the kernel is asked to fill (a program has at most 1M instructions). */
const MAX_BYTES = 64 << 20;

/** Read a program's image from its fd. Every buffer is exactly as long as the kernel is told. */
export function programImage(fd: number, opts: ProgramImageOptions = {}): ProgramImage {
  const code = opts.code !== false;
  const lines = opts.lines !== false;
  const L = ProgInfoLayout;
  const first = new Uint8Array(L.SIZE);
  objectInfo(fd, first, `program fd ${fd}`);
  const d1 = new DataView(first.buffer);
  const u32 = (off: number) => d1.getUint32(off, true);
  const bounded = (n: number) => Math.min(n, MAX_BYTES);
  const xlated = new Uint8Array(code ? bounded(u32(L.xlated_prog_len)) : 0);
  const jited = new Uint8Array(code ? bounded(u32(L.jited_prog_len)) : 0);
  const nKsyms = Math.min(u32(L.nr_jited_ksyms), MAX_BYTES / 8);
  const ksyms = new BigUint64Array(nKsyms);
  const nFunc = lines ? u32(L.nr_func_info) : 0;
  const funcRec = u32(L.func_info_rec_size);
  const nLine = lines ? u32(L.nr_line_info) : 0;
  const lineRec = u32(L.line_info_rec_size);
  const funcInfo = new Uint8Array(bounded(nFunc * funcRec));
  const lineInfo = new Uint8Array(bounded(nLine * lineRec));
  // jited_line_info records are u64 addresses (rec size 8); the kernel fills them only when it JIT-compiled the program.
  const nJitedLine = lines && u32(L.jited_line_info_rec_size) === 8 ? Math.min(u32(L.nr_jited_line_info), MAX_BYTES / 8) : 0;
  const jitedLines = new BigUint64Array(nJitedLine);
  const nTags = Math.min(u32(L.nr_prog_tags), MAX_BYTES / 8);
  const tags = new Uint8Array(nTags * 8);

  // Ask again with room for each array; lengths and counts say exactly how much room.
  const info = new Uint8Array(L.SIZE);
  const d = new DataView(info.buffer);
  const w = new Uint32Array(info.buffer);
  const give = (lenOff: number, len: number, ptrOff: number, buf: Uint8Array) => {
    d.setUint32(lenOff, len, true);
    if (len) putPtr(w, ptrOff, addressOf(buf));
  };
  give(L.xlated_prog_len, xlated.byteLength, L.xlated_prog_insns, xlated);
  give(L.jited_prog_len, jited.byteLength, L.jited_prog_insns, jited);
  give(L.nr_jited_ksyms, nKsyms, L.jited_ksyms, new Uint8Array(ksyms.buffer));
  if (funcInfo.byteLength === nFunc * funcRec) {
    d.setUint32(L.func_info_rec_size, funcRec, true);
    give(L.nr_func_info, nFunc, L.func_info, funcInfo);
  }
  if (lineInfo.byteLength === nLine * lineRec) {
    d.setUint32(L.line_info_rec_size, lineRec, true);
    give(L.nr_line_info, nLine, L.line_info, lineInfo);
  }
  if (nJitedLine) {
    d.setUint32(L.jited_line_info_rec_size, 8, true);
    give(L.nr_jited_line_info, nJitedLine, L.jited_line_info, new Uint8Array(jitedLines.buffer));
  }
  give(L.nr_prog_tags, nTags, L.prog_tags, tags);
  objectInfo(fd, info, `program fd ${fd}`);
  // The kernel reports the full lengths; it wrote at most what we gave. Keep the part it wrote.
  const wrote = (lenOff: number, buf: Uint8Array, unit = 1) => buf.subarray(0, Math.min(buf.byteLength, d.getUint32(lenOff, true) * unit));
  return {
    xlated: wrote(L.xlated_prog_len, xlated),
    jited: wrote(L.jited_prog_len, jited),
    jitedKsyms: [...ksyms.subarray(0, Math.min(nKsyms, d.getUint32(L.nr_jited_ksyms, true)))],
    funcInfo: funcInfo.byteLength ? wrote(L.nr_func_info, funcInfo, funcRec) : funcInfo,
    funcInfoRecSize: funcRec,
    lineInfo: lineInfo.byteLength ? wrote(L.nr_line_info, lineInfo, lineRec) : lineInfo,
    lineInfoRecSize: lineRec,
    btfId: d.getUint32(L.btf_id, true),
    tag: Buffer.from(first.subarray(L.tag, L.tag + 8)).toString('hex'),
    jitedLineInfo: [...jitedLines.subarray(0, Math.min(nJitedLine, d.getUint32(L.nr_jited_line_info, true)))],
    progTags: Array.from({ length: Math.min(nTags, d.getUint32(L.nr_prog_tags, true)) }, (_, i) => Buffer.from(tags.subarray(i * 8, i * 8 + 8)).toString('hex')),
  };
}
