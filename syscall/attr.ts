/**
 * Layouts of `union bpf_attr` for the commands tsbpf issues, as byte offsets
 * (from the kernel UAPI, include/uapi/linux/bpf.h; checked against the running
 * kernel's BTF in test/attr-layout.test.ts). Each `SIZE` is the end of the
 * last field tsbpf writes: the kernel accepts a shorter attr than its own, and
 * a longer one as long as the bytes it does not know are zero.
 */
import { TsbpfError } from '../errors.ts';
import { NativeBlock } from './memory.ts';

export const MapCreateAttr = {
  map_type: 0,
  key_size: 4,
  value_size: 8,
  max_entries: 12,
  map_flags: 16,
  inner_map_fd: 20,
  numa_node: 24,
  map_name: 28,
  map_ifindex: 44,
  btf_fd: 48,
  btf_key_type_id: 52,
  btf_value_type_id: 56,
  btf_vmlinux_value_type_id: 60,
  map_extra: 64,
  SIZE: 72,
} as const;

export const MapElemAttr = { map_fd: 0, key: 8, value: 16, next_key: 16, flags: 24, SIZE: 32 } as const;

export const MapBatchAttr = {
  in_batch: 0,
  out_batch: 8,
  keys: 16,
  values: 24,
  count: 32,
  map_fd: 36,
  elem_flags: 40,
  flags: 48,
  SIZE: 56,
} as const;

export const ProgLoadAttr = {
  prog_type: 0,
  insn_cnt: 4,
  insns: 8,
  license: 16,
  log_level: 24,
  log_size: 28,
  log_buf: 32,
  kern_version: 40,
  prog_flags: 44,
  prog_name: 48,
  prog_ifindex: 64,
  expected_attach_type: 68,
  prog_btf_fd: 72,
  func_info_rec_size: 76,
  func_info: 80,
  func_info_cnt: 88,
  line_info_rec_size: 92,
  line_info: 96,
  line_info_cnt: 104,
  attach_btf_id: 108,
  attach_prog_fd: 112,
  attach_btf_obj_fd: 112,
  core_relo_cnt: 116,
  fd_array: 120,
  core_relos: 128,
  core_relo_rec_size: 136,
  log_true_size: 140,
  SIZE: 144,
} as const;

export const ObjPinAttr = { pathname: 0, bpf_fd: 8, file_flags: 12, SIZE: 16 } as const;

export const GetIdAttr = { start_id: 0, id: 0, next_id: 4, open_flags: 8, SIZE: 12 } as const;

export const InfoAttr = { bpf_fd: 0, info_len: 4, info: 8, SIZE: 16 } as const;

export const BtfLoadAttr = {
  btf: 0,
  btf_log_buf: 8,
  btf_size: 16,
  btf_log_size: 20,
  btf_log_level: 24,
  btf_log_true_size: 28,
  SIZE: 32,
} as const;

export const MapFreezeAttr = { map_fd: 0, SIZE: 4 } as const;

/** BPF_ENABLE_STATS: which statistics (BPF_STATS_RUN_TIME = 0). */
export const EnableStatsAttr = { type: 0, SIZE: 4 } as const;

export const ProgTestRunAttr = {
  prog_fd: 0,
  retval: 4,
  data_size_in: 8,
  data_size_out: 12,
  data_in: 16,
  data_out: 24,
  repeat: 32,
  duration: 36,
  ctx_size_in: 40,
  ctx_size_out: 44,
  ctx_in: 48,
  ctx_out: 56,
  flags: 64,
  cpu: 68,
  batch_size: 72,
  SIZE: 76,
} as const;

export const LinkCreateAttr = {
  prog_fd: 0,
  target_fd: 4,
  target_ifindex: 4,
  attach_type: 8,
  flags: 12,
  // The rest is a union whose member depends on the attach type.
  target_btf_id: 16,
  iter_info: 16,
  iter_info_len: 24,
  perf_event_cookie: 16,
  kprobe_multi_flags: 16,
  kprobe_multi_cnt: 20,
  kprobe_multi_syms: 24,
  kprobe_multi_addrs: 32,
  kprobe_multi_cookies: 40,
  tracing_target_btf_id: 16,
  tracing_cookie: 24,
  netfilter_pf: 16,
  netfilter_hooknum: 20,
  netfilter_priority: 24,
  netfilter_flags: 28,
  tcx_relative_fd: 16,
  tcx_expected_revision: 24,
  uprobe_multi_path: 16,
  uprobe_multi_offsets: 24,
  uprobe_multi_ref_ctr_offsets: 32,
  uprobe_multi_cookies: 40,
  uprobe_multi_cnt: 48,
  uprobe_multi_flags: 52,
  uprobe_multi_pid: 56,
  SIZE: 64,
} as const;

export const RawTracepointAttr = { name: 0, prog_fd: 8, cookie: 16, SIZE: 16 } as const;

/** BPF_PROG_ATTACH and BPF_PROG_DETACH. */
export const ProgAttachAttr = {
  target_fd: 0,
  attach_bpf_fd: 4,
  attach_type: 8,
  attach_flags: 12,
  replace_bpf_fd: 16,
  SIZE: 20,
} as const;

export const LinkUpdateAttr = { link_fd: 0, new_prog_fd: 4, flags: 8, old_prog_fd: 12, SIZE: 16 } as const;
export const LinkDetachAttr = { link_fd: 0, SIZE: 4 } as const;
export const IterCreateAttr = { link_fd: 0, flags: 4, SIZE: 8 } as const;

/** BPF_PROG_QUERY (target_fd is target_ifindex for tcx/netkit; prog_cnt is also `count`). */
export const ProgQueryAttr = {
  target_fd: 0,
  attach_type: 4,
  query_flags: 8,
  attach_flags: 12,
  prog_ids: 16,
  prog_cnt: 24,
  prog_attach_flags: 32,
  link_ids: 40,
  link_attach_flags: 48,
  revision: 56,
  SIZE: 64,
} as const;

/** BPF_TASK_FD_QUERY: what program sits behind a task's perf event / raw tracepoint fd. */
export const TaskFdQueryAttr = {
  pid: 0,
  fd: 4,
  flags: 8,
  buf_len: 12,
  buf: 16,
  prog_id: 24,
  fd_type: 28,
  probe_offset: 32,
  probe_addr: 40,
  SIZE: 48,
} as const;

/** `struct bpf_map_info` (written by BPF_OBJ_GET_INFO_BY_FD). */
export const MapInfoLayout = {
  type: 0,
  id: 4,
  key_size: 8,
  value_size: 12,
  max_entries: 16,
  map_flags: 20,
  name: 24,
  ifindex: 40,
  btf_vmlinux_value_type_id: 44,
  netns_dev: 48,
  netns_ino: 56,
  btf_id: 64,
  btf_key_type_id: 68,
  btf_value_type_id: 72,
  btf_vmlinux_id: 76,
  map_extra: 80,
  SIZE: 88,
} as const;

/** `struct bpf_prog_info` (written by BPF_OBJ_GET_INFO_BY_FD). */
export const ProgInfoLayout = {
  type: 0,
  id: 4,
  tag: 8,
  jited_prog_len: 16,
  xlated_prog_len: 20,
  jited_prog_insns: 24,
  xlated_prog_insns: 32,
  load_time: 40,
  created_by_uid: 48,
  nr_map_ids: 52,
  map_ids: 56,
  name: 64,
  ifindex: 80,
  /** A bitfield: bit 0 of this u32. */
  gpl_compatible: 84,
  netns_dev: 88,
  netns_ino: 96,
  nr_jited_ksyms: 104,
  nr_jited_func_lens: 108,
  jited_ksyms: 112,
  jited_func_lens: 120,
  btf_id: 128,
  func_info_rec_size: 132,
  func_info: 136,
  nr_func_info: 144,
  nr_line_info: 148,
  line_info: 152,
  jited_line_info: 160,
  nr_jited_line_info: 168,
  line_info_rec_size: 172,
  jited_line_info_rec_size: 176,
  nr_prog_tags: 180,
  prog_tags: 184,
  run_time_ns: 192,
  run_cnt: 200,
  recursion_misses: 208,
  verified_insns: 216,
  attach_btf_obj_id: 220,
  attach_btf_id: 224,
  SIZE: 232,
} as const;

/**
 * One shared attr block for commands off the hot path. Callers zero the bytes
 * they use, fill them and issue the command immediately: JS is single-threaded
 * and bpf(2) is synchronous, so nothing else can use the block in between.
 */
let cold: NativeBlock | undefined;
export function coldAttr(size: number): NativeBlock {
  cold ??= new NativeBlock(256);
  if (size > cold.size) throw new TsbpfError('ATTR_TOO_LARGE', `attr of ${size} bytes exceeds the shared block`);
  cold.bytes.fill(0, 0, size);
  return cold;
}

/** Copy an object name into an attr, truncated to 15 bytes plus NUL like the kernel keeps it. */
export function putName(block: NativeBlock, offset: number, name: string): void {
  const enc = new TextEncoder().encode(name);
  block.bytes.fill(0, offset, offset + 16);
  block.bytes.set(enc.subarray(0, 15), offset);
}

/** Read a NUL-terminated name from a fixed 16-byte field. */
export function getName(bytes: Uint8Array, offset: number, len = 16): string {
  let end = offset;
  while (end < offset + len && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(offset, end));
}

/** `struct bpf_btf_info` (written by BPF_OBJ_GET_INFO_BY_FD on a BTF fd; `btf` and `name` point to buffers we give). */
export const BtfInfoLayout = {
  btf: 0,
  btf_size: 8,
  id: 12,
  name: 16,
  name_len: 24,
  kernel_btf: 28,
  SIZE: 32,
} as const;

/**
 * `struct bpf_link_info`: the header and the union members bpftool prints (offsets
 * from the start of the info; the union starts at 16). Names are written where
 * `*_name` points, up to `*_name_len` bytes.
 */
export const LinkInfoLayout = {
  type: 0,
  id: 4,
  prog_id: 8,
  raw_tracepoint_tp_name: 16,
  raw_tracepoint_tp_name_len: 24,
  tracing_attach_type: 16,
  tracing_target_obj_id: 20,
  tracing_target_btf_id: 24,
  cgroup_cgroup_id: 16,
  cgroup_attach_type: 24,
  iter_target_name: 16,
  iter_target_name_len: 24,
  iter_map_map_id: 28,
  iter_cgroup_cgroup_id: 32,
  iter_cgroup_order: 40,
  iter_task_tid: 32,
  iter_task_pid: 36,
  netns_netns_ino: 16,
  netns_attach_type: 20,
  xdp_ifindex: 16,
  struct_ops_map_id: 16,
  netfilter_pf: 16,
  netfilter_hooknum: 20,
  netfilter_priority: 24,
  netfilter_flags: 28,
  tcx_ifindex: 16,
  tcx_attach_type: 20,
  SIZE: 256,
} as const;
