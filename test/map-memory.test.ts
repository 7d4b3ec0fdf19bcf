/**
 * The kernel memory a collection's maps may claim is limited before any map
 * exists: a 4-byte change to a test object (max_entries of a PERCPU_ARRAY to
 * 2^31 - 1) once made a load wake the OOM killer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf } from '../btf/btf.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { DEFAULT_MAX_MAP_MEMORY, MapMemoryError, checkMapMemory, estimateMapMemory } from '../bpf/maps/memory.ts';
import { parseElf } from '../elf/index.ts';
import { fdCount } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const OBJ = join(import.meta.dirname, 'bpf/loader.o');

/** loader.o with the `max_entries` of BTF map `map` set to `n`: 4 bytes of its .BTF (an array's nelems). */
function withMaxEntries(map: string, n: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(OBJ));
  const sec = parseElf(bytes).section('.BTF')!;
  const btf = Btf.parse(sec.data);
  const def = btf.resolve(btf.typeOfKind(btf.getByName(map, 'var').id, 'var').type);
  if (def.kind !== 'struct') throw new Error('not a map definition');
  const ptr = btf.typeOfKind(def.members.find((m) => m.name === 'max_entries')!.type, 'ptr');
  const word = btf.rawTypes().offsets[ptr.type - btf.firstTypeId]! + 5; // name, info, size, type, index_type, nelems
  const at = sec.offset + btf.header.hdrLen + btf.header.typeOff + 4 * word;
  new DataView(bytes.buffer).setUint32(at, n, true);
  return bytes;
}

describe('estimateMapMemory', () => {
  it('per-CPU values count once per possible CPU, rounded to 8 bytes', () => {
    const m = { type: 'PERCPU_ARRAY' as const, keySize: 4, valueSize: 12, maxEntries: 10 };
    expect(estimateMapMemory(m, 1)).toBe(10 * (8 + 16));
    expect(estimateMapMemory(m, 64)).toBe(10 * (8 + 16 * 64));
    expect(estimateMapMemory({ ...m, maxEntries: 0x7fffffff, valueSize: 8 }, 2)).toBeGreaterThan(32 * 2 ** 30);
  });

  it('hash maps pay per element and per bucket; ring buffers their data pages', () => {
    const h = estimateMapMemory({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 1000 }, 2);
    expect(h).toBeGreaterThan(1000 * 16);
    expect(estimateMapMemory({ type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 1 << 20 }, 2)).toBe((1 << 20) + 8192);
    expect(estimateMapMemory({ type: 'ARRAY', keySize: 4, valueSize: 3, maxEntries: 2 }, 2)).toBe(16);
  });

  it('checkMapMemory sums the maps and names the one that crosses the limit', () => {
    const maps = [
      { name: 'a', type: 'ARRAY' as const, keySize: 4, valueSize: 8, maxEntries: 100 },
      { name: 'b', type: 'ARRAY' as const, keySize: 4, valueSize: 8, maxEntries: 100 },
    ];
    expect(() => checkMapMemory(maps, 1600, 2)).not.toThrow();
    const e = thrown(() => checkMapMemory(maps, 1599, 2));
    expect(e).toBeInstanceOf(MapMemoryError);
    expect(e).toMatchObject({ code: 'MAP_MEMORY_LIMIT', map: 'b', estimate: 800, total: 1600, limit: 1599 });
    expect(() => checkMapMemory(maps, Infinity, 2)).not.toThrow();
  });

  it('every test object stays far below the default limit', () => {
    for (const f of ['loader', 'events_tp', 'ringbuf_producer', 'perfbuf_producer', 'attach_all', 'loader_legacy_maps']) {
      const spec = loadCollectionSpec(join(import.meta.dirname, `bpf/${f}.o`));
      const total = Object.values(spec.maps).reduce((a, m) => a + estimateMapMemory(m, 256), 0);
      expect(total, f).toBeLessThan(DEFAULT_MAX_MAP_MEMORY / 16);
    }
  });
});

describe('loadCollection under maxMapMemory', () => {
  ktest('a PERCPU_ARRAY of 2^31 - 1 entries is refused before any map is created', () => {
    const spec = loadCollectionSpec(withMaxEntries('percpu', 0x7fffffff), { name: 'loader' });
    expect(spec.maps.percpu!.maxEntries).toBe(0x7fffffff);
    const huge = Object.values(spec.maps).filter((m) => m.maxEntries === 0x7fffffff).map((m) => m.name);
    const fds = fdCount();
    const e = thrown(() => loadCollection(spec, { programs: [] }));
    expect(e).toBeInstanceOf(MapMemoryError);
    expect(e.code).toBe('MAP_MEMORY_LIMIT');
    expect(huge).toContain(e.map);
    expect(e.message).toContain(`'${e.map}'`);
    expect(e.estimate).toBeGreaterThan(DEFAULT_MAX_MAP_MEMORY);
    expect(fdCount()).toBe(fds); // no map (nor BTF) fd left behind
  });

  ktest('the limit can be lowered, and lifted with Infinity', () => {
    const spec = loadCollectionSpec(OBJ);
    const fds = fdCount();
    expect(thrown(() => loadCollection(spec, { programs: [], maxMapMemory: 64 })).code).toBe('MAP_MEMORY_LIMIT');
    expect(fdCount()).toBe(fds);
    {
      using c = loadCollection(spec, { programs: [], maxMapMemory: Infinity });
      expect(Object.keys(c.maps)).toContain('percpu');
    }
    expect(fdCount()).toBe(fds);
  });
});
