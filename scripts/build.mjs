// Bundles the library (ESM + CJS), the CLI and the bench runner with esbuild,
// and emits .d.ts files with tsc. koffi stays external: it is a native module.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
const common = { bundle: true, platform: 'node', target: 'node20', external: ['koffi'], sourcemap: true, logLevel: 'warning' };
await Promise.all([
  // The ESM entry and tsbpf/testing share one copy of the code (chunks/), so the
  // backend that testing's setBpfBackend replaces is the one the library calls.
  build({ ...common, entryPoints: { index: 'lib/index.ts', testing: 'lib/testing.ts' }, format: 'esm', outdir: 'dist', splitting: true, chunkNames: 'chunks/[name]-[hash]' }),
  build({ ...common, entryPoints: ['lib/index.ts'], format: 'cjs', outfile: 'dist/index.cjs' }),
  // The CLI loads each verb's module when a command line names it (lib/commands/index.ts): split, so
  // that `btf dump` compiles only its own code. Its chunks are apart from the library's (cli-*).
  build({ ...common, entryPoints: { cli: 'lib/cli.ts' }, format: 'esm', outdir: 'dist', splitting: true, chunkNames: 'chunks/cli-[name]-[hash]' }),
  build({ ...common, entryPoints: ['bench/main.ts'], format: 'esm', outfile: 'dist/bench.js' }),
]);
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
// Point the package's "types" at the declarations of the entry point.
writeFileSync('dist/index.d.ts', "export * from './types/lib/index.js';\n");
writeFileSync('dist/testing.d.ts', "export * from './types/lib/testing.js';\n");
