/**
 * CO-RE against lazy target lists (LazyCoreTargets): module BTF is loaded
 * only when vmlinux has no candidate, and results equal the eager list's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf } from '../btf/btf.ts';
import { CoreCache, essentialName, resolveCoreRelo, type LazyCoreTargets } from '../btf/core.ts';
import { parseElfBtf } from '../btf/load.ts';
import { TESTMOD, hasCilium, corpusVmlinux } from './fixtures/btf/corpus.ts';

const BPF = new URL('./bpf/', import.meta.url).pathname;

describe.runIf(hasCilium)('lazy CO-RE targets', () => {
  it('loads module BTF only for types vmlinux lacks, with the same results as a list', () => {
    const base = Btf.parse(corpusVmlinux());
    const mod = Btf.parse(readFileSync(TESTMOD), { base });
    const { btf: local, ext } = parseElfBtf(readFileSync(join(BPF, 'core_local.o')));
    const relos = ext!.coreRelos.flatMap((s) => s.records);
    let loads = 0;
    const lazy: LazyCoreTargets = {
      first: base,
      rest: () => {
        loads++;
        return [mod];
      },
    };
    const eagerCache = new CoreCache();
    const lazyCache = new CoreCache();
    const outcome = (r: ReturnType<typeof resolveCoreRelo>) => [r.description, r.poison, r.target?.btf === mod, r.matches];
    let inModule = 0;
    for (const r of relos) {
      let eager;
      try {
        eager = resolveCoreRelo(local, r, [base, mod], eagerCache);
      } catch (e) {
        // Records that fail (ambiguous on purpose in this fixture) fail the same way lazily.
        expect(() => resolveCoreRelo(local, r, lazy, lazyCache)).toThrow((e as Error).message);
        continue;
      }
      const before = loads;
      const res = resolveCoreRelo(local, r, lazy, lazyCache);
      expect(outcome(res)).toEqual(outcome(eager));
      if (res.target?.btf === mod) inModule++;
      // rest() is only asked for when vmlinux has no candidate of this type.
      if (loads > before) expect(base.findIdsByEssentialName(essentialName(local.nameOf(r.typeId)), [local.kindOf(r.typeId)]).length).toBe(0);
    }
    expect(inModule).toBeGreaterThan(0);
    expect(loads).toBeGreaterThan(0);
    // A cache serves one target list: the lazy object is its identity.
    const other: LazyCoreTargets = { first: base, rest: () => [mod] };
    const r0 = relos.find((r) => r.kind !== 6 && local.nameOf(r.typeId) !== '')!;
    expect(() => resolveCoreRelo(local, r0, other, lazyCache)).toThrow(/one cache per load/);
  });

  it('never loads module BTF when vmlinux has every candidate', () => {
    const base = Btf.parse(corpusVmlinux());
    const { btf: local, ext } = parseElfBtf(readFileSync(join(BPF, 'core_local.o')));
    const lazy: LazyCoreTargets = {
      first: base,
      rest: () => {
        throw new Error('module BTF loaded');
      },
    };
    const cache = new CoreCache();
    let n = 0;
    for (const r of ext!.coreRelos.flatMap((s) => s.records)) {
      const name = local.nameOf(r.typeId);
      if (r.kind === 6 || !name || !base.findIdsByEssentialName(essentialName(name), [local.kindOf(r.typeId)]).length) continue;
      try {
        resolveCoreRelo(local, r, lazy, cache);
      } catch (e) {
        if ((e as Error).message === 'module BTF loaded') throw e;
      }
      n++;
    }
    expect(n).toBeGreaterThan(0);
  });
});
