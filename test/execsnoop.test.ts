/**
 * The README's main job: execsnoop traces real execs. The test execs known
 * programs and finds them, with the right pid, ppid, uid, comm and filename,
 * both through the library generator and through the CLI's --json output.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect } from 'vitest';
import { execsnoop, type ExecEvent } from '../lib/commands/execsnoop.ts';
import { ktest } from './helpers/kernel.ts';
import { fdCount } from './helpers/env.ts';

const root = resolve(__dirname, '..');

describe('execsnoop', () => {
  ktest('reports an exec made by this process, decoded through BTF', async () => {
    const before = fdCount();
    const ac = new AbortController();
    const seen: ExecEvent[] = [];
    let childPid = -1;
    const timer = setTimeout(() => ac.abort(), 10_000);
    for await (const e of execsnoop({
      signal: ac.signal,
      onReady: () => {
        childPid = spawnSync('/bin/true').pid ?? -1;
      },
    })) {
      seen.push(e);
      if (e.pid === childPid) {
        ac.abort();
      }
    }
    clearTimeout(timer);
    const ev = seen.find((e) => e.pid === childPid);
    expect(ev, `no event for pid ${childPid} among ${seen.length}`).toBeDefined();
    expect(ev).toMatchObject({ ppid: process.pid, uid: process.getuid!(), comm: 'true', filename: '/bin/true' });
    expect(fdCount()).toBe(before);
  });

  ktest('filters by parent with ppid', async () => {
    const ac = new AbortController();
    const pids: number[] = [];
    const timer = setTimeout(() => ac.abort(), 10_000);
    let mine = -1;
    for await (const e of execsnoop({
      signal: ac.signal,
      ppid: process.pid,
      onReady: () => {
        mine = spawnSync('/bin/echo', ['x']).pid ?? -1;
      },
    })) {
      pids.push(e.pid);
      if (e.pid === mine) ac.abort();
    }
    clearTimeout(timer);
    expect(pids).toEqual([mine]);
  });

  ktest('CLI --json prints one object per exec with the documented fields', async () => {
    const cli = spawn(process.execPath, [resolve(root, 'dist/cli.js'), 'execsnoop', '--json', '--duration', '4', '--ppid', String(process.pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    cli.stdout.on('data', (d) => (out += d));
    await new Promise<void>((res) => cli.stderr.on('data', (d) => ((err += d), err.includes('tracing') && res())));
    const child = spawnSync('/bin/sh', ['-c', 'exit 0']);
    const code = await new Promise<number | null>((res) => cli.on('exit', res));
    expect(code).toBe(0);
    const events = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const ev = events.find((e) => e.pid === child.pid);
    expect(ev).toBeDefined();
    expect(Object.keys(ev!).sort()).toEqual(['comm', 'filename', 'pid', 'ppid', 'uid']);
    expect(ev).toMatchObject({ ppid: process.pid, comm: 'sh', filename: '/bin/sh' });
  }, { timeout: 30_000 });
});
