/**
 * `tsbpf profile` against real processes: a C target burning CPU in
 * hot_alpha and hot_beta with 3:1 work gets about that ratio of samples with
 * main below both; a Node process run with --perf-basic-prof shows its hot
 * JavaScript function by name; the SVG flame graph is well-formed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';

const FIXTURE = new URL('./fixtures/symbolize/', import.meta.url).pathname;
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
let work = '';
let target = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsbpf-profile-'));
  if (!which('gcc')) return;
  target = join(work, 'target');
  execFileSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-o', target, join(FIXTURE, 'target.c')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `cmd args` until it prints "ready", then profiles it with `profileArgs`; returns the CLI's stdout. */
async function profileOf(cmd: string, args: string[], profileArgs: string[]): Promise<string> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.on('exit', (c) => reject(new Error(`${cmd} exited ${c}`)));
      child.stdout!.on('data', (d) => ((out += d), /^ready$/m.test(out) && resolve()));
    });
    child.removeAllListeners('exit');
    return await new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [CLI, 'profile', '--pid', String(child.pid), ...profileArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`profile exited ${code}: ${err}`))));
    });
  } finally {
    child.kill('SIGKILL');
  }
}

function samplesMatching(folded: string, re: RegExp): number {
  return folded.split('\n').filter((l) => re.test(l)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
}

ktest('C target: hot_alpha:hot_beta samples about 3:1, main below both', async (ctx) => {
  if (!target) return ctx.skip('gcc is not installed');
  const folded = await profileOf(target, ['burn', '30'], ['--freq', '999', '--duration', '3', '--folded']);
  const alpha = samplesMatching(folded, /;main;hot_alpha( |;)/);
  const beta = samplesMatching(folded, /;main;hot_beta( |;)/);
  expect(alpha + beta).toBeGreaterThan(200);
  expect(alpha / beta).toBeGreaterThan(2.2);
  expect(alpha / beta).toBeLessThan(4);
}, { timeout: 30_000 });

ktest('--lines: user frames carry target.c:LINE in folded output and file/line in JSON', async (ctx) => {
  if (!target) return ctx.skip('gcc is not installed');
  const folded = await profileOf(target, ['burn', '30'], ['--freq', '499', '--duration', '2', '--lines', '--folded']);
  expect(samplesMatching(folded, /;main_\(target\.c:\d+\);hot_alpha_\(target\.c:\d+\)( |;)/)).toBeGreaterThan(20);
  const json = JSON.parse(await profileOf(target, ['burn', '30'], ['--freq', '499', '--duration', '1', '--lines', '--json']));
  const frames = json.stacks.flatMap((s: { frames: { symbol?: string; file?: string; line?: number }[] }) => s.frames);
  const alpha = frames.find((f: { symbol?: string }) => f.symbol === 'hot_alpha');
  expect(alpha.file).toBe(join(FIXTURE, 'target.c'));
  expect(alpha.line).toBeGreaterThan(0);
}, { timeout: 30_000 });

ktest('node --perf-basic-prof: the hot JavaScript function is named in JIT frames', async () => {
  const folded = await profileOf(process.execPath, ['--perf-basic-prof', join(FIXTURE, 'hot.js')], ['--freq', '499', '--duration', '2', '--folded']);
  expect(samplesMatching(folded, /hotJavaScriptFunction[^;]*_\[j\]/)).toBeGreaterThan(50);
}, { timeout: 30_000 });

ktest('--svg: a well-formed self-contained flame graph', async (ctx) => {
  if (!target) return ctx.skip('gcc is not installed');
  const file = join(work, 'out.svg');
  await profileOf(target, ['burn', '30'], ['--freq', '499', '--duration', '1', '--svg', file]);
  const svg = readFileSync(file, 'utf8');
  expect(svg.startsWith('<?xml')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg.match(/<g[ >]/g)!.length).toBe(svg.match(/<\/g>/g)!.length);
  expect(svg).toContain('hot_alpha');
  expect(svg).toContain('<script><![CDATA[');
  expect(svg).not.toMatch(/<(?:script|image|use)[^>]+(?:href|src)=/); // nothing fetched from outside
}, { timeout: 30_000 });
