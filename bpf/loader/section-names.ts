/**
 * libbpf's SEC() naming conventions: a section name says the program type,
 * the expected attach type and, for some, the attach target. A definition
 * ending in '+' matches the bare prefix or `prefix/anything`; others match
 * exactly.
 */
import { TsbpfError } from '../../errors.ts';
import { AttachType, ProgFlags, ProgType } from '../programs/types.ts';

export interface SectionDef {
  /** The pattern as libbpf writes it ("kprobe+", "xdp.frags/devmap"). */
  pattern: string;
  type: number;
  attachType?: number;
  flags?: number;
  /** What kind of hook a section of this def auto-attaches to. */
  attach?: AutoAttachKind;
}

export type AutoAttachKind =
  | 'kprobe'
  | 'kretprobe'
  | 'kprobe.multi'
  | 'kretprobe.multi'
  | 'uprobe'
  | 'uretprobe'
  | 'uprobe.multi'
  | 'ksyscall'
  | 'kretsyscall'
  | 'usdt'
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tracing'
  | 'lsm'
  | 'iter'
  | 'tcx'
  | 'cgroup'
  | 'struct_ops'
  | 'freplace';

const T = ProgType;
const A = AttachType;
const SLEEPABLE = ProgFlags.SLEEPABLE;
const FRAGS = ProgFlags.XDP_HAS_FRAGS;

/** In libbpf's order: the first match wins. */
export const SECTION_DEFS: readonly SectionDef[] = [
  { pattern: 'socket', type: T.SOCKET_FILTER },
  { pattern: 'sk_reuseport/migrate', type: T.SK_REUSEPORT, attachType: A.SK_REUSEPORT_SELECT_OR_MIGRATE },
  { pattern: 'sk_reuseport', type: T.SK_REUSEPORT, attachType: A.SK_REUSEPORT_SELECT },
  { pattern: 'kprobe+', type: T.KPROBE, attach: 'kprobe' },
  { pattern: 'uprobe+', type: T.KPROBE, attach: 'uprobe' },
  { pattern: 'uprobe.s+', type: T.KPROBE, flags: SLEEPABLE, attach: 'uprobe' },
  { pattern: 'kretprobe+', type: T.KPROBE, attach: 'kretprobe' },
  { pattern: 'uretprobe+', type: T.KPROBE, attach: 'uretprobe' },
  { pattern: 'uretprobe.s+', type: T.KPROBE, flags: SLEEPABLE, attach: 'uretprobe' },
  { pattern: 'kprobe.multi+', type: T.KPROBE, attachType: A.TRACE_KPROBE_MULTI, attach: 'kprobe.multi' },
  { pattern: 'kretprobe.multi+', type: T.KPROBE, attachType: A.TRACE_KPROBE_MULTI, attach: 'kretprobe.multi' },
  { pattern: 'kprobe.session+', type: T.KPROBE, attachType: A.TRACE_KPROBE_SESSION },
  { pattern: 'uprobe.multi+', type: T.KPROBE, attachType: A.TRACE_UPROBE_MULTI, attach: 'uprobe.multi' },
  { pattern: 'uretprobe.multi+', type: T.KPROBE, attachType: A.TRACE_UPROBE_MULTI, attach: 'uprobe.multi' },
  { pattern: 'uprobe.multi.s+', type: T.KPROBE, attachType: A.TRACE_UPROBE_MULTI, flags: SLEEPABLE, attach: 'uprobe.multi' },
  { pattern: 'uretprobe.multi.s+', type: T.KPROBE, attachType: A.TRACE_UPROBE_MULTI, flags: SLEEPABLE, attach: 'uprobe.multi' },
  { pattern: 'ksyscall+', type: T.KPROBE, attach: 'ksyscall' },
  { pattern: 'kretsyscall+', type: T.KPROBE, attach: 'kretsyscall' },
  { pattern: 'usdt+', type: T.KPROBE, attach: 'usdt' },
  { pattern: 'usdt.s+', type: T.KPROBE, flags: SLEEPABLE, attach: 'usdt' },
  { pattern: 'tc/ingress', type: T.SCHED_CLS, attachType: A.TCX_INGRESS, attach: 'tcx' },
  { pattern: 'tc/egress', type: T.SCHED_CLS, attachType: A.TCX_EGRESS, attach: 'tcx' },
  { pattern: 'tcx/ingress', type: T.SCHED_CLS, attachType: A.TCX_INGRESS, attach: 'tcx' },
  { pattern: 'tcx/egress', type: T.SCHED_CLS, attachType: A.TCX_EGRESS, attach: 'tcx' },
  { pattern: 'tc', type: T.SCHED_CLS },
  { pattern: 'classifier', type: T.SCHED_CLS },
  { pattern: 'action', type: T.SCHED_ACT },
  { pattern: 'netkit/primary', type: T.SCHED_CLS, attachType: A.NETKIT_PRIMARY },
  { pattern: 'netkit/peer', type: T.SCHED_CLS, attachType: A.NETKIT_PEER },
  { pattern: 'tracepoint+', type: T.TRACEPOINT, attach: 'tracepoint' },
  { pattern: 'tp+', type: T.TRACEPOINT, attach: 'tracepoint' },
  { pattern: 'raw_tracepoint+', type: T.RAW_TRACEPOINT, attach: 'raw_tracepoint' },
  { pattern: 'raw_tp+', type: T.RAW_TRACEPOINT, attach: 'raw_tracepoint' },
  { pattern: 'raw_tracepoint.w+', type: T.RAW_TRACEPOINT_WRITABLE, attach: 'raw_tracepoint' },
  { pattern: 'raw_tp.w+', type: T.RAW_TRACEPOINT_WRITABLE, attach: 'raw_tracepoint' },
  { pattern: 'tp_btf+', type: T.TRACING, attachType: A.TRACE_RAW_TP, attach: 'tracing' },
  { pattern: 'fentry+', type: T.TRACING, attachType: A.TRACE_FENTRY, attach: 'tracing' },
  { pattern: 'fmod_ret+', type: T.TRACING, attachType: A.MODIFY_RETURN, attach: 'tracing' },
  { pattern: 'fexit+', type: T.TRACING, attachType: A.TRACE_FEXIT, attach: 'tracing' },
  { pattern: 'fentry.s+', type: T.TRACING, attachType: A.TRACE_FENTRY, flags: SLEEPABLE, attach: 'tracing' },
  { pattern: 'fmod_ret.s+', type: T.TRACING, attachType: A.MODIFY_RETURN, flags: SLEEPABLE, attach: 'tracing' },
  { pattern: 'fexit.s+', type: T.TRACING, attachType: A.TRACE_FEXIT, flags: SLEEPABLE, attach: 'tracing' },
  { pattern: 'freplace+', type: T.EXT, attach: 'freplace' },
  { pattern: 'lsm+', type: T.LSM, attachType: A.LSM_MAC, attach: 'lsm' },
  { pattern: 'lsm.s+', type: T.LSM, attachType: A.LSM_MAC, flags: SLEEPABLE, attach: 'lsm' },
  { pattern: 'lsm_cgroup+', type: T.LSM, attachType: A.LSM_CGROUP },
  { pattern: 'iter+', type: T.TRACING, attachType: A.TRACE_ITER, attach: 'iter' },
  { pattern: 'iter.s+', type: T.TRACING, attachType: A.TRACE_ITER, flags: SLEEPABLE, attach: 'iter' },
  { pattern: 'syscall', type: T.SYSCALL, flags: SLEEPABLE },
  { pattern: 'xdp.frags/devmap', type: T.XDP, attachType: A.XDP_DEVMAP, flags: FRAGS },
  { pattern: 'xdp/devmap', type: T.XDP, attachType: A.XDP_DEVMAP },
  { pattern: 'xdp.frags/cpumap', type: T.XDP, attachType: A.XDP_CPUMAP, flags: FRAGS },
  { pattern: 'xdp/cpumap', type: T.XDP, attachType: A.XDP_CPUMAP },
  { pattern: 'xdp.frags', type: T.XDP, attachType: A.XDP, flags: FRAGS },
  { pattern: 'xdp', type: T.XDP, attachType: A.XDP },
  { pattern: 'perf_event', type: T.PERF_EVENT },
  { pattern: 'lwt_in', type: T.LWT_IN },
  { pattern: 'lwt_out', type: T.LWT_OUT },
  { pattern: 'lwt_xmit', type: T.LWT_XMIT },
  { pattern: 'lwt_seg6local', type: T.LWT_SEG6LOCAL },
  { pattern: 'sockops', type: T.SOCK_OPS, attachType: A.CGROUP_SOCK_OPS, attach: 'cgroup' },
  { pattern: 'sk_skb/stream_parser', type: T.SK_SKB, attachType: A.SK_SKB_STREAM_PARSER },
  { pattern: 'sk_skb/stream_verdict', type: T.SK_SKB, attachType: A.SK_SKB_STREAM_VERDICT },
  { pattern: 'sk_skb/verdict', type: T.SK_SKB, attachType: A.SK_SKB_VERDICT },
  { pattern: 'sk_skb', type: T.SK_SKB },
  { pattern: 'sk_msg', type: T.SK_MSG, attachType: A.SK_MSG_VERDICT },
  { pattern: 'lirc_mode2', type: T.LIRC_MODE2, attachType: A.LIRC_MODE2 },
  { pattern: 'flow_dissector', type: T.FLOW_DISSECTOR, attachType: A.FLOW_DISSECTOR },
  { pattern: 'cgroup_skb/ingress', type: T.CGROUP_SKB, attachType: A.CGROUP_INET_INGRESS, attach: 'cgroup' },
  { pattern: 'cgroup_skb/egress', type: T.CGROUP_SKB, attachType: A.CGROUP_INET_EGRESS, attach: 'cgroup' },
  { pattern: 'cgroup/skb', type: T.CGROUP_SKB },
  { pattern: 'cgroup/sock_create', type: T.CGROUP_SOCK, attachType: A.CGROUP_INET_SOCK_CREATE, attach: 'cgroup' },
  { pattern: 'cgroup/sock_release', type: T.CGROUP_SOCK, attachType: A.CGROUP_INET_SOCK_RELEASE, attach: 'cgroup' },
  { pattern: 'cgroup/sock', type: T.CGROUP_SOCK, attachType: A.CGROUP_INET_SOCK_CREATE, attach: 'cgroup' },
  { pattern: 'cgroup/post_bind4', type: T.CGROUP_SOCK, attachType: A.CGROUP_INET4_POST_BIND, attach: 'cgroup' },
  { pattern: 'cgroup/post_bind6', type: T.CGROUP_SOCK, attachType: A.CGROUP_INET6_POST_BIND, attach: 'cgroup' },
  { pattern: 'cgroup/bind4', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET4_BIND, attach: 'cgroup' },
  { pattern: 'cgroup/bind6', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET6_BIND, attach: 'cgroup' },
  { pattern: 'cgroup/connect4', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET4_CONNECT, attach: 'cgroup' },
  { pattern: 'cgroup/connect6', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET6_CONNECT, attach: 'cgroup' },
  { pattern: 'cgroup/connect_unix', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UNIX_CONNECT, attach: 'cgroup' },
  { pattern: 'cgroup/sendmsg4', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UDP4_SENDMSG, attach: 'cgroup' },
  { pattern: 'cgroup/sendmsg6', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UDP6_SENDMSG, attach: 'cgroup' },
  { pattern: 'cgroup/sendmsg_unix', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UNIX_SENDMSG, attach: 'cgroup' },
  { pattern: 'cgroup/recvmsg4', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UDP4_RECVMSG, attach: 'cgroup' },
  { pattern: 'cgroup/recvmsg6', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UDP6_RECVMSG, attach: 'cgroup' },
  { pattern: 'cgroup/recvmsg_unix', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UNIX_RECVMSG, attach: 'cgroup' },
  { pattern: 'cgroup/getpeername4', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET4_GETPEERNAME, attach: 'cgroup' },
  { pattern: 'cgroup/getpeername6', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET6_GETPEERNAME, attach: 'cgroup' },
  { pattern: 'cgroup/getpeername_unix', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UNIX_GETPEERNAME, attach: 'cgroup' },
  { pattern: 'cgroup/getsockname4', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET4_GETSOCKNAME, attach: 'cgroup' },
  { pattern: 'cgroup/getsockname6', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_INET6_GETSOCKNAME, attach: 'cgroup' },
  { pattern: 'cgroup/getsockname_unix', type: T.CGROUP_SOCK_ADDR, attachType: A.CGROUP_UNIX_GETSOCKNAME, attach: 'cgroup' },
  { pattern: 'cgroup/sysctl', type: T.CGROUP_SYSCTL, attachType: A.CGROUP_SYSCTL, attach: 'cgroup' },
  { pattern: 'cgroup/getsockopt', type: T.CGROUP_SOCKOPT, attachType: A.CGROUP_GETSOCKOPT, attach: 'cgroup' },
  { pattern: 'cgroup/setsockopt', type: T.CGROUP_SOCKOPT, attachType: A.CGROUP_SETSOCKOPT, attach: 'cgroup' },
  { pattern: 'cgroup/dev', type: T.CGROUP_DEVICE, attachType: A.CGROUP_DEVICE, attach: 'cgroup' },
  { pattern: 'struct_ops+', type: T.STRUCT_OPS, attach: 'struct_ops' },
  { pattern: 'struct_ops.s+', type: T.STRUCT_OPS, flags: SLEEPABLE, attach: 'struct_ops' },
  { pattern: 'sk_lookup', type: T.SK_LOOKUP, attachType: A.SK_LOOKUP },
  { pattern: 'netfilter', type: T.NETFILTER, attachType: A.NETFILTER },
];

export interface SectionMatch {
  def: SectionDef;
  /** What follows the prefix and '/', e.g. "syscalls/sys_enter_execve" for "tp/syscalls/sys_enter_execve". */
  target: string;
}

/** Match a section name to libbpf's conventions; undefined when nothing matches. */
export function matchSection(name: string): SectionMatch | undefined {
  for (const def of SECTION_DEFS) {
    if (def.pattern.endsWith('+')) {
      const prefix = def.pattern.slice(0, -1);
      if (name === prefix) return { def, target: '' };
      if (name.startsWith(prefix + '/')) return { def, target: name.slice(prefix.length + 1) };
    } else if (name === def.pattern) return { def, target: '' };
  }
  return undefined;
}

export class UnknownSectionError extends TsbpfError {
  declare readonly code: 'UNKNOWN_SECTION';
  readonly section: string;
  constructor(section: string, program: string) {
    const known = [...new Set(SECTION_DEFS.map((d) => d.pattern.replace(/\+$/, '')))].join(', ');
    super(
      'UNKNOWN_SECTION',
      `program '${program}': section '${section}' does not name a known program type; known prefixes: ${known}. ` +
        `Set the type yourself with the 'programTypes' option (or edit spec.programs['${program}'].type) before loading`,
    );
    this.section = section;
  }
}
