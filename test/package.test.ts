/**
 * The published package works from a fresh project in both module systems:
 * `npm pack`, install the tarball into a temporary project, import it with
 * ESM and require it with CJS, type-check a TypeScript consumer, and create a
 * map through each.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ktest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
let dir = '';

const run = (cmd: string, args: string[], cwd = dir) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

describe('npm package', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/index.js'))) run('npm', ['run', 'build', '--silent'], root);
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-pack-'));
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', dir], root).trim().split('\n').pop()!;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    // Prefer the local npm cache: koffi is already there from the project's own install.
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)]);
  }, 240_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs only koffi as a runtime dependency', () => {
    const pkg = JSON.parse(run('node', ['-p', 'JSON.stringify(require("tsbpf/package.json"))']));
    expect(Object.keys(pkg.dependencies)).toEqual(['koffi']);
  });

  const program = (imp: string) => `${imp}
const m = BpfMap.create({ name: 'pack_test', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 });
m.update(7, 99n);
const v = m.lookupWith(7, u64);
m.close();
console.log(String(v));`;

  ktest('imports with ESM and creates a map', () => {
    writeFileSync(join(dir, 'esm.mjs'), program("import { BpfMap, u64 } from 'tsbpf';"));
    expect(run('node', ['esm.mjs']).trim()).toBe('99');
  });

  ktest('requires with CJS and creates a map', () => {
    writeFileSync(join(dir, 'cjs.cjs'), program("const { BpfMap, u64 } = require('tsbpf');"));
    expect(run('node', ['cjs.cjs']).trim()).toBe('99');
  });

  ktest('bundled into an application with esbuild, it runs without the code cache (the bundler has its copy)', () => {
    writeFileSync(join(dir, 'app.mjs'), program("import { BpfMap, u64 } from 'tsbpf';"));
    const esbuild = join(root, 'node_modules/esbuild/bin/esbuild');
    run(esbuild, ['app.mjs', '--bundle', '--platform=node', '--format=esm', '--external:koffi', '--outfile=out/app.mjs', '--log-level=error']);
    expect(run('node', ['out/app.mjs']).trim()).toBe('99');
  });

  ktest('a second process takes the code cache the first wrote, through the installed package', () => {
    const cache = join(dir, 'code-cache');
    const env = { ...process.env, TSBPF_CODE_CACHE: cache };
    writeFileSync(join(dir, 'state.cjs'), program("const { BpfMap, u64 } = require('tsbpf');") + `
const cc = require(require.resolve('tsbpf').replace(/index\.cjs$/, 'chunks/code-cache.cjs'));
process.on('exit', () => console.log(JSON.stringify(cc.cacheState(require.resolve('tsbpf').replace(/index\.cjs$/, 'chunks/tsbpf.cjs')))));`);
    const state = () => JSON.parse(execFileSync('node', ['state.cjs'], { cwd: dir, encoding: 'utf8', env }).trim().split('\n').pop()!) as { used: boolean };
    expect(state().used).toBe(false);
    expect(state().used).toBe(true);
  });

  it('type-checks a TypeScript consumer against the shipped declarations', () => {
    writeFileSync(
      join(dir, 'consumer.ts'),
      `import { BpfMap, u64, type MapSpec, BpfError } from 'tsbpf';
const spec: MapSpec = { type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 1 };
const m: BpfMap = BpfMap.create(spec);
const v: bigint | undefined = m.lookupWith(1, u64);
const e: string = new BpfError('BPF_MAP_CREATE', 1).code;
void v; void e;
`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [], lib: ['es2023', 'esnext.disposable'], skipLibCheck: false }, files: ['consumer.ts'] }),
    );
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    let out = '';
    try {
      out = run('node', [tsc, '-p', 'tsconfig.json', '--typeRoots', join(root, 'node_modules/@types'), '--types', 'node']);
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(out).toBe('');
  });
});
