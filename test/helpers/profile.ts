/** Targets for `tsbpf profile` tests: started until they print "ready", profiled through the built CLI. */
import { spawn, type ChildProcess } from 'node:child_process';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

export interface ReadyChild {
  child: ChildProcess;
  pid: number;
  /** Everything the child printed up to and including "ready". */
  banner: string;
}

/** Spawn `cmd args` and resolve once it prints a "ready" line (after `start` ran, e.g. to move it into a cgroup). */
export function startReady(cmd: string, args: string[], start?: (child: ChildProcess) => void): Promise<ReadyChild> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise<ReadyChild>((resolve, reject) => {
    let out = '';
    const exited = (c: number | null) => reject(new Error(`${cmd} exited ${c} before it was ready`));
    child.on('exit', exited);
    child.on('error', reject);
    child.stdout!.on('data', (d) => {
      out += d;
      if (!/^ready$/m.test(out)) return;
      child.off('exit', exited);
      resolve({ child, pid: child.pid!, banner: out });
    });
    try {
      start?.(child);
    } catch (e) {
      child.kill('SIGKILL');
      reject(e);
    }
  });
}

/** `tsbpf profile args...`; resolves with stdout (stderr goes into the error when it fails). */
export function runProfile(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, 'profile', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`profile exited ${code}: ${err}`))));
  });
}

/** Samples of the folded lines matching `re`. */
export function samplesMatching(folded: string, re: RegExp): number {
  return folded.split('\n').filter((l) => re.test(l)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
}
