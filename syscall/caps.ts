/** Effective capabilities of this process, read from /proc (no syscall needed). */
import { readFileSync } from 'node:fs';

export const Cap = {
  NET_ADMIN: 12,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  PERFMON: 38,
  BPF: 39,
} as const;
export type CapName = keyof typeof Cap;

let cached: bigint | undefined;

export function effectiveCaps(): bigint {
  if (cached !== undefined) return cached;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    cached = m ? BigInt('0x' + m[1]) : 0n;
  } catch {
    cached = 0n;
  }
  return cached;
}

export function hasCap(cap: CapName): boolean {
  return (effectiveCaps() & (1n << BigInt(Cap[cap]))) !== 0n;
}

/** Which of the capabilities BPF needs are missing, or [] when all are present. */
export function missingBpfCaps(extra: CapName[] = []): CapName[] {
  if (hasCap('SYS_ADMIN')) return [];
  const want: CapName[] = ['BPF', ...extra];
  return want.filter((c) => !hasCap(c));
}
