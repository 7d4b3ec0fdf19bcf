/**
 * The one way a test skips for a kernel feature: `skipIfNotSupported(ctx,
 * feature | error)` (or `ifSupported(ctx, body)`, which routes the body's
 * NotSupportedError through it).
 *
 * - On a kernel older than the release that introduced the feature
 *   (bpf/features.ts), or one whose build leaves out the option the feature
 *   needs (CONFIG_* off in its config), the test skips naming the feature.
 * - On a kernel at or above that release the test FAILS: the feature should be
 *   there, so its absence is a bug (of tsbpf's probe or of the kernel).
 * - A documented kernel property (PROPERTIES below: a refusal seen on a kernel
 *   that should allow it) skips with its documentation.
 *
 * Under CI a skip is normally a failure (see kernel.ts); a skip through this
 * helper is allowed there because each reason above is a property of the
 * kernel under test, not a missing privilege or mount of the machine. Only
 * add a property with its documentation (and in the README's testing
 * paragraph).
 */
import { Program } from '../../bpf/programs/program.ts';
import { kernelBtf } from '../../bpf/btf/kernel.ts';
import { isMapTypeSupported } from '../../bpf/maps/probe.ts';
import { BpfMap } from '../../bpf/maps/map.ts';
import { MapFlags, MapType } from '../../bpf/maps/types.ts';
import { featureInfo, formatVersion, kernelAtLeast, type KernelFeatureName, type KernelVersion } from '../../bpf/features.ts';
import { kernelConfig } from '../../bpf/loader/kconfig.ts';
import { kernelVersion } from '../../syscall/uname.ts';
import { NotSupportedError } from '../../syscall/errors.ts';
import { TsbpfError } from '../../errors.ts';

interface Property {
  /** The documented kernel property, shown in the skip message. */
  property: string;
  /** undefined when the kernel allows it, else why not. */
  probe(): string | undefined;
}

/** `r0 = 0; exit`: the smallest program, so that a refusal is about the hook, never the code. */
const RETURN_0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

function probeIter(target: string): string | undefined {
  const fn = kernelBtf().findByName(`bpf_iter_${target}`, 'func');
  if (!fn) return `the kernel BTF has no bpf_iter_${target} (iterator not built in)`;
  return epermOf(`BPF_PROG_LOAD of a two-instruction iter/${target} program fails with EPERM`, () =>
    Program.load({ name: 'iter_probe', type: 'TRACING', expectedAttachType: 'TRACE_ITER', attachBtfId: fn.id, license: 'GPL', instructions: RETURN_0 }).close(),
  );
}

/** `why` when `attempt` fails with the kernel's EPERM, undefined when it succeeds; only that refusal is a kernel property, anything else a real failure. */
function epermOf(why: string, attempt: () => void): string | undefined {
  try {
    attempt();
    return undefined;
  } catch (e) {
    if (e instanceof TsbpfError && e.code === 'EPERM') return why;
    throw e;
  }
}

/** Create the smallest arena (one page, MMAPABLE). */
const probeArena = (): string | undefined =>
  epermOf('BPF_MAP_CREATE of a one-page MMAPABLE arena fails with EPERM', () =>
    BpfMap.create({ type: 'ARENA', keySize: 0, valueSize: 0, maxEntries: 1, flags: MapFlags.MMAPABLE, name: 'arena_probe' }).close(),
  );

const PROPERTIES = {
  /**
   * Some kernels (seen on a 6.18 build, with every capability and no
   * lockdown) refuse to load any iter/bpf_map_elem program with EPERM, while
   * iter/task and iter/bpf_map load; libbpf fails the same way. It is the
   * kernel's verdict on the hook, so the test runs only where it loads.
   */
  'iter/bpf_map_elem': {
    property: 'this kernel refuses iter/bpf_map_elem programs (EPERM at load for root; libbpf too), a documented kernel property',
    probe: () => probeIter('bpf_map_elem'),
  },
  /**
   * This host's 6.18 build (a Firecracker guest kernel, every capability but
   * CAP_SYS_RESOURCE in the bounding set, no lockdown, no LSM) refuses
   * BPF_MAP_CREATE of any ARENA map with EPERM, raw syscall included, while
   * the map type exists (the probe sees it). Arena creation is proven on the
   * VM matrix's 6.12 and 7.x guests, which run maps-types.test.ts.
   */
  'ARENA map creation': {
    property: 'this kernel refuses to create ARENA maps (EPERM at BPF_MAP_CREATE for root, raw syscall too), a documented kernel property',
    probe: probeArena,
  },
  /**
   * Typed ksyms resolve a variable through the kernel's BTF VAR. Debian's 5.10
   * build (the VM matrix) has BTF without any VAR for per-CPU variables, so no
   * typed ksym can resolve there; the loader's KSYM_MISSING says so.
   */
  'kernel BTF per-CPU variables': {
    property: "this kernel's BTF has no VAR for per-CPU variables (Debian's 5.10 build), so typed ksyms cannot resolve",
    probe: () => (kernelBtf().findByName('bpf_prog_active', 'var') ? undefined : 'no VAR bpf_prog_active in /sys/kernel/btf/vmlinux'),
  },
} satisfies Record<string, Property>;

export type KernelProperty = keyof typeof PROPERTIES;

const cache = new Map<KernelProperty, string | undefined>();

/** Why the kernel refuses the documented property `name`, or undefined when it allows it (probed once). */
export function kernelRefuses(name: KernelProperty): string | undefined {
  if (!cache.has(name)) cache.set(name, PROPERTIES[name].probe());
  return cache.get(name);
}

/** The kernel the decision is about; tests of this helper inject another. */
export interface KernelUnderTest {
  version: KernelVersion;
  /** CONFIG_* values ('y', 'm'); empty when the config is not readable. */
  config: ReadonlyMap<string, string>;
}

const runningKernel = (): KernelUnderTest => ({ version: kernelVersion(), config: kernelConfig() });

/** Features a test can ask for by name, probed through the library (the map types). */
function probeFeature(name: KernelFeatureName): NotSupportedError | undefined {
  const m = /^map type (\w+)$/.exec(name);
  if (!m) throw new Error(`skipIfNotSupported: no probe for '${name}'; pass the NotSupportedError the library threw`);
  return isMapTypeSupported(MapType[m[1] as keyof typeof MapType]) ? undefined : new NotSupportedError(name, 'the feature probe says no');
}

/** What the helper needs of vitest's TestContext (tests of the helper pass their own). */
type Skipper = { skip(note?: string): never };

/**
 * Skip or fail for a kernel feature the test needs:
 * - a NotSupportedError: decided by its feature's row in bpf/features.ts;
 * - a feature name (a map type): probed, then decided the same way;
 * - a documented kernel property: skipped where the kernel refuses it;
 * - anything else (another error, undefined): nothing happens, so
 *   `catch (e) { skipIfNotSupported(ctx, e); throw e; }` rethrows real failures.
 */
export function skipIfNotSupported(ctx: Skipper, what: unknown, kernel: KernelUnderTest = runningKernel()): void {
  if (typeof what === 'string' && Object.hasOwn(PROPERTIES, what)) {
    const why = kernelRefuses(what as KernelProperty);
    if (why) ctx.skip(`kernel property: ${PROPERTIES[what as KernelProperty].property} (${why})`);
    return;
  }
  const err = typeof what === 'string' ? probeFeature(what as KernelFeatureName) : what;
  if (!(err instanceof NotSupportedError)) return;
  const row = featureInfo(err.feature);
  const running = formatVersion(kernel.version);
  if (!row) ctx.skip(`kernel feature: ${err.feature} is not supported by this kernel (${running}; no introducing release known): ${err.message}`);
  else if (!kernelAtLeast(row.since, kernel.version)) ctx.skip(`kernel feature: ${err.feature} needs Linux ${row.since}, this kernel is ${running}`);
  else if (row.config && kernel.config.size > 0 && !/^[ym]$/.test(kernel.config.get(row.config) ?? '')) {
    ctx.skip(`kernel feature: ${err.feature} needs ${row.config}, off in this kernel's build (${running})`);
  } else {
    const cfg = row.config ? ` and ${row.config} is ${kernel.config.size ? 'on' : 'unknown (no kernel config readable)'}` : '';
    throw new Error(`${err.feature} is missing although this kernel (${running}) is at or above ${row.since}, which introduced it${cfg}: a bug, not a skip (${err.message})`, { cause: err });
  }
}

/** Run a test body; a NotSupportedError it throws goes through skipIfNotSupported, anything else fails the test. */
export async function ifSupported<T>(ctx: Skipper, body: () => T | Promise<T>, kernel?: KernelUnderTest): Promise<T> {
  try {
    return await body();
  } catch (e) {
    skipIfNotSupported(ctx, e, kernel);
    throw e;
  }
}
