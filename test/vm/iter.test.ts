/**
 * iter/bpf_map_elem on the guest's kernel: the host refuses these programs
 * with EPERM (a documented kernel property; there the host test skips by
 * name), so the walk is proven here, where the kernel loads them.
 */
import { describe, expect } from 'vitest';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { attachIter } from '../../bpf/link/iter.ts';
import { LinkType } from '../../bpf/link/link.ts';
import { obj, vmtest } from './helpers.ts';

describe('iterators on the guest kernel', () => {
  vmtest('iter/bpf_map_elem walks a map given at attach', () => {
    using c = loadCollection(loadCollectionSpec(obj('attach_iter')), { programs: ['dump_elem'] });
    const m = c.maps.elems!;
    m.update(1, 10n);
    m.update(2, 20n);
    m.update(7, 70n);
    using link = attachIter(c.programs.dump_elem!, { map: m });
    expect(link.text().trim().split('\n').sort()).toEqual(['1=10', '2=20', '7=70']);
    expect(link.info().type).toBe(LinkType.ITER);
  });
});
