/**
 * On-CPU stack sampling (like libbpf-tools' profile): examples/profile.bpf.o (passed in:
 * the CommonJS build cannot find package files)
 * on a perf event per CPU (hardware cycles where there is a PMU, software
 * cpu-clock otherwise), then every counted (pid, kernel stack, user stack)
 * symbolized into frames, outermost first.
 */
import { statSync } from 'node:fs';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection, setVariable } from '../../bpf/loader/collection.ts';
import { attachPerfSampling } from '../../bpf/link/perf-event.ts';
import { Symbolizer, type Frame } from '../../bpf/symbolize/index.ts';
import { PerfType } from '../../syscall/perf-attr.ts';
import type { Link } from '../../bpf/link/link.ts';

export interface ProfileOptions {
  /** The sampling object: examples/profile.bpf.o of the package (the CLI passes it). */
  object: string;
  /** Samples per second per CPU (default 99). */
  frequency?: number;
  pid?: number;
  tid?: number;
  /** A cgroup v2 directory: only its tasks. */
  cgroup?: string;
  includeIdle?: boolean;
  /** Resolves when sampling should stop. */
  until: Promise<unknown>;
  symbolizer?: Symbolizer;
  /** Source file and line in user frames (.debug_line), when no `symbolizer` is given; default false. */
  lines?: boolean;
  /** Called once sampling runs. */
  onReady?: (event: 'cycles' | 'cpu-clock') => void;
}

/** One sampled stack: frames outermost (e.g. main) first, user frames below kernel frames. */
export interface ProfileStack {
  readonly pid: number;
  readonly comm: string;
  readonly count: number;
  readonly frames: readonly Frame[];
}

export interface ProfileResult {
  readonly event: 'cycles' | 'cpu-clock';
  readonly stacks: ProfileStack[];
  readonly samples: number;
}

export async function profile(opts: ProfileOptions): Promise<ProfileResult> {
  const spec = loadCollectionSpec(opts.object);
  if (opts.pid) setVariable(spec, 'target_tgid', opts.pid);
  if (opts.tid) setVariable(spec, 'target_tid', opts.tid);
  // A cgroup v2 directory's inode number is the id bpf_get_current_cgroup_id returns.
  if (opts.cgroup) setVariable(spec, 'target_cgroup', statSync(opts.cgroup, { bigint: true }).ino);
  if (opts.includeIdle) setVariable(spec, 'include_idle', 1);
  using coll = loadCollection(spec);
  const prog = coll.programs['do_sample']!;
  const frequency = opts.frequency ?? 99;
  let link: Link;
  let event: 'cycles' | 'cpu-clock' = 'cycles';
  try {
    link = attachPerfSampling(prog, { type: PerfType.HARDWARE, config: 0 /* CPU_CYCLES */, frequency });
  } catch {
    event = 'cpu-clock'; // no PMU (VMs, containers): the hrtimer-driven software clock
    link = attachPerfSampling(prog, { frequency });
  }
  try {
    opts.onReady?.(event);
    await opts.until;
  } finally {
    link.close();
  }
  const sym = opts.symbolizer ?? new Symbolizer({ lines: opts.lines === true });
  const stacksMap = coll.maps['stacks']!;
  const stacks: ProfileStack[] = [];
  let samples = 0;
  const decoder = new TextDecoder();
  for (const [key, value] of coll.maps['counts']!.entries()) {
    const pid = key.readUInt32LE(0);
    const kid = key.readInt32LE(4);
    const uid = key.readInt32LE(8);
    const nul = key.indexOf(0, 12);
    const comm = decoder.decode(key.subarray(12, nul < 0 || nul > 28 ? 28 : nul));
    const count = Number(value.readBigUInt64LE(0));
    samples += count;
    const kernel = kid >= 0 ? safe(() => sym.frames(stacksMap.stackTrace(kid) ?? [], pid)) : [];
    const user = uid >= 0 && pid ? safe(() => sym.frames(stacksMap.stackTrace(uid) ?? [], pid)) : [];
    // Stack maps hold innermost first; flame graphs read outermost first.
    stacks.push({ pid, comm, count, frames: [...user.reverse(), ...kernel.reverse()] });
  }
  stacks.sort((a, b) => b.count - a.count);
  return { event, stacks, samples };
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
