/**
 * Benchmark harness: every workload measures tsbpf and its baseline (libbpf,
 * or bpftool) in the same run, so that every figure has a ratio.
 *
 * The baseline side of a workload is a C program `bench/libbpf/<name>.c`,
 * built here with gcc against Debian's libbpf-dev, which prints one JSON
 * object per line: {"metric": "...", "value": <number>, "unit": "..."}.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Who measured: tsbpf, or its baseline (libbpf, bpftool, or a hand-written DataView decoder). */
export type Impl = 'tsbpf' | 'libbpf' | 'bpftool' | 'dataview';

export interface Measurement {
  workload: string;
  impl: Impl;
  metric: string;
  value: number;
  unit: string;
}

export interface BenchContext {
  /** Repository root (where package.json is). */
  root: string;
  /** Extra arguments after the workload names, e.g. `--quick`. */
  quick: boolean;
  log(message: string): void;
  /** Build (if stale) and run bench/libbpf/<program>.c with args; parse its JSON lines. */
  runC(program: string, args?: string[]): Measurement[];
}

export interface Workload {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Measurement[]>;
}

export function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the repository root');
    dir = up;
  }
  return dir;
}

export function buildC(root: string, program: string): string {
  const src = resolve(root, 'bench/libbpf', `${program}.c`);
  const outDir = resolve(root, 'bench/.build');
  const out = join(outDir, program);
  mkdirSync(outDir, { recursive: true });
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    execFileSync('gcc', ['-O2', '-o', out, src, '-lbpf', '-lelf', '-lz'], { stdio: 'inherit' });
  }
  return out;
}

export function runC(root: string, workload: string, program: string, args: string[] = []): Measurement[] {
  const bin = buildC(root, program);
  const res = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (res.status !== 0) {
    throw new Error(`bench: ${program} exited with ${res.status}: ${res.stderr}`);
  }
  const out: Measurement[] = [];
  for (const line of res.stdout.split('\n')) {
    if (!line.trim()) continue;
    const o = JSON.parse(line) as { metric: string; value: number; unit: string; impl?: Impl };
    out.push({ workload, impl: o.impl ?? 'libbpf', metric: o.metric, value: o.value, unit: o.unit });
  }
  return out;
}

/** Median of a few samples: timings here are noisy. */
/** The V8 garbage collector as a function (exposed on first use when node ran without --expose-gc). */
export function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nanoseconds elapsed while running fn once. */
export function timeNs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

export function formatTable(ms: Measurement[]): string {
  const rows: string[][] = [['workload', 'metric', 'unit', 'tsbpf', 'baseline', 'impl', 'ratio']];
  const key = (m: Measurement) => `${m.workload}\0${m.metric}`;
  const seen = new Map<string, { ts?: Measurement; base?: Measurement }>();
  for (const m of ms) {
    const e = seen.get(key(m)) ?? {};
    if (m.impl === 'tsbpf') e.ts = m;
    else e.base = m;
    seen.set(key(m), e);
  }
  for (const { ts, base } of seen.values()) {
    const any = (ts ?? base)!;
    const fmt = (v?: number) => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
    const ratio = ts && base && base.value > 0 ? (ts.value / base.value).toFixed(2) + 'x' : '-';
    rows.push([any.workload, any.metric, any.unit, fmt(ts?.value), fmt(base?.value), base?.impl ?? '-', ratio]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
