/**
 * The BPF kernel features tsbpf names, each with the kernel release that
 * introduced it (upstream, mainline) and the CONFIG_ option it also needs
 * where a build may leave it out. `since()` answers "which kernel?",
 * `kernelPredates()` compares with the running kernel, and `notSupported()`
 * builds the NotSupportedError that says both.
 */
import { NotSupportedError } from '../syscall/errors.ts';
import { kernelVersion } from '../syscall/uname.ts';

export interface FeatureInfo {
  /** Mainline release that introduced the feature, 'major.minor'. */
  since: string;
  /** A kernel option the feature also needs; off in some builds of new kernels. */
  config?: string;
}

const map = (since: string, config?: string): FeatureInfo => ({ since, ...(config ? { config } : {}) });

/** Keys are the names NotSupportedError carries (`feature`), so an error finds its row. */
export const KERNEL_FEATURES = {
  // Map types (`map type ${mapTypeName(type)}`).
  'map type HASH': map('3.19'),
  'map type ARRAY': map('3.19'),
  'map type PROG_ARRAY': map('4.2'),
  'map type PERF_EVENT_ARRAY': map('4.3'),
  'map type PERCPU_HASH': map('4.6'),
  'map type PERCPU_ARRAY': map('4.6'),
  'map type STACK_TRACE': map('4.6'),
  'map type CGROUP_ARRAY': map('4.8'),
  'map type LRU_HASH': map('4.10'),
  'map type LRU_PERCPU_HASH': map('4.10'),
  'map type LPM_TRIE': map('4.11'),
  'map type ARRAY_OF_MAPS': map('4.12'),
  'map type HASH_OF_MAPS': map('4.12'),
  'map type DEVMAP': map('4.14'),
  'map type SOCKMAP': map('4.14'),
  'map type CPUMAP': map('4.15'),
  'map type XSKMAP': map('4.18'),
  'map type SOCKHASH': map('4.18'),
  'map type CGROUP_STORAGE': map('4.19'),
  'map type REUSEPORT_SOCKARRAY': map('4.19'),
  'map type PERCPU_CGROUP_STORAGE': map('4.20'),
  'map type QUEUE': map('4.20'),
  'map type STACK': map('4.20'),
  'map type SK_STORAGE': map('5.2'),
  'map type DEVMAP_HASH': map('5.4'),
  'map type STRUCT_OPS': map('5.6'),
  'map type RINGBUF': map('5.8'),
  'map type INODE_STORAGE': map('5.10', 'CONFIG_BPF_LSM'),
  'map type TASK_STORAGE': map('5.11'),
  'map type BLOOM_FILTER': map('5.16'),
  'map type USER_RINGBUF': map('6.1'),
  'map type CGRP_STORAGE': map('6.2'),
  'map type ARENA': map('6.9', 'CONFIG_MMU'), // no option of its own: arena.o is built with MMU and 64BIT
  // Map flags and commands.
  'mmapable maps': map('5.5'),
  'inner map flag': map('5.10'),
  'map batch operations': map('5.6'),
  'lookupAndDelete on hash maps': map('5.14'),
  // Program types and hooks.
  'BPF links': map('5.7'),
  'fentry/fexit programs': map('5.5', 'CONFIG_FUNCTION_TRACER'),
  'struct_ops programs': map('5.6'),
  'freplace programs': map('5.6'),
  'LSM programs': map('5.7', 'CONFIG_BPF_LSM'),
  'netns links': map('5.8'),
  'iterators': map('5.8'),
  'iter/bpf_map_elem': map('5.9'),
  'task iterator filters': map('6.1'),
  'sk_lookup programs': map('5.9'),
  'XDP links': map('5.9'),
  'callback functions': map('5.13'),
  'sk_skb/verdict attach': map('5.13'),
  'syscall programs': map('5.14'),
  'perf_event links': map('5.15'),
  'BPF cookies': map('5.15'),
  'kprobe_multi links': map('5.18', 'CONFIG_FPROBE'),
  'netfilter links': map('6.4', 'CONFIG_NETFILTER_BPF_LINK'),
  'struct_ops links': map('6.4'),
  'uprobe_multi links': map('6.6', 'CONFIG_UPROBES'),
  'tcx links': map('6.6'),
  'netkit links': map('6.7', 'CONFIG_NETKIT'),
  'kprobe session': map('6.10', 'CONFIG_FPROBE'),
  // BTF.
  'BTF': map('4.18'),
  'BTF func/line info': map('5.0'),
  'BTF VAR/DATASEC': map('5.2'),
  'BTF func linkage': map('5.6'),
  'BTF FLOAT': map('5.13'),
  'BTF DECL_TAG': map('5.16'),
  'BTF TYPE_TAG': map('5.17'),
  'BTF ENUM64': map('6.0'),
  'module BTF': map('5.11', 'CONFIG_DEBUG_INFO_BTF_MODULES'),
  // Helpers and kernel functions the test objects call.
  'helper bpf_snprintf': map('5.13'),
  'kfunc bpf_rcu_read_lock': map('6.2'),
  // Program load.
  'verifier log_true_size': map('6.4'),
} satisfies Record<string, FeatureInfo>;

export type KernelFeatureName = keyof typeof KERNEL_FEATURES;

/** [major, minor, patch], as syscall/uname.ts gives it. */
export type KernelVersion = readonly [number, number, number];

/** The table's row for a feature name (any string, e.g. a NotSupportedError's `feature`), if it has one. */
export function featureInfo(feature: string): FeatureInfo | undefined {
  return Object.hasOwn(KERNEL_FEATURES, feature) ? KERNEL_FEATURES[feature as KernelFeatureName] : undefined;
}

/** The release that introduced `feature` ('6.2'), or undefined when the table does not know it. */
export function since(feature: string): string | undefined {
  return featureInfo(feature)?.since;
}

/** 'major.minor' of a kernel version. */
export function formatVersion(v: KernelVersion): string {
  return `${v[0]}.${v[1]}`;
}

function parse(version: string): [number, number] {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return [a, b];
}

/** Whether `running` (default: this kernel) is at or above release `version` ('5.8'). */
export function kernelAtLeast(version: string, running: KernelVersion = kernelVersion()): boolean {
  const [a, b] = parse(version);
  return running[0] > a || (running[0] === a && running[1] >= b);
}

/** Whether `running` (default: this kernel) is older than the release that introduced `feature`; undefined when unknown. */
export function kernelPredates(feature: string, running: KernelVersion = kernelVersion()): boolean | undefined {
  const v = since(feature);
  return v === undefined ? undefined : !kernelAtLeast(v, running);
}

/** A NotSupportedError for `feature` that names this kernel and, where known, the release it needs. */
export function notSupported(feature: string, detail?: string, running: KernelVersion = kernelVersion()): NotSupportedError {
  const needs = since(feature);
  return new NotSupportedError(feature, detail, needs ? { kernel: formatVersion(running), since: needs } : {});
}
