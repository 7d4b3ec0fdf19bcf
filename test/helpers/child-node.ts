/**
 * Run a TypeScript snippet in a fresh Node process: for tests whose failure
 * mode is a crash (abort, SIGSEGV) or that need their own heap (--expose-gc).
 * The snippet is bundled with esbuild from the repository root (imports like
 * './lib/index.ts'); koffi stays external and is found through NODE_PATH.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runSnippet(code: string, opts: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): ChildResult {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-child-'));
  try {
    const script = join(dir, 'child.cjs');
    const out = buildSync({
      stdin: { contents: code, resolveDir: process.cwd(), loader: 'ts', sourcefile: 'child.ts' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['koffi'],
      sourcemap: 'inline',
      write: false,
    });
    writeFileSync(script, out.outputFiles[0]!.text);
    const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), '--enable-source-maps', script], {
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: join(process.cwd(), 'node_modules'), ...opts.env },
      timeout: opts.timeoutMs ?? 60_000,
    });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The last line of stdout, parsed as JSON; fails with the child's stderr when it crashed. */
export function childJson<T>(r: ChildResult): T {
  if (r.status !== 0) throw new Error(`child exited with ${r.status ?? r.signal}:\n${r.stderr}\n${r.stdout}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}
