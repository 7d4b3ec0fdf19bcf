/**
 * `ktest` registers a test that needs the kernel. Without the privilege or
 * mount it needs, the test is skipped with the reason, except under CI where
 * it fails: a skipped kernel test proves nothing.
 */
import { it, type TestContext } from 'vitest';
import { bpffsSkipReason, kernelSkipReason, tracefsSkipReason } from './env.ts';

type Needs = 'kernel' | 'bpffs' | 'tracefs';

function reasonFor(needs: Needs): string | undefined {
  return needs === 'bpffs' ? bpffsSkipReason() : needs === 'tracefs' ? tracefsSkipReason() : kernelSkipReason();
}

function guard(ctx: TestContext, needs: Needs): void {
  const reason = reasonFor(needs);
  if (!reason) return;
  if (process.env.CI) throw new Error(`kernel test cannot run under CI: ${reason}`);
  ctx.skip(`skipped: ${reason}`);
}

export function ktest(name: string, fn: (ctx: TestContext) => unknown, opts: { needs?: Needs; timeout?: number } = {}): void {
  it(name, async (ctx) => {
    guard(ctx, opts.needs ?? 'kernel');
    await fn(ctx);
  }, opts.timeout);
}

/** Same as ktest, for tests that pin into bpffs. */
export function pintest(name: string, fn: (ctx: TestContext) => unknown, timeout?: number): void {
  ktest(name, fn, { needs: 'bpffs', timeout });
}
