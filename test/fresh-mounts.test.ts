/**
 * A fresh machine may mount neither tracefs nor bpffs at boot. Run as root,
 * tsbpf mounts what it needs itself (as bpftool does): these tests run the CLI
 * in a private mount namespace where every tracefs, debugfs and bpffs has been
 * unmounted (test/fixtures/fresh/in-bare-namespace.mjs; the host's mounts are
 * untouched, and the global setup's mounts do not reach in there).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect } from 'vitest';
import { ktest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const script = resolve(__dirname, 'fixtures/fresh/in-bare-namespace.mjs');

interface Outcome {
  bare: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
  execed?: number;
  pinned?: string[];
  mountedAfter: string[];
}

function inBareNamespace(...args: string[]): Promise<Outcome> {
  return new Promise((res, rej) => {
    const c = spawn('unshare', ['-m', '--propagation', 'private', process.execPath, script, root, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', rej);
    c.on('close', (code) => {
      try {
        res(JSON.parse(out.trim().split('\n').pop()!) as Outcome);
      } catch {
        rej(new Error(`namespace script exited ${code} with: ${out}`));
      }
    });
  });
}

describe('on a machine without tracefs and bpffs mounted', () => {
  ktest('execsnoop mounts tracefs itself and reports an exec', async () => {
    const r = await inBareNamespace('execsnoop');
    expect(r.bare).toBe(true);
    expect(r.stderr).not.toContain('NO_TRACEFS');
    const events = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pid: number; filename: string });
    expect(events.find((e) => e.pid === r.execed)).toMatchObject({ filename: '/bin/true' });
    expect(r.mountedAfter).toContain('tracefs@/sys/kernel/tracing');
  }, { timeout: 60_000 });

  ktest('without CAP_SYS_ADMIN, the error says which capability is missing', async () => {
    const r = await inBareNamespace('execsnoop', 'setpriv', '--inh-caps=-sys_admin', '--bounding-set=-sys_admin', '--');
    expect(r.bare).toBe(true);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tracefs is not mounted at \/sys\/kernel\/tracing.*CAP_SYS_ADMIN/);
  }, { timeout: 60_000 });

  ktest('prog loadall under /sys/fs/bpf mounts bpffs and pins', async () => {
    const r = await inBareNamespace('pin', resolve(__dirname, 'bpf/loader.o'));
    expect(r.bare).toBe(true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.pinned!.length).toBeGreaterThan(0);
    expect(r.mountedAfter).toContain('bpf@/sys/fs/bpf');
  }, { timeout: 60_000 });

  ktest('prog loadall without CAP_SYS_ADMIN fails at once, naming the capability (no mkdir loop on sysfs)', async () => {
    const r = await inBareNamespace('pin', resolve(__dirname, 'bpf/loader.o'), 'setpriv', '--inh-caps=-sys_admin', '--bounding-set=-sys_admin', '--');
    expect(r.bare).toBe(true);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bpffs is not mounted at \/sys\/fs\/bpf.*CAP_SYS_ADMIN/);
    expect(r.mountedAfter).toEqual([]);
  }, { timeout: 60_000 });
});
