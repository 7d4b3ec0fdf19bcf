/**
 * The feature expectations of the kernel under test (each guest of the
 * matrix: 5.10, 6.1, 6.12, 7.x): every map type's probe agrees with the
 * release bpf/features.ts names for it (present from that release on, absent
 * before; a missing one on a newer kernel is a bug), creating a type the
 * kernel lacks is a NotSupportedError naming that release, and the project's
 * loader.o (BTF, global data, maps of maps, prog arrays, kconfig externs,
 * a bpf_loop callback) loads and runs as on the host, or, before callbacks
 * (5.13), fails with a NotSupportedError naming them. VM only (see helpers.ts).
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { describe, expect } from 'vitest';
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection } from '../../bpf/loader/collection.ts';
import { BpfMap } from '../../bpf/maps/map.ts';
import { MapFlags, MapType } from '../../bpf/maps/types.ts';
import { isMapTypeSupported } from '../../bpf/maps/probe.ts';
import { KERNEL_FEATURES, kernelAtLeast, since, type KernelFeatureName } from '../../bpf/features.ts';
import { kernelConfig } from '../../bpf/loader/kconfig.ts';
import { NotSupportedError } from '../../syscall/errors.ts';
import { ifSupported } from '../helpers/kernel-features.ts';
import { kconfig, obj, sys, vmtest } from './helpers.ts';

const [major, minor] = release().split('.').map(Number) as [number, number];

/** Whether the table says this kernel has `feature`: at or above its release, with its CONFIG_ option on. */
function expected(feature: KernelFeatureName): boolean {
  const row: { since: string; config?: string } = KERNEL_FEATURES[feature];
  if (!kernelAtLeast(row.since)) return false;
  return !row.config || /^[ym]$/.test(kernelConfig().get(row.config) ?? '');
}

const MAP_TYPES = Object.keys(KERNEL_FEATURES)
  .map((f) => /^map type (\w+)$/.exec(f)?.[1])
  .filter((t): t is keyof typeof MapType => !!t);

describe('the kernel under test (a guest of the matrix)', () => {
  vmtest('the guest runs without lockdown, with bpffs and tracefs mounted', (ctx) => {
    ctx.annotate(`kernel ${release()}`);
    expect(major).toBeGreaterThanOrEqual(5);
    expect(readFileSync('/sys/kernel/security/lockdown', 'utf8')).toMatch(/\[none\]/);
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(/ \/sys\/fs\/bpf bpf /);
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(/ \/sys\/kernel\/tracing tracefs /);
    // The guest kernel's own config, which feature expectations read (init.sh puts it in /boot).
    expect(kconfig('BPF_SYSCALL')).toBe('y');
  });

  vmtest(`isMapTypeSupported agrees with bpf/features.ts for every map type (${MAP_TYPES.length} types)`, () => {
    const wrong: string[] = [];
    for (const t of MAP_TYPES) {
      const want = expected(`map type ${t}` as KernelFeatureName);
      const got = isMapTypeSupported(MapType[t]);
      if (got !== want) wrong.push(`${t}: probe says ${got ? 'present' : 'absent'}, the table (since ${since(`map type ${t}`)}) says ${want ? 'present' : 'absent'} on ${major}.${minor}`);
    }
    expect(wrong).toEqual([]);
  });

  vmtest('creating each map type the kernel lacks throws NotSupportedError naming the release that added it', (ctx) => {
    const missing = MAP_TYPES.filter((t) => !isMapTypeSupported(MapType[t]));
    ctx.annotate(`lacks: ${missing.join(', ') || 'none'}`);
    for (const type of missing) {
      let err: unknown;
      try {
        // Shapes the kernel would accept for the type; the type itself is what fails.
        const shape =
          type === 'ARENA'
            ? { keySize: 0, valueSize: 0, maxEntries: 1, flags: MapFlags.MMAPABLE }
            : type.endsWith('RINGBUF')
              ? { keySize: 0, valueSize: 0, maxEntries: 4096 }
              : type === 'BLOOM_FILTER'
                ? { keySize: 0, valueSize: 4, maxEntries: 16 }
                : type.endsWith('STORAGE')
                  ? { keySize: 4, valueSize: 4, maxEntries: 0, flags: MapFlags.NO_PREALLOC }
                  : { keySize: 4, valueSize: 4, maxEntries: 1 };
        BpfMap.create({ name: 'too_new', type, ...shape }).close();
      } catch (e) {
        err = e;
      }
      expect(err, type).toBeInstanceOf(NotSupportedError);
      expect((err as NotSupportedError).feature).toBe(`map type ${type}`);
      expect((err as NotSupportedError).since).toBe(since(`map type ${type}`));
    }
    // A supported type still works.
    using m = BpfMap.create({ name: 'fine', type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 });
    expect(m.info().type).toBe(MapType.RINGBUF);
  });

  vmtest('loader.o without its bpf_loop program: maps of maps, prog array tail call, tracepoint attached by attachAll', () => {
    using c = loadCollection(loadCollectionSpec(obj('loader')), { programs: ['do_tail_call', 'tail_target', 'count_getpid'] });
    expect(c.btfFd).toBeGreaterThan(2);
    expect(c.programs.do_tail_call!.testRun({ data: new Uint8Array(64) }).retval).toBe(42);
    const links = c.attachAll();
    expect(Object.keys(links)).toContain('count_getpid');
    for (let i = 0; i < 3; i++) sys('getpid');
    const n = c.maps.counts!.lookup(process.pid);
    expect(n && Buffer.from(n).readBigUInt64LE(0)).toBeGreaterThanOrEqual(3n);
  });

  vmtest('loader.o whole: BTF, global data, subprograms, kconfig, a bpf_loop callback; run_socket computes what it does on the host', async (ctx) => {
    // bpf_loop needs callbacks (5.13): before, the verifier's refusal becomes a NotSupportedError naming them.
    using c = await ifSupported(ctx, () => loadCollection(loadCollectionSpec(obj('loader'))));
    expect(c.programs.run_socket!.testRun({ data: new Uint8Array(64) }).retval).toBe(0);
    const u64 = (k: number) => Buffer.from(c.maps.results!.lookup(k)!).readBigUInt64LE(0);
    expect(u64(0)).toBe(52n);
    expect(u64(1)).toBe(21n);
    expect(u64(2)).toBe(0x1122334455667788n);
    const [, , patch = 0] = release().split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
    const version = (major << 16) + (minor << 8) + Math.min(patch, 255);
    const hz = BigInt(kconfig('HZ') ?? '0') & 0xffffn;
    expect(u64(3)).toBe((BigInt(version) << 32n) | 1n | (hz << 8n));
  });
});
