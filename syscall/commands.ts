/**
 * One typed function per bpf(2) command off the hot path: each lays out its
 * attr (syscall/attr.ts), owns any native memory the kernel reads for the call,
 * and returns what the kernel answered. The live objects in bpf/ call these and
 * never fill an attr themselves. (The per-element map commands, whose attrs are
 * preallocated per map for speed, are issued by bpf/maps/map.ts through bpfRaw.)
 *
 * Naming: a function that ends in `Raw` returns the result or -errno, for
 * callers that decide what an errno means (probes, fallbacks, the attach
 * type in a link's error); the others throw a typed BpfError. Every fd returned is adopted (counted) and owned by the caller.
 */
import { BpfCmd, bpfCall, bpfRaw, bpfCmdName } from './bpf.ts';
import {
  BtfLoadAttr,
  EnableStatsAttr,
  GetIdAttr,
  InfoAttr,
  IterCreateAttr,
  LinkCreateAttr,
  LinkDetachAttr,
  LinkUpdateAttr,
  MapCreateAttr,
  MapFreezeAttr,
  ObjPinAttr,
  ProgAttachAttr,
  ProgLoadAttr,
  ProgQueryAttr,
  ProgTestRunAttr,
  TaskFdQueryAttr,
  RawTracepointAttr,
  coldAttr,
  putName,
} from './attr.ts';
import { TsbpfError } from '../errors.ts';
import { BpfError, type BpfErrorContext } from './errors.ts';
import { Errno } from './errno.ts';
import { adoptFd } from './fd.ts';
import { addressOf } from './libc.ts';
import { NativeBlock, putPtr } from './memory.ts';

/** A path as the kernel reads it: NUL-terminated bytes that stay alive for the call. */
function cPath(path: string): Buffer {
  return Buffer.from(path + '\0');
}

// ---- objects: pin, get, ids, info -----------------------------------------

/** BPF_OBJ_PIN: pin `fd` at a bpffs path. */
export function objPin(fd: number, path: string, ctx: BpfErrorContext): void {
  const p = cPath(path);
  const a = coldAttr(ObjPinAttr.SIZE);
  putPtr(a.u32, ObjPinAttr.pathname, addressOf(p));
  a.u32[ObjPinAttr.bpf_fd >> 2] = fd;
  bpfCall(BpfCmd.OBJ_PIN, a, ObjPinAttr.SIZE, ctx);
}

/** BPF_OBJ_GET: open what is pinned at `path`; returns an owned fd. */
export function objGet(path: string, fileFlags: number, ctx: BpfErrorContext): number {
  const p = cPath(path);
  const a = coldAttr(ObjPinAttr.SIZE);
  putPtr(a.u32, ObjPinAttr.pathname, addressOf(p));
  a.u32[ObjPinAttr.file_flags >> 2] = fileFlags;
  return adoptFd(bpfCall(BpfCmd.OBJ_GET, a, ObjPinAttr.SIZE, ctx));
}

/** The four *_GET_FD_BY_ID commands. */
export type GetFdByIdCmd = typeof BpfCmd.PROG_GET_FD_BY_ID | typeof BpfCmd.MAP_GET_FD_BY_ID | typeof BpfCmd.BTF_GET_FD_BY_ID | typeof BpfCmd.LINK_GET_FD_BY_ID;
/** The four *_GET_NEXT_ID commands. */
export type GetNextIdCmd = typeof BpfCmd.PROG_GET_NEXT_ID | typeof BpfCmd.MAP_GET_NEXT_ID | typeof BpfCmd.BTF_GET_NEXT_ID | typeof BpfCmd.LINK_GET_NEXT_ID;

/** BPF_{PROG,MAP,BTF,LINK}_GET_FD_BY_ID: open an object by its u32 id; returns an owned fd. */
export function objGetFdById(cmd: GetFdByIdCmd, id: number, ctx: BpfErrorContext): number {
  const a = coldAttr(GetIdAttr.SIZE);
  a.u32[GetIdAttr.id >> 2] = id;
  return adoptFd(bpfCall(cmd, a, GetIdAttr.SIZE, ctx));
}

/** BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID: the id after `startId`, or undefined past the last. */
export function objGetNextId(cmd: GetNextIdCmd, startId: number): number | undefined {
  const a = coldAttr(GetIdAttr.SIZE);
  a.u32[GetIdAttr.start_id >> 2] = startId;
  const r = bpfRaw(cmd, a, GetIdAttr.SIZE);
  if (r === -Errno.ENOENT) return undefined;
  if (r < 0) throw new BpfError(bpfCmdName(cmd), -r);
  return a.u32[GetIdAttr.next_id >> 2]!;
}

/** BPF_OBJ_GET_INFO_BY_FD into `info`, whose length tells the kernel how much it may write. */
export function objGetInfoByFd(fd: number, info: Uint8Array, ctx: BpfErrorContext): void {
  const a = coldAttr(InfoAttr.SIZE);
  a.u32[InfoAttr.bpf_fd >> 2] = fd;
  a.u32[InfoAttr.info_len >> 2] = info.byteLength;
  putPtr(a.u32, InfoAttr.info, addressOf(info));
  bpfCall(BpfCmd.OBJ_GET_INFO_BY_FD, a, InfoAttr.SIZE, ctx);
}

// ---- maps -------------------------------------------------------------------

export interface MapCreateFields {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name?: string;
  innerFd?: number;
  numaNode?: number;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
}

/** BPF_MAP_CREATE; returns an owned fd, or -errno. */
export function mapCreateRaw(f: MapCreateFields): number {
  const a = coldAttr(MapCreateAttr.SIZE);
  const v = a.view;
  v.setUint32(MapCreateAttr.map_type, f.type, true);
  v.setUint32(MapCreateAttr.key_size, f.keySize, true);
  v.setUint32(MapCreateAttr.value_size, f.valueSize, true);
  v.setUint32(MapCreateAttr.max_entries, f.maxEntries, true);
  v.setUint32(MapCreateAttr.map_flags, f.flags >>> 0, true);
  if (f.innerFd !== undefined && f.innerFd >= 0) v.setUint32(MapCreateAttr.inner_map_fd, f.innerFd, true);
  if (f.numaNode !== undefined) v.setUint32(MapCreateAttr.numa_node, f.numaNode, true);
  if (f.name) putName(a, MapCreateAttr.map_name, f.name);
  if (f.ifindex) v.setUint32(MapCreateAttr.map_ifindex, f.ifindex, true);
  if (f.btfFd !== undefined && f.btfFd >= 0) {
    v.setUint32(MapCreateAttr.btf_fd, f.btfFd, true);
    v.setUint32(MapCreateAttr.btf_key_type_id, f.btfKeyTypeId ?? 0, true);
    v.setUint32(MapCreateAttr.btf_value_type_id, f.btfValueTypeId ?? 0, true);
  }
  // struct_ops values are kernel structs named by their id in vmlinux BTF (the kernel also wants a BTF fd).
  if (f.btfVmlinuxValueTypeId) v.setUint32(MapCreateAttr.btf_vmlinux_value_type_id, f.btfVmlinuxValueTypeId, true);
  if (f.mapExtra !== undefined) v.setBigUint64(MapCreateAttr.map_extra, f.mapExtra, true);
  const r = bpfRaw(BpfCmd.MAP_CREATE, a, MapCreateAttr.SIZE);
  return r >= 0 ? adoptFd(r) : r;
}

/** BPF_MAP_FREEZE: no more writes from user space. */
export function mapFreeze(mapFd: number, ctx: BpfErrorContext): void {
  const a = coldAttr(MapFreezeAttr.SIZE);
  a.u32[MapFreezeAttr.map_fd >> 2] = mapFd;
  bpfCall(BpfCmd.MAP_FREEZE, a, MapFreezeAttr.SIZE, ctx);
}

/** Whether the kernel has bpf(2) at all: an empty BPF_PROG_LOAD fails with anything but ENOSYS. */
export function bpfSyscallAvailable(): boolean {
  return bpfRaw(BpfCmd.PROG_LOAD, coldAttr(ProgLoadAttr.SIZE), ProgLoadAttr.SIZE) !== -Errno.ENOSYS;
}

/** BPF_STATS_RUN_TIME: programs count run_cnt and run_time_ns while an fd from enableStats is open. */
export const BPF_STATS_RUN_TIME = 0;

/** BPF_ENABLE_STATS: an owned fd; the kernel keeps the statistics on until every such fd is closed. */
export function enableStats(type: number, ctx: BpfErrorContext): number {
  const a = coldAttr(EnableStatsAttr.SIZE);
  a.u32[EnableStatsAttr.type >> 2] = type;
  return adoptFd(bpfCall(BpfCmd.ENABLE_STATS, a, EnableStatsAttr.SIZE, ctx));
}

// ---- programs ---------------------------------------------------------------

export interface ProgLoadFields {
  type: number;
  /** Encoded instructions, 8 bytes each. */
  insns: Uint8Array;
  /** NUL-terminated license string. */
  license: Uint8Array;
  name: string;
  kernVersion?: number;
  flags?: number;
  ifindex?: number;
  expectedAttachType?: number;
  btfFd?: number;
  funcInfo?: { records: Uint8Array; recSize: number };
  lineInfo?: { records: Uint8Array; recSize: number };
  attachBtfId?: number;
  attachProgFd?: number;
  /** fds of maps and BTF objects that instructions refer to by index. */
  fdArray?: Uint8Array;
}

/** BPF_PROG_LOAD; `r` is an owned fd or -errno, `logTrueSize` what the full log would need. */
export function progLoadRaw(f: ProgLoadFields, log?: { buf: Uint8Array; level: number }): { r: number; logTrueSize: number } {
  const a = coldAttr(ProgLoadAttr.SIZE);
  const u = a.u32;
  u[ProgLoadAttr.prog_type >> 2] = f.type;
  u[ProgLoadAttr.insn_cnt >> 2] = f.insns.byteLength / 8;
  putPtr(u, ProgLoadAttr.insns, addressOf(f.insns));
  putPtr(u, ProgLoadAttr.license, addressOf(f.license));
  if (log) {
    u[ProgLoadAttr.log_level >> 2] = log.level;
    u[ProgLoadAttr.log_size >> 2] = log.buf.byteLength;
    putPtr(u, ProgLoadAttr.log_buf, addressOf(log.buf));
  }
  u[ProgLoadAttr.kern_version >> 2] = f.kernVersion ?? 0;
  u[ProgLoadAttr.prog_flags >> 2] = f.flags ?? 0;
  putName(a, ProgLoadAttr.prog_name, f.name);
  u[ProgLoadAttr.prog_ifindex >> 2] = f.ifindex ?? 0;
  u[ProgLoadAttr.expected_attach_type >> 2] = f.expectedAttachType ?? 0;
  if (f.btfFd !== undefined) {
    u[ProgLoadAttr.prog_btf_fd >> 2] = f.btfFd;
    if (f.funcInfo?.records.byteLength) {
      u[ProgLoadAttr.func_info_rec_size >> 2] = f.funcInfo.recSize;
      putPtr(u, ProgLoadAttr.func_info, addressOf(f.funcInfo.records));
      u[ProgLoadAttr.func_info_cnt >> 2] = f.funcInfo.records.byteLength / f.funcInfo.recSize;
    }
    if (f.lineInfo?.records.byteLength) {
      u[ProgLoadAttr.line_info_rec_size >> 2] = f.lineInfo.recSize;
      putPtr(u, ProgLoadAttr.line_info, addressOf(f.lineInfo.records));
      u[ProgLoadAttr.line_info_cnt >> 2] = f.lineInfo.records.byteLength / f.lineInfo.recSize;
    }
  }
  u[ProgLoadAttr.attach_btf_id >> 2] = f.attachBtfId ?? 0;
  u[ProgLoadAttr.attach_prog_fd >> 2] = f.attachProgFd ?? 0;
  if (f.fdArray) putPtr(u, ProgLoadAttr.fd_array, addressOf(f.fdArray));
  const r = bpfRaw(BpfCmd.PROG_LOAD, a, ProgLoadAttr.SIZE);
  return { r: r >= 0 ? adoptFd(r) : r, logTrueSize: u[ProgLoadAttr.log_true_size >> 2]! };
}

export interface ProgTestRunFields {
  progFd: number;
  dataIn?: Uint8Array;
  /** Exactly as large as the kernel is told: it writes at most that much. */
  dataOut?: Uint8Array;
  ctxIn?: Uint8Array;
  ctxOut?: Uint8Array;
  repeat: number;
  flags: number;
  cpu: number;
}

/** BPF_PROG_TEST_RUN; returns the program's return value, the mean run time and the out sizes the kernel wrote. */
export function progTestRun(f: ProgTestRunFields, ctx: BpfErrorContext): { retval: number; duration: number; dataSizeOut: number; ctxSizeOut: number } {
  const a = coldAttr(ProgTestRunAttr.SIZE);
  const u = a.u32;
  u[ProgTestRunAttr.prog_fd >> 2] = f.progFd;
  if (f.dataIn) {
    u[ProgTestRunAttr.data_size_in >> 2] = f.dataIn.byteLength;
    putPtr(u, ProgTestRunAttr.data_in, addressOf(f.dataIn));
  }
  if (f.dataOut) {
    u[ProgTestRunAttr.data_size_out >> 2] = f.dataOut.byteLength;
    putPtr(u, ProgTestRunAttr.data_out, addressOf(f.dataOut));
  }
  if (f.ctxIn) {
    u[ProgTestRunAttr.ctx_size_in >> 2] = f.ctxIn.byteLength;
    putPtr(u, ProgTestRunAttr.ctx_in, addressOf(f.ctxIn));
  }
  if (f.ctxOut) {
    u[ProgTestRunAttr.ctx_size_out >> 2] = f.ctxOut.byteLength;
    putPtr(u, ProgTestRunAttr.ctx_out, addressOf(f.ctxOut));
  }
  u[ProgTestRunAttr.repeat >> 2] = f.repeat;
  u[ProgTestRunAttr.flags >> 2] = f.flags;
  u[ProgTestRunAttr.cpu >> 2] = f.cpu;
  bpfCall(BpfCmd.PROG_TEST_RUN, a, ProgTestRunAttr.SIZE, ctx);
  return {
    retval: u[ProgTestRunAttr.retval >> 2]! | 0,
    duration: u[ProgTestRunAttr.duration >> 2]!,
    dataSizeOut: u[ProgTestRunAttr.data_size_out >> 2]!,
    ctxSizeOut: u[ProgTestRunAttr.ctx_size_out >> 2]!,
  };
}

function progAttachAttr(targetFd: number, progFd: number, attachType: number, flags: number) {
  const a = coldAttr(ProgAttachAttr.SIZE);
  a.u32[ProgAttachAttr.target_fd >> 2] = targetFd;
  a.u32[ProgAttachAttr.attach_bpf_fd >> 2] = progFd;
  a.u32[ProgAttachAttr.attach_type >> 2] = attachType;
  a.u32[ProgAttachAttr.attach_flags >> 2] = flags;
  return a;
}

/** BPF_PROG_ATTACH (cgroups, sockmaps, flow dissector, lirc: hooks without links). */
export function progAttach(targetFd: number, progFd: number, attachType: number, flags: number, ctx: BpfErrorContext): void {
  bpfCall(BpfCmd.PROG_ATTACH, progAttachAttr(targetFd, progFd, attachType, flags), ProgAttachAttr.SIZE, ctx);
}

/** BPF_PROG_DETACH; returns 0 or -errno (detaching is best effort: the target may be gone). */
export function progDetachRaw(targetFd: number, progFd: number, attachType: number): number {
  return bpfRaw(BpfCmd.PROG_DETACH, progAttachAttr(targetFd, progFd, attachType, 0), ProgAttachAttr.SIZE);
}

/** What BPF_PROG_QUERY reports for one hook: programs in order, with their flags and links (tcx/netkit). */
export interface ProgQueryResult {
  /** The hook's attach flags (cgroups: multi/override for the whole hook). */
  attachFlags: number;
  progIds: number[];
  /** Per program (kernels 6.0+ fill it for cgroups, 6.6+ for tcx); 0s otherwise. */
  progAttachFlags: number[];
  /** Per program: the link holding it, or 0 (tcx and netkit only). */
  linkIds: number[];
  linkAttachFlags: number[];
  /** The hook's revision (tcx/netkit), 0n elsewhere. */
  revision: bigint;
}

const BPF_F_QUERY_EFFECTIVE = 1;

/**
 * BPF_PROG_QUERY on `target` (a cgroup or netns fd, or an ifindex for tcx and
 * netkit). The count comes first, then arrays of exactly that many entries;
 * when programs were added in between (ENOSPC) it asks again.
 */
export function progQuery(target: number, attachType: number, opts: { effective?: boolean }, ctx: BpfErrorContext): ProgQueryResult {
  const flags = opts.effective ? BPF_F_QUERY_EFFECTIVE : 0;
  let want = 0;
  for (let round = 0; round < 8; round++) {
    // Four arrays of `want` u32s, one block; prog_cnt tells the kernel how many fit.
    const block = want ? new NativeBlock(want * 16) : undefined;
    try {
      const a = coldAttr(ProgQueryAttr.SIZE);
      const u = a.u32;
      u[ProgQueryAttr.target_fd >> 2] = target;
      u[ProgQueryAttr.attach_type >> 2] = attachType;
      u[ProgQueryAttr.query_flags >> 2] = flags;
      u[ProgQueryAttr.prog_cnt >> 2] = want;
      if (block) {
        putPtr(u, ProgQueryAttr.prog_ids, block.addr);
        // Cgroups refuse per-program flags with an effective query (EINVAL): there are none to report.
        if (!opts.effective) putPtr(u, ProgQueryAttr.prog_attach_flags, block.addr + want * 4);
        putPtr(u, ProgQueryAttr.link_ids, block.addr + want * 8);
        putPtr(u, ProgQueryAttr.link_attach_flags, block.addr + want * 12);
      }
      const r = bpfRaw(BpfCmd.PROG_QUERY, a, ProgQueryAttr.SIZE);
      const cnt = u[ProgQueryAttr.prog_cnt >> 2]!;
      if (r === -Errno.ENOSPC) {
        want = Math.max(cnt, want * 2, 1);
        continue;
      }
      if (r < 0) throw new BpfError('BPF_PROG_QUERY', -r, ctx);
      const attachFlags = u[ProgQueryAttr.attach_flags >> 2]!;
      const revision = a.view.getBigUint64(ProgQueryAttr.revision, true);
      if (cnt > want) {
        // The first answer: only the count. Ask for that many.
        want = cnt;
        continue;
      }
      const col = (i: number) => (block ? Array.from(new Uint32Array(block.bytes.buffer, block.bytes.byteOffset + i * want * 4, cnt)) : []);
      return { attachFlags, progIds: col(0), progAttachFlags: col(1), linkIds: col(2), linkAttachFlags: col(3), revision };
    } finally {
      block?.free();
    }
  }
  // Programs kept arriving faster than we could ask.
  throw new BpfError('BPF_PROG_QUERY', Errno.ENOSPC, ctx);
}

/** What BPF_TASK_FD_QUERY says about a task's fd (a perf event or raw tracepoint holding a program). */
export interface TaskFdInfo {
  progId: number;
  /** BPF_FD_TYPE_*: 0 raw_tracepoint, 1 tracepoint, 2 kprobe, 3 kretprobe, 4 uprobe, 5 uretprobe. */
  fdType: number;
  /** The tracepoint or function name, or the probed file's path for uprobes. */
  name: string;
  probeOffset: bigint;
  probeAddr: bigint;
}

/** BPF_TASK_FD_QUERY; returns -errno instead (ENOTSUPP/EBADF/ENOENT for fds that hold no program) for the caller to skip. */
export function taskFdQueryRaw(pid: number, fd: number): TaskFdInfo | number {
  let len = 256;
  for (let round = 0; ; round++) {
    const buf = new Uint8Array(len);
    const a = coldAttr(TaskFdQueryAttr.SIZE);
    const u = a.u32;
    u[TaskFdQueryAttr.pid >> 2] = pid;
    u[TaskFdQueryAttr.fd >> 2] = fd;
    u[TaskFdQueryAttr.buf_len >> 2] = buf.byteLength;
    putPtr(u, TaskFdQueryAttr.buf, addressOf(buf));
    const r = bpfRaw(BpfCmd.TASK_FD_QUERY, a, TaskFdQueryAttr.SIZE);
    // The kernel reports the name's length in buf_len; room for it and the NUL, then again.
    const need = u[TaskFdQueryAttr.buf_len >> 2]!;
    if (r === -Errno.ENOSPC && round < 2 && need + 1 > len && need < 1 << 16) {
      len = need + 1;
      continue;
    }
    if (r < 0) return r;
    const end = buf.indexOf(0);
    return {
      progId: u[TaskFdQueryAttr.prog_id >> 2]!,
      fdType: u[TaskFdQueryAttr.fd_type >> 2]!,
      name: new TextDecoder().decode(buf.subarray(0, end < 0 ? Math.min(need, buf.byteLength) : end)),
      probeOffset: a.view.getBigUint64(TaskFdQueryAttr.probe_offset, true),
      probeAddr: a.view.getBigUint64(TaskFdQueryAttr.probe_addr, true),
    };
  }
}

/**
 * BPF_RAW_TRACEPOINT_OPEN: with a name, attach to that raw tracepoint; without,
 * attach a BTF tracing program to the target chosen at load. Returns an owned link fd.
 */
export function rawTracepointOpen(progFd: number, name: string | undefined, ctx: BpfErrorContext): number {
  const n = name === undefined ? undefined : cPath(name);
  const a = coldAttr(RawTracepointAttr.SIZE);
  if (n) putPtr(a.u32, RawTracepointAttr.name, addressOf(n));
  a.u32[RawTracepointAttr.prog_fd >> 2] = progFd;
  return adoptFd(bpfCall(BpfCmd.RAW_TRACEPOINT_OPEN, a, RawTracepointAttr.SIZE, ctx));
}

// ---- BTF --------------------------------------------------------------------

/** BPF_BTF_LOAD; returns an owned fd or -errno. With `log`, the kernel writes its reasons there. */
export function btfLoadRaw(blob: Uint8Array, log?: Uint8Array): number {
  const a = coldAttr(BtfLoadAttr.SIZE);
  putPtr(a.u32, BtfLoadAttr.btf, addressOf(blob));
  a.u32[BtfLoadAttr.btf_size >> 2] = blob.byteLength;
  if (log) {
    putPtr(a.u32, BtfLoadAttr.btf_log_buf, addressOf(log));
    a.u32[BtfLoadAttr.btf_log_size >> 2] = log.byteLength;
    a.u32[BtfLoadAttr.btf_log_level >> 2] = 1;
  }
  const r = bpfRaw(BpfCmd.BTF_LOAD, a, BtfLoadAttr.SIZE);
  return r >= 0 ? adoptFd(r) : r;
}

// ---- links ------------------------------------------------------------------

/** What BPF_LINK_CREATE's type-specific union carries, by hook. */
export type LinkCreateTarget =
  | { kind: 'perf_event'; cookie?: bigint }
  | { kind: 'kprobe_multi'; symbols: readonly string[]; cookies?: readonly bigint[]; retprobe: boolean }
  | { kind: 'uprobe_multi'; path: string; offsets: readonly bigint[]; cookies?: readonly bigint[]; retprobe: boolean; pid: number }
  | { kind: 'iter'; mapFd?: number; tid?: number; pid?: number }
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number };

export interface LinkCreateFields {
  progFd: number;
  /** The hook's fd or ifindex (0 where the union names the target). */
  targetFd: number;
  attachType: number;
  flags?: number;
  target?: LinkCreateTarget;
}

const BPF_F_KPROBE_MULTI_RETURN = 1;
const BPF_F_UPROBE_MULTI_RETURN = 1;

/** BPF_LINK_CREATE; returns an owned link fd, or -errno. */
export function linkCreateRaw(f: LinkCreateFields): number {
  // Arrays the kernel reads through pointers live in one block freed after the call.
  let block: NativeBlock | undefined;
  try {
    const a = coldAttr(LinkCreateAttr.SIZE);
    const u = a.u32;
    const v = a.view;
    u[LinkCreateAttr.prog_fd >> 2] = f.progFd;
    u[LinkCreateAttr.target_fd >> 2] = f.targetFd;
    u[LinkCreateAttr.attach_type >> 2] = f.attachType;
    u[LinkCreateAttr.flags >> 2] = f.flags ?? 0;
    const t = f.target;
    if ((t?.kind === 'kprobe_multi' || t?.kind === 'uprobe_multi') && t.cookies && t.cookies.length !== (t.kind === 'kprobe_multi' ? t.symbols.length : t.offsets.length)) {
      throw new TsbpfError('BAD_ARGUMENT', `${t.kind}: ${t.cookies.length} cookies for ${t.kind === 'kprobe_multi' ? t.symbols.length : t.offsets.length} functions (one each)`);
    }
    switch (t?.kind) {
      case undefined:
        break;
      case 'perf_event':
        if (t.cookie !== undefined) v.setBigUint64(LinkCreateAttr.perf_event_cookie, t.cookie, true);
        break;
      case 'kprobe_multi': {
        // An array of char* into NUL-terminated names in the same block, then the cookies.
        const n = t.symbols.length;
        const strs = t.symbols.map(cPath);
        block = new NativeBlock(n * 16 + strs.reduce((s, b) => s + b.byteLength, 0));
        let off = n * 16;
        strs.forEach((s, i) => {
          block!.bytes.set(s, off);
          block!.view.setBigUint64(i * 8, BigInt(block!.addr + off), true);
          off += s.byteLength;
        });
        t.cookies?.forEach((c, i) => block!.view.setBigUint64(n * 8 + i * 8, c, true));
        u[LinkCreateAttr.kprobe_multi_flags >> 2] = t.retprobe ? BPF_F_KPROBE_MULTI_RETURN : 0;
        u[LinkCreateAttr.kprobe_multi_cnt >> 2] = n;
        v.setBigUint64(LinkCreateAttr.kprobe_multi_syms, BigInt(block.addr), true);
        if (t.cookies) v.setBigUint64(LinkCreateAttr.kprobe_multi_cookies, BigInt(block.addr + n * 8), true);
        break;
      }
      case 'uprobe_multi': {
        const n = t.offsets.length;
        const p = cPath(t.path);
        block = new NativeBlock(n * 16 + p.byteLength);
        t.offsets.forEach((o, i) => block!.view.setBigUint64(i * 8, o, true));
        t.cookies?.forEach((c, i) => block!.view.setBigUint64(n * 8 + i * 8, c, true));
        block.bytes.set(p, n * 16);
        v.setBigUint64(LinkCreateAttr.uprobe_multi_path, BigInt(block.addr + n * 16), true);
        v.setBigUint64(LinkCreateAttr.uprobe_multi_offsets, BigInt(block.addr), true);
        if (t.cookies) v.setBigUint64(LinkCreateAttr.uprobe_multi_cookies, BigInt(block.addr + n * 8), true);
        u[LinkCreateAttr.uprobe_multi_cnt >> 2] = n;
        u[LinkCreateAttr.uprobe_multi_flags >> 2] = t.retprobe ? BPF_F_UPROBE_MULTI_RETURN : 0;
        u[LinkCreateAttr.uprobe_multi_pid >> 2] = t.pid;
        break;
      }
      case 'iter': {
        // union bpf_iter_link_info: map.map_fd at 0; task.tid at 0, task.pid at 4.
        if (!t.mapFd && !t.tid && !t.pid) break;
        block = new NativeBlock(16);
        if (t.mapFd) block.u32[0] = t.mapFd;
        if (t.tid) block.u32[0] = t.tid;
        if (t.pid) block.u32[1] = t.pid;
        v.setBigUint64(LinkCreateAttr.iter_info, BigInt(block.addr), true);
        u[LinkCreateAttr.iter_info_len >> 2] = block.size;
        break;
      }
      case 'netfilter':
        u[LinkCreateAttr.netfilter_pf >> 2] = t.pf;
        u[LinkCreateAttr.netfilter_hooknum >> 2] = t.hooknum;
        v.setInt32(LinkCreateAttr.netfilter_priority, t.priority, true);
        u[LinkCreateAttr.netfilter_flags >> 2] = t.flags;
        break;
    }
    const r = bpfRaw(BpfCmd.LINK_CREATE, a, LinkCreateAttr.SIZE);
    return r >= 0 ? adoptFd(r) : r;
  } finally {
    block?.free();
  }
}

const BPF_F_REPLACE = 1 << 2;

/** BPF_LINK_UPDATE: swap the link's program, only if it is still `oldProgFd` when given. */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd: number | undefined, ctx: BpfErrorContext): void {
  const a = coldAttr(LinkUpdateAttr.SIZE);
  a.u32[LinkUpdateAttr.link_fd >> 2] = linkFd;
  a.u32[LinkUpdateAttr.new_prog_fd >> 2] = newProgFd;
  if (oldProgFd !== undefined) {
    a.u32[LinkUpdateAttr.flags >> 2] = BPF_F_REPLACE;
    a.u32[LinkUpdateAttr.old_prog_fd >> 2] = oldProgFd;
  }
  bpfCall(BpfCmd.LINK_UPDATE, a, LinkUpdateAttr.SIZE, ctx);
}

/** BPF_LINK_DETACH: detach the program, keep the link fd. */
export function linkDetach(linkFd: number, ctx: BpfErrorContext): void {
  const a = coldAttr(LinkDetachAttr.SIZE);
  a.u32[LinkDetachAttr.link_fd >> 2] = linkFd;
  bpfCall(BpfCmd.LINK_DETACH, a, LinkDetachAttr.SIZE, ctx);
}

/** BPF_ITER_CREATE: a readable fd that runs the iterator link's program. */
export function iterCreate(linkFd: number, ctx: BpfErrorContext): number {
  const a = coldAttr(IterCreateAttr.SIZE);
  a.u32[IterCreateAttr.link_fd >> 2] = linkFd;
  return adoptFd(bpfCall(BpfCmd.ITER_CREATE, a, IterCreateAttr.SIZE, ctx));
}
