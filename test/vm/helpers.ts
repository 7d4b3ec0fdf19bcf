/**
 * Shared by the VM suite (test/vm/*.test.ts). These tests need hooks the host
 * kernel lacks (kprobes, fentry/fexit/fmod_ret, BPF LSM) and run inside the
 * guest started by `npm run test:vm` (scripts/vm/run.sh), which sets TSBPF_VM=1.
 * Anywhere else each test skips with the reason.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { it, type TestContext } from 'vitest';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection, setVariable, type Collection } from '../../bpf/loader/collection.ts';
import { lastErrno, libc } from '../../syscall/libc.ts';

export const IN_VM = !!process.env.TSBPF_VM;
const NOT_IN_VM = 'not in the tsbpf test VM (TSBPF_VM unset): these tests run on a second kernel with `npm run test:vm`';

/** A test that runs only inside the VM; elsewhere it skips with the reason. */
export function vmtest(name: string, fn: (ctx: TestContext) => unknown, timeout?: number): void {
  it(
    name,
    async (ctx) => {
      if (!IN_VM) ctx.skip(NOT_IN_VM);
      await fn(ctx);
    },
    timeout,
  );
}

const BPF_DIR = new URL('../bpf/', import.meta.url).pathname;
export const obj = (name: string): string => join(BPF_DIR, `${name}.o`);

/** Load test/bpf/<name>.o with its `target_pid` constant set to this process. */
export function loadWithTarget(name: string, programs?: string[]): Collection {
  const spec = loadCollectionSpec(obj(name));
  setVariable(spec, 'target_pid', process.pid);
  return loadCollection(spec, programs ? { programs } : {});
}

/** Counter i of an ARRAY map of u64. */
export function counter(c: Collection, map: string, i: number): bigint {
  const v = c.maps[map]!.lookup(i);
  return v ? Buffer.from(v).readBigUInt64LE(0) : -1n;
}

/** Zero every counter of an ARRAY map of u64 (after attaching: attaching opens files too). */
export function resetCounters(c: Collection, map: string): void {
  const m = c.maps[map]!;
  for (let i = 0; i < m.maxEntries; i++) m.update(i, 0n);
}

const NR = { getpid: 39, getpgid: 121, getsid: 124 } as const;

/** A raw system call with up to one argument; returns the result, or -errno. */
export function sys(name: keyof typeof NR, arg = 0): number {
  const r = libc().syscall3(NR[name], arg, 0, 0);
  return r === -1 ? -lastErrno() : r;
}

/** CONFIG_<name> of the running kernel (the guest has no /proc/config.gz; /boot/config-* comes from the host's root). */
export function kconfig(name: string): string | undefined {
  let text = '';
  try {
    text = readFileSync(`/boot/config-${release()}`, 'utf8');
  } catch {
    return undefined;
  }
  return new RegExp(`^CONFIG_${name}=(.*)$`, 'm').exec(text)?.[1];
}
