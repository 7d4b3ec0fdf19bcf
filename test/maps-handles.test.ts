/**
 * Map handles against the real kernel: opening by id and by fd, what info()
 * reports, mapIds(), close() and `using`, and use after close.
 */
import { describe, expect } from 'vitest';
import { BpfError, BpfMap, BtfHandle, MapFlags, Program, asm, encodeInsns, mapIds, mapInfoByFd, type MapSpec } from '../lib/index.ts';
import { tinyIntBtf } from '../bpf/btf/handle.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const spec: MapSpec = { type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 32, name: 'handles' };

describe('opening maps', () => {
  ktest('fromId opens the same map', () => {
    using m = BpfMap.create(spec);
    m.update(1, 111n);
    const id = m.info().id;
    using byId = BpfMap.fromId(id);
    expect(byId.info().id).toBe(id);
    expect(byId.fd).not.toBe(m.fd);
    expect(byId.lookup(1)!.readBigUInt64LE()).toBe(111n);
    byId.update(2, 222n);
    expect(m.lookup(2)!.readBigUInt64LE()).toBe(222n);
    // The handle learns shape and name from the kernel.
    expect(byId).toMatchObject({ type: m.type, keySize: 4, valueSize: 8, maxEntries: 32, name: 'handles' });
  });

  ktest('fromId of an id that does not exist is a typed ENOENT', () => {
    const e = thrown(() => BpfMap.fromId(0x7fff_fff0));
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toMatchObject({ code: 'ENOENT', command: 'BPF_MAP_GET_FD_BY_ID', object: `map id ${0x7fff_fff0}` });
  });

  ktest('fromFd duplicates: closing the original keeps the copy working', () => {
    const m = BpfMap.create(spec);
    m.update(7, 70n);
    const origFd = m.fd;
    const copy = BpfMap.fromFd(origFd);
    try {
      expect(copy.fd).not.toBe(origFd);
      expect(copy.info().id).toBe(m.info().id);
      m.close();
      expect(copy.lookup(7)!.readBigUInt64LE()).toBe(70n);
      copy.update(8, 80n);
      expect([...copy.keys()].map((k) => k.readUInt32LE()).sort()).toEqual([7, 8]);
    } finally {
      copy.close();
      m.close();
    }
  });

  ktest('fromFd of an fd that is not a map is refused with code NOT_A_MAP', () => {
    // OBJ_GET_INFO_BY_FD would answer for programs and BTF in their own layouts.
    const prog = Program.load({ name: 'ret0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });
    const btf = BtfHandle.load(tinyIntBtf());
    try {
      for (const fd of [prog.fd, btf.fd, 0]) {
        const e = thrown(() => BpfMap.fromFd(fd));
        expect(e.code).toBe('NOT_A_MAP');
        expect(e.message).toMatch(/not a BPF map/);
      }
    } finally {
      prog.close();
      btf.close();
    }
    expect(thrown(() => BpfMap.fromFd(100_000))).toMatchObject({ code: 'EBADF' });
  });
});

describe('info()', () => {
  ktest('reports type, sizes, max_entries, flags and the name', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 8, valueSize: 16, maxEntries: 100, flags: MapFlags.NO_PREALLOC, name: 'info_test' });
    const info = m.info();
    expect(info).toMatchObject({
      type: 1,
      typeName: 'HASH',
      keySize: 8,
      valueSize: 16,
      maxEntries: 100,
      flags: MapFlags.NO_PREALLOC,
      name: 'info_test',
      ifindex: 0,
      btfId: 0,
      mapExtra: 0n,
    });
    expect(info.id).toBeGreaterThan(0);
    expect(mapInfoByFd(m.fd)).toEqual(info);
  });

  ktest('names are truncated to 15 characters and sanitised to [A-Za-z0-9_.]', () => {
    using m = BpfMap.create({ ...spec, name: 'my-map:with spaces.and_more_text' });
    expect(m.name).toBe('my_map_with_spa');
    expect(m.info().name).toBe('my_map_with_spa');
    using dotted = BpfMap.create({ ...spec, name: 'a.b_C9' });
    expect(dotted.info().name).toBe('a.b_C9');
    using unnamed = BpfMap.create({ ...spec, name: undefined });
    expect(unnamed.info().name).toBe('');
    using nonAscii = BpfMap.create({ ...spec, name: 'zähler' });
    expect(nonAscii.info().name).toBe('z_hler');
  });

  ktest('mapIds() lists a new map', () => {
    using m = BpfMap.create(spec);
    const id = m.info().id;
    const ids = [...mapIds()];
    expect(ids).toContain(id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b)); // ascending, no duplicates
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('closing', () => {
  ktest('close() is idempotent', () => {
    const m = BpfMap.create(spec);
    expect(m.closed).toBe(false);
    m.close();
    expect(m.closed).toBe(true);
    m.close();
    m[Symbol.dispose]();
    expect(m.closed).toBe(true);
  });

  ktest('`using` closes the map at the end of the block', () => {
    // vitest's esbuild transform lowers `using` for Node 20.
    let kept: BpfMap;
    let id: number;
    {
      using m = BpfMap.create(spec);
      kept = m;
      id = m.info().id;
      expect(m.closed).toBe(false);
    }
    expect(kept.closed).toBe(true);
    // The kernel frees the map once no fd holds it (asynchronously): opening it may still
    // succeed for a moment, but our handle is gone.
    expect(id).toBeGreaterThan(0);
    // Disposal also happens when the block throws.
    let inner: BpfMap | undefined;
    expect(() => {
      using m = BpfMap.create(spec);
      inner = m;
      throw new Error('boom');
    }).toThrow('boom');
    expect(inner!.closed).toBe(true);
  });

  ktest('every operation after close throws code CLOSED', () => {
    const m = BpfMap.create(spec);
    const q = BpfMap.create({ type: 'QUEUE', keySize: 0, valueSize: 4, maxEntries: 2 });
    const b = BpfMap.create({ type: 'BLOOM_FILTER', keySize: 0, valueSize: 4, maxEntries: 2 });
    m.update(1, 1n);
    m.update(2, 2n);
    const keys = m.keys();
    expect(keys.next().done).toBe(false);
    m.close();
    q.close();
    b.close();
    const ops: Array<[string, () => unknown]> = [
      ['fd', () => m.fd],
      ['lookup', () => m.lookup(1)],
      ['has', () => m.has(1)],
      ['lookupWith', () => m.lookupWith(1, { size: 8, encode() {}, decode: () => 0 })],
      ['update', () => m.update(1, 2n)],
      ['updateWith', () => m.updateWith(1, 2, { size: 8, encode() {}, decode: () => 0 })],
      ['delete', () => m.delete(1)],
      ['lookupAndDelete', () => m.lookupAndDelete(1)],
      ['nextKey', () => m.nextKey()],
      ['keys', () => m.keys().next()],
      ['entries', () => m.entries().next()],
      ['lookupBatch', () => m.lookupBatch({ done: false }, Buffer.alloc(4), Buffer.alloc(8))],
      ['updateBatch', () => m.updateBatch(Buffer.alloc(4), Buffer.alloc(8))],
      ['deleteBatch', () => m.deleteBatch(Buffer.alloc(4))],
      ['freeze', () => m.freeze()],
      ['info', () => m.info()],
      ['typed', () => m.typed({ size: 4, encode() {}, decode: () => 0 }, { size: 8, encode() {}, decode: () => 0 }).get(1)],
      ['push', () => q.push(1)],
      ['pop', () => q.pop()],
      ['peek', () => q.peek()],
      ['mayContain', () => b.mayContain(1)],
    ];
    for (const [what, op] of ops) {
      const e = thrown(op);
      expect(e.code, what).toBe('CLOSED');
    }
    // A walk started before close ends quietly instead of touching the freed scratch block.
    expect(keys.next().done).toBe(true);
  });

  ktest('a walk in progress stops when the map is closed inside the loop', () => {
    const m = BpfMap.create(spec);
    for (let i = 0; i < 10; i++) m.update(i, BigInt(i));
    let n = 0;
    for (const _ of m.keys()) {
      n++;
      m.close();
    }
    expect(n).toBe(1);
  });
});
