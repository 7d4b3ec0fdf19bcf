/**
 * `struct perf_event_attr` (include/uapi/linux/perf_event.h), written into a
 * native block for perf_event_open(2). Only the fields tsbpf uses are named.
 */
import { NativeBlock } from './memory.ts';

export const PERF_ATTR_SIZE = 136; // PERF_ATTR_SIZE_VER8

export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

export const PerfSwConfig = {
  CPU_CLOCK: 0,
  TASK_CLOCK: 1,
  PAGE_FAULTS: 2,
  CONTEXT_SWITCHES: 3,
  CPU_MIGRATIONS: 4,
  DUMMY: 9,
  BPF_OUTPUT: 10,
} as const;

export const PERF_SAMPLE_RAW = 1 << 10;

/** Bits of the flags word at offset 40. */
export const PerfAttrFlag = {
  DISABLED: 1n << 0n,
  INHERIT: 1n << 1n,
  EXCLUDE_USER: 1n << 4n,
  EXCLUDE_KERNEL: 1n << 5n,
  FREQ: 1n << 10n,
  WATERMARK: 1n << 14n,
} as const;

export interface PerfAttrInit {
  type: number;
  config?: bigint;
  /** sample_period, or sample_freq with the FREQ flag. */
  sample?: bigint;
  sampleType?: bigint;
  flags?: bigint;
  /** wakeup_events, or wakeup_watermark (bytes) with the WATERMARK flag. */
  wakeup?: number;
  /** kprobe_func / uprobe_path address (a NUL-terminated string in native memory). */
  config1?: bigint;
  /** probe offset / address. */
  config2?: bigint;
}

/** A native perf_event_attr; the caller frees the block. */
export function perfAttr(init: PerfAttrInit): NativeBlock {
  const b = new NativeBlock(PERF_ATTR_SIZE);
  const v = b.view;
  v.setUint32(0, init.type, true);
  v.setUint32(4, PERF_ATTR_SIZE, true);
  v.setBigUint64(8, init.config ?? 0n, true);
  v.setBigUint64(16, init.sample ?? 0n, true);
  v.setBigUint64(24, init.sampleType ?? 0n, true);
  v.setBigUint64(40, init.flags ?? 0n, true);
  v.setUint32(48, init.wakeup ?? 0, true);
  v.setBigUint64(56, init.config1 ?? 0n, true);
  v.setBigUint64(64, init.config2 ?? 0n, true);
  return b;
}
