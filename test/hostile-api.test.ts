/**
 * The public API under a hostile caller: arguments of the wrong type or out of
 * range get a typed error, never a hang, a crash or a different object. Cases
 * whose failure mode is a hang or a crash run in a child process.
 */
import { describe, expect } from 'vitest';
import { BpfMap, TsbpfError, loadCollection, loadCollectionSpec, setVariable } from '../lib/index.ts';
import { childJson, runSnippet } from './helpers/child-node.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const hashSpec = { name: 'hostile', type: 'HASH' as const, keySize: 4, valueSize: 8, maxEntries: 16 };

function code(e: unknown): string | undefined {
  expect(e).toBeInstanceOf(TsbpfError);
  return (e as TsbpfError).code;
}

describe('hostile arguments', () => {
  ktest('batches() with a batch size of 0 or null is refused instead of looping forever', () => {
    // Before the fix the generator read 0 entries per step and never finished: the child is killed.
    const r = runSnippet(
      `import { BpfMap, TsbpfError } from './lib/index.ts';
       const m = BpfMap.create(${JSON.stringify(hashSpec)});
       m.update(1, 1n);
       const out = [];
       for (const n of [0, null, NaN, -1, 1.5, '8', 2 ** 53]) {
         try { out.push([...m.batches(n)].length); } catch (e) { out.push(e instanceof TsbpfError ? e.code : String(e)); }
       }
       out.push([...m.batches(2 ** 40)].reduce((s, b) => s + b.count, 0)); // clamped to max_entries, not allocated
       m.close();
       console.log(JSON.stringify(out));`,
      { timeoutMs: 30_000 },
    );
    expect(r.signal).toBeNull();
    expect(childJson<unknown[]>(r)).toEqual(['BAD_SIZE', 'BAD_SIZE', 'BAD_SIZE', 'BAD_SIZE', 'BAD_SIZE', 'BAD_SIZE', 1, 1]);
  });

  ktest('fromFd and fromId refuse numbers that would wrap to another fd or id', () => {
    const m = BpfMap.create(hashSpec);
    try {
      // koffi truncates 2**32 + fd to fd, and the u32 id field truncates 2**32 + id to id.
      expect(code(thrown(() => BpfMap.fromFd(2 ** 32 + m.fd)))).toBe('BAD_ARGUMENT');
      expect(code(thrown(() => BpfMap.fromId(2 ** 32 + m.info().id)))).toBe('BAD_ARGUMENT');
      for (const bad of [undefined, null, '3', Symbol('x'), {}, 1.5, -1, 2n]) {
        expect(code(thrown(() => BpfMap.fromFd(bad as never)))).toBe('BAD_ARGUMENT');
        expect(code(thrown(() => BpfMap.fromId(bad as never)))).toBe('BAD_ARGUMENT');
      }
    } finally {
      m.close();
    }
  });

  ktest('fromPin with a non-string path is a PinPathError', () => {
    for (const bad of [undefined, 1, 1n, Symbol('x'), {}, new Uint8Array(4)]) {
      expect(code(thrown(() => BpfMap.fromPin(bad as never)))).toBe('BAD_PIN_PATH');
    }
  });

  ktest('a variable whose spec was edited outside its section is a typed error, before and after load', () => {
    const obj = new URL('./bpf/loader.o', import.meta.url).pathname;
    const spec = loadCollectionSpec(obj);
    spec.variables.data_var!.offset = 1e6;
    expect(code(thrown(() => setVariable(spec, 'data_var', 1n)))).toBe('BAD_SPEC');
    const c = loadCollection(spec);
    try {
      expect(code(thrown(() => c.variables.data_var!.get()))).toBe('BAD_SPEC');
      expect(code(thrown(() => c.variables.data_var!.set(1n)))).toBe('BAD_SPEC');
    } finally {
      c.close();
    }
  });

  ktest('tracePipe given an options object instead of a signal fails typed, without killing the process later', () => {
    // Before the fix a timer callback threw outside the caller's try: the child exited 1 after printing.
    const r = runSnippet(
      `import { tracePipe, TsbpfError } from './lib/index.ts';
       (async () => {
         let out = 'no error';
         try { for await (const l of tracePipe({ signal: AbortSignal.abort() } as never)) break; } catch (e) { out = e instanceof TsbpfError ? e.code : String(e); }
         await new Promise((r) => setTimeout(r, 200));
         console.log(JSON.stringify(out));
       })();`,
      { timeoutMs: 30_000 },
    );
    expect(childJson<string>(r)).toBe('BAD_ARGUMENT');
  });
});
