/**
 * Mutation fuzzing of BTF and BTF.ext blobs with a seeded PRNG: every input
 * either parses (and then walking, resolving, naming, sizing, dumping and
 * re-marshalling every type succeeds or throws BtfError) or throws BtfError.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, BtfBuilder, BtfError, dumpJson, dumpRaw, parseBtfExt } from '../btf/index.ts';
import { readElfSections } from './fixtures/btf/corpus.ts';
import { FIXTURES, CILIUM, TESTMOD, hasCilium, corpusVmlinux } from './fixtures/btf/corpus.ts';
import { btfMutators, extMutators, int } from './fuzz/btf-mutators.ts';

/** mulberry32 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function section(file: string, name: string): Uint8Array | undefined {
  return readElfSections(readFileSync(file)).section(name);
}

const seeds: { name: string; btf: Uint8Array; ext?: Uint8Array }[] = [];
for (const f of [join(FIXTURES, 'core.o'), join(FIXTURES, 'core-eb.o')]) {
  seeds.push({ name: f, btf: section(f, '.BTF')!, ext: section(f, '.BTF.ext') });
}
if (hasCilium) {
  for (const f of ['testdata/loader-el.elf', 'testdata/loader-eb.elf', 'btf/testdata/relocs-el.elf', 'testdata/map_spin_lock-el.elf']) {
    const p = join(CILIUM, f);
    const btf = section(p, '.BTF');
    if (btf) seeds.push({ name: f, btf, ext: section(p, '.BTF.ext') });
  }
}

function expectBtfError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
  }
}

function exercise(btf: Btf): void {
  for (let id = 0; id < btf.length; id++) {
    expectBtfError(() => {
      const t = btf.typeById(id);
      expectBtfError(() => btf.resolve(id));
      expectBtfError(() => btf.sizeOf(id));
      expectBtfError(() => btf.alignOf(id));
      expectBtfError(() => btf.typeName(id));
      if (t.kind === 'struct' || t.kind === 'union') expectBtfError(() => btf.findMember(id, 'x'));
      if (t.name) expectBtfError(() => btf.findAllByName(t.name));
    });
  }
  expectBtfError(() => dumpRaw(btf));
  expectBtfError(() => dumpJson(btf));
  expectBtfError(() => BtfBuilder.from(btf).build());
}

describe('fuzz', () => {
  it('mutated BTF and BTF.ext: BtfError or success, nothing else, no hang', () => {
    const r = prng(0x5eed);
    const t0 = Date.now();
    let parsed = 0;
    let rejected = 0;
    let extParsed = 0;
    const N = 4000;
    for (let i = 0; i < N; i++) {
      const seed = seeds[i % seeds.length]!;
      const le = seed.btf[0] === 0x9f;
      const u = new Uint8Array(seed.btf);
      const rounds = 1 + int(r, 3);
      let m: Uint8Array = u;
      for (let k = 0; k < rounds; k++) {
        const d = new DataView(m.buffer, m.byteOffset, m.byteLength);
        try {
          m = btfMutators[int(r, btfMutators.length)]!(m, d, le, r);
        } catch (e) {
          if (!(e instanceof RangeError)) throw e; // the mutator itself walked off a broken blob
        }
      }
      let btf: Btf | undefined;
      try {
        btf = Btf.parse(m);
        parsed++;
      } catch (e) {
        if (!(e instanceof BtfError)) throw new Error(`input ${i} (${seed.name}): ${String(e)}`, { cause: e });
        rejected++;
      }
      try {
        if (btf) exercise(btf);
      } catch (e) {
        throw new Error(`input ${i} (${seed.name}): ${String(e)}`, { cause: e });
      }
      if (seed.ext) {
        const e8 = new Uint8Array(seed.ext);
        const ed = new DataView(e8.buffer);
        let em: Uint8Array = e8;
        try {
          em = extMutators[int(r, extMutators.length)]!(e8, ed, le, r);
        } catch (e) {
          if (!(e instanceof RangeError)) throw e;
        }
        try {
          parseBtfExt(em, btf ?? Btf.parse(seed.btf));
          extParsed++;
        } catch (e) {
          if (!(e instanceof BtfError)) throw new Error(`ext input ${i} (${seed.name}): ${String(e)}`, { cause: e });
        }
      }
    }
    expect(parsed).toBeGreaterThan(N / 10);
    expect(rejected).toBeGreaterThan(N / 10);
    expect(extParsed).toBeGreaterThan(0);
    // A hang guard, not a speed test (speed is in bench/): a loaded CI machine may take several times longer.
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 120_000);

  it.skipIf(!hasCilium)('mutated split BTF on a real base', () => {
    const base = Btf.parse(corpusVmlinux());
    const raw = readFileSync(TESTMOD);
    const r = prng(42);
    for (let i = 0; i < 300; i++) {
      const u = new Uint8Array(raw);
      const d = new DataView(u.buffer);
      const m = btfMutators[int(r, btfMutators.length)]!(u, d, true, r);
      let btf: Btf | undefined;
      try {
        btf = Btf.parse(m, { base });
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
      }
      if (btf) {
        for (let id = btf.firstTypeId; id < btf.length; id++) {
          expectBtfError(() => {
            btf.typeById(id);
            btf.typeName(id);
            btf.sizeOf(id);
          });
        }
        expectBtfError(() => dumpRaw(btf));
        expectBtfError(() => BtfBuilder.from(btf).build());
      }
    }
  });
});
