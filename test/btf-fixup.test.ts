/**
 * Program BTF fix-up without a rebuild: on a kernel that accepts every kind
 * an object uses, fixupBtfForKernel patches sizes, offsets and linkages into
 * a copy of the object's own words; the result must equal the rebuild's,
 * type for type, for every test object. The BTF feature probes are raw
 * blobs, one per feature or all in one.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Btf } from '../btf/btf.ts';
import { loadCollectionSpec, type CollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { BtfHandle } from '../bpf/btf/handle.ts';
import { ALL_BTF_FEATURES, BTF_FEATURES, btfFeatures, probeBlob } from '../bpf/btf/features.ts';
import { btfFeaturesNeeded, fixupBtfForKernel, rebuilt } from '../bpf/loader/btf-fixup.ts';
import { ktest } from './helpers/kernel.ts';

const dir = new URL('./bpf/', import.meta.url).pathname;
const fixtures = new URL('./fixtures/btf/', import.meta.url).pathname;
const objects = [
  ...readdirSync(dir).filter((f) => f.endsWith('.o')).map((f) => dir + f),
  ...readdirSync(fixtures).filter((f) => f.endsWith('.o')).map((f) => fixtures + f),
];

function specOf(path: string): CollectionSpec | undefined {
  try {
    return loadCollectionSpec(path, { defaultProgramType: { type: 'SOCKET_FILTER' } });
  } catch {
    return undefined;
  }
}

describe('program BTF fix-up', () => {
  it('patching in place gives the rebuild\'s types, for every test object', () => {
    let patched = 0;
    for (const path of objects) {
      const spec = specOf(path);
      if (!spec?.btf) continue;
      const fast = fixupBtfForKernel(spec, spec.btf, ALL_BTF_FEATURES);
      const slow = rebuilt(spec, spec.btf, ALL_BTF_FEATURES);
      const a = Btf.parse(fast);
      const b = Btf.parse(slow);
      expect([...a.types()], path).toEqual([...b.types()]);
      // No rebuild: the object's own strings, byte for byte.
      if (Buffer.compare(a.strings, spec.btf.strings) === 0) patched++;
    }
    // Most objects need no new type or string (kfunc and ksym objects are rebuilt).
    expect(patched).toBeGreaterThan(objects.length / 2);
  });

  it('an old kernel (a kind missing) still gets the rebuilt, sanitised BTF', () => {
    const spec = specOf(new URL('./fixtures/btf/core.o', import.meta.url).pathname)!;
    expect(btfFeaturesNeeded(spec.btf!)).toEqual(expect.arrayContaining(['datasec', 'float', 'declTag', 'typeTag', 'enum64']));
    const out = Btf.parse(fixupBtfForKernel(spec, spec.btf!, { ...ALL_BTF_FEATURES, float: false }));
    expect([...out.types()].some((t) => t.kind === 'float')).toBe(false);
  });

  it('probe blobs parse, one feature or all of them', () => {
    for (const f of BTF_FEATURES) expect(Btf.parse(probeBlob([f])).length).toBeGreaterThan(2);
    const all = Btf.parse(probeBlob(BTF_FEATURES));
    expect(new Set([...all.types()].map((t) => t.kind))).toEqual(
      new Set(['int', 'var', 'datasec', 'float', 'func_proto', 'func', 'typedef', 'decl_tag', 'type_tag', 'ptr', 'enum64']),
    );
  });

  ktest('the kernel accepts each probe blob alone and all in one; probing asks only for what is needed', () => {
    for (const f of BTF_FEATURES) BtfHandle.load(probeBlob([f])).close();
    BtfHandle.load(probeBlob(BTF_FEATURES)).close();
    expect(btfFeatures(['float'])).toEqual(ALL_BTF_FEATURES);
  });

  ktest('a collection loads with its BTF patched in place', () => {
    using c = loadCollection(loadCollectionSpec(dir + 'loader.o'));
    expect(c.warnings.filter((w) => w.includes('BTF was rejected'))).toEqual([]);
    expect(c.btfFd).toBeGreaterThan(0);
  });
});
