/**
 * `tsbpf prog dump xlated|jited`: a loaded program's instructions as bpftool
 * prints them: the function signature from func info, the C source line from
 * line info (with `linum`, its file, line and column), each instruction in the
 * verifier's notation with helper names from kallsyms, map ids and (with
 * `opcodes`) its bytes. jited prints the machine code's bytes (bpftool needs
 * libbfd to disassemble them; Debian's build has none), or writes them to a file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Program } from '../../bpf/programs/program.ts';
import { programImage, type ProgramImage } from '../../bpf/programs/dump.ts';
import {
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  disassemble,
  type DisasmNames,
  type RawInsn,
} from '../../bpf/programs/disasm.ts';
import { btfById } from '../../bpf/btf/objects.ts';
import { lineRecords, records, type LineRec } from '../../bpf/programs/line-info.ts';
import { kernelBtf } from '../../bpf/btf/kernel.ts';
import { Btf } from '../../btf/btf.ts';
import { typeSignature } from '../../btf/signature.ts';
import { UsageError, type Command } from './types.ts';
import { parseArgs } from './args.ts';
import { JSON_FLAGS, outputOpts, type OutputOpts } from './out.ts';
import { eachSelectedProgram } from './prog-show.ts';

/** Kernel symbols by exact address (bpftool's kernel_syms_search), read once. */
let kallsyms: KernelSymbols | undefined;

/**
 * /proc/kallsyms, searched on demand: a dump names a handful of addresses, and
 * parsing all ~120k lines into a map costs seconds in a cold process.
 */
class KernelSymbols {
  readonly #text: string;
  readonly #cache = new Map<bigint, string | undefined>();
  /** __bpf_call_base: helper calls hold their target as an offset from it. Undefined under kptr_restrict. */
  readonly callBase: bigint | undefined;

  constructor(text: string) {
    this.#text = text;
    const at = text.indexOf(' __bpf_call_base\n');
    const start = at < 0 ? -1 : text.lastIndexOf('\n', at) + 1;
    const base = start < 0 ? 0n : BigInt('0x' + text.slice(start, text.indexOf(' ', start)));
    // kptr_restrict: addresses read as zero, and bpftool then uses no symbols at all.
    this.callBase = base || undefined;
  }

  /** The first symbol kallsyms lists at `address`. */
  at(address: bigint): string | undefined {
    if (!this.callBase || !address) return undefined;
    if (this.#cache.has(address)) return this.#cache.get(address);
    const hex = address.toString(16).padStart(16, '0');
    const t = this.#text;
    let i = t.startsWith(hex + ' ') ? 0 : t.indexOf('\n' + hex + ' ');
    let name: string | undefined;
    if (i >= 0) {
      if (i > 0) i++;
      const sp2 = t.indexOf(' ', i + hex.length + 1);
      let end = t.indexOf('\n', sp2);
      if (end < 0) end = t.length;
      const tab = t.indexOf('\t', sp2);
      if (tab >= 0 && tab < end) end = tab;
      name = t.slice(sp2 + 1, end);
    }
    this.#cache.set(address, name);
    return name;
  }
}

function kernelSymbols(): KernelSymbols {
  if (kallsyms) return kallsyms;
  let text = '';
  try {
    text = readFileSync('/proc/kallsyms', 'latin1');
  } catch {
    // No kallsyms: helpers print as addresses.
  }
  return (kallsyms = new KernelSymbols(text));
}

/** Helper names by id (`bpf_map_lookup_elem` for 1), from the kernel's enum bpf_func_id. */
let helperNames: string[] | undefined;
function helperName(id: number): string | undefined {
  if (!helperNames) {
    helperNames = [];
    try {
      const e = kernelBtf().findByName('bpf_func_id', 'enum');
      for (const v of e?.values ?? []) if (v.name.startsWith('BPF_FUNC_') && v.name !== 'BPF_FUNC_unspec' && v.name !== '__BPF_FUNC_MAX_ID') helperNames[Number(v.value)] = 'bpf_' + v.name.slice(9);
    } catch {
      // No kernel BTF: names from kallsyms only.
    }
  }
  return helperNames[id];
}

/** bpftool's print_call and print_imm for one program. */
function namesFor(img: ProgramImage): DisasmNames {
  return {
    call(insn: RawInsn) {
      if (insn.src === 0 && insn.imm >= 0 && helperName(insn.imm)) return helperName(insn.imm);
      const syms = kernelSymbols();
      let address = BigInt.asUintN(64, (syms.callBase ?? 0n) + BigInt(insn.imm));
      if (insn.src === BPF_PSEUDO_CALL && insn.imm >= 0 && insn.imm < img.jitedKsyms.length) address = img.jitedKsyms[insn.imm]!;
      const sym = syms.at(address);
      const signed = (n: number) => (n < 0 ? `${n}` : `+${n}`);
      if (insn.src === BPF_PSEUDO_CALL) {
        if (!img.jitedKsyms.length) return signed(insn.off);
        return sym ? `${signed(insn.off)}#${sym}` : `${signed(insn.off)}#0x${address.toString(16)}`;
      }
      return sym ?? `0x${address.toString(16)}`;
    },
    imm(insn: RawInsn, next: RawInsn, full: bigint) {
      if (insn.src === BPF_PSEUDO_MAP_FD) return `map[id:${insn.imm >>> 0}]`;
      if (insn.src === BPF_PSEUDO_MAP_VALUE) return `map[id:${insn.imm >>> 0}][0]+${next.imm >>> 0}`;
      if (insn.src === BPF_PSEUDO_FUNC) return `subprog[${insn.imm < 0 ? insn.imm : `+${insn.imm}`}]`;
      return `0x${full.toString(16)}`;
    },
  };
}

interface XlatedRow {
  index: number;
  proto?: string;
  src?: LineRec;
  disasm: string;
  bytes: Uint8Array;
}

/** The rows bpftool prints for the xlated image, with its quirk of searching line info from the count printed so far. */
function xlatedRows(img: ProgramImage): XlatedRow[] {
  let btf: Btf | undefined;
  if (img.btfId) {
    try {
      btf = btfById(img.btfId);
    } catch {
      btf = undefined;
    }
  }
  const funcs = records(img.funcInfo, img.funcInfoRecSize, (v, at) => ({ insnOff: v.getUint32(at, true), typeId: v.getUint32(at + 4, true) }));
  const lines = lineRecords(img, btf);
  const names = namesFor(img);
  const out: XlatedRow[] = [];
  let f = 0;
  let skip = 0;
  for (const { index, text, next } of disassemble(img.xlated, names)) {
    const row: XlatedRow = { index, disasm: text, bytes: img.xlated.subarray(index * 8, (index + (next ? 2 : 1)) * 8) };
    if (btf && f < funcs.length && funcs[f]!.insnOff === index) {
      const sig = typeSignature(btf, funcs[f]!.typeId);
      if (sig) row.proto = sig;
      f++;
    }
    if (lines.length) {
      // bpf_prog_linfo__lfind: the first record from `skip` on whose insn_off is this index.
      for (let k = skip; k < lines.length; k++) {
        if (lines[k]!.insnOff === index) {
          row.src = lines[k];
          skip++;
          break;
        }
      }
    }
    out.push(row);
  }
  return out;
}

const hexBytes = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

function printXlated(img: ProgramImage, opts: OutputOpts & { opcodes: boolean; linum: boolean }): string {
  const rows = xlatedRows(img);
  if (opts.json) {
    const hexList = (b: Uint8Array) => [...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`);
    return JSON.stringify(
      rows.map((r) => {
        const o: Record<string, unknown> = {};
        if (r.proto) o.proto = r.proto;
        if (r.src?.line !== undefined) o.src = r.src.line.trimStart();
        if (r.src && opts.linum) {
          if (r.src.file !== undefined) o.file = r.src.file;
          if (r.src.lineNum) o.line_num = r.src.lineNum;
          if (r.src.lineCol) o.line_col = r.src.lineCol;
        }
        o.disasm = r.disasm;
        if (opts.opcodes) {
          const b = r.bytes;
          o.opcodes = { code: `0x${b[0]!.toString(16).padStart(2, '0')}`, src_reg: `0x${(b[1]! >> 4).toString(16)}`, dst_reg: `0x${(b[1]! & 0xf).toString(16)}`, off: hexList(b.subarray(2, 4)), imm: hexList(b.subarray(4, b.byteLength > 8 ? 16 : 8)) };
        }
        return o;
      }),
      null,
      opts.pretty ? 4 : undefined,
    );
  }
  const out: string[] = [];
  for (const r of rows) {
    if (r.proto) out.push(`${r.proto}:`);
    if (r.src?.line !== undefined) {
      const l = r.src.line.trimStart();
      out.push(opts.linum ? `; ${l} [file:${r.src.file ?? ''} line_num:${r.src.lineNum} line_col:${r.src.lineCol}]` : `; ${l}`);
    }
    out.push(`${String(r.index).padStart(4)}: ${r.disasm}`);
    if (opts.opcodes) out.push(`       ${hexBytes(r.bytes.subarray(0, 8))}${r.bytes.byteLength > 8 ? ` ${hexBytes(r.bytes.subarray(8))}` : ''}`);
  }
  return out.join('\n');
}

/** Split `xlated|jited PROG... [file FILE] [opcodes] [linum] [visual]` into its parts. */
function parseDump(positional: string[]): { kind: 'xlated' | 'jited'; select: string[]; file?: string; opcodes: boolean; linum: boolean } {
  const [kind, ...rest] = positional;
  if (kind !== 'xlated' && kind !== 'jited') throw new UsageError(`expected 'xlated' or 'jited', got '${kind ?? ''}'`);
  const select = rest.slice(0, 2);
  if (select.length < 2) throw new UsageError('expected a program: id N, pinned PATH, tag T or name N');
  let file: string | undefined;
  let opcodes = false;
  let linum = false;
  for (let i = 2; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === 'file') {
      file = rest[++i];
      if (file === undefined) throw new UsageError("'file' needs a path");
    } else if (w === 'opcodes') opcodes = true;
    else if (w === 'linum') linum = true;
    else throw new UsageError(`unknown option '${w}' (file FILE, opcodes, linum)`);
  }
  return { kind, select, file, opcodes, linum };
}

export const progDump: Command = {
  name: 'prog dump',
  usage: 'prog dump xlated|jited PROG [file FILE] [opcodes] [linum] [-j|-p]',
  summary: "a loaded program's translated instructions (source lines, helper names, map ids) or its JIT-compiled bytes",
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 3, max: 8 });
    const d = parseDump(positional);
    const o = outputOpts(flags);
    const json = o.json;
    const dump = (p: Program) => {
      const img = programImage(p.fd);
      const code = d.kind === 'xlated' ? img.xlated : img.jited;
      if (d.file !== undefined) {
        writeFileSync(d.file, code);
        if (json) process.stdout.write('null\n');
        return;
      }
      if (d.kind === 'jited') {
        if (!code.byteLength) throw new UsageError('no instructions returned: the program is not JIT-compiled');
        process.stdout.write(json ? JSON.stringify({ bytes: code.byteLength, hex: hexBytes(code) }, null, o.pretty ? 4 : undefined) + '\n' : hexBytes(code).replace(/((?:\S\S ){15}\S\S) /g, '$1\n') + '\n');
        return;
      }
      process.stdout.write(printXlated(img, { ...o, opcodes: d.opcodes, linum: d.linum }) + '\n');
    };
    eachSelectedProgram(d.select, dump);
    return 0;
  },
};
