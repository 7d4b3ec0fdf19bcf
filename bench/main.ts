/**
 * `npm run bench -- [workload ...] [--json] [--quick]`
 * Runs each workload's tsbpf side and its libbpf/bpftool baseline in the same
 * run, then prints a table with ratios (or JSON lines with --json).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRoot, formatTable, runC, type BenchContext, type Measurement } from './harness.ts';
import { workloads } from './workloads/index.ts';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      `usage: npm run bench -- [workload ...] [--json] [--quick]\n` +
        `Runs each workload beside its libbpf/bpftool baseline in the same run and prints the ratios.\n` +
        `workloads: ${workloads.map((w) => w.name).join(', ')}\n`,
    );
    return 0;
  }
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !workloads.some((w) => w.name === n));
  if (unknown.length) {
    process.stderr.write(`bench: unknown workload(s) ${unknown.join(', ')}; known: ${workloads.map((w) => w.name).join(', ')}\n`);
    return 2;
  }
  const selected = names.length ? workloads.filter((w) => names.includes(w.name)) : workloads;
  const root = findRoot();
  // The processes the workloads start (the CLI, first-load children) share a code cache of their own:
  // what they measure is a machine where tsbpf ran before, and nothing of the user's cache is read or changed.
  const ownCache = process.env.TSBPF_CODE_CACHE === undefined ? mkdtempSync(join(tmpdir(), 'tsbpf-bench-cache-')) : undefined;
  if (ownCache) process.env.TSBPF_CODE_CACHE = ownCache;
  const all: Measurement[] = [];
  for (const w of selected) {
    const ctx: BenchContext = {
      root,
      quick,
      log: (m) => process.stderr.write(`[${w.name}] ${m}\n`),
      runC: (program, args) => runC(root, w.name, program, args),
    };
    const ms = await w.run(ctx);
    all.push(...ms);
    if (json) for (const m of ms) process.stdout.write(JSON.stringify(m) + '\n');
  }
  if (ownCache) rmSync(ownCache, { recursive: true, force: true });
  if (!json) process.stdout.write(formatTable(all) + '\n');
  return 0;
}

main(process.argv.slice(2)).then((c) => (process.exitCode = c));
