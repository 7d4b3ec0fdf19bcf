/**
 * cgroup v2 fixtures for the attach tests: a cgroup of the test's own under
 * the unified hierarchy, and child processes started inside it (the child
 * waits on stdin until its pid is in cgroup.procs, then execs the command),
 * so the test process itself never changes cgroup.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it, type TestContext } from 'vitest';
import { kernelSkipReason } from './env.ts';

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Where cgroup v2 is mounted: the unified hierarchy beside v1 ones, or /sys/fs/cgroup itself. */
export function cgroup2Root(): string | undefined {
  for (const p of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    try {
      if (statfsSync(p).type === CGROUP2_SUPER_MAGIC) return p;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

export function cgroupSkipReason(): string | undefined {
  return kernelSkipReason() ?? (cgroup2Root() ? undefined : 'cgroup v2 is not mounted (at /sys/fs/cgroup/unified or /sys/fs/cgroup)');
}

/** A kernel test that needs a cgroup v2 hierarchy (skips with the reason, fails under CI). */
export function cgtest(name: string, fn: (ctx: TestContext) => unknown, timeout?: number): void {
  it(name, async (ctx) => {
    const reason = cgroupSkipReason();
    if (reason) {
      if (process.env.CI) throw new Error(`cgroup test cannot run under CI: ${reason}`);
      ctx.skip(`skipped: ${reason}`);
    }
    await fn(ctx);
  }, timeout);
}

/** mkdir a cgroup `tsbpf-test-<pid>-<tag>` under the v2 root; returns its path. */
export function createCgroup(tag: string): string {
  const root = cgroup2Root();
  if (!root) throw new Error('cgroup v2 is not mounted');
  const path = join(root, `tsbpf-test-${process.pid}-${tag}`);
  if (existsSync(path)) removeCgroup(path);
  mkdirSync(path);
  return path;
}

/** Move any process left in the cgroup to its parent, then rmdir it. */
export function removeCgroup(path: string): void {
  if (!existsSync(path)) return;
  for (let i = 0; i < 50; i++) {
    try {
      for (const pid of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          writeFileSync(join(dirname(path), 'cgroup.procs'), pid);
        } catch {
          // Exited meanwhile.
        }
      }
      rmdirSync(path);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      // EBUSY while a process is still leaving: try again shortly.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  rmdirSync(path);
}

export interface ChildResult {
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `cmd args...` in the cgroup at `path`: the child (bash) waits for a
 * line on stdin, the test writes its pid to cgroup.procs, then the child
 * execs the command in place, so everything it does happens in the cgroup.
 */
export function runInCgroup(path: string, cmd: string, args: string[] = [], timeoutMs = 10_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', 'read -r _ && exec "$@"', 'bash', cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ pid: child.pid!, code, stdout, stderr });
    });
    try {
      writeFileSync(join(path, 'cgroup.procs'), String(child.pid));
    } catch (e) {
      child.kill('SIGKILL');
      reject(e);
      return;
    }
    child.stdin.end('go\n');
  });
}

/** Processes in the cgroup right now. */
export function cgroupProcs(path: string): number[] {
  return readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}
