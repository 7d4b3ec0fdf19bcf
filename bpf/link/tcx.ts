/** tc programs through tcx links (6.6+) on an interface's ingress or egress. */
import { Errno } from '../../syscall/index.ts';
import { notSupported } from '../features.ts';
import type { Program } from '../programs/program.ts';
import { AttachType, ProgType } from '../programs/types.ts';
import { FdLink, type Link } from './link.ts';
import { linkCreateRaw } from '../../syscall/index.ts';
import { attachTc } from './tc.ts';
import { ifindexOf } from './netdev.ts';
import { BpfError } from '../../syscall/errors.ts';
import { requireProgType } from './prog-check.ts';

/**
 * Attach with a tcx link; on kernels without tcx (before 6.6) fall back to a
 * clsact qdisc and a bpf filter (attachTc), unless `fallback` is false.
 */
export function attachTcx(prog: Program, iface: string | number, direction: 'ingress' | 'egress', opts: { fallback?: boolean } = {}): Link {
  requireProgType(prog, [ProgType.SCHED_CLS], 'tcx', 'SCHED_CLS (tc)');
  const ifindex = ifindexOf(iface);
  const r = linkCreateRaw({ progFd: prog.fd, targetFd: ifindex, attachType: direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS });
  if (r >= 0) return new FdLink(r, `tcx ${iface} ${direction} -> ${prog.name}`);
  if (r === -Errno.EINVAL) {
    // Kernels before 6.6 know no tcx attach type; tc there goes through netlink (clsact + bpf filter).
    if (opts.fallback ?? true) return attachTc(prog, iface, direction);
    throw notSupported('tcx links', 'use attachTc (clsact + bpf filter)');
  }
  throw new BpfError('BPF_LINK_CREATE', -r, { object: `tcx ${iface} ${direction}`, caps: ['NET_ADMIN'] });
}
