/**
 * btf-dump-c: the running kernel's BTF as a C header (vmlinux.h), against
 * `bpftool btf dump file /sys/kernel/btf/vmlinux format c`.
 *
 *   vmlinux.dump_c        in-process: read the file + parse + dumpC (median of
 *                         runs after a first one, ms) vs bpftool's wall time
 *                         (median, ms; output to /dev/null). bpftool's figure
 *                         includes its process start-up, this one does not.
 *   vmlinux.dump_c_first  the same, first run in a fresh process (the JIT has
 *                         optimised nothing yet: what a one-shot CLI pays)
 *   vmlinux.dump_c_cli    wall time of `tsbpf btf dump FILE --format c`
 *                         (node dist/cli.js, output to /dev/null; median, ms)
 *                         vs bpftool's: both with process start-up
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Btf } from '../../btf/btf.ts';
import { dumpC } from '../../btf/dump-c.ts';
import { median, timeNs, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const BPFTOOL = ['/usr/sbin/bpftool', '/usr/bin/bpftool', '/sbin/bpftool'].find((p) => existsSync(p));

/** Wall time (ms) of a command with stdout to /dev/null; throws when it fails. */
function wallMs(cmd: string, args: string[]): number {
  const devnull = openSync('/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', devnull, 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
    return ms;
  } finally {
    closeSync(devnull);
  }
}

export const btfDumpC: Workload = {
  name: 'btf-dump-c',
  description: 'vmlinux.h from /sys/kernel/btf/vmlinux (dumpC, tsbpf btf dump --format c) vs bpftool format c',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const runs = ctx.quick ? 5 : 15;
    const out: Measurement[] = [];
    const m = (metric: string, value: number, impl: 'tsbpf' | 'bpftool' = 'tsbpf') =>
      out.push({ workload: 'btf-dump-c', impl, metric, value, unit: 'ms' });

    let text = '';
    const once = () => timeNs(() => (text = dumpC(Btf.parse(readFileSync(VMLINUX))))) / 1e6;
    // The first run of this process (cold JIT) is its own figure; the median is over the runs after it.
    const first = once();
    const inproc: number[] = [];
    for (let i = 0; i < runs; i++) inproc.push(once());

    const cli = join(ctx.root, 'dist/cli.js');
    if (!existsSync(cli)) throw new Error('bench btf-dump-c: dist/cli.js is missing (npm run build)');
    const cliRuns: number[] = [];
    const toolRuns: number[] = [];
    // One unmeasured run writes the CLI's code cache (bench/main.ts gives the bench its own). Interleaved, so that both see the same machine load.
    wallMs(process.execPath, [cli, 'btf', 'dump', VMLINUX, '--format', 'c']);
    for (let i = 0; i < runs; i++) {
      cliRuns.push(wallMs(process.execPath, [cli, 'btf', 'dump', VMLINUX, '--format', 'c']));
      if (BPFTOOL) toolRuns.push(wallMs(BPFTOOL, ['btf', 'dump', 'file', VMLINUX, 'format', 'c']));
    }

    m('vmlinux.dump_c', median(inproc));
    m('vmlinux.dump_c_first', first);
    m('vmlinux.dump_c_cli', median(cliRuns));
    if (BPFTOOL) {
      const tool = median(toolRuns);
      m('vmlinux.dump_c', tool, 'bpftool');
      m('vmlinux.dump_c_first', tool, 'bpftool');
      m('vmlinux.dump_c_cli', tool, 'bpftool');
      const r = spawnSync(BPFTOOL, ['btf', 'dump', 'file', VMLINUX, 'format', 'c'], { encoding: 'utf8', maxBuffer: 256 << 20 });
      ctx.log(`${text.length} bytes of C; ${r.stdout === text ? 'identical to' : 'DIFFERENT from'} bpftool's`);
    } else {
      ctx.log('bpftool not found: no baseline');
    }
    return out;
  },
};
