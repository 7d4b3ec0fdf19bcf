/**
 * The README's Example section runs as written: each ```js / ```ts block,
 * types stripped and nothing lowered, is parsed by this Node (on Node 20, the
 * `engines` floor, a `using` declaration is a SyntaxError), then bundled with esbuild against lib/ ('tsbpf' resolved to
 * lib/index.ts, the object to the shipped examples/execsnoop.bpf.o) and run in
 * a child Node against the real kernel. The child runs in a private mount
 * namespace with a bpffs of its own (mounted by the library), so the example's
 * pin leaves nothing behind on the host.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync, transformSync } from 'esbuild';
import { describe, expect } from 'vitest';
import { ktest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const example = readme.slice(readme.indexOf('## Example'), readme.indexOf('\n## ', readme.indexOf('## Example') + 1));
const blocks = [...example.matchAll(/```(js|ts)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
const work = join(root, 'node_modules', '.tsbpf-readme');

describe('README examples', () => {
  ktest('the Example section has code blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  blocks.forEach((b, i) => {
    ktest(`example ${i + 1} (${b.lang}) is valid JavaScript for this Node and runs against the kernel`, () => {
      mkdirSync(work, { recursive: true });
      const raw = join(work, `raw-${process.pid}-${i}.mjs`);
      const out = join(work, `run-${process.pid}-${i}.mjs`);
      try {
        // Types stripped and nothing lowered: what a reader's plain .mjs would hold.
        writeFileSync(raw, b.lang === 'ts' ? transformSync(b.code, { loader: 'ts', format: 'esm', target: 'esnext' }).code : b.code);
        const check = spawnSync(process.execPath, ['--check', raw], { encoding: 'utf8' });
        expect(check.stderr, `node ${process.version} --check`).toBe('');
        expect(check.status).toBe(0);
        const code = b.code.replace(/'execsnoop\.bpf\.o'/g, JSON.stringify(join(root, 'examples/execsnoop.bpf.o')));
        buildSync({
          stdin: { contents: code, loader: b.lang as 'js' | 'ts', resolveDir: root, sourcefile: `README example ${i + 1}` },
          bundle: true,
          platform: 'node',
          format: 'esm',
          target: 'node20',
          external: ['koffi'],
          alias: { tsbpf: join(root, 'lib/index.ts') },
          outfile: out,
          logLevel: 'silent',
        });
        // A bpffs of its own: unmount the inherited one; the library mounts a fresh one for the pin.
        const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'while umount -l /sys/fs/bpf 2>/dev/null; do :; done; exec "$0" "$1"', process.execPath, out], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
      } finally {
        rmSync(raw, { force: true });
        rmSync(out, { force: true });
      }
    }, { timeout: 90_000 });
  });
});
