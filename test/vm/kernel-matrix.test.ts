/**
 * The library on an older kernel (Debian 12's 6.1 in the VM): feature probes
 * answer "no" for map types it lacks and creation fails with NotSupportedError,
 * while the project's loader.o (BTF, global data, maps of maps, prog arrays,
 * kconfig externs) loads and runs as on the host. VM only (see helpers.ts).
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { describe, expect } from 'vitest';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { BpfMap } from '../../bpf/maps/map.ts';
import { MapFlags, MapType } from '../../bpf/maps/types.ts';
import { isMapTypeSupported } from '../../bpf/maps/probe.ts';
import { NotSupportedError } from '../../syscall/errors.ts';
import { kconfig, obj, sys, vmtest } from './helpers.ts';

const [major, minor] = release().split('.').map(Number) as [number, number];

describe('an older kernel (the guest)', () => {
  vmtest('the guest runs a 6.1 kernel without lockdown, with bpffs and tracefs mounted', () => {
    expect(`${major}.${minor}`).toBe('6.1');
    expect(readFileSync('/sys/kernel/security/lockdown', 'utf8')).toMatch(/\[none\]/);
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(/ \/sys\/fs\/bpf bpf /);
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(/ \/sys\/kernel\/tracing tracefs /);
  });

  vmtest('isMapTypeSupported: types newer than 6.1 are absent (CGRP_STORAGE 6.2, ARENA 6.9), older ones present', () => {
    expect(isMapTypeSupported(MapType.CGRP_STORAGE)).toBe(false);
    expect(isMapTypeSupported(MapType.ARENA)).toBe(false);
    // 6.1 has these.
    expect(isMapTypeSupported(MapType.USER_RINGBUF)).toBe(true);
    expect(isMapTypeSupported(MapType.BLOOM_FILTER)).toBe(true);
    expect(isMapTypeSupported(MapType.TASK_STORAGE)).toBe(true);
    expect(isMapTypeSupported(MapType.HASH)).toBe(true);
  });

  vmtest('creating a map of a type the kernel lacks throws NotSupportedError', () => {
    for (const type of ['ARENA', 'CGRP_STORAGE'] as const) {
      let err: unknown;
      try {
        const shape = type === 'ARENA' ? { keySize: 0, valueSize: 0, maxEntries: 1, flags: MapFlags.MMAPABLE } : { keySize: 4, valueSize: 4, maxEntries: 0, flags: MapFlags.NO_PREALLOC };
        BpfMap.create({ name: 'too_new', type, ...shape }).close();
      } catch (e) {
        err = e;
      }
      expect(err, type).toBeInstanceOf(NotSupportedError);
      expect((err as NotSupportedError).message).toContain(type);
    }
    // A supported type still works.
    using m = BpfMap.create({ name: 'fine', type: 'USER_RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 });
    expect(m.info().type).toBe(MapType.USER_RINGBUF);
  });

  vmtest('loader.o loads on 6.1: BTF, maps, global data, subprograms, kconfig; run_socket computes what it does on the host', () => {
    using c = loadCollection(loadCollectionSpec(obj('loader')));
    expect(c.btfFd).toBeGreaterThan(2);
    expect(c.programs.run_socket!.testRun({ data: new Uint8Array(64) }).retval).toBe(0);
    const u64 = (k: number) => Buffer.from(c.maps.results!.lookup(k)!).readBigUInt64LE(0);
    expect(u64(0)).toBe(52n);
    expect(u64(1)).toBe(21n);
    expect(u64(2)).toBe(0x1122334455667788n);
    const [, , patch = 0] = release().split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
    const version = (major << 16) + (minor << 8) + Math.min(patch, 255);
    const hz = BigInt(kconfig('HZ') ?? '0') & 0xffffn;
    expect(u64(3)).toBe((BigInt(version) << 32n) | 1n | (hz << 8n));
    // Tail call through the prog array, and the tracepoint program attached by attachAll.
    expect(c.programs.do_tail_call!.testRun({ data: new Uint8Array(64) }).retval).toBe(42);
    const links = c.attachAll();
    expect(Object.keys(links)).toContain('count_getpid');
    for (let i = 0; i < 3; i++) sys('getpid');
    const n = c.maps.counts!.lookup(process.pid);
    expect(n && Buffer.from(n).readBigUInt64LE(0)).toBeGreaterThanOrEqual(3n);
  });
});
