/**
 * What is attached to the network stack, as bpftool's `net show` collects it:
 * XDP per interface (RTM_GETLINK's IFLA_XDP), tcx and netkit programs
 * (BPF_PROG_QUERY on the ifindex), classic tc bpf filters (RTM_GETTFILTER
 * dumps under each qdisc, class and clsact hook), the netns flow dissector and
 * netfilter links. Also XDP set through netlink, which outlives its process
 * (bpftool's `net attach`), unlike attachXdp's link.
 */
import { openSync } from 'node:fs';
import { NlFlags, NlMessage, netlinkRequest, nlAttrs, nlStr, nlU32 } from '../../syscall/netlink.ts';
import { adoptFd, closeFd, Errno, progQuery, type ProgQueryResult } from '../../syscall/index.ts';
import { BpfError } from '../../syscall/errors.ts';
import { AttachType } from '../programs/types.ts';
import { FdLink, LinkType, linkIds } from './link.ts';
import { linkDetails, type LinkDetails } from './link-info.ts';

const RTM_GETLINK = 18;
const RTM_SETLINK = 19;
const RTM_GETQDISC = 38;
const RTM_GETTCLASS = 42;
const RTM_GETTFILTER = 46;
const AF_UNSPEC = 0;
const AF_PACKET = 17;
const IFLA_IFNAME = 3;
const IFLA_XDP = 43;
const IFLA_XDP_FD = 1;
const IFLA_XDP_ATTACHED = 2;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_PROG_ID = 4;
const IFLA_XDP_DRV_PROG_ID = 5;
const IFLA_XDP_SKB_PROG_ID = 6;
const IFLA_XDP_HW_PROG_ID = 7;
const XDP_ATTACHED = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_ACT = 1;
const TCA_BPF_NAME = 7;
const TCA_BPF_ID = 11;
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_ACT_BPF_PARMS = 2;
const TCA_ACT_BPF_NAME = 6;
const TCA_ACT_BPF_ID = 9;
const TC_H_ROOT = 0xffffffff;
const TC_H_CLSACT = 0xffff0000;
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;

/** XDP_FLAGS_* for IFLA_XDP_FLAGS. */
export const XdpFlags = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8 } as const;

export interface XdpAttachment {
  mode: 'generic' | 'driver' | 'offload';
  id: number;
}

export interface NetDevice {
  ifindex: number;
  name: string;
  /** One entry, or several in "multi" mode (generic and driver at once). */
  xdp: XdpAttachment[];
  xdpMulti: boolean;
}

function ifinfomsg(family: number, ifindex: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = family;
  new DataView(b.buffer).setInt32(4, ifindex, true);
  return b;
}

function tcmsg(ifindex: number, parent: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setInt32(4, ifindex, true);
  v.setUint32(12, parent >>> 0, true);
  return b;
}

/** Every interface of this network namespace with its XDP programs, in the kernel's order. */
export function netDevices(): NetDevice[] {
  const out: NetDevice[] = [];
  for (const r of netlinkRequest(new NlMessage(RTM_GETLINK, NlFlags.REQUEST | NlFlags.DUMP, ifinfomsg(AF_PACKET, 0)), 'RTM_GETLINK')) {
    if (r.type !== 16 /* RTM_NEWLINK */ || r.payload.byteLength < 16) continue;
    const ifindex = new DataView(r.payload.buffer, r.payload.byteOffset).getInt32(4, true);
    const tb = nlAttrs(r.payload, 16);
    const dev: NetDevice = { ifindex, name: nlStr(tb.get(IFLA_IFNAME)) ?? '', xdp: [], xdpMulti: false };
    const x = tb.get(IFLA_XDP);
    if (x) {
      const xt = nlAttrs(x);
      const mode = xt.get(IFLA_XDP_ATTACHED)?.[0] ?? XDP_ATTACHED.NONE;
      const add = (attr: number, m: XdpAttachment['mode']) => {
        const id = nlU32(xt.get(attr));
        if (id !== undefined) dev.xdp.push({ mode: m, id });
      };
      if (mode === XDP_ATTACHED.MULTI) {
        dev.xdpMulti = true;
        add(IFLA_XDP_SKB_PROG_ID, 'generic');
        add(IFLA_XDP_DRV_PROG_ID, 'driver');
        add(IFLA_XDP_HW_PROG_ID, 'offload');
      } else if (mode === XDP_ATTACHED.DRV) add(IFLA_XDP_PROG_ID, 'driver');
      else if (mode === XDP_ATTACHED.SKB) add(IFLA_XDP_PROG_ID, 'generic');
      else if (mode === XDP_ATTACHED.HW) add(IFLA_XDP_PROG_ID, 'offload');
    }
    out.push(dev);
  }
  return out;
}

/**
 * Set (progFd >= 0) or clear (-1) the XDP program of an interface through
 * netlink, as libbpf's bpf_xdp_attach: the attachment stays after the process
 * exits. `flags` are XdpFlags (mode, and UPDATE_IF_NOEXIST to refuse replacing).
 */
export function setXdpProgram(ifindex: number, progFd: number, flags: number): void {
  const fd = new Uint8Array(4);
  new DataView(fd.buffer).setInt32(0, progFd, true);
  const msg = new NlMessage(RTM_SETLINK, NlFlags.REQUEST | NlFlags.ACK, ifinfomsg(AF_UNSPEC, ifindex)).nest(IFLA_XDP).attr(IFLA_XDP_FD, fd);
  if (flags) msg.u32(IFLA_XDP_FLAGS, flags);
  msg.end();
  try {
    netlinkRequest(msg, 'RTM_SETLINK IFLA_XDP');
  } catch (e) {
    if (e instanceof BpfError && e.errno === Errno.EBUSY) {
      throw new BpfError('RTM_SETLINK IFLA_XDP', Errno.EBUSY, { object: `ifindex ${ifindex}`, hints: { EBUSY: "an XDP program is already attached: add 'overwrite' to replace it" } });
    }
    throw e;
  }
}

/** A classic tc bpf filter: bpftool's kind (qdisc kind, "root", "clsact/ingress"...), TCA_BPF_NAME and the program id, with its bpf actions. */
export interface TcFilter {
  kind: string;
  name?: string;
  id?: number;
  /** Present when the filter carries actions (TCA_BPF_ACT): the bpf ones. */
  act?: { name?: string; id?: number }[];
}

function tcDump(type: number, ifindex: number, parent: number, what: string) {
  return netlinkRequest(new NlMessage(type, NlFlags.REQUEST | NlFlags.DUMP, tcmsg(ifindex, parent)), what);
}

function bpfActions(a: Uint8Array): { name?: string; id?: number }[] {
  const out: { name?: string; id?: number }[] = [];
  // One nested attribute per action priority (1..32), each holding TCA_ACT_KIND and TCA_ACT_OPTIONS.
  for (const [, act] of [...nlAttrs(a)].sort((x, y) => x[0] - y[0])) {
    const at = nlAttrs(act);
    if (nlStr(at.get(TCA_ACT_KIND)) !== 'bpf') continue;
    const opt = at.get(TCA_ACT_OPTIONS);
    if (!opt) continue;
    const ot = nlAttrs(opt);
    if (!ot.has(TCA_ACT_BPF_PARMS)) continue;
    out.push({ name: nlStr(ot.get(TCA_ACT_BPF_NAME)), id: nlU32(ot.get(TCA_ACT_BPF_ID)) });
  }
  return out;
}

function filtersAt(ifindex: number, parent: number, kind: string, out: TcFilter[]): void {
  let replies;
  try {
    replies = tcDump(RTM_GETTFILTER, ifindex, parent, 'RTM_GETTFILTER');
  } catch (e) {
    // No qdisc at that handle (clsact missing): nothing attached there, as bpftool treats it.
    if (e instanceof BpfError && (e.errno === Errno.EINVAL || e.errno === Errno.ENOENT)) return;
    throw e;
  }
  for (const r of replies) {
    if (r.payload.byteLength < 20) continue;
    const tb = nlAttrs(r.payload, 20);
    const opts = tb.get(TCA_OPTIONS);
    if (!opts || nlStr(tb.get(TCA_KIND)) !== 'bpf') continue;
    const ot = nlAttrs(opts);
    const f: TcFilter = { kind, name: nlStr(ot.get(TCA_BPF_NAME)), id: nlU32(ot.get(TCA_BPF_ID)) };
    const act = ot.get(TCA_BPF_ACT);
    if (act) f.act = bpfActions(act);
    out.push(f);
  }
}

/** The bpf filters of an interface, in bpftool's order: under each class and qdisc, then root, clsact ingress and egress. */
export function tcFilters(ifindex: number): TcFilter[] {
  const handles: { kind: string; handle: number }[] = [];
  const collect = (type: number, isQdisc: boolean) => {
    for (const r of tcDump(type, ifindex, 0, type === RTM_GETQDISC ? 'RTM_GETQDISC' : 'RTM_GETTCLASS')) {
      if (r.payload.byteLength < 20) continue;
      const handle = new DataView(r.payload.buffer, r.payload.byteOffset).getUint32(8, true);
      const kind = nlStr(nlAttrs(r.payload, 20).get(TCA_KIND));
      if (isQdisc && (kind === 'clsact' || handle === 0)) continue;
      handles.push({ kind: kind ?? 'unknown', handle });
    }
  };
  collect(RTM_GETTCLASS, false);
  collect(RTM_GETQDISC, true);
  const out: TcFilter[] = [];
  for (const h of handles) filtersAt(ifindex, h.handle, h.kind, out);
  filtersAt(ifindex, TC_H_ROOT, 'root', out);
  filtersAt(ifindex, (TC_H_CLSACT | TC_H_MIN_INGRESS) >>> 0, 'clsact/ingress', out);
  filtersAt(ifindex, (TC_H_CLSACT | TC_H_MIN_EGRESS) >>> 0, 'clsact/egress', out);
  return out;
}

/** The hooks BPF_PROG_QUERY answers on an ifindex, with bpftool's names. */
export const MPROG_HOOKS = [
  [AttachType.TCX_INGRESS, 'tcx/ingress'],
  [AttachType.TCX_EGRESS, 'tcx/egress'],
  [AttachType.NETKIT_PRIMARY, 'netkit/primary'],
  [AttachType.NETKIT_PEER, 'netkit/peer'],
] as const;

/** Programs on a tcx or netkit hook of `ifindex`; undefined where the kernel has no such hook there (no tcx entry, not a netkit device). */
export function queryIfindex(ifindex: number, attachType: number): ProgQueryResult | undefined {
  try {
    return progQuery(ifindex, attachType, {}, { object: `ifindex ${ifindex}` });
  } catch (e) {
    // bpftool prints nothing for a hook it cannot query.
    if (e instanceof BpfError) return undefined;
    throw e;
  }
}

/** The flow dissector program of this network namespace (BPF_PROG_QUERY on it), or undefined. */
export function flowDissectorId(netnsPath = '/proc/self/ns/net'): number | undefined {
  const fd = adoptFd(openSync(netnsPath, 'r'));
  try {
    const q = progQuery(fd, AttachType.FLOW_DISSECTOR, {}, { object: netnsPath });
    return q.progIds[0];
  } catch (e) {
    // Kernels that cannot query flow dissectors (EINVAL): none, as bpftool.
    if (e instanceof BpfError && e.errno === Errno.EINVAL) return undefined;
    throw e;
  } finally {
    closeFd(fd);
  }
}

/** Every netfilter link, sorted as bpftool's: by family, hook, priority, flags. */
export function netfilterLinks(): LinkDetails[] {
  const out: LinkDetails[] = [];
  for (const id of linkIds()) {
    try {
      using l = FdLink.fromId(id);
      const d = linkDetails(l.fd);
      if (d.type === LinkType.NETFILTER) out.push(d);
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
  }
  return out.sort((a, b) => a.nfPf! - b.nfPf! || a.nfHook! - b.nfHook! || a.nfPriority! - b.nfPriority! || a.nfFlags! - b.nfFlags!);
}
