/**
 * Kernel properties a test may depend on, each probed once on the real
 * kernel and cached. `skipUnlessKernelAllows(ctx, feature)` skips a test where
 * the probe says the kernel refuses the feature, with the precise reason.
 *
 * Under CI a skip is normally a failure (see kernel.ts); a skip through this
 * helper is allowed there because every feature below is a documented property
 * of the kernel build, not a missing privilege or mount of the test machine.
 * Only add a feature here with its documentation (and in the README's
 * testing paragraph).
 */
import type { TestContext } from 'vitest';
import { Program } from '../../bpf/programs/program.ts';
import { kernelBtf } from '../../bpf/btf/kernel.ts';
import { TsbpfError } from '../../errors.ts';

interface Feature {
  /** The documented kernel property, shown in the skip message. */
  property: string;
  /** undefined when the kernel allows the feature, else why not. */
  probe(): string | undefined;
}

/** `r0 = 0; exit`: the smallest program, so that a refusal is about the hook, never the code. */
const RETURN_0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

function probeIter(target: string): string | undefined {
  const fn = kernelBtf().findByName(`bpf_iter_${target}`, 'func');
  if (!fn) return `the kernel BTF has no bpf_iter_${target} (iterator not built in)`;
  try {
    Program.load({ name: 'iter_probe', type: 'TRACING', expectedAttachType: 'TRACE_ITER', attachBtfId: fn.id, license: 'GPL', instructions: RETURN_0 }).close();
    return undefined;
  } catch (e) {
    // Only a refusal of the hook itself is a kernel property; anything else is a real failure.
    if (e instanceof TsbpfError && e.code === 'EPERM') return `BPF_PROG_LOAD of a two-instruction iter/${target} program fails with EPERM`;
    throw e;
  }
}

const FEATURES = {
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
} satisfies Record<string, Feature>;

export type KernelFeature = keyof typeof FEATURES;

const cache = new Map<KernelFeature, string | undefined>();

/** Why the kernel refuses `feature`, or undefined when it allows it (probed once). */
export function kernelRefuses(feature: KernelFeature): string | undefined {
  if (!cache.has(feature)) cache.set(feature, FEATURES[feature].probe());
  return cache.get(feature);
}

/** Skip the test (also under CI: a documented kernel property) unless the kernel allows `feature`. */
export function skipUnlessKernelAllows(ctx: TestContext, feature: KernelFeature): void {
  const why = kernelRefuses(feature);
  if (why) ctx.skip(`kernel property: ${FEATURES[feature].property} (${why})`);
}
