/**
 * The kernel-feature table (bpf/features.ts), NotSupportedError's version
 * text, and the test helper skipIfNotSupported: a feature missing on a kernel
 * older than its release skips, one missing on a kernel that should have it
 * fails. The kernel is injected, so no second kernel is needed.
 */
import { describe, expect, it } from 'vitest';
import { KERNEL_FEATURES, featureInfo, kernelAtLeast, kernelPredates, notSupported, since, type KernelVersion } from '../bpf/features.ts';
import { NotSupportedError } from '../syscall/errors.ts';
import { ifSupported, skipIfNotSupported, type KernelUnderTest } from './helpers/kernel-features.ts';

class Skipped extends Error {}

/** A test context whose skip() is observable. */
const ctx = { skip: ((note?: string) => { throw new Skipped(note); }) as (note?: string) => never };

const kernel = (major: number, minor: number, config: Record<string, string> = {}): KernelUnderTest => ({
  version: [major, minor, 0],
  config: new Map(Object.entries(config)),
});

/** 'skip: …', 'fail: …' or 'pass'. */
function outcome(what: unknown, k: KernelUnderTest): string {
  try {
    skipIfNotSupported(ctx, what, k);
    return 'pass';
  } catch (e) {
    return `${e instanceof Skipped ? 'skip' : 'fail'}: ${(e as Error).message}`;
  }
}

describe('the feature table', () => {
  it('names the release that introduced each feature', () => {
    expect(since('map type RINGBUF')).toBe('5.8');
    expect(since('map type USER_RINGBUF')).toBe('6.1');
    expect(since('map type BLOOM_FILTER')).toBe('5.16');
    expect(since('map type CGRP_STORAGE')).toBe('6.2');
    expect(since('map type ARENA')).toBe('6.9');
    expect(since('tcx links')).toBe('6.6');
    expect(since('BTF ENUM64')).toBe('6.0');
    expect(since('no such feature')).toBeUndefined();
    expect(featureInfo('toString')).toBeUndefined();
    for (const [name, row] of Object.entries(KERNEL_FEATURES)) expect(row.since, name).toMatch(/^\d+\.\d+$/);
  });

  it('compares releases by number, not as text', () => {
    const v = (a: number, b: number): KernelVersion => [a, b, 0];
    expect(kernelAtLeast('5.16', v(5, 9))).toBe(false);
    expect(kernelAtLeast('5.9', v(5, 16))).toBe(true);
    expect(kernelAtLeast('6.2', v(6, 2))).toBe(true);
    expect(kernelAtLeast('6.2', v(7, 0))).toBe(true);
    expect(kernelPredates('map type CGRP_STORAGE', v(6, 1))).toBe(true);
    expect(kernelPredates('map type CGRP_STORAGE', v(6, 18))).toBe(false);
    expect(kernelPredates('no such feature', v(6, 18))).toBeUndefined();
  });

  it('notSupported names the running kernel and the release the feature needs; the old message prefix stays', () => {
    const e = notSupported('map type CGRP_STORAGE', "creating 'x'", [6, 1, 0]);
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e).toMatchObject({ code: 'NOT_SUPPORTED', feature: 'map type CGRP_STORAGE', kernel: '6.1', since: '6.2' });
    expect(e.message).toBe("map type CGRP_STORAGE is not supported by this kernel (6.1); needs 6.2 or later (creating 'x')");
    // A feature the table does not know keeps the plain message.
    expect(notSupported('frobnication', 'detail', [6, 1, 0]).message).toBe('frobnication is not supported by this kernel (detail)');
  });
});

describe('skipIfNotSupported', () => {
  const arenaMissing = notSupported('map type ARENA', "creating 'a'", [6, 1, 0]);

  it('skips, naming the feature, where the kernel predates it', () => {
    expect(outcome(arenaMissing, kernel(6, 1))).toBe('skip: kernel feature: map type ARENA needs Linux 6.9, this kernel is 6.1');
  });

  it('fails where the kernel is at or above the release that introduced it (a missing feature there is a bug)', () => {
    const o = outcome(arenaMissing, kernel(6, 9, { CONFIG_MMU: 'y' }));
    expect(o).toMatch(/^fail: map type ARENA is missing although this kernel \(6\.9\) is at or above 6\.9/);
    // An old feature missing on a new kernel.
    expect(outcome(new NotSupportedError('map type HASH'), kernel(6, 18))).toMatch(/^fail: map type HASH is missing although this kernel \(6\.18\)/);
    // Without a readable config, the option cannot excuse it.
    expect(outcome(arenaMissing, kernel(6, 18))).toMatch(/^fail: .*CONFIG_MMU is unknown/);
  });

  it("skips where the kernel's build leaves out the option the feature needs", () => {
    expect(outcome(arenaMissing, kernel(6, 18, { CONFIG_BPF_SYSCALL: 'y' }))).toBe(
      "skip: kernel feature: map type ARENA needs CONFIG_MMU, off in this kernel's build (6.18)",
    );
  });

  it('skips a feature with no known release, naming it', () => {
    expect(outcome(new NotSupportedError('kprobes', 'no kprobe PMU and no tracefs'), kernel(6, 18))).toMatch(/^skip: kernel feature: kprobes is not supported/);
  });

  it('does nothing for other errors or none, so a caller rethrows real failures', () => {
    expect(outcome(new Error('EINVAL'), kernel(6, 1))).toBe('pass');
    expect(outcome(undefined, kernel(6, 1))).toBe('pass');
  });

  it('ifSupported routes a body’s NotSupportedError through the same decision and returns its value otherwise', async () => {
    await expect(ifSupported(ctx, () => { throw arenaMissing; }, kernel(6, 1))).rejects.toBeInstanceOf(Skipped);
    await expect(ifSupported(ctx, () => { throw arenaMissing; }, kernel(6, 12, { CONFIG_MMU: 'y' }))).rejects.toThrow(/is missing although/);
    await expect(ifSupported(ctx, () => { throw new RangeError('x'); }, kernel(6, 1))).rejects.toBeInstanceOf(RangeError);
    await expect(ifSupported(ctx, () => 7, kernel(6, 1))).resolves.toBe(7);
  });
});
