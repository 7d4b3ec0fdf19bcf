/**
 * On-CPU stack sampling (like libbpf-tools' profile): examples/profile.bpf.o (passed in:
 * the CommonJS build cannot find package files)
 * on a perf event per CPU (hardware cycles where there is a PMU, software
 * cpu-clock otherwise), then every counted (pid, kernel stack, user stack)
 * symbolized into frames, outermost first. Off-CPU (like offcputime):
 * examples/offcpu.bpf.o on the raw sched_switch tracepoint sums the time
 * tasks spend blocked by the stack they blocked in; counts are microseconds.
 */
import { statSync } from 'node:fs';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection, setVariable } from '../../bpf/loader/collection.ts';
import { attachPerfSampling } from '../../bpf/link/perf-event.ts';
import { Symbolizer, type Frame } from '../../bpf/symbolize/index.ts';
import { attachRawTracepoint } from '../../bpf/link/raw-tracepoint.ts';
import type { Collection } from '../../bpf/loader/collection.ts';
import { PerfType } from '../../syscall/perf-attr.ts';
import { BpfError } from '../../syscall/errors.ts';
import { Errno } from '../../syscall/index.ts';
import type { Link } from '../../bpf/link/link.ts';

export interface ProfileOptions {
  /** The sampling object: examples/profile.bpf.o of the package, or examples/offcpu.bpf.o with `offCpu` (the CLI passes it). */
  object: string;
  /** Blocked time by stack instead of on-CPU samples; `object` is then examples/offcpu.bpf.o. */
  offCpu?: boolean;
  /** Samples per second per CPU (default 99; on-CPU only). */
  frequency?: number;
  pid?: number;
  tid?: number;
  /** A cgroup v2 directory: only its tasks. */
  cgroup?: string;
  /** On-CPU: sample the idle task too. */
  includeIdle?: boolean;
  /** Resolves when sampling should stop. */
  until: Promise<unknown>;
  symbolizer?: Symbolizer;
  /** Source file and line in user frames (.debug_line), when no `symbolizer` is given; default false. */
  lines?: boolean;
  /** Called once sampling runs. */
  onReady?: (event: ProfileEvent) => void;
}

/** One sampled stack: frames outermost (e.g. main) first, user frames below kernel frames. */
export interface ProfileStack {
  readonly pid: number;
  readonly comm: string;
  /** Samples, or microseconds blocked (off-CPU). */
  readonly count: number;
  readonly frames: readonly Frame[];
}

/** What was counted: on-CPU samples of hardware cycles or the software cpu-clock, or off-CPU (blocked) microseconds. */
export type ProfileEvent = 'cycles' | 'cpu-clock' | 'off-cpu';

export interface ProfileResult {
  readonly event: ProfileEvent;
  /** Heaviest first; `count` is samples, or microseconds blocked for 'off-cpu'. */
  readonly stacks: ProfileStack[];
  /** The sum of the counts (samples, or microseconds for 'off-cpu'). */
  readonly samples: number;
}

export async function profile(opts: ProfileOptions): Promise<ProfileResult> {
  const spec = loadCollectionSpec(opts.object);
  if (opts.pid) setVariable(spec, 'target_tgid', opts.pid);
  if (opts.tid) setVariable(spec, 'target_tid', opts.tid);
  // A cgroup v2 directory's inode number is the id bpf_get_current_cgroup_id returns.
  if (opts.cgroup) setVariable(spec, 'target_cgroup', statSync(opts.cgroup, { bigint: true }).ino);
  if (opts.includeIdle && !opts.offCpu) setVariable(spec, 'include_idle', 1);
  using coll = loadCollection(spec);
  const [event, link] = opts.offCpu ? ['off-cpu' as const, attachSwitch(coll)] : attachSampling(coll, opts.frequency ?? 99);
  try {
    opts.onReady?.(event);
    await opts.until;
  } finally {
    link.close();
  }
  // Off-CPU totals are nanoseconds: report whole microseconds, as offcputime does.
  const stacks = readStacks(coll, opts.symbolizer ?? new Symbolizer({ lines: opts.lines === true }), opts.offCpu ? (ns) => Number(ns / 1000n) : Number, !!opts.offCpu);
  return { event, stacks, samples: stacks.reduce((a, s) => a + s.count, 0) };
}

function attachSampling(coll: Collection, frequency: number): [ProfileEvent, Link] {
  const prog = coll.programs['do_sample']!;
  try {
    return ['cycles', attachPerfSampling(prog, { type: PerfType.HARDWARE, config: 0 /* CPU_CYCLES */, frequency })];
  } catch {
    // No PMU (VMs, containers): the hrtimer-driven software clock.
    return ['cpu-clock', attachPerfSampling(prog, { frequency })];
  }
}

function attachSwitch(coll: Collection): Link {
  try {
    return attachRawTracepoint(coll.programs['on_switch']!, 'sched_switch');
  } catch (e) {
    // Before 5.18 sched_switch has no prev_state argument: the program reading it does not attach (EINVAL).
    if (!(e instanceof BpfError && e.errno === Errno.EINVAL)) throw e;
    return attachRawTracepoint(coll.programs['on_switch_no_state']!, 'sched_switch');
  }
}

/** The counts map's (pid, kernel stack, user stack, comm) keys, symbolized; heaviest first. */
function readStacks(coll: Collection, sym: Symbolizer, toCount: (value: bigint) => number, fromTracepoint: boolean): ProfileStack[] {
  const stacksMap = coll.maps['stacks']!;
  const stacks: ProfileStack[] = [];
  const decoder = new TextDecoder();
  for (const [key, value] of coll.maps['counts']!.entries()) {
    const pid = key.readUInt32LE(0);
    const kid = key.readInt32LE(4);
    const uid = key.readInt32LE(8);
    const nul = key.indexOf(0, 12);
    const comm = decoder.decode(key.subarray(12, nul < 0 || nul > 28 ? 28 : nul));
    const count = toCount(value.readBigUInt64LE(0));
    if (count === 0) continue;
    const kernel = kid >= 0 ? safe(() => sym.frames(stacksMap.stackTrace(kid) ?? [], pid)) : [];
    // A stack taken in a tracepoint program starts in the program and the tracepoint's glue: not the task's.
    while (fromTracepoint && kernel.length && isTracingGlue(kernel[0]!)) kernel.shift();
    const user = uid >= 0 && pid ? safe(() => sym.frames(stacksMap.stackTrace(uid) ?? [], pid)) : [];
    // Stack maps hold innermost first; flame graphs read outermost first.
    stacks.push({ pid, comm, count, frames: [...user.reverse(), ...kernel.reverse()] });
  }
  return stacks.sort((a, b) => b.count - a.count);
}

function isTracingGlue(f: Frame): boolean {
  return f.kind === 'bpf' || /^(?:bpf_trace_run\d+|__bpf_trace_\w+|__traceiter_\w+|bpf_prog_\w+)$/.test(f.symbol ?? '');
}

function safe(f: () => Frame[]): Frame[] {
  try {
    return f();
  } catch (e) {
    if ((e as { code?: string }).code === 'KALLSYMS_HIDDEN') return [];
    throw e;
  }
}

/** A frame's name in folded output and flame graphs; with `lines`, " (file:line)" after it when the frame has one (the file's base name). */
export function frameName(f: Frame, lines = false): string {
  if (lines && f.line !== undefined && f.kind === 'user') return `${frameName(f)} (${(f.file ?? '?').split('/').pop()}:${f.line})`;
  if (f.symbol !== undefined) return f.kind === 'kernel' || f.kind === 'bpf' ? `${f.symbol}_[k]` : f.kind === 'jit' ? `${f.symbol}_[j]` : f.symbol;
  const base = f.module.split('/').pop() || f.module;
  return `[${base.replace(/^\[|\]$/g, '')}]`;
}

/** Brendan Gregg's folded stacks: "comm;outer;...;inner count" per line; `lines` adds "_(file:line)" to user frames that have one. */
export function foldedStacks(result: ProfileResult, opts: { lines?: boolean } = {}): string {
  const merged = new Map<string, number>();
  for (const s of result.stacks) {
    const line = [s.comm.replace(/[; ]/g, '_') || '[unknown]', ...s.frames.map((f) => frameName(f, opts.lines).replace(/;/g, ':').replace(/\s+/g, '_'))].join(';');
    merged.set(line, (merged.get(line) ?? 0) + s.count);
  }
  return [...merged].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} ${n}\n`).join('');
}
