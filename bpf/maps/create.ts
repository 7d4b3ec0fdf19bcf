/** BPF_MAP_CREATE: the one place that lays out its attr (maps and probes both create maps). */
import { BpfCmd, MapCreateAttr, adoptFd, bpfRaw, coldAttr, putName } from '../../syscall/index.ts';

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

/** Issue BPF_MAP_CREATE; returns an owned fd, or -errno. */
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
