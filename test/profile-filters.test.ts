/**
 * `tsbpf profile` filters against real tasks: --tid of one of two threads
 * spinning in alpha_thread_spin and beta_thread_spin sees only its own
 * function (without --tid both show); --cgroup DIR of a fresh cgroup v2
 * directory holding one spinning process sees that process and not an
 * equally busy one outside it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { cgtest, createCgroup, removeCgroup } from './helpers/cgroup.ts';
import { which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { runProfile, samplesMatching, startReady, type ReadyChild } from './helpers/profile.ts';

const FIXTURE = new URL('./fixtures/profile/', import.meta.url).pathname;
let work = '';
let busy = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsbpf-profile-filters-'));
  if (!which('gcc')) return;
  busy = join(work, 'busy');
  execFileSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-pthread', '-o', busy, join(FIXTURE, 'busy.c')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

ktest('--tid: only that thread\'s stacks', async (ctx) => {
  if (!busy) return ctx.skip('gcc is not installed');
  const t = await startReady(busy, ['threads']);
  try {
    const alpha = Number(/^alpha (\d+)$/m.exec(t.banner)![1]);
    const beta = Number(/^beta (\d+)$/m.exec(t.banner)![1]);
    expect(alpha).not.toBe(beta);
    const common = ['--freq', '499', '--duration', '2', '--folded'];
    // Control: the whole process shows both threads, so a filter that did nothing would be caught.
    const both = await runProfile(['--pid', String(t.pid), ...common]);
    expect(samplesMatching(both, /;alpha_thread_spin;/)).toBeGreaterThan(20);
    expect(samplesMatching(both, /;beta_thread_spin;/)).toBeGreaterThan(20);
    const onlyAlpha = await runProfile(['--pid', String(t.pid), '--tid', String(alpha), ...common]);
    expect(samplesMatching(onlyAlpha, /;alpha_thread_spin;/)).toBeGreaterThan(20);
    expect(samplesMatching(onlyAlpha, /beta_thread_spin/)).toBe(0);
    // --tid alone (no --pid) is enough.
    const onlyBeta = await runProfile(['--tid', String(beta), ...common]);
    expect(samplesMatching(onlyBeta, /;beta_thread_spin;/)).toBeGreaterThan(20);
    expect(samplesMatching(onlyBeta, /alpha_thread_spin/)).toBe(0);
    // Every line is the thread's: comm 'busy', then its frames ("busy N" when neither stack could be read).
    expect(onlyBeta.split('\n').filter(Boolean).filter((l) => !/^busy[; ]/.test(l))).toEqual([]);
  } finally {
    t.child.kill('SIGKILL');
  }
}, { timeout: 60_000 });

interface JsonProfile {
  samples: number;
  stacks: { pid: number; comm: string; count: number; frames: { symbol?: string }[] }[];
}

cgtest('--cgroup DIR: the tasks in that cgroup v2 directory, not a busy process outside it', async (ctx) => {
  if (!busy) return ctx.skip('gcc is not installed');
  const cg = createCgroup('profile');
  let inside: ReadyChild | undefined;
  let outside: ReadyChild | undefined;
  try {
    // bash waits for a line, is moved into the cgroup meanwhile, then execs busy there.
    inside = await startReady('bash', ['-c', 'read -r _ && exec "$@"', 'bash', busy, 'spin'], (child) => {
      writeFileSync(join(cg, 'cgroup.procs'), String(child.pid));
      child.stdin!.write('go\n');
    });
    outside = await startReady(busy, ['spin']);
    const out = JSON.parse(await runProfile(['--cgroup', cg, '--freq', '499', '--duration', '2', '--json'])) as JsonProfile;
    const pids = new Set(out.stacks.map((s) => s.pid));
    expect([...pids]).toEqual([inside.pid]);
    const spinning = out.stacks.filter((s) => s.frames.some((f) => f.symbol === 'lone_spin')).reduce((a, s) => a + s.count, 0);
    expect(spinning).toBeGreaterThan(20);
    // Control: the outside process really was busy while the profile ran.
    const control = await runProfile(['--pid', String(outside.pid), '--freq', '499', '--duration', '1', '--folded']);
    expect(samplesMatching(control, /;lone_spin;/)).toBeGreaterThan(10);
  } finally {
    inside?.child.kill('SIGKILL');
    outside?.child.kill('SIGKILL');
    await Promise.all([inside, outside].map((c) => c && c.child.exitCode === null && c.child.signalCode === null ? new Promise((r) => c.child.once('exit', r)) : undefined));
    removeCgroup(cg);
  }
}, 60_000);
