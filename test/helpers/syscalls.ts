/** Test helpers around the bpf(2) seam: counting the commands a call issues, and a map closed after use. */
import { expect } from 'vitest';
import { BpfMap, type MapSpec } from '../../lib/index.ts';
import { setBpfBackend } from '../../lib/testing.ts';
import { thrown } from './thrown.ts';

/** Run `fn`, recording each bpf(2) command it issues and its result, through a backend that forwards to the previous one. */
export function countingSyscalls<T>(fn: () => T): { result: T; cmds: number[]; results: number[] } {
  const cmds: number[] = [];
  const results: number[] = [];
  const prev = setBpfBackend((cmd, attr, size) => {
    cmds.push(cmd);
    const r = prev(cmd, attr, size);
    results.push(r);
    return r;
  });
  try {
    return { result: fn(), cmds, results };
  } finally {
    setBpfBackend(prev);
  }
}

/**
 * Run `fn` with bpf(2) failing on demand: `inject(cmd, n)` (n counts the calls of that command, from 1)
 * returns a -errno to fail the call with, or undefined to pass it to the previous backend. Returns the
 * calls per command, and what `fn` returned or threw.
 */
export function injectingSyscalls<T>(inject: (cmd: number, n: number) => number | undefined, fn: () => T): { calls: Map<number, number>; result?: T; error?: unknown } {
  const calls = new Map<number, number>();
  const prev = setBpfBackend((cmd, attr, size) => {
    const n = (calls.get(cmd) ?? 0) + 1;
    calls.set(cmd, n);
    return inject(cmd, n) ?? prev(cmd, attr, size);
  });
  try {
    return { calls, result: fn() };
  } catch (error) {
    return { calls, error };
  } finally {
    setBpfBackend(prev);
  }
}

/** The error `fn` throws, and proof that it issued no bpf(2) command (besides `allowed` ones). */
export function thrownBeforeSyscall(fn: () => unknown, what = '', allowed: readonly number[] = []): Error & { code?: string } {
  const { result, cmds } = countingSyscalls(() => thrown(fn, what) as Error & { code?: string });
  expect(
    cmds.filter((c) => !allowed.includes(c)),
    what,
  ).toEqual([]);
  return result;
}

/** Create a map from `spec`, run `fn` with it, close it. */
export function withMap<T>(spec: MapSpec, fn: (m: BpfMap) => T, opts?: { btfFd?: number }): T {
  const m = BpfMap.create(spec, opts);
  try {
    return fn(m);
  } finally {
    m.close();
  }
}
