/**
 * Vitest reporter of the VM suite: after the run, prints the guest's counts
 * and each skip's reason on the console as lines scripts/vm/run.sh parses
 * ("TSBPF_VM_RESULT_<nonce> passed=N skipped=N failed=N", then one
 * "TSBPF_VM_SKIP_<nonce> <test> :: <reason>" per skipped test). The nonce
 * (TSBPF_VM_NONCE, set by run.sh) keeps test output from faking them.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class VmResultReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<unknown>): void {
    const nonce = process.env.TSBPF_VM_NONCE ?? '0';
    let passed = 0;
    let failed = unhandled.length;
    const skips: string[] = [];
    for (const mod of modules) {
      let failedHere = 0;
      for (const t of mod.children.allTests()) {
        const r = t.result();
        if (r.state === 'passed') passed++;
        else if (r.state === 'failed') failedHere++;
        else skips.push(`${t.fullName} :: ${(r.state === 'skipped' && r.note) || r.state}`.replace(/\s+/g, ' '));
      }
      // A file that failed without a failed test (it did not load, or a beforeAll threw and its tests
      // never ran): one failure, so that it cannot pass as skips.
      failed += failedHere || (mod.state() === 'failed' ? 1 : 0);
    }
    const out = [`TSBPF_VM_RESULT_${nonce} passed=${passed} skipped=${skips.length} failed=${failed}`, ...skips.map((s) => `TSBPF_VM_SKIP_${nonce} ${s}`)];
    process.stdout.write(`${out.join('\n')}\n`);
  }
}
