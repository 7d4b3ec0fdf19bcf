/**
 * Symbolizer lines for BPF program frames: a real program built with -g,
 * its JIT addresses (jited_line_info and jited_ksyms from prog info)
 * symbolized, and each line checked against what bpftool's `prog dump
 * xlated id N linum` prints for the instruction the line record names.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { loadCollection } from '../bpf/loader/collection.ts';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { programImage } from '../bpf/programs/dump.ts';
import { lineRecords } from '../bpf/programs/line-info.ts';
import { Program } from '../bpf/programs/program.ts';
import { asm, encodeInsns } from '../bpf/programs/insn.ts';
import { Symbolizer } from '../bpf/symbolize/index.ts';
import { fdCount, which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const OBJ = new URL('./bpf/loader_static.o', import.meta.url).pathname;
const STACK_OBJ = new URL('./bpf/symbolize_stack.o', import.meta.url).pathname;
const STACK_SRC = new URL('./bpf/symbolize_stack.c', import.meta.url).pathname;

/** The 1-based line of the source line holding `marker`. */
function lineOf(path: string, marker: string): number {
  return readFileSync(path, 'utf8').split('\n').findIndex((l) => l.includes(marker)) + 1;
}

/** bpftool's xlated linum listing: instruction index -> { file, line } of the "; ..." line printed before it. */
function bpftoolLines(id: number): Map<number, { file: string; line: number }> {
  const text = execFileSync(which('bpftool')!, ['prog', 'dump', 'xlated', 'id', String(id), 'linum'], { encoding: 'utf8' });
  const out = new Map<number, { file: string; line: number }>();
  let pending: { file: string; line: number } | undefined;
  for (const l of text.split('\n')) {
    const src = /\[file:(\S*) line_num:(\d+) line_col:\d+\]$/.exec(l);
    if (src) {
      pending = { file: src[1]!, line: Number(src[2]) };
      continue;
    }
    const insn = /^\s*(\d+): /.exec(l);
    if (insn && pending) {
      out.set(Number(insn[1]), pending);
      pending = undefined;
    }
  }
  return out;
}

describe('Symbolizer lines: BPF program frames from their BTF line info', () => {
  ktest('each JIT line start, and the bytes after it, has the line bpftool prints for its instruction', (ctx) => {
    if (!which('bpftool')) return ctx.skip();
    const fds = fdCount();
    {
      using c = loadCollection(loadCollectionSpec(OBJ));
      const prog = c.programs.calls_static!;
      const img = programImage(prog.fd);
      expect(img.jitedKsyms.length).toBe(3); // calls_static, add_one, times_two: subprograms are their own images
      expect(img.jitedLineInfo.length).toBeGreaterThan(img.jitedKsyms.length);
      const recs = lineRecords(img, undefined);
      const oracle = bpftoolLines(prog.info().id);

      // The address of a record whose code is empty is shared with the next record: the code there is the later one's.
      const addrs: bigint[] = [];
      const want: number[] = [];
      img.jitedLineInfo.forEach((a, i) => {
        if (img.jitedLineInfo.slice(i + 1).includes(a)) return;
        addrs.push(a);
        want.push(oracle.get(recs[i]!.insnOff)!.line);
        // One byte in: still this record's line, unless the next record starts there.
        if (!img.jitedLineInfo.includes(a + 1n)) {
          addrs.push(a + 1n);
          want.push(oracle.get(recs[i]!.insnOff)!.line);
        }
      });
      expect(want.every((l) => l > 0)).toBe(true);
      const s = new Symbolizer({ lines: true });
      const frames = s.kernel(addrs);
      for (const f of frames) {
        expect(f.kind).toBe('bpf');
        expect(f.symbol).toMatch(/^bpf_prog_[0-9a-f]{16}_(calls_static|add_one|times_two)$/);
        expect(f.file).toMatch(/test\/bpf\/loader_static\.c$/);
      }
      expect(frames.map((f) => f.line)).toEqual(want);
      // Every function's lines, not only the main one's.
      expect(new Set(frames.map((f) => f.symbol!.replace(/^bpf_prog_[0-9a-f]+_/, '')))).toEqual(new Set(['calls_static', 'add_one', 'times_two']));
      // The lines the source gives: add_one's body at 9, times_two's at 15, the caller's return at 21.
      expect(new Set(frames.map((f) => f.line))).toEqual(new Set([7, 9, 13, 15, 21]));

      // One program's lines read once: kallsyms and this program's table held, and asking again finds the same.
      expect(s.stats().tables).toBe(2);
      expect(s.kernel(addrs).map((f) => f.line)).toEqual(want);
      expect(s.stats().tables).toBe(2);

      // frames(): BPF addresses after the innermost are return addresses, their line the call's (address - 1).
      const callRet = img.jitedLineInfo[recs.findIndex((r) => r.insnOff === 2)]!; // after `call add_one` at insn 1
      const stack = s.frames([img.jitedKsyms[1]!, callRet]);
      expect(stack.map((f) => f.line)).toEqual([oracle.get(5)!.line, oracle.get(recs.filter((r) => r.insnOff < 2).at(-1)!.insnOff)!.line]);

      // Without the option: names only.
      const plain = new Symbolizer().kernel(addrs);
      expect(plain.every((f) => f.kind === 'bpf' && f.file === undefined && f.line === undefined)).toBe(true);
    }
    expect(fdCount()).toBe(fds);
  });

  ktest('a program without BTF keeps its name and gets no line; no fd is left open', () => {
    const fds = fdCount();
    {
      using prog = Program.load({ name: 'nolines', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });
      const img = programImage(prog.fd);
      const [f] = new Symbolizer({ lines: true }).kernel([img.jitedKsyms[0]! + 1n]);
      expect(f!.kind).toBe('bpf');
      expect(f!.symbol).toMatch(/_nolines$/);
      expect(f!.file).toBeUndefined();
      expect(f!.line).toBeUndefined();
    }
    expect(fdCount()).toBe(fds);
  });

  ktest('a program that records its own stack (bpf_get_stack under BPF_PROG_TEST_RUN): its frames name the helper call and the subprogram call', () => {
    const fds = fdCount();
    {
      using c = loadCollection(loadCollectionSpec(STACK_OBJ));
      const prog = c.programs.record_stack!;
      const depth = prog.testRun({ ctx: new Uint8Array(8), repeat: 0 }).retval; // raw_tp refuses a repeat count
      expect(depth).toBeGreaterThanOrEqual(16); // bytes written: at least two frames
      const buf = c.maps.stacks!.lookup(new Uint8Array(4))!;
      const ips = [...new BigUint64Array(buf.buffer, buf.byteOffset, depth / 8)];
      const frames = new Symbolizer({ lines: true }).frames(ips);
      const bpf = frames.filter((f) => f.kind === 'bpf' && /^bpf_prog_[0-9a-f]{16}_(record|record_stack)$/.test(f.symbol ?? ''));
      expect(bpf.map((f) => f.symbol!.replace(/^bpf_prog_[0-9a-f]+_/, ''))).toEqual(['record', 'record_stack']);
      for (const f of bpf) expect(f.file).toMatch(/test\/bpf\/symbolize_stack\.c$/);
      // The helper's caller: the line of the bpf_get_stack call; the subprogram's caller: the line calling it.
      expect(bpf.map((f) => f.line)).toEqual([lineOf(STACK_SRC, 'GET_STACK_LINE'), lineOf(STACK_SRC, 'CALL_LINE')]);
    }
    expect(fdCount()).toBe(fds);
  });
});
