/**
 * Runs fuzz cases (./driver.ts) in child processes under a watchdog, so that a
 * hang or a crash is reported with its case number instead of stopping the
 * run: a worker that spends `caseTimeoutMs` of CPU (or ten times that in
 * silence) without a result is killed and its current case
 * recorded as `timeout`; a worker that dies records `crash`; either way a new
 * worker resumes after that case. Used by test/fuzz.test.ts and `npm run fuzz`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

export interface FuzzOptions {
  start?: number;
  count: number;
  /** Worker processes (default 2). */
  jobs?: number;
  /** A case taking longer than this is a hang (default 20 s: cases take milliseconds; the box may be busy). */
  caseTimeoutMs?: number;
  /** V8 heap limit of a worker, MB (default 1024): an unbounded allocation becomes a reported crash. */
  heapMb?: number;
  progress?: (done: number, total: number) => void;
  /** Test hook: this case hangs (to test the watchdog). */
  hangOn?: number;
}

export interface FuzzFailure {
  case: number;
  outcome: string;
  detail: string;
}

export interface FuzzSummary {
  total: number;
  /** Cases by outcome: ok, typed:<code>, untyped:<step>, timeout, crash. */
  counts: Record<string, number>;
  failures: FuzzFailure[];
  ms: number;
}

const ROOT = new URL('../..', import.meta.url).pathname;

/** The worker as one bundled script (plain node starts it in ~50 ms, no TS loader). */
async function bundle(): Promise<string> {
  const dir = join(ROOT, 'node_modules/.cache/tsbpf-fuzz');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'worker.mjs');
  await build({
    entryPoints: [join(ROOT, 'test/fuzz/worker.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['koffi'],
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** CPU time (user + system) of process `pid` in ms, from /proc/PID/stat; 0 once it is gone. */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}
const TICKS = 100; // USER_HZ: what /proc reports in, 100 on every Linux ABI

export function isFailure(outcome: string): boolean {
  return outcome.startsWith('untyped') || outcome === 'timeout' || outcome === 'crash';
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const t0 = Date.now();
  const start = opts.start ?? 0;
  const end = start + opts.count;
  const jobs = Math.max(1, opts.jobs ?? 2);
  const timeout = opts.caseTimeoutMs ?? 20_000;
  const script = await bundle();
  const counts: Record<string, number> = {};
  const failures: FuzzFailure[] = [];
  let done = 0;
  const record = (i: number, outcome: string, detail = '') => {
    counts[outcome] = (counts[outcome] ?? 0) + 1;
    done++;
    if (isFailure(outcome)) failures.push({ case: i, outcome, detail });
    opts.progress?.(done, opts.count);
  };

  /** One lane: cases first, first + jobs, ...; restarted after a hang or crash. */
  const lane = (first: number): Promise<void> =>
    new Promise((resolve) => {
      const run = (from: number) => {
        if (from >= end) return resolve();
        const child = spawn(process.execPath, [`--max-old-space-size=${opts.heapMb ?? 1024}`, script, String(from), String(end), String(jobs)], {
          env: { ...process.env, TSBPF_FUZZ_ROOT: ROOT, TSBPF_FUZZ_HANG_ON: String(opts.hangOn ?? -1) },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let next = from; // the case in progress
        let last = Date.now();
        let killed = false;
        let buf = '';
        let stderr = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
          last = Date.now();
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const [i, outcome, detail] = buf.slice(0, nl).split('\t') as [string, string, string?];
            buf = buf.slice(nl + 1);
            record(Number(i), outcome, detail);
            next = Number(i) + jobs;
          }
        });
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk: string) => {
          stderr = (stderr + chunk).slice(-2000);
        });
        // A case hangs when it burns `timeout` ms of CPU without a result (a
        // busy machine slows a worker's clock, not its CPU count), or stays
        // silent for ten times that (a worker blocked without spinning).
        let lastCpu = 0;
        let lastStamp = last;
        const watchdog = setInterval(() => {
          const cpu = cpuMs(child.pid);
          if (last > lastStamp) {
            lastStamp = last;
            lastCpu = cpu;
          }
          if (cpu - lastCpu > timeout || Date.now() - last > 10 * timeout) {
            killed = true;
            child.kill('SIGKILL');
          }
        }, Math.min(250, timeout / 4));
        child.on('close', (code, signal) => {
          clearInterval(watchdog);
          if (code === 0 && next >= end) return resolve();
          if (next < end) {
            record(next, killed ? 'timeout' : 'crash', killed ? `no result in ${timeout} ms of CPU` : `exit ${code ?? signal}: ${stderr.replace(/\s+/g, ' ').slice(-500)}`);
            run(next + jobs);
          } else resolve();
        });
      };
      run(first);
    });

  await Promise.all(Array.from({ length: Math.min(jobs, opts.count) }, (_, k) => lane(start + k)));
  failures.sort((a, b) => a.case - b.case);
  return { total: done, counts, failures, ms: Date.now() - t0 };
}

/** The summary as text: counts by outcome, then the first failures. */
export function formatSummary(s: FuzzSummary, maxFailures = 20): string {
  const lines = [`fuzz: ${s.total} cases in ${(s.ms / 1000).toFixed(1)} s`];
  const groups: [string, (o: string) => boolean][] = [
    ['ok', (o) => o === 'ok'],
    ['typed error', (o) => o.startsWith('typed:')],
    ['untyped error', (o) => o.startsWith('untyped')],
    ['timeout', (o) => o === 'timeout'],
    ['crash', (o) => o === 'crash'],
  ];
  for (const [name, is] of groups) {
    const keys = Object.keys(s.counts).filter(is).sort();
    const n = keys.reduce((a, k) => a + s.counts[k]!, 0);
    lines.push(`  ${name.padEnd(14)} ${String(n).padStart(7)}`);
    if (name !== 'ok') for (const k of keys) lines.push(`    ${k.padEnd(32)} ${String(s.counts[k]).padStart(7)}`);
  }
  for (const f of s.failures.slice(0, maxFailures)) lines.push(`  case ${f.case}: ${f.outcome} ${f.detail}`);
  if (s.failures.length > maxFailures) lines.push(`  ... ${s.failures.length - maxFailures} more`);
  return lines.join('\n');
}
