/**
 * obj-load-first: the first object load of a fresh process, what a one-shot
 * tool pays: a new `node` imports tsbpf (the dist build) and loads
 * bench/bpf/obj_load.bpf.o once, timed inside that process from before
 * loadCollectionSpec to after loadCollection (import not included); beside
 * it a fresh libbpf process's first bpf_object__open_file + bpf_object__load
 * (bench/libbpf/obj-load-first.c). Median over fresh processes, the two
 * interleaved so that both see the same machine load.
 *
 *   open_load_first           CO-RE against the running kernel's vmlinux BTF
 *   open_load_first_min_core  CO-RE against a minimal target BTF (`bpftool gen
 *                             min_core_btf` of vmlinux for this object), passed
 *                             as `kernelBtf` / btf_custom_path
 *   ..._no_code_cache         the same with TSBPF_CODE_CACHE=off: the very first
 *                             tsbpf process on a machine (every function compiled
 *                             afresh); the others use the code cache that the
 *                             unmeasured first round wrote
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildC, median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const BPFTOOL = ['/usr/sbin/bpftool', '/usr/bin/bpftool', '/sbin/bpftool'].find((p) => existsSync(p));

/** The child: import the dist build, load once, print the figure. */
const CHILD = `
const { loadCollectionSpec, loadCollection } = await import(process.argv[2]);
const opts = process.argv[4] ? { kernelBtf: process.argv[4] } : {};
const t0 = process.hrtime.bigint();
const c = loadCollection(loadCollectionSpec(process.argv[3]), opts);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
c.close();
process.stdout.write(JSON.stringify({ value: ms }) + '\\n');
`;

function figure(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`bench obj-load-first: ${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { value: number }).value;
}

export const objLoadFirst: Workload = {
  name: 'obj-load-first',
  description: 'first open + load of an object in a fresh process (vmlinux and minimal CO-RE target)',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const obj = join(ctx.root, 'bench/bpf/obj_load.bpf.o');
    const dist = join(ctx.root, 'dist/index.js');
    if (!existsSync(dist)) throw new Error('bench obj-load-first: dist/index.js is missing (npm run build)');
    const runs = ctx.quick ? 7 : 21;
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-'));
    try {
      const child = join(dir, 'child.mjs');
      writeFileSync(child, CHILD);
      const c = buildC(ctx.root, 'obj-load-first');
      // The third field: without the code cache (TSBPF_CODE_CACHE=off), what the very first tsbpf process on a machine pays.
      const targets: [string, string | undefined, boolean?][] = [['open_load_first', undefined], ['open_load_first_no_code_cache', undefined, true]];
      if (BPFTOOL) {
        const min = join(dir, 'min.btf');
        execFileSync(BPFTOOL, ['gen', 'min_core_btf', '/sys/kernel/btf/vmlinux', min, obj], { stdio: 'pipe' });
        targets.push(['open_load_first_min_core', min], ['open_load_first_min_core_no_code_cache', min, true]);
      } else ctx.log('bpftool not found: no minimal-target variant');
      const out: Measurement[] = [];
      for (const [metric, target, noCache] of targets) {
        const env = noCache ? { ...process.env, TSBPF_CODE_CACHE: 'off' } : undefined;
        const extra = target ? [target] : [];
        const ts: number[] = [];
        const lb: number[] = [];
        // One unmeasured round first: page cache, the dist bundle read once.
        for (let i = -1; i < runs; i++) {
          const a = figure(process.execPath, [child, dist, obj, ...extra], env);
          const b = figure(c, [obj, ...extra]);
          if (i >= 0) ts.push(a), lb.push(b);
        }
        out.push({ workload: 'obj-load-first', impl: 'tsbpf', metric, value: median(ts), unit: 'ms' });
        out.push({ workload: 'obj-load-first', impl: 'libbpf', metric, value: median(lb), unit: 'ms' });
      }
      return out;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
