/** Child processes for tests that trigger probes in another process. */
import { spawn } from 'node:child_process';

/** Run a command to completion; returns its pid, exit code and stdout. */
export function run(cmd: string, args: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ pid: number; code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let stdout = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ pid: c.pid!, code, stdout }));
  });
}

/** Start `bin <n> wait`: it blocks on stdin until go(), so the test can attach to its pid first. */
export function startWaiting(bin: string, n: number): { pid: number; go: () => Promise<{ code: number | null; stdout: string }> } {
  const c = spawn(bin, [String(n), 'wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let stdout = '';
  c.stdout.on('data', (d) => (stdout += d));
  const done = new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout }));
  });
  return {
    pid: c.pid!,
    go: () => {
      c.stdin.end('go\n');
      return done;
    },
  };
}
