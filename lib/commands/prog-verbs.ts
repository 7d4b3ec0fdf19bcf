/**
 * bpftool's prog verbs beyond show/dump/loadall: `prog pin`, `prog run`
 * (BPF_PROG_TEST_RUN with data and context files), `prog attach`/`detach`
 * (sockmap and flow dissector hooks, which have no links), `prog tracelog`
 * (trace_pipe) and `prog profile` (run count and run time while
 * BPF_ENABLE_STATS is on).
 */
import { readSync, writeFileSync } from 'node:fs';
import { Program } from '../../bpf/programs/program.ts';
import { AttachType, ProgType, progTypeName } from '../../bpf/programs/types.ts';
import { MapType } from '../../bpf/maps/types.ts';
import { tracePipe } from '../../bpf/link/trace-pipe.ts';
import { readRegularFile } from '../../elf/read-file.ts';
import { BPF_STATS_RUN_TIME, enableStats, progAttach, progDetachRaw } from '../../syscall/commands.ts';
import { BpfError } from '../../syscall/errors.ts';
import { closeFd } from '../../syscall/fd.ts';
import { TsbpfError } from '../../errors.ts';
import { isKeyword, parseArgs, parseUint } from './args.ts';
import { openMap, openProgram, takeRef } from './map-select.ts';
import { JSON_FLAGS, outputOpts, printJson, writeOut } from './out.ts';
import { UsageError, type Command } from './types.ts';

const PROG_REF = ['id', 'pinned', 'tag', 'name'] as const;

/** `PROG` at words[at]: the one program it names, open, and the index after it. */
function takeProgram(words: string[], at = 0): { prog: Program; next: number } {
  const { ref, next } = takeRef(words, at, PROG_REF);
  if (ref.how === 'tag' && !/^[0-9a-f]{16}$/i.test(ref.what)) throw new UsageError(`a tag is 16 hex digits, got '${ref.what}'`);
  return { prog: openProgram(ref), next };
}

const pin: Command = {
  name: 'prog pin',
  usage: 'prog pin PROG FILE [-j|-p]',
  summary: 'pin a program at FILE on bpffs (PROG: id N | pinned PATH | tag T | name N)',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 3 });
    const { prog, next } = takeProgram(positional);
    using p = prog;
    p.pin(positional[next]!);
    if (flags.has('json')) await writeOut('null\n');
    return 0;
  },
};

// ---- run --------------------------------------------------------------------

/** bpftool's default room for data_out and ctx_out. */
const DEFAULT_OUT = 32 * 1024;
/** The largest input taken from standard input, as for files. */
const MAX_STDIN = 1 << 30;

function readStdin(): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        // A non-blocking stdin with nothing yet: wait a little instead of spinning.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === 'EOF') break;
      throw new TsbpfError((e as NodeJS.ErrnoException).code === 'EISDIR' ? 'EISDIR' : 'EIO', `cannot read standard input: ${(e as Error).message}`);
    }
    if (n === 0) break;
    total += n;
    if (total > MAX_STDIN) throw new TsbpfError('FILE_TOO_LARGE', `standard input holds more than ${MAX_STDIN} bytes`);
    parts.push(Buffer.from(chunk.subarray(0, n)));
  }
  return Buffer.concat(parts, total);
}

function readInput(file: string, what: string): Buffer {
  return file === '-' ? readStdin() : readRegularFile(file, what);
}

/** bpftool's hex_print: offset, 16 bytes in pairs, then their ASCII. */
export function hexPrint(data: Uint8Array): string {
  let s = '';
  for (let i = 0; i < data.length; i += 16) {
    s += `${i.toString(16).padStart(7, '0')}\t`;
    for (let j = i; j < i + 16; j++) s += j < data.length ? `${data[j]!.toString(16).padStart(2, '0')}${j % 2 ? ' ' : ''}` : `  ${j % 2 ? ' ' : ''}`;
    s += '| ';
    for (let j = i; j < i + 16 && j < data.length; j++) {
      const c = data[j]!;
      s += (c < 0x20 || c > 0x7e ? '.' : String.fromCharCode(c)) + (j === i + 7 ? ' ' : '');
    }
    s += '\n';
  }
  return s;
}

const RUN_WORDS = ['data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out', 'repeat'] as const;
type RunWord = (typeof RUN_WORDS)[number];

const run: Command = {
  name: 'prog run',
  usage: 'prog run PROG [data_in FILE [data_out FILE [data_size_out L]]] [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] [repeat N] [-j|-p]',
  summary: "run a program in the kernel on the given packet and context (BPF_PROG_TEST_RUN); FILE '-' is stdin/stdout",
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 2, max: 64 });
    const o = outputOpts(flags);
    const { prog, next } = takeProgram(positional);
    using p = prog;
    const opt = new Map<RunWord, string>();
    for (let i = next; i < positional.length; i += 2) {
      const w = positional[i]!;
      const hits = RUN_WORDS.filter((k) => isKeyword(w, k));
      // bpftool's detect_common_prefix: 'data' or 'ctx_' alone is ambiguous.
      if (hits.length > 1) throw new UsageError(`parameter '${w}' is ambiguous (${hits.join(', ')})`);
      const k = hits[0];
      if (!k) throw new UsageError(`expected no more arguments, 'data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out' or 'repeat', got: '${w}'?`);
      const v = positional[i + 1];
      if (v === undefined) throw new UsageError(`'${k}' needs a value`);
      opt.set(k, v);
    }
    if (opt.get('data_in') === '-' && opt.get('ctx_in') === '-') throw new UsageError('cannot use standard input for both data_in and ctx_in');
    const size = (k: RunWord) => (opt.has(k) ? parseUint(k, opt.get(k)!, 16 << 20) : undefined);
    const dataSizeOut = size('data_size_out');
    const ctxSizeOut = size('ctx_size_out');
    const repeat = opt.has('repeat') ? parseUint('repeat', opt.get('repeat')!) : undefined;
    const data = opt.has('data_in') ? readInput(opt.get('data_in')!, 'data_in') : undefined;
    const ctx = opt.has('ctx_in') ? readInput(opt.get('ctx_in')!, 'ctx_in') : undefined;
    const res = p.testRun({
      data,
      ctx,
      dataOutSize: data ? (dataSizeOut || DEFAULT_OUT) : dataSizeOut,
      ctxOutSize: ctx ? (ctxSizeOut || DEFAULT_OUT) : ctxSizeOut,
      // bpftool always asks for one run; SYSCALL programs refuse a repeat count, so none is sent unless given.
      repeat: repeat ?? (p.type === ProgType.SYSCALL ? undefined : 1),
    });
    const json: Record<string, unknown> = {};
    let text = '';
    const emit = (bytes: Buffer | undefined, file: string | undefined, key: string) => {
      if (!bytes?.length || file === undefined) return;
      if (file !== '-') writeFileSync(file, bytes);
      else if (o.json) json[key] = [...bytes];
      else text += hexPrint(bytes);
    };
    emit(res.data, opt.get('data_out'), 'data_out');
    emit(res.ctx, opt.get('ctx_out'), 'ctx_out');
    const retval = res.retval >>> 0;
    if (o.json) await printJson(o, { ...json, retval, duration: res.duration });
    else await writeOut(`${text}Return value: ${retval}, duration${(repeat ?? 1) > 1 ? ' (average)' : ''}: ${res.duration}ns\n`);
    return 0;
  },
};

// ---- attach / detach ----------------------------------------------------------

/** bpftool's ATTACH_TYPE words for prog attach (its short ones and libbpf's names), and the program type each takes. */
const ATTACH_WORDS: Record<string, { type: number; prog: number }> = {
  msg_verdict: { type: AttachType.SK_MSG_VERDICT, prog: ProgType.SK_MSG },
  sk_msg_verdict: { type: AttachType.SK_MSG_VERDICT, prog: ProgType.SK_MSG },
  skb_verdict: { type: AttachType.SK_SKB_VERDICT, prog: ProgType.SK_SKB },
  sk_skb_verdict: { type: AttachType.SK_SKB_VERDICT, prog: ProgType.SK_SKB },
  stream_verdict: { type: AttachType.SK_SKB_STREAM_VERDICT, prog: ProgType.SK_SKB },
  sk_skb_stream_verdict: { type: AttachType.SK_SKB_STREAM_VERDICT, prog: ProgType.SK_SKB },
  stream_parser: { type: AttachType.SK_SKB_STREAM_PARSER, prog: ProgType.SK_SKB },
  sk_skb_stream_parser: { type: AttachType.SK_SKB_STREAM_PARSER, prog: ProgType.SK_SKB },
  flow_dissector: { type: AttachType.FLOW_DISSECTOR, prog: ProgType.FLOW_DISSECTOR },
};

function attachCommand(name: 'prog attach' | 'prog detach'): Command {
  const attach = name === 'prog attach';
  return {
    name,
    usage: `${name} PROG ATTACH_TYPE [MAP] [-j|-p]`,
    summary: `${attach ? 'attach a program to' : 'detach a program from'} a sockmap/sockhash (msg_verdict, skb_verdict, stream_verdict, stream_parser) or this network namespace (flow_dissector)`,
    async run(args) {
      const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 3, max: 5 });
      const { prog, next } = takeProgram(positional);
      using p = prog;
      const word = positional[next];
      const at = word === undefined ? undefined : ATTACH_WORDS[word];
      if (!at) throw new UsageError(`invalid attach/detach type '${word ?? ''}' (one of ${Object.keys(ATTACH_WORDS).join(', ')})`);
      if (p.type !== at.prog) throw new TsbpfError('WRONG_PROGRAM_TYPE', `${word} takes a ${ProgTypeLower(at.prog)} program; program ${p.info().id} is ${ProgTypeLower(p.type)}`);
      const what = { object: `${word} ${p.name}` };
      if (at.type === AttachType.FLOW_DISSECTOR) {
        // The flow dissector hook is the caller's network namespace; no target fd.
        if (positional.length > next + 1) throw new UsageError(`unexpected argument '${positional[next + 1]}': flow_dissector takes no MAP`);
        if (attach) progAttach(0, p.fd, at.type, 0, what);
        else detachOrThrow(0, p.fd, at.type, what.object);
      } else {
        if (positional.length < next + 3) throw new UsageError(`${word} needs a MAP (id N | pinned PATH | name N)`);
        const { ref, next: end } = takeRef(positional, next + 1);
        if (end !== positional.length) throw new UsageError(`unexpected argument '${positional[end]}'`);
        using m = openMap(ref);
        if (m.type !== MapType.SOCKMAP && m.type !== MapType.SOCKHASH) throw new TsbpfError('WRONG_MAP_TYPE', `map '${m.name}' is not a sockmap or sockhash`);
        if (attach) progAttach(m.fd, p.fd, at.type, 0, what);
        else detachOrThrow(m.fd, p.fd, at.type, what.object);
      }
      if (flags.has('json')) await writeOut('null\n');
      return 0;
    },
  };
}

const ProgTypeLower = (t: number) => progTypeName(t).toLowerCase();

function detachOrThrow(target: number, progFd: number, type: number, object: string): void {
  const r = progDetachRaw(target, progFd, type);
  if (r < 0) throw new BpfError('BPF_PROG_DETACH', -r, { object, hints: { ENOENT: 'the program is not attached there' } });
}

// ---- tracelog -------------------------------------------------------------------

/** An abort at the first SIGINT or SIGTERM, for verbs that run until stopped. */
function untilStopped(): AbortController {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  ac.signal.addEventListener('abort', () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  });
  return ac;
}

const tracelog: Command = {
  name: 'prog tracelog',
  usage: 'prog tracelog [-j|-p]',
  summary: 'print bpf_printk output from trace_pipe until Ctrl-C (lines are consumed, as with bpftool)',
  async run(args) {
    const { flags } = parseArgs(args, { ...JSON_FLAGS });
    const o = outputOpts(flags);
    const ac = untilStopped();
    let first = true;
    if (o.json) await writeOut('[');
    for await (const line of tracePipe(ac.signal)) {
      if (o.json) {
        await writeOut(`${first ? '' : ','}${JSON.stringify(line.raw + '\n')}`);
        first = false;
      } else await writeOut(line.raw + '\n');
    }
    if (o.json) await writeOut(']\n');
    return 0;
  },
};

// ---- profile --------------------------------------------------------------------

/** bpftool's perf counter metrics: they need fentry/fexit programs on the target, which tsbpf's profile does not load. */
const PERF_METRICS = ['cycles', 'instructions', 'l1d_loads', 'llc_misses'];

const profile: Command = {
  name: 'prog profile',
  usage: 'prog profile PROG [duration SECONDS] [run_time_ns] [-j|-p]',
  summary: 'count runs and run time of a program (BPF_ENABLE_STATS) for SECONDS or until Ctrl-C',
  async run(args) {
    const { positional, flags } = parseArgs(args, { ...JSON_FLAGS, min: 2, max: 8 });
    const o = outputOpts(flags);
    const { prog, next } = takeProgram(positional);
    using p = prog;
    let i = next;
    let seconds: number | undefined;
    if (positional[i] !== undefined && isKeyword(positional[i], 'duration')) {
      const v = positional[i + 1];
      if (v === undefined) throw new UsageError("'duration' needs a value");
      seconds = parseUint('duration', v, 0x7fffffff, 1);
      i += 2;
    }
    for (; i < positional.length; i++) {
      const w = positional[i]!;
      if (isKeyword(w, 'run_time_ns')) continue;
      if (PERF_METRICS.some((m) => isKeyword(w, m))) {
        throw new TsbpfError('NOT_SUPPORTED', `metric '${w}': tsbpf's profile reports run_cnt and run_time_ns (BPF_ENABLE_STATS); perf counter metrics need fentry/fexit on the target, which it does not load`);
      }
      throw new UsageError(`unknown metric ${w}`);
    }
    // Statistics count while any BPF_ENABLE_STATS fd is open; the deltas below are this window's.
    const statsFd = enableStats(BPF_STATS_RUN_TIME, { object: 'BPF_STATS_RUN_TIME' });
    let before, after;
    try {
      before = p.info();
      const ac = untilStopped();
      // A timer that keeps the process alive until the end (signal handlers alone do not).
      const timer = seconds !== undefined ? setTimeout(() => ac.abort(), seconds * 1000) : setInterval(() => {}, 1 << 30);
      process.stderr.write(`tsbpf: profiling program ${before.id}${seconds !== undefined ? ` for ${seconds}s` : ''}, Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
      clearTimeout(timer);
      after = p.info();
    } finally {
      closeFd(statsFd);
    }
    const runCnt = after.runCount - before.runCount;
    const runTime = after.runTimeNs - before.runTimeNs;
    if (o.json) await printJson(o, [{ metric: 'run_time_ns', run_cnt: Number(runCnt), value: Number(runTime) }]);
    else await writeOut(`\n${String(runCnt).padStart(18)} ${'run_cnt'.padEnd(20)}\n${String(runTime).padStart(18)} ${'run_time_ns'.padEnd(20)}\n`);
    return 0;
  },
};

export const progVerbCommands: Command[] = [pin, run, attachCommand('prog attach'), attachCommand('prog detach'), tracelog, profile];
