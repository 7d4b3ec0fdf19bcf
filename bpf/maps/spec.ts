import type { MapTypeName } from './types.ts';

/**
 * What a map is, before it exists: inert and editable. A loader fills it from
 * an object file; users may change sizes or flags before creating the map.
 */
export interface MapSpec {
  /** Object name (the kernel keeps 15 characters of [A-Za-z0-9_.]). */
  name?: string;
  type: number | MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* flags (see MapFlags). */
  flags?: number;
  /** Template of the inner map, for ARRAY_OF_MAPS and HASH_OF_MAPS. */
  innerMap?: MapSpec;
  /** NUMA node for the map's memory; sets BPF_F_NUMA_NODE. */
  numaNode?: number;
  /** Type-specific extra: bloom filter hash count, arena start address. */
  mapExtra?: bigint;
  /** Offload device (and the netdev for DEVMAP of offloaded XDP). */
  ifindex?: number;
  /** BTF type ids of key and value within the BTF given at creation. */
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
}

export function copyMapSpec(spec: MapSpec): MapSpec {
  return { ...spec, innerMap: spec.innerMap && copyMapSpec(spec.innerMap) };
}
