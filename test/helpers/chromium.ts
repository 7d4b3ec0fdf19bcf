/**
 * Headless Chromium for tests that check what a browser really shows:
 * screenshots (kept in the test output directory for a person to look at)
 * and the DOM after the page's scripts ran. Each run gets its own profile
 * directory, so concurrent runs never share browser state.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from './env.ts';

export function chromiumPath(): string | undefined {
  return which('chromium') ?? which('chromium-browser') ?? which('google-chrome');
}

/** test-output/<name>/ at the repository root (or under $TSBPF_TEST_OUTPUT): kept after the run, ignored by git. */
export function testOutputDir(name: string): string {
  const root = process.env.TSBPF_TEST_OUTPUT ?? new URL('../../test-output/', import.meta.url).pathname;
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function chromium(args: string[], timeoutMs: number): Promise<string> {
  const bin = chromiumPath();
  if (!bin) throw new Error('chromium is not installed (apt-get install chromium)');
  const profile = mkdtempSync(join(tmpdir(), 'tsbpf-chromium-'));
  const all = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars', `--user-data-dir=${profile}`, ...args];
  return new Promise<string>((resolve, reject) => {
    execFile(bin, all, { timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, HOME: profile } }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`chromium ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A PNG of `file` as a width x height window shows it. */
export async function screenshot(file: string, png: string, width = 1200, height = 800, timeoutMs = 60_000): Promise<void> {
  await chromium([`--screenshot=${png}`, `--window-size=${width},${height}`, `file://${file}`], timeoutMs);
}

/** The document's markup after its scripts ran at load. */
export function dumpDom(file: string, timeoutMs = 60_000): Promise<string> {
  return chromium(['--dump-dom', `file://${file}`], timeoutMs);
}
