/**
 * What the kernel tests need, and why they would skip. Under CI a missing
 * privilege or mount is an error, never a skip (see test/setup/global.ts).
 */
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';

const BPF_FS_MAGIC = 0xcafe4a11;
const TRACEFS_MAGIC = 0x74726163;

function capEff(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt('0x' + m[1]) : 0n;
}

const has = (bit: number) => (capEff() & (1n << BigInt(bit))) !== 0n;

function fsType(path: string): number | undefined {
  try {
    return statfsSync(path).type;
  } catch {
    return undefined;
  }
}

export const BPFFS = '/sys/fs/bpf';
export const TRACEFS = existsSync('/sys/kernel/tracing/events') ? '/sys/kernel/tracing' : '/sys/kernel/debug/tracing';

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  const missing: string[] = [];
  if (!has(21) && !has(39)) missing.push('CAP_BPF (or CAP_SYS_ADMIN)');
  if (!has(21) && !has(38)) missing.push('CAP_PERFMON (or CAP_SYS_ADMIN)');
  if (missing.length) return `missing capability ${missing.join(', ')}: run as root`;
  return undefined;
}

/** Why pin tests cannot run here (no bpffs at /sys/fs/bpf). */
export function bpffsSkipReason(): string | undefined {
  return kernelSkipReason() ?? (fsType(BPFFS) === BPF_FS_MAGIC ? undefined : `bpffs is not mounted at ${BPFFS} (mount -t bpf bpf ${BPFFS})`);
}

export function tracefsSkipReason(): string | undefined {
  return kernelSkipReason() ?? (fsType('/sys/kernel/tracing') === TRACEFS_MAGIC || existsSync(`${TRACEFS}/events`) ? undefined : 'tracefs is not mounted at /sys/kernel/tracing');
}

/** Number of open fds of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return undefined;
}
