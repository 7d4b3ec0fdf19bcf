/**
 * Classic tc: a clsact qdisc and a direct-action bpf filter, through
 * rtnetlink. This is how tc programs attach on kernels without tcx links
 * (before 6.6); attachTcx falls back to it there.
 */
import { BpfError } from '../../syscall/errors.ts';
import { NlFlags, NlMessage, netlinkRequest } from '../../syscall/netlink.ts';
import type { Program } from '../programs/program.ts';
import { ProgType } from '../programs/types.ts';
import { FdsLink } from './link.ts';
import { ifindexOf } from './netdev.ts';
import { requireProgType } from './prog-check.ts';

const RTM_NEWQDISC = 36;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
const TC_H_CLSACT = 0xfffffff1;
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL)

function tcmsg(ifindex: number, handle: number, parent: number, info: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, handle >>> 0, true);
  v.setUint32(12, parent >>> 0, true);
  v.setUint32(16, info >>> 0, true);
  return b;
}

export interface TcOptions {
  /** Filter priority (1..65535); 0 lets the kernel choose. */
  priority?: number;
  /** Filter handle; 0 lets the kernel choose. */
  handle?: number;
}

/** Attach a SCHED_CLS program as a direct-action bpf filter on clsact ingress or egress. */
export function attachTc(prog: Program, iface: string | number, direction: 'ingress' | 'egress', opts: TcOptions = {}): FdsLink {
  requireProgType(prog, [ProgType.SCHED_CLS], 'tc');
  const ifindex = ifindexOf(iface);
  // The clsact qdisc; one may already be there (EEXIST), which is fine.
  try {
    netlinkRequest(
      new NlMessage(RTM_NEWQDISC, NlFlags.REQUEST | NlFlags.ACK | NlFlags.CREATE | NlFlags.EXCL, tcmsg(ifindex, 0xffff0000, TC_H_CLSACT, 0)).str(TCA_KIND, 'clsact'),
      `add clsact qdisc on ${iface}`,
    );
  } catch (e) {
    if (!(e instanceof BpfError && e.code === 'EEXIST')) throw e;
  }
  const parent = (TC_H_CLSACT & 0xffff0000) | (direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
  const info = (((opts.priority ?? 0) & 0xffff) << 16) | ETH_P_ALL_BE;
  const msg = new NlMessage(RTM_NEWTFILTER, NlFlags.REQUEST | NlFlags.ACK | NlFlags.CREATE | NlFlags.EXCL | NlFlags.ECHO, tcmsg(ifindex, opts.handle ?? 0, parent, info))
    .str(TCA_KIND, 'bpf')
    .nest(TCA_OPTIONS)
    .u32(TCA_BPF_FD, prog.fd)
    .str(TCA_BPF_NAME, prog.name)
    .u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)
    .end();
  const replies = netlinkRequest(msg, `add bpf filter on ${iface} ${direction}`);
  // The echoed filter carries the handle and priority the kernel chose.
  const echo = replies.find((r) => r.type === RTM_NEWTFILTER);
  const ev = echo ? new DataView(echo.payload.buffer, echo.payload.byteOffset, echo.payload.byteLength) : undefined;
  const handle = ev ? ev.getUint32(8, true) : opts.handle ?? 0;
  const realInfo = ev ? ev.getUint32(16, true) : info;
  return new FdsLink([], `tc ${iface} ${direction} prio ${realInfo >>> 16} handle ${handle} -> ${prog.name}`, () => {
    try {
      netlinkRequest(new NlMessage(RTM_DELTFILTER, NlFlags.REQUEST | NlFlags.ACK, tcmsg(ifindex, handle, parent, realInfo)).str(TCA_KIND, 'bpf'), `delete bpf filter on ${iface}`);
    } catch {
      // The interface may be gone, which removed the filter with it.
    }
  });
}
