/**
 * Verifier rejections: the whole log, a short summary, and the failing
 * instruction (mapped to its C source line when the program has line info).
 */
import { BpfError } from '../../syscall/errors.ts';
import { Errno } from '../../syscall/errno.ts';

export interface SourceLine {
  file: string;
  line: number;
  column: number;
  text: string;
}

export class VerifierError extends BpfError {
  /** The complete verifier log. */
  readonly log: string;
  /** The last meaningful lines of the log. */
  readonly summary: string;
  /** Index of the instruction the verifier stopped at, when the log names one. */
  readonly insn: number | undefined;
  /** C source of that instruction, from line_info. */
  readonly source: SourceLine | undefined;

  /** The log overflowed the largest buffer tried: `log` is its tail (6.4+) or head. */
  readonly truncated: boolean;

  constructor(program: string, errno: number, log: string, source?: (insn: number) => SourceLine | undefined, opts: { truncated?: boolean } = {}) {
    const summary = summarize(log);
    const insn = failingInsn(log);
    const src = insn !== undefined ? source?.(insn) : undefined;
    const where = src ? ` at ${src.file}:${src.line}: ${src.text.trim()}` : insn !== undefined ? ` at instruction ${insn}` : '';
    const what = errno === Errno.E2BIG ? 'program too large or too complex to verify' : 'verifier rejected the program';
    super(
      'BPF_PROG_LOAD',
      errno,
      { object: program, hints: { E2BIG: E2BIG_HINT } },
      `${what}${where}${summary ? `: ${summary.split('\n').slice(-2).join(' | ')}` : ''}${opts.truncated ? ' [log truncated]' : ''}`,
    );
    this.log = log;
    this.summary = summary;
    this.insn = insn;
    this.source = src;
    this.truncated = opts.truncated ?? false;
  }
}

// E2BIG from PROG_LOAD: more instructions than BPF_MAXINSNS / 1M, or the verifier explored more than
// its 1M-instruction budget (a loop it cannot bound, or too many paths).
const E2BIG_HINT =
  'the verifier gave up after exploring its limit of 1M instructions (or the program has too many instructions): bound loops with a small constant, use bpf_loop(), or split the program into subprograms or tail calls';

/** Drop the statistics trailer and keep the last few lines that say what went wrong. */
export function summarize(log: string, lines = 4): string {
  const ls = log
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l && !/^(processed \d+ insns|verification time|stack depth|max_states_per_insn|mark_read)/.test(l));
  return ls.slice(-lines).join('\n');
}

/** The last "N: (op) ..." instruction line in the log is where the verifier stopped. */
export function failingInsn(log: string): number | undefined {
  let last: number | undefined;
  for (const m of log.matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)) last = Number(m[1]);
  return last;
}
