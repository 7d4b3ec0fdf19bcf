/**
 * Feature probes: does this kernel have a map type? Each probe creates the
 * smallest valid map of the type once and the answer is cached, like libbpf's
 * libbpf_probe_bpf_map_type.
 */
import { Errno, closeFd, pageSize } from '../../syscall/index.ts';
import { kernelAtLeast, since } from '../features.ts';
import { loadBtfBlob, tinyIntBtf } from '../btf/handle.ts';
import { MapFlags, MapType } from './types.ts';
import { mapCreateRaw } from '../../syscall/index.ts';

const cache = new Map<number, boolean>();

interface ProbeShape {
  key: number;
  value: number;
  max: number;
  flags?: number;
  extra?: bigint;
  /** Local storage needs key/value BTF. */
  btf?: boolean;
  /** Maps of maps need a template inner map. */
  inner?: boolean;
}

function shapeOf(type: number): ProbeShape {
  switch (type) {
    case MapType.LPM_TRIE:
      return { key: 8, value: 8, max: 1, flags: MapFlags.NO_PREALLOC };
    case MapType.QUEUE:
    case MapType.STACK:
      return { key: 0, value: 4, max: 1 };
    case MapType.BLOOM_FILTER:
      return { key: 0, value: 4, max: 1 };
    case MapType.RINGBUF:
    case MapType.USER_RINGBUF:
      // One page: 4096 is refused (EINVAL) on kernels with 16K or 64K pages.
      return { key: 0, value: 0, max: pageSize() };
    case MapType.STACK_TRACE:
      return { key: 4, value: 8, max: 1 };
    case MapType.CGROUP_STORAGE:
    case MapType.PERCPU_CGROUP_STORAGE:
      return { key: 16, value: 8, max: 0 };
    case MapType.ARENA:
      return { key: 0, value: 0, max: 1, flags: MapFlags.MMAPABLE };
    case MapType.SK_STORAGE:
    case MapType.INODE_STORAGE:
    case MapType.TASK_STORAGE:
    case MapType.CGRP_STORAGE:
      return { key: 4, value: 4, max: 0, flags: MapFlags.NO_PREALLOC, btf: true };
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS:
      return { key: 4, value: 4, max: 1, inner: true };
    default:
      return { key: 4, value: 4, max: 1 };
  }
}

/** Whether the kernel can create maps of `type`. Cached per type. */
export function isMapTypeSupported(type: number): boolean {
  const hit = cache.get(type);
  if (hit !== undefined) return hit;
  let ok: boolean;
  if (type === MapType.STRUCT_OPS) {
    // Needs a kernel struct_ops value type to create at all, so go by the release that introduced it.
    ok = kernelAtLeast(since('map type STRUCT_OPS')!);
  } else ok = probe(type);
  cache.set(type, ok);
  return ok;
}

function probe(type: number): boolean {
  const shape = shapeOf(type);
  let btfFd = -1;
  let innerFd = -1;
  try {
    if (shape.btf) btfFd = loadBtfBlob(tinyIntBtf());
    if (shape.inner) innerFd = createBare(MapType.ARRAY, { key: 4, value: 4, max: 1 }, -1, -1);
    const fd = createBare(type, shape, btfFd, innerFd);
    if (fd >= 0) {
      closeFd(fd);
      return true;
    }
    // EPERM means we may not, not that the kernel cannot.
    return fd === -Errno.EPERM;
  } catch {
    return false;
  } finally {
    if (btfFd >= 0) closeFd(btfFd);
    if (innerFd >= 0) closeFd(innerFd);
  }
}

/** Returns an owned fd, or -errno. */
function createBare(type: number, shape: ProbeShape, btfFd: number, innerFd: number): number {
  return mapCreateRaw({
    type,
    keySize: shape.key,
    valueSize: shape.value,
    maxEntries: shape.max,
    flags: shape.flags ?? 0,
    mapExtra: shape.extra,
    innerFd,
    btfFd,
    btfKeyTypeId: btfFd >= 0 ? 1 : 0,
    btfValueTypeId: btfFd >= 0 ? 1 : 0,
  });
}
