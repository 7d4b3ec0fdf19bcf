/** Map types and flags from the kernel UAPI (enum bpf_map_type, BPF_F_*). */
import { TsbpfError } from '../../errors.ts';

export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;
export type MapTypeName = keyof typeof MapType;

const NAMES: string[] = [];
for (const [n, v] of Object.entries(MapType)) NAMES[v] = n;

/** 'HASH' for 1, or `UNKNOWN(99)`. */
export function mapTypeName(type: number): string {
  return NAMES[type] ?? `UNKNOWN(${type})`;
}

/** bpftool's spelling ("hash", "percpu_array", "lru_percpu_hash"). */
export function mapTypeBpftoolName(type: number): string {
  return mapTypeName(type).toLowerCase();
}

/** Every map type name, for messages. */
export function mapTypeNames(): string[] {
  return Object.keys(MapType).filter((n) => n !== 'UNSPEC');
}

/** A map type from its UAPI number or name; anything else is a typed error (code UNKNOWN_MAP_TYPE) listing the names. */
export function resolveMapType(t: number | MapTypeName): number {
  if (typeof t === 'number' && Number.isInteger(t) && t >= 0 && t <= 0xffff_ffff) return t;
  const v = typeof t === 'string' && Object.hasOwn(MapType, t) ? MapType[t] : undefined;
  if (v === undefined) {
    throw new TsbpfError('UNKNOWN_MAP_TYPE', `unknown map type '${String(t)}'; valid types: ${mapTypeNames().join(', ')} (or a BPF_MAP_TYPE_* number)`);
  }
  return v;
}

/** Map types whose values hold one slot per possible CPU. */
export function isPerCpu(type: number): boolean {
  return (
    type === MapType.PERCPU_HASH ||
    type === MapType.PERCPU_ARRAY ||
    type === MapType.LRU_PERCPU_HASH ||
    type === MapType.PERCPU_CGROUP_STORAGE
  );
}

/** Map types whose values are other maps' fds on update and ids on lookup. */
export function isMapOfMaps(type: number): boolean {
  return type === MapType.ARRAY_OF_MAPS || type === MapType.HASH_OF_MAPS;
}

/** Map types read and written without a key (push/pop/peek). */
export function isKeyless(type: number): boolean {
  return type === MapType.QUEUE || type === MapType.STACK || type === MapType.BLOOM_FILTER;
}

export const MapFlags = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  CLONE: 1 << 9,
  MMAPABLE: 1 << 10,
  PRESERVE_ELEMS: 1 << 11,
  INNER_MAP: 1 << 12,
  LINK: 1 << 13,
  PATH_FD: 1 << 14,
  VTYPE_BTF_OBJ_FD: 1 << 15,
  TOKEN_FD: 1 << 16,
  SEGV_ON_FAULT: 1 << 17,
  NO_USER_CONV: 1 << 18,
} as const;

/** Flags of BPF_MAP_UPDATE_ELEM (and of lookups, for LOCK). */
export const UpdateFlags = {
  ANY: 0,
  NOEXIST: 1,
  EXIST: 2,
  LOCK: 4,
} as const;
export type UpdateFlag = keyof typeof UpdateFlags;
