/** tc programs through tcx links (6.6+) on an interface's ingress or egress. */
import { TsbpfError } from '../../lib/errors.ts';
import { Errno } from '../../syscall/index.ts';
import { NotSupportedError } from '../../syscall/errors.ts';
import type { Program } from '../program.ts';
import { AttachType, ProgType, progTypeName } from '../prog-types.ts';
import { FdLink, linkCreateRaw } from './link.ts';
import { ifindexOf } from './netdev.ts';
import { BpfError } from '../../syscall/errors.ts';

export function attachTcx(prog: Program, iface: string | number, direction: 'ingress' | 'egress'): FdLink {
  if (prog.type !== ProgType.SCHED_CLS) throw new TsbpfError('WRONG_PROGRAM_TYPE', `cannot attach ${progTypeName(prog.type)} program '${prog.name}' with tcx: it needs a SCHED_CLS (tc) program`);
  const ifindex = ifindexOf(iface);
  const r = linkCreateRaw({ progFd: prog.fd, targetFd: ifindex, attachType: direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS });
  if (r >= 0) return new FdLink(r, `tcx ${iface} ${direction} -> ${prog.name}`);
  if (r === -Errno.EINVAL) {
    // Kernels before 6.6 know no tcx attach type; tc there goes through netlink (clsact + bpf filter).
    throw new NotSupportedError('tcx links', 'this kernel predates tcx (6.6); attach with tc(8) and a clsact qdisc');
  }
  throw new BpfError('BPF_LINK_CREATE', -r, { object: `tcx ${iface} ${direction}`, caps: ['NET_ADMIN'] });
}
