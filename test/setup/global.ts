/**
 * Runs once before the suite: mounts bpffs and tracefs where they are missing
 * (as the brief asks of the test setup), and reports up front why kernel tests
 * would skip. Under CI, a reason to skip is a failure.
 */
import { execFileSync } from 'node:child_process';
import { bpffsSkipReason, kernelSkipReason, tracefsSkipReason, BPFFS } from '../helpers/env.ts';

function tryMount(type: string, target: string): void {
  try {
    execFileSync('mount', ['-t', type, type === 'bpf' ? 'bpf' : type, target], { stdio: 'ignore' });
  } catch {
    // Reported below through the skip reasons.
  }
}

export default async function setup(): Promise<void> {
  if (!kernelSkipReason()) {
    if (bpffsSkipReason()) tryMount('bpf', BPFFS);
    if (tracefsSkipReason()) tryMount('tracefs', '/sys/kernel/tracing');
  }
  const reasons = [kernelSkipReason(), bpffsSkipReason(), tracefsSkipReason()].filter((r): r is string => !!r);
  const unique = [...new Set(reasons)];
  if (unique.length === 0) return;
  if (process.env.CI) throw new Error(`CI is set and kernel tests would skip: ${unique.join('; ')}`);
  process.stderr.write(`\n[tsbpf tests] kernel tests will be skipped: ${unique.join('; ')}\n\n`);
}
