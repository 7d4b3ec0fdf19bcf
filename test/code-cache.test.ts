/**
 * The code-cache loader (lib/code-cache.ts, built to dist/chunks/code-cache.cjs):
 * a second process takes the V8 cache the first wrote, and a cache that is not
 * ours, not intact, or not of this bundle is never handed to V8. Each case runs
 * plain `node` children on a small bundle in a private cache directory, then
 * the real entries (dist/cli.js, dist/index.js with tsbpf/testing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDir, checksum, checksumJs, cliVariant } from '../lib/code-cache.ts';
import { ktest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const LOADER = join(root, 'dist/chunks/code-cache.cjs');
let work = '';

const BUNDLE = `#!/usr/bin/env node
'use strict';
exports.answer = () => 42;
exports.strict = (function () { return this === undefined; })();
if (process.env.SET_FLAG) require('node:v8').setFlagsFromString('--no-turbo-inlining');
if (process.env.MARK) globalThis[Symbol.for('tsbpf.codeCache.warm')](process.env.MARK);
if (process.env.FAIL) process.exitCode = 3;
`;

/** Load the bundle through the built loader; print its answer and how the cache went. */
const RUNNER = `
const cc = require(process.env.LOADER);
const file = process.env.BUNDLE;
const m = cc.loadBundle(file, { hash: 'h1', v8Flags: process.env.V8FLAGS || undefined });
process.on('exit', () => { const st = cc.cacheState(file); console.log(JSON.stringify({ answer: m.answer(), strict: m.strict, ...st, path: st.path ?? null })); });
`;

interface Run {
  answer: number;
  strict: boolean;
  path: string | null;
  used: boolean;
  rejected: boolean;
}

function run(dir: string, env: Record<string, string> = {}, bundle = join(work, 'bundle.cjs'), nodeArgs: string[] = []): Run {
  const r = spawnSync(process.execPath, [...nodeArgs, join(work, 'runner.cjs')], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, LOADER, BUNDLE: bundle, TSBPF_CODE_CACHE: dir, ...env },
  });
  return JSON.parse(r.stdout.trim()) as Run;
}

let n = 0;
/** A fresh cache directory (made by the loader, as it would be). */
const freshDir = () => join(work, `cache${n++}`);
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.v8cache')) : []);

beforeAll(() => {
  if (!existsSync(LOADER)) execFileSync('npm', ['run', 'build', '--silent'], { cwd: root });
  work = mkdtempSync(join(tmpdir(), 'tsbpf-code-cache-'));
  chmodSync(work, 0o755);
  writeFileSync(join(work, 'bundle.cjs'), BUNDLE);
  writeFileSync(join(work, 'runner.cjs'), RUNNER);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('code cache', () => {
  it('a second process takes the cache the first wrote (mode 0600 in a 0700 directory); the code runs strict', () => {
    const dir = freshDir();
    const a = run(dir);
    expect(a).toMatchObject({ answer: 42, strict: true, used: false, rejected: false });
    expect((statSync(dir).mode & 0o777).toString(8)).toBe('700');
    expect(files(dir)).toHaveLength(1);
    expect((statSync(a.path!).mode & 0o777).toString(8)).toBe('600');
    const b = run(dir);
    expect(b).toMatchObject({ answer: 42, strict: true, used: true, path: a.path });
  });

  it('a flipped byte in the payload fails the checksum: V8 never sees it, the run is normal and writes a good cache', () => {
    const dir = freshDir();
    const { path } = run(dir);
    const buf = readFileSync(path!);
    buf[buf.length - 1] ^= 0xff;
    writeFileSync(path!, buf, { mode: 0o600 });
    expect(run(dir)).toMatchObject({ answer: 42, used: false, rejected: false });
    expect(run(dir)).toMatchObject({ used: true });
  });

  it('a truncated or foreign file is not a cache', () => {
    const dir = freshDir();
    const { path } = run(dir);
    for (const bytes of [readFileSync(path!).subarray(0, 40), Buffer.from('not a cache at all, but long enough'), Buffer.alloc(0)]) {
      writeFileSync(path!, bytes, { mode: 0o600 });
      expect(run(dir)).toMatchObject({ answer: 42, used: false });
    }
  });

  it('a cache file writable by others, or owned by another user, is not read', () => {
    const dir = freshDir();
    const { path } = run(dir);
    chmodSync(path!, 0o646);
    expect(run(dir)).toMatchObject({ used: false });
    expect(run(dir)).toMatchObject({ used: true }); // replaced by the run above, ours again
    chownSync(path!, 65534, 65534);
    expect(run(dir)).toMatchObject({ used: false });
  });

  it('a symlink in place of the cache file is not followed', () => {
    const dir = freshDir();
    const { path } = run(dir);
    const elsewhere = join(work, `good${n++}.v8cache`);
    copyFileSync(path!, elsewhere);
    unlinkSync(path!);
    symlinkSync(elsewhere, path!);
    expect(run(dir)).toMatchObject({ answer: 42, used: false });
  });

  it('a directory writable by others, or not a directory, is not used: nothing is read or written there', () => {
    const dir = freshDir();
    const { path } = run(dir);
    chmodSync(dir, 0o777);
    const before = statSync(path!).mtimeMs;
    expect(run(dir, { MARK: 'new-work' })).toMatchObject({ answer: 42, used: false, path: null });
    expect(statSync(path!).mtimeMs).toBe(before);
    const file = join(work, `plain${n++}`);
    writeFileSync(file, 'x');
    expect(run(file)).toMatchObject({ answer: 42, used: false, path: null });
    expect(lstatSync(file).isFile()).toBe(true);
  });

  it('a bundle edited in place (same length) gets its own cache: the old one is never run for it', () => {
    const dir = freshDir();
    const bundle = join(work, `edited${n++}.cjs`);
    writeFileSync(bundle, BUNDLE);
    expect(run(dir, {}, bundle)).toMatchObject({ answer: 42, used: false });
    expect(run(dir, {}, bundle)).toMatchObject({ used: true });
    writeFileSync(bundle, BUNDLE.replace('=> 42', '=> 24'));
    expect(run(dir, {}, bundle)).toMatchObject({ answer: 24, used: false });
    expect(run(dir, {}, bundle)).toMatchObject({ answer: 24, used: true });
  });

  it('a failed run writes nothing; TSBPF_CODE_CACHE=off writes nothing', () => {
    const dir = freshDir();
    expect(run(dir, { FAIL: '1' })).toMatchObject({ used: false });
    expect(files(dir)).toEqual([]);
    expect(run('off')).toMatchObject({ answer: 42, used: false, path: null });
  });

  it('work the cache has not seen (a tag) replaces it; a run that did less keeps it', () => {
    const dir = freshDir();
    const { path } = run(dir);
    const first = statSync(path!).ino;
    expect(run(dir, { MARK: 'load' })).toMatchObject({ used: true });
    const second = statSync(path!).ino;
    expect(second).not.toBe(first);
    expect(readFileSync(path!).toString('latin1', 0, 200)).toContain('"load"');
    expect(run(dir)).toMatchObject({ used: true });
    expect(run(dir, { MARK: 'load' })).toMatchObject({ used: true });
    expect(statSync(path!).ino).toBe(second);
  });

  it('flags the bundle sets as it runs: given as v8Flags the cache holds; not given, it is refused and rewritten once, then left', () => {
    const dir = freshDir();
    run(dir, { SET_FLAG: '1', V8FLAGS: '--no-turbo-inlining' });
    expect(run(dir, { SET_FLAG: '1', V8FLAGS: '--no-turbo-inlining' })).toMatchObject({ used: true });
    const other = freshDir();
    const { path } = run(other, { SET_FLAG: '1' });
    expect(run(other, { SET_FLAG: '1' })).toMatchObject({ used: false, rejected: true });
    const ino = statSync(path!).ino;
    expect(run(other, { SET_FLAG: '1' })).toMatchObject({ answer: 42, used: false, rejected: true });
    expect(statSync(path!).ino).toBe(ino);
  });

  it('cacheDir: off, relative paths and a HOME that is not ours give no directory; XDG_CACHE_HOME and HOME/.cache do', () => {
    expect(cacheDir({ TSBPF_CODE_CACHE: 'off' })).toBeUndefined();
    expect(cacheDir({ TSBPF_CODE_CACHE: '0', HOME: work })).toBeUndefined();
    expect(cacheDir({ TSBPF_CODE_CACHE: 'relative/dir' })).toBeUndefined();
    expect(cacheDir({ TSBPF_CODE_CACHE: '/abs/dir' })).toBe('/abs/dir');
    expect(cacheDir({})).toBeUndefined();
    expect(cacheDir({ HOME: 'not/absolute' })).toBeUndefined();
    const home = join(work, `home${n++}`);
    mkdirSync(home);
    expect(cacheDir({ HOME: home })).toBe(join(home, '.cache/tsbpf'));
    expect(cacheDir({ HOME: home, XDG_CACHE_HOME: join(home, 'xdg') })).toBe(join(home, 'xdg/tsbpf'));
    if (process.geteuid?.() === 0) {
      // Root with another user's HOME (sudo -E): nothing of root's goes there.
      const theirs = join(work, `theirs${n++}`);
      mkdirSync(theirs);
      chownSync(theirs, 65534, 65534);
      expect(cacheDir({ HOME: theirs })).toBeUndefined();
    }
  });

  it('checksum: the WebAssembly sum equals the JS one, for every length and alignment', () => {
    const all = new Uint8Array(4099);
    for (let i = 0; i < all.length; i++) all[i] = (i * 2654435761) >>> 24;
    const seen = new Set<string>();
    for (const len of [0, 1, 3, 4, 5, 8, 1000, 4093]) {
      for (const off of [0, 1, 2, 4]) {
        const b = all.subarray(off, off + len);
        expect(checksum(b)).toBe(checksumJs(b));
        seen.add(checksumJs(b));
      }
    }
    expect(seen.size).toBeGreaterThan(25);
    const flipped = all.slice();
    flipped[2000] ^= 1;
    expect(checksum(flipped)).not.toBe(checksum(all));
  });

  it('Node flags from NODE_OPTIONS get a cache of their own, used by the next process with them', () => {
    const dir = freshDir();
    run(dir);
    const opts = { NODE_OPTIONS: '--max-old-space-size=200' };
    expect(run(dir, opts)).toMatchObject({ used: false, rejected: false });
    expect(run(dir, opts)).toMatchObject({ used: true });
    expect(run(dir)).toMatchObject({ used: true });
    expect(files(dir)).toHaveLength(2);
  });

  it('under --jitless (no WebAssembly) the cache is read and checked in JS', () => {
    const dir = freshDir();
    expect(run(dir, {}, undefined, ['--jitless'])).toMatchObject({ answer: 42, used: false });
    expect(run(dir, {}, undefined, ['--jitless'])).toMatchObject({ answer: 42, used: true });
  });

  it('cliVariant: the first two words that are not options', () => {
    expect(cliVariant(['btf', 'dump', 'file', 'x'])).toBe('btf-dump');
    expect(cliVariant(['-j', 'map'])).toBe('map');
    expect(cliVariant(['--help'])).toBe('main');
    expect(cliVariant([])).toBe('main');
  });
});

describe('the package entries through the cache', () => {
  it('dist/cli.js: btf dump prints the same with and without its cache, and the second run does not rewrite it', () => {
    const dir = freshDir();
    const args = [join(root, 'dist/cli.js'), 'btf', 'dump', 'file', join(root, 'test/fixtures/btf/core.o'), 'format', 'c'];
    const env = { ...process.env, TSBPF_CODE_CACHE: dir };
    const plain = execFileSync(process.execPath, args, { env: { ...env, TSBPF_CODE_CACHE: 'off' } });
    const first = execFileSync(process.execPath, args, { env });
    const [cache] = files(dir);
    expect(cache).toMatch(/^cli\.cjs-btf-dump-/);
    const ino = statSync(join(dir, cache!)).ino;
    const second = execFileSync(process.execPath, args, { env });
    expect(first.equals(plain) && second.equals(plain)).toBe(true);
    expect(statSync(join(dir, cache!)).ino).toBe(ino);
  });

  ktest('dist/index.js and tsbpf/testing share one library instance through the cache', () => {
    const dir = freshDir();
    const script = join(work, `shared${n++}.mjs`);
    writeFileSync(script, `
import { BpfMap, BpfError } from ${JSON.stringify(join(root, 'dist/index.js'))};
import { setBpfBackend } from ${JSON.stringify(join(root, 'dist/testing.js'))};
const real = setBpfBackend((cmd, attr, size) => (cmd === 0 ? -1 : real(cmd, attr, size)));
let code = 'none';
try { BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 1 }); } catch (e) { code = e instanceof BpfError ? e.code : String(e); }
setBpfBackend(real);
const m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 1 });
m.close();
console.log(code);
`);
    for (let i = 0; i < 2; i++) {
      expect(execFileSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, TSBPF_CODE_CACHE: dir } }).trim()).toBe('EPERM');
    }
    expect(files(dir).some((f) => f.startsWith('tsbpf.cjs-'))).toBe(true);
  });
});
