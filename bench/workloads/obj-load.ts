/**
 * obj-load: opening (parsing) and opening + loading an object with maps of
 * several types, global data, a subprogram and CO-RE reads of task_struct
 * (bench/bpf/obj_load.bpf.o), against libbpf's bpf_object__open_file and
 * bpf_object__load in the same run.
 *
 *   open            loadCollectionSpec(path) vs bpf_object__open_file (median, ms)
 *   open_load       open + loadCollection, the kernel BTF already parsed by an
 *                   earlier load in this process (how a long-running tool loads
 *                   its second object) vs open + bpf_object__load (median, ms)
 *   open_load_cold  the same with the kernel BTF cache dropped before every load,
 *                   so tsbpf reads and parses vmlinux BTF each time, as libbpf does
 */
import { join } from 'node:path';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { dropKernelBtfCache } from '../../bpf/btf/kernel.ts';
import { median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

export const objLoad: Workload = {
  name: 'obj-load',
  description: 'open and load an object with CO-RE against vmlinux',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const obj = join(ctx.root, 'bench/bpf/obj_load.bpf.o');
    const runs = ctx.quick ? 5 : 25;
    const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
    // Warm up: JIT, and the kernel BTF cache for the warm metric.
    for (let i = 0; i < 3; i++) loadCollection(loadCollectionSpec(obj)).close();

    const open: number[] = [];
    const warm: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = process.hrtime.bigint();
      loadCollectionSpec(obj);
      open.push(ms(t0));

      t0 = process.hrtime.bigint();
      const c = loadCollection(loadCollectionSpec(obj));
      warm.push(ms(t0));
      c.close();

      dropKernelBtfCache();
      t0 = process.hrtime.bigint();
      const d = loadCollection(loadCollectionSpec(obj));
      cold.push(ms(t0));
      d.close();
    }
    const out: Measurement[] = [
      { workload: 'obj-load', impl: 'tsbpf', metric: 'open', value: median(open), unit: 'ms' },
      { workload: 'obj-load', impl: 'tsbpf', metric: 'open_load', value: median(warm), unit: 'ms' },
      { workload: 'obj-load', impl: 'tsbpf', metric: 'open_load_cold', value: median(cold), unit: 'ms' },
    ];
    return out.concat(ctx.runC('obj-load', [obj, String(runs)]));
  },
};
