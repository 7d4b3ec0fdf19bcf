/** perf_event_open(2) and the perf ioctls that attach and control BPF programs. */
import { BpfError } from './errors.ts';
import { adoptFd } from './fd.ts';
import { lastErrno, libc, nr } from './libc.ts';
import type { NativeBlock } from './memory.ts';

export const PERF_FLAG_FD_CLOEXEC = 8;

export const PerfIoctl = {
  ENABLE: 0x2400,
  DISABLE: 0x2401,
  RESET: 0x2403,
  SET_BPF: 0x40042408,
  PAUSE_OUTPUT: 0x40042409,
} as const;

/** Open a perf event described by a `struct perf_event_attr` in native memory; returns an owned fd. */
export function perfEventOpen(attr: NativeBlock, pid: number, cpu: number, groupFd = -1, flags = PERF_FLAG_FD_CLOEXEC): number {
  const fd = libc().syscall5(nr.perf_event_open, attr.addr, pid, cpu, groupFd, flags);
  if (fd < 0) throw new BpfError('perf_event_open', lastErrno(), { caps: ['PERFMON'] });
  return adoptFd(fd);
}
