/**
 * Programs on a cgroup v2 directory as the kernel reports them
 * (BPF_PROG_QUERY per attach type, attached or effective), and attaching or
 * detaching without a link (BPF_PROG_ATTACH/DETACH: stays after the process
 * exits), as bpftool's `cgroup` verbs do.
 */
import { openSync } from 'node:fs';
import { adoptFd, closeFd, progAttach, progDetachRaw, progQuery, BpfError } from '../../syscall/index.ts';
import { AttachType } from '../programs/types.ts';
import { AttachError } from './link.ts';

/** bpftool's cgroup_attach_types, in its order (the order `cgroup show` prints). */
export const CGROUP_ATTACH_TYPES: readonly number[] = [
  AttachType.CGROUP_INET_INGRESS,
  AttachType.CGROUP_INET_EGRESS,
  AttachType.CGROUP_INET_SOCK_CREATE,
  AttachType.CGROUP_INET_SOCK_RELEASE,
  AttachType.CGROUP_INET4_BIND,
  AttachType.CGROUP_INET6_BIND,
  AttachType.CGROUP_INET4_POST_BIND,
  AttachType.CGROUP_INET6_POST_BIND,
  AttachType.CGROUP_INET4_CONNECT,
  AttachType.CGROUP_INET6_CONNECT,
  AttachType.CGROUP_UNIX_CONNECT,
  AttachType.CGROUP_INET4_GETPEERNAME,
  AttachType.CGROUP_INET6_GETPEERNAME,
  AttachType.CGROUP_UNIX_GETPEERNAME,
  AttachType.CGROUP_INET4_GETSOCKNAME,
  AttachType.CGROUP_INET6_GETSOCKNAME,
  AttachType.CGROUP_UNIX_GETSOCKNAME,
  AttachType.CGROUP_UDP4_SENDMSG,
  AttachType.CGROUP_UDP6_SENDMSG,
  AttachType.CGROUP_UNIX_SENDMSG,
  AttachType.CGROUP_UDP4_RECVMSG,
  AttachType.CGROUP_UDP6_RECVMSG,
  AttachType.CGROUP_UNIX_RECVMSG,
  AttachType.CGROUP_SOCK_OPS,
  AttachType.CGROUP_DEVICE,
  AttachType.CGROUP_SYSCTL,
  AttachType.CGROUP_GETSOCKOPT,
  AttachType.CGROUP_SETSOCKOPT,
  AttachType.LSM_CGROUP,
];

/** BPF_F_ALLOW_OVERRIDE / BPF_F_ALLOW_MULTI. */
export const CgroupAttachFlags = { override: 1, multi: 2 } as const;

export interface CgroupAttachment {
  progId: number;
  attachType: number;
  /** The program's own attach flags, or the hook's (older kernels report only those); 0 for effective queries. */
  attachFlags: number;
}

/** An open cgroup directory; `fn` runs with its fd, closed after. */
export function withCgroup<T>(path: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = adoptFd(openSync(path, 'r'));
  } catch (e) {
    throw new AttachError('NO_CGROUP', `can't open cgroup ${path}: ${(e as Error).message}`);
  }
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}

/**
 * Every program on the cgroup, per attach type in bpftool's order. Attach
 * types the kernel does not know answer EINVAL and are skipped; any other
 * failure is thrown.
 */
export function cgroupAttachments(cgroupFd: number, opts: { effective?: boolean; path?: string } = {}): CgroupAttachment[] {
  const out: CgroupAttachment[] = [];
  for (const at of CGROUP_ATTACH_TYPES) {
    let q;
    try {
      q = progQuery(cgroupFd, at, { effective: opts.effective }, { object: `cgroup ${opts.path ?? cgroupFd}` });
    } catch (e) {
      if (e instanceof BpfError && e.code === 'EINVAL') continue;
      throw e;
    }
    q.progIds.forEach((id, i) => out.push({ progId: id, attachType: at, attachFlags: opts.effective ? 0 : q.progAttachFlags[i] || q.attachFlags }));
  }
  return out;
}

/** BPF_PROG_ATTACH on a cgroup with `flags` (CgroupAttachFlags); stays attached until detached or the cgroup goes. */
export function cgroupProgAttach(path: string, attachType: number, progFd: number, flags: number): void {
  withCgroup(path, (fd) => progAttach(fd, progFd, attachType, flags, { object: `cgroup ${path}` }));
}

/** BPF_PROG_DETACH of that program from that hook of the cgroup. */
export function cgroupProgDetach(path: string, attachType: number, progFd: number): void {
  withCgroup(path, (fd) => {
    const r = progDetachRaw(fd, progFd, attachType);
    if (r < 0) throw new BpfError('BPF_PROG_DETACH', -r, { object: `cgroup ${path}`, hints: { ENOENT: 'that program is not attached there with this attach type' } });
  });
}
