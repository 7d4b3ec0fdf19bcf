/**
 * How much kernel memory a map may claim, estimated from its spec before it
 * exists, so that a collection whose maps would exhaust the machine (one
 * flipped max_entries in an object: a PERCPU_ARRAY of 2^31 entries is tens of
 * GiB) is refused before any BPF_MAP_CREATE instead of waking the OOM killer.
 *
 * The estimate follows the kernel's allocations (kernel/bpf/*: map_mem_usage),
 * rounded up; it is an upper bound of what the map can hold, not of slab
 * overhead. Preallocation does not matter: a map filled to max_entries takes
 * that much either way.
 */
import { TsbpfError } from '../../errors.ts';
import type { MapSpec } from './spec.ts';
import { MapFlags, MapType, mapTypeName, resolveMapType } from './types.ts';

/**
 * Default limit on the maps of one collection: 1 GiB. The maps of every
 * object in test/ and examples/ take a few MiB at most (the largest: ring
 * buffers of 16 MiB and less); lift it with `maxMapMemory: Infinity`.
 */
export const DEFAULT_MAX_MAP_MEMORY = 1 << 30;

const PAGE = 4096;
/** struct htab_elem (hash node, hash, LRU/free list links), rounded up. */
const HTAB_ELEM = 48;
/** A hash bucket: hlist head and its lock. */
const HTAB_BUCKET = 16;
/** struct lpm_trie_node without its data. */
const LPM_NODE = 48;
/** struct stack_map_bucket without its ips. */
const STACK_BUCKET = 16;
const PTR = 8;

const round8 = (n: number): number => Math.ceil(n / 8) * 8;
const roundPage = (n: number): number => Math.ceil(n / PAGE) * PAGE;
const pow2 = (n: number): number => (n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n)));

/** Bytes of kernel memory map `m` may claim with `nCpus` possible CPUs. */
export function estimateMapMemory(m: Pick<MapSpec, 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'mapExtra'>, nCpus: number): number {
  const type = resolveMapType(m.type);
  const key = m.keySize >>> 0;
  const value = m.valueSize >>> 0;
  const n = m.maxEntries >>> 0;
  const perCpu = (v: number) => round8(v) * nCpus;
  const hash = (valueBytes: number) => n * (HTAB_ELEM + round8(key) + valueBytes) + pow2(n) * HTAB_BUCKET;
  switch (type) {
    case MapType.ARRAY: {
      const bytes = n * round8(value);
      return (m.flags ?? 0) & MapFlags.MMAPABLE ? roundPage(bytes) + PAGE : bytes;
    }
    case MapType.PERCPU_ARRAY:
      return n * (PTR + perCpu(value));
    case MapType.PROG_ARRAY:
    case MapType.CGROUP_ARRAY:
    case MapType.ARRAY_OF_MAPS:
    case MapType.REUSEPORT_SOCKARRAY:
    case MapType.SOCKMAP:
    case MapType.XSKMAP:
    case MapType.DEVMAP:
    case MapType.CPUMAP:
      // A pointer per slot, and per entry the object it points to (at least the value).
      return n * (PTR + round8(value));
    case MapType.PERF_EVENT_ARRAY:
      // max_entries 0 becomes the possible CPU count (libbpf's rule, applied at create).
      return (n || nCpus) * (PTR + round8(value));
    case MapType.HASH:
    case MapType.LRU_HASH:
    case MapType.HASH_OF_MAPS:
    case MapType.DEVMAP_HASH:
    case MapType.SOCKHASH:
      return hash(round8(value));
    case MapType.PERCPU_HASH:
    case MapType.LRU_PERCPU_HASH:
      return hash(PTR) + n * perCpu(value);
    case MapType.LPM_TRIE:
      return n * (LPM_NODE + round8(key + value));
    case MapType.STACK_TRACE:
      return n * (STACK_BUCKET + round8(value)) + pow2(n) * PTR;
    case MapType.QUEUE:
    case MapType.STACK:
      return (n + 1) * value;
    case MapType.RINGBUF:
    case MapType.USER_RINGBUF:
      // Data pages (max_entries bytes) plus the consumer and producer pages.
      return roundPage(n) + 2 * PAGE;
    case MapType.BLOOM_FILTER: {
      // nr_bits = max_entries * nr_hash_funcs / ln 2, rounded up to a power of two.
      const hashes = Number(m.mapExtra ?? 0n) & 0xf || 5;
      return pow2((n * hashes) / Math.LN2) / 8 + value;
    }
    case MapType.ARENA:
      return n * PAGE;
    case MapType.STRUCT_OPS:
      return roundPage(value);
    case MapType.SK_STORAGE:
    case MapType.INODE_STORAGE:
    case MapType.TASK_STORAGE:
    case MapType.CGRP_STORAGE:
    case MapType.CGROUP_STORAGE:
    case MapType.PERCPU_CGROUP_STORAGE:
      // Per kernel object (socket, inode, task, cgroup), not per entry: only the value itself is known.
      return type === MapType.PERCPU_CGROUP_STORAGE ? perCpu(value) : round8(value);
    default:
      // A type this library does not know: as a hash map, the most a keyed map usually takes.
      return hash(round8(value));
  }
}

/** The maps of a collection would claim more kernel memory than allowed. Code `MAP_MEMORY_LIMIT`. */
export class MapMemoryError extends TsbpfError {
  declare readonly code: 'MAP_MEMORY_LIMIT';
  constructor(
    /** The map that took the total over the limit. */
    readonly map: string,
    /** Its estimate, bytes. */
    readonly estimate: number,
    /** The estimate of every map up to and including it, bytes. */
    readonly total: number,
    readonly limit: number,
  ) {
    super(
      'MAP_MEMORY_LIMIT',
      `map '${map}' would claim ~${mib(estimate)} of kernel memory (${total === estimate ? 'alone' : `${mib(total)} with the maps before it`}), over the collection limit of ${mib(limit)}; raise CollectionOptions.maxMapMemory (Infinity: no limit) if that is meant`,
    );
  }
}

function mib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n} bytes`;
}

/** Throws MapMemoryError when the maps' estimates add up to more than `limit` bytes. */
export function checkMapMemory(maps: Iterable<MapSpec & { name?: string }>, limit: number, nCpus: number): void {
  if (limit === Infinity) return;
  if (!(limit >= 0)) throw new TsbpfError('EINVAL', `maxMapMemory must be a number of bytes >= 0 (or Infinity), not ${limit}`);
  let total = 0;
  for (const m of maps) {
    const e = estimateMapMemory(m, nCpus);
    total += e;
    if (total > limit) throw new MapMemoryError(m.name ?? mapTypeName(resolveMapType(m.type)), e, total, limit);
  }
}
