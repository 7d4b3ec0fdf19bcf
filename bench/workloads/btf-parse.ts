/**
 * btf-parse: parsing the running kernel's BTF (/sys/kernel/btf/vmlinux).
 *
 *   vmlinux.parse             Btf.parse of a Buffer already read (median, ms)
 *                             vs libbpf btf__new of a buffer already read
 *   vmlinux.parse_file        loadBtfFile: read the file + parse (median, ms) vs btf__parse
 *                             (both read(2) the file; neither maps it)
 *   vmlinux.find_task_struct  a fresh parse + findByName('task_struct', 'struct'),
 *                             including whatever index that builds (median, ms)
 *                             vs btf__new + btf__find_by_name_kind
 *   vmlinux.peak_mem_delta    memory allocated by one parse (MB): JS heap +
 *                             array buffers grown after a forced GC, with no
 *                             GC in between (so garbage counts: an upper bound
 *                             of the peak); libbpf: growth of ru_maxrss
 *   vmlinux.find_all_mem_delta  same, for parse + a lookup that indexes every name
 */
import { readFileSync } from 'node:fs';
import { Btf } from '../../btf/btf.ts';
import { loadBtfFile } from '../../btf/load.ts';
import { getGc, median, timeNs, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const VMLINUX = '/sys/kernel/btf/vmlinux';

function allocatedMb(gc: () => void, fn: () => unknown): number {
  gc();
  gc();
  const a = process.memoryUsage();
  const keep = fn();
  const b = process.memoryUsage();
  void keep;
  return (b.heapUsed + b.arrayBuffers - (a.heapUsed + a.arrayBuffers)) / (1 << 20);
}

export const btfParse: Workload = {
  name: 'btf-parse',
  description: 'parse /sys/kernel/btf/vmlinux; find task_struct',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const runs = ctx.quick ? 7 : 31;
    const buf = readFileSync(VMLINUX);
    const out: Measurement[] = [];
    const m = (metric: string, value: number, unit: string) =>
      out.push({ workload: 'btf-parse', impl: 'tsbpf', metric, value, unit });

    // Warm up the JIT the way a long-running program would have.
    for (let i = 0; i < 5; i++) {
      Btf.parse(buf).findByName('task_struct', 'struct');
      loadBtfFile(VMLINUX);
    }

    const gc = getGc();
    const parse: number[] = [];
    const file: number[] = [];
    const find: number[] = [];
    let btf: Btf | undefined;
    for (let i = 0; i < runs; i++) {
      gc();
      parse.push(timeNs(() => (btf = Btf.parse(buf))) / 1e6);
      gc();
      file.push(timeNs(() => (btf = loadBtfFile(VMLINUX).btf)) / 1e6);
      gc();
      find.push(
        timeNs(() => {
          const b = Btf.parse(buf);
          if (!b.findByName('task_struct', 'struct')) throw new Error('task_struct not found');
        }) / 1e6,
      );
    }
    m('vmlinux.parse', median(parse), 'ms');
    m('vmlinux.parse_file', median(file), 'ms');
    m('vmlinux.find_task_struct', median(find), 'ms');
    const mem = allocatedMb(gc, () => Btf.parse(buf));
    m('vmlinux.peak_mem_delta', mem, 'MB');
    const memAll = allocatedMb(gc, () => {
      const b = Btf.parse(buf);
      b.findByName('no such type');
      return b;
    });
    m('vmlinux.find_all_mem_delta', memAll, 'MB');
    ctx.log(
      `${btf!.count} types, BTF ${(buf.length / (1 << 20)).toFixed(2)} MB; parse allocates ${mem.toFixed(2)} MB ` +
        `(${((mem / (buf.length / (1 << 20))) * 100).toFixed(0)}% of the BTF), with the full name index ${memAll.toFixed(2)} MB`,
    );
    out.push(...ctx.runC('btf-parse', [VMLINUX, String(runs)]));
    return out;
  },
};
