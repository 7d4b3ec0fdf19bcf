// Vitest config of the VM suite (npm run test:vm, scripts/vm/run.sh), run
// inside each guest of the kernel matrix with TSBPF_VM=1: test/vm/** (the
// hooks the host lacks, and the feature expectations of each kernel), plus
// PORTABLE_CORE, the host tests that prove the library on that kernel (map
// types, loading objects and the shipped example with CO-RE and BTF
// sanitisation, attach kinds, the verifier error path, pinning). A feature they probe may be missing only on a kernel older than
// the release that introduced it (test/helpers/kernel-features.ts). On the
// host, the default config also collects test/vm/**; those files skip there
// with a reason.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Chosen to fit CI (4 guests under TCG in < 45 min): ringbuf/perfbuf.test.ts
// need a 5.17 producer (test/vm/delivery.test.ts covers delivery everywhere),
// and program-hardening.test.ts (86 s under TCG) adds nothing kernel-specific
// beyond loader.test.ts's verifier failures.
export const PORTABLE_CORE = [
  'test/maps-types.test.ts',
  'test/maps-ops.test.ts',
  'test/loader.test.ts',
  'test/loader-btf-sanitize.test.ts',
  'test/core.test.ts',
  'test/execsnoop.test.ts',
  'test/attach-trace.test.ts',
  'test/attach-net.test.ts',
  'test/attach-cgroup.test.ts',
  'test/attach-tc.test.ts',
  'test/pin.test.ts',
];

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  // The guest's view of the checkout is a throwaway overlay: no result cache.
  cacheDir: '/tmp/tsbpf-vm-vite',
  test: {
    include: ['test/vm/**/*.test.ts', ...(process.env.TSBPF_VM_CORE === '0' ? [] : PORTABLE_CORE)],
    pool: 'forks',
    // Under TCG (software emulation) everything runs several times slower than on the host.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/trace-fds.ts'],
    reporters: ['verbose', './test/vm/reporter.ts'],
  },
});
