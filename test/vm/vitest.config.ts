// Vitest config of the VM suite (npm run test:vm, scripts/vm/run.sh): only
// test/vm/**, run inside the guest with TSBPF_VM=1. On the host, the default
// config also collects these files; they skip there with a reason.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  // The guest's view of the checkout is a throwaway overlay: no result cache.
  cacheDir: '/tmp/tsbpf-vm-vite',
  test: {
    include: ['test/vm/**/*.test.ts'],
    pool: 'forks',
    // Under TCG (software emulation) everything runs several times slower than on the host.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    globalSetup: ['test/setup/global.ts'],
    reporters: ['verbose', './test/vm/reporter.ts'],
  },
});
