/**
 * Handles dropped without close(): close stays explicit, but the GC closes
 * what was collected (fds, scratch memory, mmapped global data and rings),
 * and with fd tracing on the report names where the handle was created.
 * Each case runs in a child with --expose-gc so the heap is its own.
 */
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { ktest } from './helpers/kernel.ts';
import { childJson, runSnippet } from './helpers/child-node.ts';

const LOADER_O = join(new URL('./bpf/', import.meta.url).pathname, 'loader.o');

/** Collect until `done()` holds, a bounded number of rounds (each lets finalizers run), not a wall-clock wait. */
const GC_UNTIL = `
  const fdCount = () => require('node:fs').readdirSync('/proc/self/fd').length;
  const bpfMappings = () => require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l: string) => l.includes('bpf')).length;
  async function gcUntil(done: () => boolean): Promise<boolean> {
    for (let i = 0; i < 200; i++) {
      if (done()) return true;
      (globalThis as { gc?: () => void }).gc!();
      await new Promise((r) => setImmediate(r));
    }
    return done();
  }
`;

describe('handles collected without close()', () => {
  ktest('300 dropped maps: the fd count returns to the baseline after GC (child process)', () => {
    const r = runSnippet(
      `
      import { BpfMap } from './lib/index.ts';
      ${GC_UNTIL}
      (async () => {
        // Warm up what the library opens once (probes, caches) before the baseline.
        BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 }).close();
        const base = fdCount();
        (() => {
          for (let i = 0; i < 300; i++) {
            const m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 });
            m.update(i, BigInt(i));
          }
        })();
        const peak = fdCount();
        const back = await gcUntil(() => fdCount() <= base);
        console.log(JSON.stringify({ grew: peak - base, back, after: fdCount() - base }));
      })();
    `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(childJson(r)).toEqual({ grew: 300, back: true, after: 0 });
  });

  ktest('a dropped collection with mmapped variables and a dropped ring buffer are unmapped after GC (child process)', () => {
    const r = runSnippet(
      `
      import { BpfMap } from './lib/index.ts';
      import { RingBufferReader as RingBuffer } from './bpf/events/ringbuf.ts';
      import { loadCollection } from './bpf/loader/collection.ts';
      import { loadCollectionSpec } from './bpf/loader/collection-spec.ts';
      ${GC_UNTIL}
      (async () => {
        const spec = loadCollectionSpec(${JSON.stringify(LOADER_O)});
        loadCollection(spec).close();
        const rm = BpfMap.create({ type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 });
        new RingBuffer(rm).close();
        rm.close();
        const base = { fds: fdCount(), maps: bpfMappings() };
        (() => {
          const c = loadCollection(spec);
          c.variables.data_var!.set(5n);
          if (c.variables.data_var!.bytes().readBigUInt64LE() !== 5n) throw new Error('variable not written');
        })();
        const rb = BpfMap.create({ type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 });
        (() => new RingBuffer(rb))();
        rb.close();
        const mapped = bpfMappings() - base.maps;
        const back = await gcUntil(() => bpfMappings() <= base.maps);
        console.log(JSON.stringify({ mapped: mapped > 0, back, maps: bpfMappings() - base.maps }));
      })();
    `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(childJson(r)).toEqual({ mapped: true, back: true, maps: 0 });
  });

  ktest('with TSBPF_TRACE_FDS=1 a leak is reported with the call site that created the handle; traceFds(true, listener) too', () => {
    const r = runSnippet(
      `
      import { BpfMap, traceFds, type FdLeak } from './lib/index.ts';
      ${GC_UNTIL}
      const warnings: string[] = [];
      process.on('warning', (w) => { if ((w as { code?: string }).code === 'TSBPF_FD_LEAK') warnings.push(w.message); });
      function createLeakyMap(): void {
        BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
      }
      function createClosedMap(): void {
        BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 }).close();
      }
      function createListenedMap(): void {
        BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
      }
      (async () => {
        createClosedMap();
        createLeakyMap();
        await gcUntil(() => warnings.length > 0);
        const leaks: FdLeak[] = [];
        traceFds(true, (l) => leaks.push(l));
        createListenedMap();
        await gcUntil(() => leaks.length > 0);
        traceFds(false);
        // Untraced handles are still closed, silently.
        const base = fdCount();
        (() => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 }))();
        await gcUntil(() => fdCount() <= base);
        console.log(JSON.stringify({ warnings, leaks, fdsBack: fdCount() <= base }));
      })();
    `,
      { nodeArgs: ['--expose-gc'], env: { TSBPF_TRACE_FDS: '1' } },
    );
    const out = childJson<{ warnings: string[]; leaks: Array<{ kind: string; stack: string }>; fdsBack: boolean }>(r);
    expect(out.warnings).toHaveLength(1);
    expect(out.warnings[0]).toMatch(/^BpfMap \(fd \d+\) was garbage-collected without close\(\); created at:/);
    expect(out.warnings[0]).toMatch(/createLeakyMap/);
    expect(out.warnings[0]).not.toMatch(/createClosedMap/);
    expect(out.leaks).toHaveLength(1);
    expect(out.leaks[0]!.kind).toBe('BpfMap');
    expect(out.leaks[0]!.stack).toMatch(/createListenedMap/);
    expect(out.fdsBack).toBe(true);
  });
});
