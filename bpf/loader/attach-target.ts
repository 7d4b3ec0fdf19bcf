/**
 * The BTF id a tracing or LSM program attaches to, chosen by its expected
 * attach type as libbpf does: tp_btf names a `btf_trace_<tp>` typedef, lsm a
 * `bpf_lsm_<hook>` function, iter a `bpf_iter_<target>` function, and
 * fentry/fexit/fmod_ret the function itself.
 */
import type { Btf } from '../../btf/btf.ts';
import { TsbpfError } from '../../errors.ts';
import { AttachType, ProgType, resolveAttachType, type AttachTypeName } from '../programs/types.ts';

export class AttachTargetError extends TsbpfError {
  declare readonly code: 'NO_ATTACH_TARGET';
  constructor(code: 'NO_ATTACH_TARGET', message: string) {
    super(code, message);
  }
}

const PREFIX: Partial<Record<number, { prefix: string; kind: 'func' | 'typedef' }>> = {
  [AttachType.TRACE_RAW_TP]: { prefix: 'btf_trace_', kind: 'typedef' },
  [AttachType.LSM_MAC]: { prefix: 'bpf_lsm_', kind: 'func' },
  [AttachType.LSM_CGROUP]: { prefix: 'bpf_lsm_', kind: 'func' },
  [AttachType.TRACE_ITER]: { prefix: 'bpf_iter_', kind: 'func' },
};

/** undefined for programs that attach by something other than a kernel BTF id. */
export function attachTarget(type: number, expectedAttachType: number | AttachTypeName | undefined, section: string, to: string, target: () => Btf): number | undefined {
  if (type !== ProgType.TRACING && type !== ProgType.LSM) return undefined;
  if (!to) return undefined;
  const how = PREFIX[resolveAttachType(expectedAttachType)] ?? { prefix: '', kind: 'func' as const };
  const name = how.prefix + to;
  const t = target().findByName(name, how.kind);
  if (!t) throw new AttachTargetError('NO_ATTACH_TARGET', `section '${section}': the kernel's BTF has no ${how.kind} '${name}' to attach to`);
  return t.id;
}
