/** Programs on a cgroup v2 directory: a BPF link, or BPF_PROG_ATTACH (multi) on kernels without cgroup links. */
import { openSync } from 'node:fs';
import { TsbpfError } from '../../errors.ts';
import { Errno, adoptFd, closeFd, dupFd } from '../../syscall/index.ts';
import type { Program } from '../programs/program.ts';
import { ProgType, attachTypeName, resolveAttachType, type AttachTypeName } from '../programs/types.ts';
import { AttachError, FdLink, Link, ProgAttachLink } from './link.ts';
import { linkCreateRaw, progAttach } from '../../syscall/index.ts';
import { BpfError } from '../../syscall/errors.ts';
import { requireProgType } from './prog-check.ts';

const BPF_F_ALLOW_MULTI = 1 << 1;

/** Program types the kernel attaches to a cgroup (LSM for lsm_cgroup). */
const CGROUP_PROG_TYPES: readonly number[] = [
  ProgType.CGROUP_SKB,
  ProgType.CGROUP_SOCK,
  ProgType.CGROUP_SOCK_ADDR,
  ProgType.SOCK_OPS,
  ProgType.CGROUP_DEVICE,
  ProgType.CGROUP_SYSCTL,
  ProgType.CGROUP_SOCKOPT,
  ProgType.LSM,
];

export function attachCgroup(prog: Program, cgroupPath: string, attachType?: number | AttachTypeName): Link {
  requireProgType(prog, CGROUP_PROG_TYPES, `cgroup ${cgroupPath}`, 'cgroup (cgroup_skb, cgroup/..., sockops)');
  const at = attachType === undefined ? prog.attachType : resolveAttachType(attachType);
  if (at === undefined) throw new TsbpfError('NO_ATTACH_TYPE', `program '${prog.name}': give the cgroup attach type`);
  let cg: number;
  try {
    cg = adoptFd(openSync(cgroupPath, 'r'));
  } catch (e) {
    throw new AttachError('NO_CGROUP', `cannot open cgroup ${cgroupPath}: ${(e as Error).message}`);
  }
  const what = `cgroup ${cgroupPath} ${attachTypeName(at).toLowerCase()} -> ${prog.name}`;
  try {
    const r = linkCreateRaw({ progFd: prog.fd, targetFd: cg, attachType: at });
    if (r >= 0) {
      closeFd(cg);
      return new FdLink(r, what);
    }
    if (r !== -Errno.EINVAL) throw new BpfError('BPF_LINK_CREATE', -r, { object: what, hints: { EINVAL: `a ${prog.type} program cannot attach as ${attachTypeName(at)}` } });
    const progFd = dupFd(prog.fd);
    try {
      progAttach(cg, progFd, at, BPF_F_ALLOW_MULTI, { object: what });
    } catch (e) {
      closeFd(progFd);
      throw e;
    }
    return new ProgAttachLink(cg, true, progFd, at, what);
  } catch (e) {
    closeFd(cg);
    throw e;
  }
}
