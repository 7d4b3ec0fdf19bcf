/**
 * Feature probes for programs: does this kernel load a program type, may a
 * program type call a helper, and bpftool's miscellaneous verifier features.
 * Each loads the smallest program that answers and closes it at once, as
 * libbpf's libbpf_probe_bpf_prog_type / libbpf_probe_bpf_helper do. Answers
 * are kept in memory for the life of the process, never on disk.
 */
import { Errno, kernelVersion, progLoadRaw } from '../../syscall/index.ts';
import { closeFd } from '../../syscall/fd.ts';
import { cString } from '../../elf/strings.ts';
import { asm, encodeInsns, type Insn } from './insn.ts';
import { AttachType, ProgFlags, ProgType } from './types.ts';

const GPL = Buffer.from('GPL\0');

/** What the kernel said to one probe load. */
interface ProbeLoad {
  /** 0 when the program loaded, else the errno. */
  errno: number;
  log: string;
}

/** What a program type needs at load besides its instructions (libbpf's probe_prog_load). */
interface TypeNeeds {
  expectedAttachType?: number;
  kernVersion?: number;
  flags?: number;
  attachBtfId?: number;
  /** The type exists when the load fails with exactly this errno and log text (it cannot load without a real target). */
  expect?: { errno: number; log?: string };
}

function needsOf(type: number): TypeNeeds {
  switch (type) {
    case ProgType.CGROUP_SOCK_ADDR:
      return { expectedAttachType: AttachType.CGROUP_INET4_CONNECT };
    case ProgType.CGROUP_SOCKOPT:
      return { expectedAttachType: AttachType.CGROUP_GETSOCKOPT };
    case ProgType.SK_LOOKUP:
      return { expectedAttachType: AttachType.SK_LOOKUP };
    case ProgType.LIRC_MODE2:
      return { expectedAttachType: AttachType.LIRC_MODE2 };
    case ProgType.NETFILTER:
      return { expectedAttachType: AttachType.NETFILTER };
    case ProgType.KPROBE: {
      // Kernels before 5.0 check kern_version against their own.
      const [a, b, c] = kernelVersion();
      return { kernVersion: (a << 16) + (b << 8) + Math.min(c, 255) };
    }
    case ProgType.TRACING:
      // BTF id 1 of vmlinux is no function: a kernel with the type says exactly that.
      return { expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: 1, expect: { errno: Errno.EINVAL, log: 'attach_btf_id 1 is not a function' } };
    case ProgType.LSM:
      return { expectedAttachType: AttachType.MODIFY_RETURN, attachBtfId: 1, expect: { errno: Errno.EINVAL, log: 'attach_btf_id 1 is not a function' } };
    case ProgType.EXT:
      return { attachBtfId: 1, expect: { errno: Errno.EINVAL, log: 'Cannot replace kernel functions' } };
    case ProgType.SYSCALL:
      return { flags: ProgFlags.SLEEPABLE };
    case ProgType.STRUCT_OPS:
      // Without a struct_ops map to name its member the kernel answers ENOTSUPP (524).
      return { expect: { errno: Errno.ENOTSUPP } };
    default:
      return {};
  }
}

function load(type: number, insns: Insn[], withLog: boolean, needs: TypeNeeds = needsOf(type)): ProbeLoad {
  const buf = withLog || needs.expect?.log ? new Uint8Array(4096) : undefined;
  const { r } = progLoadRaw(
    {
      type,
      insns: encodeInsns(insns),
      license: GPL,
      name: '',
      kernVersion: needs.kernVersion,
      flags: needs.flags,
      expectedAttachType: needs.expectedAttachType,
      attachBtfId: needs.attachBtfId,
    },
    buf ? { buf, level: 1 } : undefined,
  );
  if (r >= 0) closeFd(r);
  return { errno: r >= 0 ? 0 : -r, log: buf ? cString(buf) : '' };
}

const RETURN_0: Insn[] = [asm.mov64Imm(0, 0), asm.exit()];

const typeCache = new Map<number, boolean>();

/** Whether the kernel loads programs of `type` (libbpf_probe_bpf_prog_type). Kept in memory per type. */
export function isProgTypeSupported(type: number): boolean {
  const hit = typeCache.get(type);
  if (hit !== undefined) return hit;
  const needs = needsOf(type);
  const { errno, log } = load(type, RETURN_0, false, needs);
  const ok = needs.expect ? errno === needs.expect.errno && (!needs.expect.log || log.includes(needs.expect.log)) : errno === 0;
  typeCache.set(type, ok);
  return ok;
}

/**
 * Program types whose helpers a two-instruction program cannot tell: each
 * needs a real attach target (tracing, lsm, ext) or a struct_ops map to load
 * at all. libbpf refuses to probe them too (EOPNOTSUPP).
 */
const UNPROBEABLE: ReadonlySet<number> = new Set([ProgType.TRACING, ProgType.EXT, ProgType.LSM, ProgType.STRUCT_OPS]);

/**
 * Whether programs of `type` may call helper `id`: undefined when that cannot
 * be probed (see UNPROBEABLE). A program that only calls the helper is
 * loaded; the verifier names a helper it does not know ("invalid func") or
 * that the type may not use ("program of this type cannot use helper" since
 * 5.x, "unknown func" before). Any other verdict (a wrong argument type, or
 * success) means the helper is there.
 */
export function probeHelper(type: number, id: number): boolean | undefined {
  if (UNPROBEABLE.has(type)) return undefined;
  const { errno, log } = load(type, [asm.call(id), asm.exit()], true);
  if (errno === 0) return true;
  return !(log.includes('invalid func ') || log.includes('unknown func ') || log.includes('program of this type cannot use helper '));
}

/** bpftool's miscellaneous probes: each a socket filter that only a kernel with the feature loads. */
export const MISC_PROBES: readonly { key: string; plain: string; define: string; insns: () => Insn[] }[] = [
  {
    // 5.3 raised the 4096-instruction limit for privileged programs.
    key: 'have_large_insn_limit',
    define: 'LARGE_INSN_LIMIT',
    plain: 'Large program size limit',
    insns: () => [...Array.from({ length: 4096 }, () => asm.mov64Imm(0, 1)), asm.exit()],
  },
  {
    // 5.3: bounded loops (a back edge the verifier can prove ends).
    key: 'have_bounded_loops',
    define: 'BOUNDED_LOOPS',
    plain: 'Bounded loop support',
    insns: () => [asm.mov64Imm(0, 10), { code: 0x17, dst: 0, src: 0, off: 0, imm: 1 } /* r0 -= 1 */, { code: 0x55, dst: 0, src: 0, off: -2, imm: 0 } /* if r0 != 0 goto -2 */, asm.exit()],
  },
  {
    // 4.14: BPF_JLT and friends.
    key: 'have_v2_isa_extension',
    define: 'V2_ISA_EXTENSION',
    plain: 'ISA extension v2',
    insns: () => [asm.mov64Imm(0, 0), { code: 0xa5, dst: 0, src: 0, off: 1, imm: 0 } /* if r0 < 0 goto +1 */, asm.mov64Imm(0, 1), asm.exit()],
  },
  {
    // 5.1: 32-bit jumps (BPF_JMP32).
    key: 'have_v3_isa_extension',
    define: 'V3_ISA_EXTENSION',
    plain: 'ISA extension v3',
    insns: () => [asm.mov64Imm(0, 0), { code: 0xa6, dst: 0, src: 0, off: 1, imm: 0 } /* if w0 < 0 goto +1 */, asm.mov64Imm(0, 1), asm.exit()],
  },
];

/** Run one of MISC_PROBES: whether the kernel loads it. */
export function probeMisc(p: (typeof MISC_PROBES)[number]): boolean {
  return load(ProgType.SOCKET_FILTER, p.insns(), false, {}).errno === 0;
}
