/**
 * BTF sanitisation for older kernels: the kinds a kernel lacks (found by
 * cached probes) are rewritten into kinds it accepts, keeping ids and sizes,
 * so program BTF (func_info, line_info, map value types) is not lost. Here the
 * missing kinds are pretended with the btfFeatures option; the real probes on
 * 6.1 run in the VM suite.
 */
import { describe, expect, it } from 'vitest';
import { Btf } from '../btf/btf.ts';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { loadCollection } from '../bpf/loader/collection.ts';
import { BtfHandle } from '../bpf/btf/handle.ts';
import { btfFeatures, type BtfFeatures } from '../bpf/btf/features.ts';
import { fixupBtfForKernel } from '../bpf/loader/btf-fixup.ts';
import { ktest } from './helpers/kernel.ts';
import { kernelAtLeast, since, type KernelFeatureName } from '../bpf/features.ts';

const OBJ = new URL('./bpf/loader.o', import.meta.url).pathname;
const CORE = new URL('../test/fixtures/btf/core.o', import.meta.url).pathname;
const NONE: BtfFeatures = { datasec: false, float: false, func: true, funcGlobal: false, declTag: false, typeTag: false, enum64: false };

describe('BTF sanitisation', () => {
  it('rewrites VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 and global FUNCs, keeping ids and sizes', () => {
    const spec = loadCollectionSpec(CORE, { defaultProgramType: { type: 'SOCKET_FILTER' } });
    const before = spec.btf!;
    const kinds = new Set([...before.types()].map((t) => t.kind));
    // The fixture has every kind, so each rewrite is exercised.
    for (const k of ['var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64'] as const) expect(kinds.has(k), k).toBe(true);
    // A signed ENUM (kind_flag, 6.0) too: kernels before ENUM64 refuse the flag ("Invalid btf_info kind_flag", 5.10).
    expect([...before.types()].some((t) => t.kind === 'enum' && t.signed)).toBe(true);
    const after = Btf.parse(fixupBtfForKernel(spec, before, NONE));
    expect(after.length).toBe(before.length);
    for (const t of after.types()) {
      if (t.kind !== 'enum') continue;
      const old = before.typeById(t.id);
      expect(t.signed, t.name).toBe(false);
      // Same bits: the values read back as their u32 patterns.
      if (old.kind === 'enum') expect(t.values.map((v) => v.value >>> 0)).toEqual(old.values.map((v) => v.value >>> 0));
    }
    for (const t of after.types()) {
      expect(['var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64']).not.toContain(t.kind);
      if (t.kind === 'func') expect(t.linkage).toBe('static');
      const old = before.typeById(t.id);
      if (old.kind === 'enum64' || old.kind === 'float') expect(after.sizeOf(t.id)).toBe(before.sizeOf(t.id));
      if (old.kind === 'datasec') expect(t.kind).toBe('struct');
    }
  });

  ktest('the probes find every kind on this kernel, and sanitised BTF still loads', () => {
    // Each kind from the release that added it (the VM matrix's 5.10 has VAR/DATASEC and linkage, not FLOAT, DECL_TAG, TYPE_TAG, ENUM64).
    const has = (f: KernelFeatureName) => kernelAtLeast(since(f)!);
    expect(btfFeatures()).toEqual({
      datasec: has('BTF VAR/DATASEC'),
      float: has('BTF FLOAT'),
      func: has('BTF func/line info'),
      funcGlobal: has('BTF func linkage'),
      declTag: has('BTF DECL_TAG'),
      typeTag: has('BTF TYPE_TAG'),
      enum64: has('BTF ENUM64'),
    });
    const spec = loadCollectionSpec(CORE, { defaultProgramType: { type: 'SOCKET_FILTER' } });
    using h = BtfHandle.load(fixupBtfForKernel(spec, spec.btf!, NONE));
    expect(h.fd).toBeGreaterThan(0);
  });

  ktest('a collection loads and runs with BTF sanitised as for an old kernel, keeping its program BTF', () => {
    const spec = loadCollectionSpec(OBJ);
    // run_socket's bpf_loop needs callbacks (5.13): before, the tail-call programs carry the check.
    const callbacks = kernelAtLeast(since('callback functions')!);
    using c = loadCollection(spec, { btfFeatures: NONE, ...(callbacks ? {} : { programs: ['do_tail_call', 'tail_target'] }) });
    expect(c.warnings.filter((w) => w.includes('BTF was rejected'))).toEqual([]);
    expect(c.btfFd).toBeGreaterThan(0);
    if (callbacks) {
      expect(c.programs.run_socket!.testRun({ data: new Uint8Array(64) }).retval).toBe(0);
      expect(c.maps.results!.lookup(0)?.readBigUInt64LE()).toBe(52n);
    } else {
      expect(c.programs.do_tail_call!.testRun({ data: new Uint8Array(64) }).retval).toBe(42);
    }
    expect(c.programs[callbacks ? 'run_socket' : 'do_tail_call']!.info().btfId).toBeGreaterThan(0);
  });
});
