/**
 * min-core-btf: the minimal BTF of the repo's CO-RE objects out of the running
 * kernel's BTF, against `bpftool gen min_core_btf` on the same inputs.
 *
 *   vmlinux.min_core        in-process: read + parse vmlinux + minCoreBtf
 *                           (median of runs after a first one, ms) vs
 *                           bpftool's wall time (median, ms), which includes
 *                           its process start-up
 *   vmlinux.min_core_first  the same, first run in a fresh process (cold JIT)
 *   vmlinux.min_core_cli    wall time of `tsbpf gen min_core_btf` (node
 *                           dist/cli.js) vs bpftool's: both with start-up
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Btf } from '../../btf/btf.ts';
import { minCoreBtf } from '../../btf/min-core.ts';
import { median, timeNs, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const BPFTOOL = ['/usr/sbin/bpftool', '/usr/bin/bpftool', '/sbin/bpftool'].find((p) => existsSync(p));
const OBJECTS = ['test/bpf/core_kernel.o', 'examples/execsnoop.bpf.o', 'test/bpf/core_local.o', 'test/bpf/vm_modules.o'];

function wallMs(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return ms;
}

export const minCoreBtfBench: Workload = {
  name: 'min-core-btf',
  description: 'minimal CO-RE BTF of 4 objects from /sys/kernel/btf/vmlinux (minCoreBtf, tsbpf gen min_core_btf) vs bpftool gen min_core_btf',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const runs = ctx.quick ? 5 : 15;
    const out: Measurement[] = [];
    const m = (metric: string, value: number, impl: 'tsbpf' | 'bpftool' = 'tsbpf') => out.push({ workload: 'min-core-btf', impl, metric, value, unit: 'ms' });
    const objects = OBJECTS.map((p) => join(ctx.root, p));
    const bytes = objects.map((p) => readFileSync(p));

    let result: Uint8Array = new Uint8Array(0);
    const once = () => timeNs(() => (result = minCoreBtf(Btf.parse(readFileSync(VMLINUX)), bytes))) / 1e6;
    const first = once();
    const inproc: number[] = [];
    for (let i = 0; i < runs; i++) inproc.push(once());

    const cli = join(ctx.root, 'dist/cli.js');
    if (!existsSync(cli)) throw new Error('bench min-core-btf: dist/cli.js is missing (npm run build)');
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-mincore-'));
    try {
      const cliRuns: number[] = [];
      const toolRuns: number[] = [];
      // One unmeasured run writes the CLI's code cache (bench/main.ts gives the bench its own).
      wallMs(process.execPath, [cli, 'gen', 'min_core_btf', VMLINUX, join(dir, 'tsbpf.btf'), ...objects]);
      for (let i = 0; i < runs; i++) {
        cliRuns.push(wallMs(process.execPath, [cli, 'gen', 'min_core_btf', VMLINUX, join(dir, 'tsbpf.btf'), ...objects]));
        if (BPFTOOL) toolRuns.push(wallMs(BPFTOOL, ['gen', 'min_core_btf', VMLINUX, join(dir, 'bpftool.btf'), ...objects]));
      }
      m('vmlinux.min_core', median(inproc));
      m('vmlinux.min_core_first', first);
      m('vmlinux.min_core_cli', median(cliRuns));
      if (BPFTOOL) {
        const tool = median(toolRuns);
        for (const k of ['vmlinux.min_core', 'vmlinux.min_core_first', 'vmlinux.min_core_cli']) m(k, tool, 'bpftool');
        const same = Buffer.from(result).equals(readFileSync(join(dir, 'bpftool.btf')));
        ctx.log(`${result.length} bytes of BTF; ${same ? 'identical to' : 'DIFFERENT from'} bpftool's`);
      } else {
        ctx.log('bpftool not found: no baseline');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
};
