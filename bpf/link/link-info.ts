/**
 * What BPF_OBJ_GET_INFO_BY_FD says about a link beyond its header, decoded per
 * link type (the fields bpftool's `link show` prints): tracepoint and iterator
 * target names (read into a buffer we give), attach types, cgroup ids, netns
 * inodes, the program type of tracing links.
 */
import { addressOf, putPtr, LinkInfoLayout as L } from '../../syscall/index.ts';
import { objectInfo } from '../handle.ts';
import { attachTypeName } from '../programs/types.ts';
import { Program } from '../programs/program.ts';
import { LinkType, linkTypeName } from './link.ts';

export interface LinkDetails {
  id: number;
  type: number;
  /** libbpf's name of the type (raw_tracepoint, tracing, cgroup, iter, netns, xdp, perf_event, ...). */
  typeName: string;
  progId: number;
  tpName?: string;
  /** Tracing links: the type of the attached program. */
  progType?: number;
  /** libbpf's name of the attach type (cgroup_inet_ingress, trace_fentry, ...). */
  attachType?: string;
  cgroupId?: bigint;
  targetName?: string;
  mapId?: number;
  tid?: number;
  pid?: number;
  order?: string;
  netnsIno?: number;
  /** Netfilter links: protocol family (NFPROTO_*), hook number, priority, flags. */
  nfPf?: number;
  nfHook?: number;
  nfPriority?: number;
  nfFlags?: number;
}

const CGROUP_ORDER = ['order_unspec', 'self_only', 'descendants_pre', 'descendants_post', 'ancestors_up'];
const NAME_BYTES = 256;

function cstr(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, end < 0 ? b.length : end));
}

/** The link's info, decoded for its type. */
export function linkDetails(fd: number): LinkDetails {
  let info = new Uint8Array(L.SIZE);
  objectInfo(fd, info, `link fd ${fd}`);
  let d = new DataView(info.buffer);
  const type = d.getUint32(L.type, true);
  const name = new Uint8Array(NAME_BYTES);
  // Names come only where we point: ask again with a buffer (as bpftool does).
  const nameAt = type === LinkType.RAW_TRACEPOINT ? [L.raw_tracepoint_tp_name, L.raw_tracepoint_tp_name_len] : type === LinkType.ITER ? [L.iter_target_name, L.iter_target_name_len] : undefined;
  if (nameAt) {
    info = new Uint8Array(L.SIZE);
    const u32 = new Uint32Array(info.buffer);
    putPtr(u32, nameAt[0]!, addressOf(name));
    u32[nameAt[1]! >> 2] = name.byteLength;
    objectInfo(fd, info, `link fd ${fd}`);
    d = new DataView(info.buffer);
  }
  const u32 = (off: number) => d.getUint32(off, true);
  const out: LinkDetails = { id: u32(L.id), type, typeName: linkTypeName(type).toLowerCase(), progId: u32(L.prog_id) };
  const at = (t: number) => attachTypeName(t).toLowerCase();
  switch (type) {
    case LinkType.RAW_TRACEPOINT:
      out.tpName = cstr(name);
      break;
    case LinkType.TRACING: {
      try {
        using p = Program.fromId(out.progId);
        out.progType = p.info().type;
      } catch {
        // The program went away: bpftool fails here; we print what we have.
      }
      out.attachType = at(u32(L.tracing_attach_type));
      break;
    }
    case LinkType.CGROUP:
      out.cgroupId = d.getBigUint64(L.cgroup_cgroup_id, true);
      out.attachType = at(u32(L.cgroup_attach_type));
      break;
    case LinkType.ITER: {
      const t = cstr(name);
      out.targetName = t;
      if (t === 'bpf_map_elem' || t === 'bpf_sk_storage_map') out.mapId = u32(L.iter_map_map_id);
      else if (t === 'task' || t === 'task_file' || t === 'task_vma') {
        out.tid = u32(L.iter_task_tid);
        out.pid = u32(L.iter_task_pid);
      }
      if (t === 'cgroup') {
        out.cgroupId = d.getBigUint64(L.iter_cgroup_cgroup_id, true);
        out.order = CGROUP_ORDER[u32(L.iter_cgroup_order)] ?? 'unknown';
      }
      break;
    }
    case LinkType.NETFILTER:
      out.nfPf = u32(L.netfilter_pf);
      out.nfHook = u32(L.netfilter_hooknum);
      out.nfPriority = d.getInt32(L.netfilter_priority, true);
      out.nfFlags = u32(L.netfilter_flags);
      break;
    case LinkType.NETNS:
      out.netnsIno = u32(L.netns_netns_ino);
      out.attachType = at(u32(L.netns_attach_type));
      break;
  }
  return out;
}
