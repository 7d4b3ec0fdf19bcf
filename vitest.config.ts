import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Forks, not threads: tests count this process's fds and own kernel objects.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/trace-fds.ts'],
    reporters: ['default'],
  },
});
