/**
 * `tsbpf profile --off-cpu` against a real sleeper: a C target, once the
 * profile runs, sleeps 10 x 100 ms in sleepy_wait (nanosleep); the profile
 * shows that stack, from main through the kernel's nanosleep path, with
 * the blocked time the target measured around its calls (at least 1 s:
 * nanosleep does not wake early), and no frames of the tracing program. The profile runs without
 * --duration and stops on SIGINT, as at a terminal.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { samplesMatching, startReady } from './helpers/profile.ts';

const FIXTURE = new URL('./fixtures/profile/', import.meta.url).pathname;
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
let work = '';
let busy = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsbpf-profile-offcpu-'));
  if (!which('gcc')) return;
  busy = join(work, 'busy');
  execFileSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-pthread', '-o', busy, join(FIXTURE, 'busy.c')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

ktest('--off-cpu: 10 x 100 ms of nanosleep in sleepy_wait: that stack, blocked as long as the target measured', async (ctx) => {
  if (!busy) return ctx.skip('gcc is not installed');
  const t = await startReady(busy, ['sleep', '100', '10']);
  // "done US": the time the target itself measured around its nanosleep calls.
  const done = new Promise<number>((resolve) => {
    let out = '';
    t.child.stdout!.on('data', (d) => {
      out += d;
      const m = /^done (\d+) /m.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  try {
    const p = spawn(process.execPath, [CLI, 'profile', '--off-cpu', '--pid', String(t.pid), '--folded'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    const closed = new Promise<number | null>((resolve) => p.on('close', resolve));
    // Tracing runs once the CLI says so; only then does the target start sleeping.
    await new Promise<void>((resolve, reject) => {
      p.stderr.on('data', (d) => ((err += d), /tracing off-CPU/.test(err) && resolve()));
      p.on('close', (code) => reject(new Error(`profile exited ${code}: ${err}`)));
    });
    t.child.stdin!.write('go\n');
    const slept = await done;
    p.kill('SIGINT'); // stops tracing and prints what it gathered
    expect(await closed, err).toBe(0);
    expect(slept).toBeGreaterThanOrEqual(1_000_000); // nanosleep never wakes early
    // Each blocked interval (switched out .. switched in) lies inside the target's own measurement
    // of its nanosleep call, short only by the syscall's way in and out.
    const sleepy = samplesMatching(out, /;main;sleepy_wait;/);
    expect(sleepy, out).toBeLessThanOrEqual(slept + 1000);
    expect(sleepy, `${out}\ntarget measured ${slept} us`).toBeGreaterThan(slept * 0.97);
    const line = out.split('\n').find((l) => /;main;sleepy_wait;/.test(l))!;
    expect(line).toMatch(/nanosleep_\[k\];/); // the kernel side of the stack: the syscall's path into schedule
    expect(line).toMatch(/;__schedule_\[k\] \d+$/); // innermost: the scheduler, not the tracing program
    expect(out).not.toMatch(/bpf_prog_|bpf_trace_run/);
    // The wait for "go" blocked before tracing began: a block is counted only when tracing saw it start.
    expect(out).not.toMatch(/await_go/);
  } finally {
    t.child.kill('SIGKILL');
  }
}, { timeout: 60_000 });

it('--off-cpu refuses the on-CPU sampling options', () => {
  for (const extra of [['--freq', '99'], ['--include-idle']]) {
    const r = spawnSync(process.execPath, [CLI, 'profile', '--off-cpu', ...extra, '--duration', '1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is for on-CPU sampling/);
  }
});
