/** The running kernel's release (uname -r) as numbers, for version-gated behaviour and kconfig's LINUX_KERNEL_VERSION. */
import { release } from 'node:os';

/** [major, minor, patch] of a release string such as '6.18.0-1-amd64'; zeros when it does not parse. */
export function kernelVersion(rel = release()): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
}
