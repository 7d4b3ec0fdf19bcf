/**
 * Every map type against the real kernel: each test creates a map of one type
 * and checks the behaviour that is particular to it, read back from the kernel.
 */
import { kernelBtf } from '../bpf/btf/kernel.ts';
import { openSync, closeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { BpfError, BpfMap, BtfHandle, MapFlags, MapType, NotSupportedError, isMapTypeSupported, lpmKeyFromCidr, possibleCpuCount, Program, asm, encodeInsns, progInfoByFd, type MapSpec } from '../lib/index.ts';
import { tinyIntBtf } from '../bpf/btf/handle.ts';
import { pageSize } from '../syscall/mmap.ts';
import { kernelSkipReason } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { skipIfNotSupported } from './helpers/kernel-features.ts';
import { cgroup2Root } from './helpers/cgroup.ts';
import { kernelAtLeast, since } from '../bpf/features.ts';
import { thrown } from './helpers/thrown.ts';
import { countingSyscalls, withMap } from './helpers/syscalls.ts';

/** The cgroup v2 root: the unified hierarchy beside v1 (this host), or /sys/fs/cgroup itself (the VM guests). */
const CGROUP2 = cgroup2Root() ?? '/sys/fs/cgroup/unified';

/** A connected TCP pair on 127.0.0.1: fds of the client and of the accepted socket. */
interface TcpPair {
  server: Server;
  client: Socket;
  accepted: Socket;
  clientFd: number;
  acceptedFd: number;
}

async function tcpPair(): Promise<TcpPair> {
  const server = createServer();
  const acceptedP = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = createConnection({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const accepted = await acceptedP;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const fdOf = (s: Socket): number => (s as any)._handle.fd as number;
  return { server, client, accepted, clientFd: fdOf(client), acceptedFd: fdOf(accepted) };
}

async function closePair(p: TcpPair | undefined): Promise<void> {
  if (!p) return;
  p.client.destroy();
  p.accepted.destroy();
  await new Promise<void>((resolve) => p.server.close(() => resolve()));
}

describe('probes', () => {
  ktest('isMapTypeSupported answers are cached: the second call issues no syscall', () => {
    for (const type of [997, MapType.CGROUP_STORAGE]) {
      const first = countingSyscalls(() => isMapTypeSupported(type));
      expect(first.cmds.length).toBeGreaterThan(0);
      expect(first.result).toBe(type !== 997);
      const second = countingSyscalls(() => isMapTypeSupported(type));
      expect(second.cmds).toEqual([]);
      expect(second.result).toBe(first.result);
    }
  });

  ktest('probes agree with creation: the types this file creates are reported supported from the release that added them', () => {
    const types = [
      'HASH', 'ARRAY', 'PROG_ARRAY', 'PERF_EVENT_ARRAY', 'PERCPU_HASH', 'PERCPU_ARRAY', 'STACK_TRACE', 'CGROUP_ARRAY',
      'LRU_HASH', 'LRU_PERCPU_HASH', 'LPM_TRIE', 'ARRAY_OF_MAPS', 'HASH_OF_MAPS', 'DEVMAP', 'SOCKMAP', 'CPUMAP', 'XSKMAP',
      'SOCKHASH', 'CGROUP_STORAGE', 'REUSEPORT_SOCKARRAY', 'PERCPU_CGROUP_STORAGE', 'QUEUE', 'STACK', 'SK_STORAGE',
      'DEVMAP_HASH', 'STRUCT_OPS', 'RINGBUF', 'TASK_STORAGE', 'BLOOM_FILTER', 'USER_RINGBUF',
    ] as const;
    // Older kernels of the VM matrix lack the newest (TASK_STORAGE 5.11, BLOOM_FILTER 5.16, USER_RINGBUF 6.1).
    for (const t of types) expect(isMapTypeSupported(MapType[t]), t).toBe(kernelAtLeast(since(`map type ${t}`)!));
    expect(isMapTypeSupported(MapType.UNSPEC)).toBe(false);
  });

  ktest('an unknown map type is NotSupportedError (code NOT_SUPPORTED), not a bare EINVAL', () => {
    const e = thrown(() => BpfMap.create({ type: 999, keySize: 4, valueSize: 4, maxEntries: 1, name: 'unknown' }));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e.code).toBe('NOT_SUPPORTED');
    expect(e.message).toContain('UNKNOWN(999)');
  });

  ktest('a supported type with bad parameters is a BpfError, not NotSupportedError', () => {
    const e = thrown(() => BpfMap.create({ type: 'HASH', keySize: 0, valueSize: 4, maxEntries: 1 }));
    expect(e).toBeInstanceOf(BpfError);
    expect(e).not.toBeInstanceOf(NotSupportedError);
    expect(e.code).toBe('EINVAL');
    expect((e as BpfError).command).toBe('BPF_MAP_CREATE');
  });
});

describe('hash and array maps', () => {
  ktest('HASH: insert, replace, read back, delete', () => {
    withMap({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 16, name: 'h' }, (m) => {
      expect(m.info().typeName).toBe('HASH');
      m.update(1, 10n);
      m.update(2, 20n);
      m.update(1, 11n);
      expect(m.lookup(1)!.readBigUInt64LE()).toBe(11n);
      expect(m.lookup(2)!.readBigUInt64LE()).toBe(20n);
      expect(m.delete(1)).toBe(true);
      expect(m.lookup(1)).toBeUndefined();
      expect([...m.keys()].map((k) => k.readUInt32LE())).toEqual([2]);
    });
  });

  ktest('ARRAY: zero-initialised, every index exists, delete fails EINVAL with a hint', () => {
    withMap({ type: 'ARRAY', keySize: 4, valueSize: 12, maxEntries: 5, name: 'a' }, (m) => {
      for (let i = 0; i < 5; i++) expect(m.lookup(i)).toEqual(Buffer.alloc(12));
      expect(m.lookup(5)).toBeUndefined(); // out of range: ENOENT
      expect([...m.keys()].map((k) => k.readUInt32LE())).toEqual([0, 1, 2, 3, 4]);
      m.update(3, Buffer.from('abcdefghijkl'));
      expect(m.lookup(3)!.toString()).toBe('abcdefghijkl');
      const e = thrown(() => m.delete(3));
      expect(e).toBeInstanceOf(BpfError);
      expect(e.code).toBe('EINVAL');
      expect((e as BpfError).command).toBe('BPF_MAP_DELETE_ELEM');
      expect((e as BpfError).hint).toMatch(/array elements cannot be deleted/);
      expect(m.lookup(3)!.toString()).toBe('abcdefghijkl');
    });
  });

  for (const type of ['PERCPU_HASH', 'PERCPU_ARRAY'] as const) {
    ktest(`${type}: one value per possible CPU, each padded to 8 bytes`, () => {
      const ncpu = possibleCpuCount();
      withMap({ type, keySize: 4, valueSize: 4, maxEntries: 4, name: type.toLowerCase() }, (m) => {
        expect(m.perCpu).toBe(true);
        expect(m.valueStride).toBe(8);
        expect(m.valueBytes).toBe(8 * ncpu);
        const values = Array.from({ length: ncpu }, (_, c) => 0x1000 + c * 0x11);
        m.updatePerCpu(1, values);
        expect(m.lookupPerCpu(1)!.map((b) => b.readUInt32LE())).toEqual(values);
        // The raw layout: slot c at c * 8, 4 value bytes then 4 bytes of zero padding.
        const out = Buffer.alloc(m.valueBytes, 0xee);
        expect(m.lookup(1, out)).toBe(out);
        for (let c = 0; c < ncpu; c++) {
          expect(out.readUInt32LE(c * 8)).toBe(values[c]);
          expect(out.readUInt32LE(c * 8 + 4)).toBe(0);
        }
        // A scalar is copied to every CPU.
        m.update(2, 77);
        expect(m.lookupPerCpu(2)!.map((b) => b.readUInt32LE())).toEqual(Array(ncpu).fill(77));
        // The full padded buffer round-trips.
        const raw = Buffer.alloc(m.valueBytes);
        for (let c = 0; c < ncpu; c++) raw.writeUInt32LE(500 + c, c * 8);
        m.update(3, raw);
        expect(m.lookup(3)).toEqual(raw);
        // A value of neither size is refused.
        expect(thrown(() => m.update(3, Buffer.alloc(6))).code).toBe('BAD_SIZE');
        expect(thrown(() => m.updatePerCpu(3, [1])).code).toBe(ncpu === 1 ? undefined : 'BAD_SIZE');
        if (type === 'PERCPU_ARRAY') expect(m.lookupPerCpu(0)!.map((b) => b.readUInt32LE())).toEqual(Array(ncpu).fill(0));
      });
    });
  }

  ktest('LRU_HASH evicts instead of failing with E2BIG when full', () => {
    withMap({ type: 'LRU_HASH', keySize: 4, valueSize: 4, maxEntries: 32, name: 'lru' }, (m) => {
      for (let i = 0; i < 1000; i++) m.update(i, i * 2);
      const keys = [...m.keys()].map((k) => k.readUInt32LE());
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.length).toBeLessThanOrEqual(32);
      expect(m.lookup(999)!.readUInt32LE()).toBe(1998); // the newest survives
      expect(m.lookup(0)).toBeUndefined(); // the oldest was evicted
    });
    // The same load on a plain HASH fails.
    withMap({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 32 }, (m) => {
      for (let i = 0; i < 32; i++) m.update(i, i);
      expect(thrown(() => m.update(32, 0)).code).toBe('E2BIG');
    });
  });

  ktest('LRU_PERCPU_HASH with NO_COMMON_LRU: per-CPU values, flag reported, evicts', () => {
    const ncpu = possibleCpuCount();
    withMap({ type: 'LRU_PERCPU_HASH', keySize: 4, valueSize: 8, maxEntries: 64, flags: MapFlags.NO_COMMON_LRU, name: 'lrupc' }, (m) => {
      expect(m.info().flags & MapFlags.NO_COMMON_LRU).toBe(MapFlags.NO_COMMON_LRU);
      const vals = Array.from({ length: ncpu }, (_, c) => BigInt(c + 1) << 40n);
      m.updatePerCpu(7, vals);
      expect(m.lookupPerCpu(7)!.map((b) => b.readBigUInt64LE())).toEqual(vals);
      for (let i = 100; i < 1100; i++) m.update(i, BigInt(i));
      expect([...m.keys()].length).toBeLessThanOrEqual(64);
    });
  });
});

describe('LPM trie', () => {
  ktest('NO_PREALLOC is required', () => {
    const e = thrown(() => BpfMap.create({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16 }));
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('EINVAL');
  });

  ktest('IPv4: longest-prefix match with lpmKeyFromCidr', () => {
    withMap({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16, flags: MapFlags.NO_PREALLOC, name: 'lpm4' }, (m) => {
      m.update(lpmKeyFromCidr('10.0.0.0/8'), 8);
      m.update(lpmKeyFromCidr('10.1.0.0/16'), 16);
      m.update(lpmKeyFromCidr('10.1.2.0/24'), 24);
      m.update(lpmKeyFromCidr('0.0.0.0/0'), 0);
      const match = (ip: string) => m.lookup(lpmKeyFromCidr(ip))?.readUInt32LE();
      expect(match('10.1.2.3')).toBe(24);
      expect(match('10.1.3.3')).toBe(16);
      expect(match('10.200.0.1')).toBe(8);
      expect(match('192.168.0.1')).toBe(0);
      expect(m.delete(lpmKeyFromCidr('0.0.0.0/0'))).toBe(true);
      expect(match('192.168.0.1')).toBeUndefined();
      // Exact-prefix delete: /24 gone, /16 answers.
      expect(m.delete(lpmKeyFromCidr('10.1.2.0/24'))).toBe(true);
      expect(match('10.1.2.3')).toBe(16);
      expect([...m.keys()].length).toBe(2);
    });
  });

  ktest('IPv6: longest-prefix match with lpmKeyFromCidr', () => {
    withMap({ type: 'LPM_TRIE', keySize: 20, valueSize: 4, maxEntries: 16, flags: MapFlags.NO_PREALLOC, name: 'lpm6' }, (m) => {
      m.update(lpmKeyFromCidr('2001:db8::/32'), 32);
      m.update(lpmKeyFromCidr('2001:db8:1::/48'), 48);
      m.update(lpmKeyFromCidr('::1'), 128);
      const match = (ip: string) => m.lookup(lpmKeyFromCidr(ip))?.readUInt32LE();
      expect(match('2001:db8:1::5')).toBe(48);
      expect(match('2001:db8:2::5')).toBe(32);
      expect(match('::1')).toBe(128);
      expect(match('::2')).toBeUndefined();
      expect(match('fe80::1')).toBeUndefined();
    });
  });
});

describe('maps of maps', () => {
  for (const [type, key] of [['ARRAY_OF_MAPS', 1], ['HASH_OF_MAPS', 0xabcdef]] as const) {
    ktest(`${type}: insert a map, read back its id, open it and see writes made through the original`, () => {
      const innerSpec: MapSpec = { type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 8, name: 'inner' };
      const inner = BpfMap.create(innerSpec);
      const outer = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 4, innerMap: innerSpec, name: type.toLowerCase() });
      try {
        expect(outer.innerMapId(key)).toBeUndefined();
        outer.update(key, inner);
        expect(outer.innerMapId(key)).toBe(inner.info().id);
        inner.update(5, 0x1234_5678_9abcn);
        const opened = outer.innerMap(key)!;
        try {
          expect(opened.info().id).toBe(inner.info().id);
          expect(opened.lookup(5)!.readBigUInt64LE()).toBe(0x1234_5678_9abcn);
          opened.update(6, 66n);
          expect(inner.lookup(6)!.readBigUInt64LE()).toBe(66n);
        } finally {
          opened.close();
        }
        // A map of another shape is refused.
        const odd = BpfMap.create({ type: 'HASH', keySize: 8, valueSize: 8, maxEntries: 8 });
        try {
          expect(thrown(() => outer.update(key, odd)).code).toBe('BAD_VALUE'); // checked against the template before the syscall
        } finally {
          odd.close();
        }
        // An fd that is not a map is refused, and so is a closed fd.
        expect(thrown(() => outer.update(key, { fd: 0 })).code).toBe('BAD_VALUE');
        const closed = thrown(() => outer.update(key, { fd: 100_000 }));
        expect(closed.code).toBe('EBADF');
        expect((closed as BpfError).hint).toMatch(/open fd/);
        if (type === 'HASH_OF_MAPS') {
          expect(outer.delete(key)).toBe(true);
          expect(outer.innerMapId(key)).toBeUndefined();
        }
      } finally {
        outer.close();
        inner.close();
      }
    });
  }

  ktest('a map of maps without an inner template is refused before any syscall', () => {
    const { cmds } = countingSyscalls(() => thrown(() => BpfMap.create({ type: 'ARRAY_OF_MAPS', keySize: 4, valueSize: 4, maxEntries: 1 })));
    expect(cmds).toEqual([]);
  });
});

describe('fd arrays', () => {
  ktest('PROG_ARRAY: created; a non-program fd is refused with a typed error', () => {
    // Inserting a real program fd needs a loaded program: see the next test (Program comes with the loader).
    withMap({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 4, name: 'progs' }, (m) => {
      expect(m.info().typeName).toBe('PROG_ARRAY');
      const other = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
      try {
        const e = thrown(() => m.update(0, { fd: other.fd }));
        expect(e.code).toBe('BAD_VALUE'); // a map fd is not a program, said before the syscall
        expect(e.message).toMatch(/program fds, fd \d+ is a BPF map/);
      } finally {
        other.close();
      }
      const bad = thrown(() => m.update(0, { fd: 100_000 }));
      expect(bad.code).toBe('EBADF');
      expect((bad as BpfError).hint).toMatch(/open fd/);
      expect(m.delete(0)).toBe(false); // nothing was inserted
    });
  });

  ktest('PROG_ARRAY: holds a real program; lookup gives its id', () => {
    using prog = Program.load({ name: 'ret0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });
    withMap({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 4, name: 'progs' }, (m) => {
      m.update(2, prog);
      const id = m.lookup(2)!.readUInt32LE();
      expect(id).toBeGreaterThan(0);
      expect(id).toBe(progInfoByFd(prog.fd).id);
      expect(m.delete(2)).toBe(true);
      expect(m.lookup(2)).toBeUndefined();
    });
  });

  ktest('PERF_EVENT_ARRAY: created with max_entries = possible CPUs', () => {
    const n = possibleCpuCount();
    withMap({ type: 'PERF_EVENT_ARRAY', keySize: 4, valueSize: 4, maxEntries: n, name: 'events' }, (m) => {
      const info = m.info();
      expect(info.typeName).toBe('PERF_EVENT_ARRAY');
      expect(info.maxEntries).toBe(n);
      expect(m.delete(0)).toBe(false); // empty slots
    });
  });

  ktest('CGROUP_ARRAY: holds a cgroup v2 directory fd', (ctx) => {
    let dirFd: number;
    try {
      dirFd = openSync(CGROUP2, 'r');
    } catch {
      return ctx.skip(`no cgroup2 hierarchy at ${CGROUP2}`);
    }
    try {
      withMap({ type: 'CGROUP_ARRAY', keySize: 4, valueSize: 4, maxEntries: 2, name: 'cgroups' }, (m) => {
        m.update(1, { fd: dirFd });
        // User space cannot read fd arrays back (ENOTSUPP); deleting tells whether the slot was filled.
        expect(thrown(() => m.lookup(1)).code).toMatch(/ENOTSUPP|EOPNOTSUPP/);
        expect(m.delete(1)).toBe(true);
        expect(m.delete(1)).toBe(false);
        // A regular file is not a cgroup.
        const file = openSync('/proc/self/status', 'r');
        try {
          expect(thrown(() => m.update(0, { fd: file })).code).toBe('EBADF');
        } finally {
          closeSync(file);
        }
      });
    } finally {
      closeSync(dirFd);
    }
  });
});

describe('stack traces, queues, stacks, bloom filters', () => {
  ktest('STACK_TRACE: created; a missing stack id reads as undefined', () => {
    withMap({ type: 'STACK_TRACE', keySize: 4, valueSize: 8 * 127, maxEntries: 64, name: 'stacks' }, (m) => {
      expect(m.info().valueSize).toBe(8 * 127);
      expect(m.stackTrace(3)).toBeUndefined();
      expect(m.nextKey()).toBeUndefined();
    });
  });

  ktest('QUEUE: FIFO, peek, pop on empty, E2BIG when full, EXIST overwrites the oldest', () => {
    withMap({ type: 'QUEUE', keySize: 0, valueSize: 4, maxEntries: 3, name: 'q' }, (m) => {
      expect(m.pop()).toBeUndefined();
      expect(m.peek()).toBeUndefined();
      for (const v of [1, 2, 3]) m.push(v);
      expect(m.peek()!.readUInt32LE()).toBe(1);
      const e = thrown(() => m.push(4));
      expect(e.code).toBe('E2BIG');
      expect(e.message).toMatch(/full/);
      m.push(4, 'EXIST'); // drops 1
      const out: number[] = [];
      for (let v = m.pop(); v; v = m.pop()) out.push(v.readUInt32LE());
      expect(out).toEqual([2, 3, 4]);
      expect(m.pop()).toBeUndefined();
    });
  });

  ktest('STACK: LIFO, peek, pop on empty, E2BIG when full, EXIST overwrites the oldest', () => {
    withMap({ type: 'STACK', keySize: 0, valueSize: 8, maxEntries: 3, name: 's' }, (m) => {
      expect(m.pop()).toBeUndefined();
      for (const v of [1n, 2n, 3n]) m.push(v);
      expect(m.peek()!.readBigUInt64LE()).toBe(3n);
      expect(thrown(() => m.push(4n)).code).toBe('E2BIG');
      m.push(4n, 'EXIST'); // drops 1, the oldest
      const out: bigint[] = [];
      for (let v = m.pop(); v; v = m.pop()) out.push(v.readBigUInt64LE());
      expect(out).toEqual([4n, 3n, 2n]);
      expect(m.pop()).toBeUndefined();
    });
  });

  ktest('BLOOM_FILTER: no false negatives, few false positives, mapExtra sets the hash count', (ctx) => {
    skipIfNotSupported(ctx, 'map type BLOOM_FILTER');
    // Sized for 1000 values with 3 hashes and holding 100: a false positive is very unlikely (~1e-4).
    withMap({ type: 'BLOOM_FILTER', keySize: 0, valueSize: 4, maxEntries: 1000, mapExtra: 3n, name: 'bloom' }, (m) => {
      expect(m.info().mapExtra).toBe(3n);
      for (let i = 0; i < 100; i++) expect(m.mayContain(i * 7919)).toBe(false); // empty: certainly absent
      for (let i = 0; i < 100; i++) m.push(i * 7919);
      for (let i = 0; i < 100; i++) expect(m.mayContain(i * 7919)).toBe(true);
      let positives = 0;
      for (let i = 0; i < 1000; i++) if (m.mayContain(1_000_000 + i)) positives++;
      expect(positives).toBeLessThan(20);
      // Elements cannot be deleted or popped.
      expect(thrown(() => m.pop()).code).toBe('WRONG_MAP_TYPE');
    });
    // Too many hashes: the kernel takes 1..15.
    expect(thrown(() => BpfMap.create({ type: 'BLOOM_FILTER', keySize: 0, valueSize: 4, maxEntries: 10, mapExtra: 16n })).code).toBe('EINVAL');
  });
});

describe('ring buffers', () => {
  for (const type of ['RINGBUF', 'USER_RINGBUF'] as const) {
    ktest(`${type}: max_entries must be a power-of-2 multiple of the page size`, (ctx) => {
      skipIfNotSupported(ctx, `map type ${type}`);
      const size = pageSize() * 4;
      withMap({ type, keySize: 0, valueSize: 0, maxEntries: size, name: type.toLowerCase() }, (m) => {
        expect(m.info()).toMatchObject({ typeName: type, maxEntries: size, keySize: 0, valueSize: 0 });
      });
      for (const bad of [pageSize() * 3, pageSize() + 1, 1000]) {
        const e = thrown(() => BpfMap.create({ type, keySize: 0, valueSize: 0, maxEntries: bad }));
        expect(e).toBeInstanceOf(BpfError);
        expect(e).not.toBeInstanceOf(NotSupportedError);
        expect(e.code).toBe('EINVAL');
        expect(e.message).toContain(`max_entries ${bad}`);
      }
    });
  }
});

describe('socket and device maps', () => {
  let pair: TcpPair | undefined;
  beforeAll(async () => {
    if (!kernelSkipReason()) pair = await tcpPair();
  });
  afterAll(() => closePair(pair));

  for (const type of ['SOCKMAP', 'SOCKHASH'] as const) {
    ktest(`${type}: holds established TCP sockets; lookup gives their cookies`, () => {
      const p = pair!;
      withMap({ type, keySize: 4, valueSize: 8, maxEntries: 8, name: type.toLowerCase() }, (m) => {
        m.update(3, { fd: p.clientFd });
        m.update(4, { fd: p.acceptedFd });
        const c1 = m.lookup(3)!.readBigUInt64LE();
        const c2 = m.lookup(4)!.readBigUInt64LE();
        expect(c1).toBeGreaterThan(0n);
        expect(c2).toBeGreaterThan(0n);
        expect(c1).not.toBe(c2); // socket cookies are unique per socket
        // Re-inserting the same socket gives the same cookie.
        m.update(5, { fd: p.clientFd });
        expect(m.lookup(5)!.readBigUInt64LE()).toBe(c1);
        if (type === 'SOCKMAP') {
          // SOCKMAP is indexed like an array: a key past max_entries is out of range, not "full".
          const e = thrown(() => m.update(8, { fd: p.clientFd }));
          expect(e.code).toBe('E2BIG');
          expect((e as BpfError).hint).toMatch(/index out of range/);
        } else {
          m.update(0xdead_beef, { fd: p.clientFd });
          expect(m.lookup(0xdead_beef)!.readBigUInt64LE()).toBe(c1);
        }
        // A non-socket fd is refused.
        const file = openSync('/proc/self/status', 'r');
        try {
          const e = thrown(() => m.update(1, { fd: file }));
          expect(e).toBeInstanceOf(BpfError);
          expect(e.code).toMatch(/ENOTSOCK|EINVAL|EOPNOTSUPP/);
        } finally {
          closeSync(file);
        }
        expect(m.delete(3)).toBe(true);
        expect(m.lookup(3)).toBeUndefined();
      });
    });
  }

  ktest('DEVMAP and DEVMAP_HASH hold ifindexes (lo = 1)', () => {
    withMap({ type: 'DEVMAP', keySize: 4, valueSize: 4, maxEntries: 4, name: 'devmap' }, (m) => {
      m.update(2, 1);
      expect(m.lookup(2)!.readUInt32LE()).toBe(1);
      expect(m.lookup(0)).toBeUndefined(); // empty slots are absent, unlike ARRAY
      expect(thrown(() => m.update(0, 0x7fff_fff0)).code).toBe('EINVAL'); // no such ifindex
    });
    withMap({ type: 'DEVMAP_HASH', keySize: 4, valueSize: 4, maxEntries: 4, name: 'devhash' }, (m) => {
      m.update(1000, 1);
      expect(m.lookup(1000)!.readUInt32LE()).toBe(1);
      expect([...m.keys()].map((k) => k.readUInt32LE())).toEqual([1000]);
      expect(m.delete(1000)).toBe(true);
    });
  });

  ktest('CPUMAP: value is the queue size of a CPU', () => {
    withMap({ type: 'CPUMAP', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount(), name: 'cpumap' }, (m) => {
      m.update(0, 192);
      expect(m.lookup(0)!.readUInt32LE()).toBe(192);
      expect(m.delete(0)).toBe(true);
      expect(m.lookup(0)).toBeUndefined();
    });
  });

  ktest('XSKMAP: creation only', () => {
    // Inserting needs an AF_XDP socket, which Node cannot create.
    withMap({ type: 'XSKMAP', keySize: 4, valueSize: 4, maxEntries: 4, name: 'xsks' }, (m) => {
      expect(m.info().typeName).toBe('XSKMAP');
    });
  });

  ktest('REUSEPORT_SOCKARRAY: creation', () => {
    // Inserting needs a SO_REUSEPORT listener, which Node 20's net module cannot make.
    withMap({ type: 'REUSEPORT_SOCKARRAY', keySize: 4, valueSize: 8, maxEntries: 4, name: 'reuseport' }, (m) => {
      expect(m.info()).toMatchObject({ typeName: 'REUSEPORT_SOCKARRAY', valueSize: 8 });
    });
  });
});

describe('storage maps', () => {
  ktest('CGROUP_STORAGE: creation (max_entries 0; filled when a program is attached)', () => {
    withMap({ type: 'CGROUP_STORAGE', keySize: 16, valueSize: 8, maxEntries: 0, name: 'cgstore' }, (m) => {
      expect(m.info()).toMatchObject({ typeName: 'CGROUP_STORAGE', keySize: 16, maxEntries: 0 });
      expect(m.nextKey()).toBeUndefined();
    });
  });

  const local = ['SK_STORAGE', 'INODE_STORAGE', 'TASK_STORAGE', 'CGRP_STORAGE'] as const;
  for (const type of local) {
    ktest(`${type}: creation with int BTF key and value`, (ctx) => {
      skipIfNotSupported(ctx, `map type ${type}`);
      using btf = BtfHandle.load(tinyIntBtf());
      const spec: MapSpec = { type, keySize: 4, valueSize: 4, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfKeyTypeId: 1, btfValueTypeId: 1, name: type.toLowerCase() };
      withMap(spec, (m) => {
        const info = m.info();
        expect(info).toMatchObject({ typeName: type, btfKeyTypeId: 1, btfValueTypeId: 1 });
        expect(info.btfId).toBeGreaterThan(0);
      }, { btfFd: btf.fd });
      // Without BTF the kernel refuses local storage.
      expect(thrown(() => BpfMap.create({ ...spec, btfKeyTypeId: undefined, btfValueTypeId: undefined })).code).toBe('EINVAL');
    });
  }

  ktest('SK_STORAGE: update and lookup keyed by a socket fd', async () => {
    const p = await tcpPair();
    try {
      using btf = BtfHandle.load(tinyIntBtf());
      withMap({ type: 'SK_STORAGE', keySize: 4, valueSize: 4, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfKeyTypeId: 1, btfValueTypeId: 1, name: 'skstore' }, (m) => {
        expect(m.lookup(p.clientFd)).toBeUndefined();
        m.update(p.clientFd, 41);
        m.update(p.acceptedFd, 42);
        expect(m.lookup(p.clientFd)!.readInt32LE()).toBe(41);
        expect(m.lookup(p.acceptedFd)!.readInt32LE()).toBe(42);
        expect(thrown(() => m.update(p.clientFd, 1, 'NOEXIST')).code).toBe('EEXIST');
        expect(m.delete(p.clientFd)).toBe(true);
        expect(m.lookup(p.clientFd)).toBeUndefined();
        // Local storage cannot be iterated from user space.
        expect(thrown(() => m.nextKey()).code).toMatch(/ENOTSUPP|EOPNOTSUPP|EINVAL/);
      }, { btfFd: btf.fd });
    } finally {
      await closePair(p);
    }
  });

  ktest('CGRP_STORAGE: update and lookup keyed by a cgroup directory fd', (ctx) => {
    skipIfNotSupported(ctx, 'map type CGRP_STORAGE');
    let dirFd: number;
    try {
      dirFd = openSync(CGROUP2, 'r');
    } catch {
      return ctx.skip(`no cgroup2 hierarchy at ${CGROUP2}`);
    }
    try {
      using btf = BtfHandle.load(tinyIntBtf());
      withMap({ type: 'CGRP_STORAGE', keySize: 4, valueSize: 4, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfKeyTypeId: 1, btfValueTypeId: 1 }, (m) => {
        m.update(dirFd, Buffer.from(Int32Array.of(-5).buffer));
        expect(m.lookup(dirFd)!.readInt32LE()).toBe(-5);
        expect(m.delete(dirFd)).toBe(true);
        expect(m.lookup(dirFd)).toBeUndefined();
      }, { btfFd: btf.fd });
    } finally {
      closeSync(dirFd);
    }
  });
});

describe('arena and struct_ops', () => {
  ktest('ARENA: creation with MMAPABLE', (ctx) => {
    skipIfNotSupported(ctx, 'map type ARENA');
    skipIfNotSupported(ctx, 'ARENA map creation');
    withMap({ type: 'ARENA', keySize: 0, valueSize: 0, maxEntries: 4, flags: MapFlags.MMAPABLE, name: 'arena' }, (m) => {
      const info = m.info();
      expect(info.typeName).toBe('ARENA');
      expect(info.maxEntries).toBe(4); // pages
      expect(info.flags & MapFlags.MMAPABLE).toBe(MapFlags.MMAPABLE);
    });
    // The arena must be mmapable.
    expect(thrown(() => BpfMap.create({ type: 'ARENA', keySize: 0, valueSize: 0, maxEntries: 4 })).code).toBe('EINVAL');
  });

  ktest('STRUCT_OPS: supported by the kernel; without vmlinux BTF creation is a typed error', () => {
    expect(isMapTypeSupported(MapType.STRUCT_OPS)).toBe(true);
    const e = thrown(() => BpfMap.create({ type: 'STRUCT_OPS', keySize: 4, valueSize: 8, maxEntries: 1, name: 'ops' }));
    expect(e).toBeInstanceOf(BpfError);
    expect(e).not.toBeInstanceOf(NotSupportedError);
  });

  ktest('STRUCT_OPS: creation with the vmlinux BTF id of its value type (tcp_congestion_ops)', () => {
    // A struct_ops map's value is the kernel's wrapper struct bpf_struct_ops_<ops>, named by its
    // id in vmlinux BTF (btf_vmlinux_value_type_id). The kernel still wants the object's BTF fd.
    const value = kernelBtf().findByName('bpf_struct_ops_tcp_congestion_ops', 'struct')!;
    expect(value).toBeDefined();
    using btf = BtfHandle.load(tinyIntBtf());
    using m = BpfMap.create(
      { type: 'STRUCT_OPS', keySize: 4, valueSize: kernelBtf().sizeOf(value.id), maxEntries: 1, name: 'tcp_ops', btfVmlinuxValueTypeId: value.id },
      { btfFd: btf.fd },
    );
    const info = m.info();
    expect(info).toMatchObject({ type: MapType.STRUCT_OPS, btfVmlinuxValueTypeId: value.id, maxEntries: 1 });
  });
});
