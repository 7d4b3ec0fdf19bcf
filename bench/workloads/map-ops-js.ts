/**
 * map-ops-js: tsbpf's own JavaScript per element operation, with bpf(2)
 * stubbed out (tsbpf only: it says what of map-ops' overhead over a bare
 * koffi call is the library's code). The maps are real; then a backend that
 * answers the element commands (lookup, update, delete) with 0 without
 * entering the kernel replaces the real one, and each operation runs in a
 * loop. `floor` is the same loop around the backend call alone (one attr
 * word written, the call, one word read). ns per operation, median of rounds.
 */
import { BpfMap } from '../../bpf/maps/map.ts';
import { BpfCmd, bpfRaw, setBpfBackend, type BpfBackend } from '../../syscall/bpf.ts';
import { NativeBlock } from '../../syscall/memory.ts';
import { median, type BenchContext, type Measurement, type Workload } from '../harness.ts';

const N = 1024;

export const mapOpsJs: Workload = {
  name: 'map-ops-js',
  description: "tsbpf's own JavaScript per map element operation, bpf(2) stubbed out (ns/op)",
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const iters = ctx.quick ? 1_000_000 : 5_000_000;
    const rounds = ctx.quick ? 3 : 7;
    let stub = false;
    // One backend for the whole run (a call site that sees one function, as in a real program).
    const real: BpfBackend = setBpfBackend((cmd, attr, size) =>
      stub && cmd >= BpfCmd.MAP_LOOKUP_ELEM && cmd <= BpfCmd.MAP_DELETE_ELEM ? 0 : real(cmd, attr, size),
    );
    const hash = BpfMap.create({ name: 'js_hash', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: N });
    const array = BpfMap.create({ name: 'js_array', type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: N });
    const block = new NativeBlock(64);
    try {
      for (let k = 0; k < N; k++) hash.update(k, k + 1);
      const v = Buffer.alloc(8);
      const u = block.u32;
      let sink = 0;
      const ops: Record<string, () => void> = {
        floor() {
          for (let i = 0; i < iters; i++) {
            u[8] = i & (N - 1);
            bpfRaw(BpfCmd.MAP_LOOKUP_ELEM, block, 32);
            sink = (sink + u[10]!) | 0;
          }
        },
        'hash.lookup'() {
          for (let i = 0; i < iters; i++) {
            hash.lookup(i & (N - 1), v);
            sink = (sink + v[0]!) | 0;
          }
        },
        'array.lookup'() {
          for (let i = 0; i < iters; i++) {
            array.lookup(i & (N - 1), v);
            sink = (sink + v[0]!) | 0;
          }
        },
        'hash.update'() {
          for (let i = 0; i < iters; i++) hash.update(i & (N - 1), i);
        },
        'hash.delete'() {
          for (let i = 0; i < iters; i++) hash.delete(i & (N - 1));
        },
      };
      stub = true;
      const times = new Map<string, number[]>();
      for (let r = 0; r < rounds; r++) {
        for (const [name, f] of Object.entries(ops)) {
          const t0 = process.hrtime.bigint();
          f();
          const ns = Number(process.hrtime.bigint() - t0) / iters;
          if (r > 0) (times.get(name) ?? times.set(name, []).get(name)!).push(ns);
        }
      }
      stub = false;
      void sink;
      return [...times].map(([metric, ns]) => ({ workload: 'map-ops-js', impl: 'tsbpf', metric, value: median(ns), unit: 'ns/op' }));
    } finally {
      stub = false;
      setBpfBackend(real);
      block.free();
      hash.close();
      array.close();
    }
  },
};
