/**
 * Pin paths must live on a bpf filesystem: refuse anything else with a clear
 * error before the kernel answers with a bare EPERM or ENOENT.
 */
import { statfsSync, unlinkSync, existsSync } from 'node:fs';
import { basename, dirname, isAbsolute } from 'node:path';
import { TsbpfError } from '../errors.ts';

const BPF_FS_MAGIC = 0xcafe4a11;

export class PinPathError extends TsbpfError {
  readonly path: string;
  constructor(path: string, why: string) {
    super('BAD_PIN_PATH', `bad pin path '${path}': ${why}`);
    this.path = path;
  }
}

export function isBpffs(dir: string): boolean {
  try {
    return statfsSync(dir).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Check that `path` can be pinned to (`pin`) or opened from (`open`). */
export function checkPinPath(path: string, mode: 'pin' | 'open'): void {
  if (!path || !isAbsolute(path)) throw new PinPathError(path, 'must be an absolute path on bpffs (e.g. /sys/fs/bpf/name)');
  if (path.includes('\0')) throw new PinPathError(path, 'contains a NUL byte');
  const dir = dirname(path);
  // bpffs refuses names with a dot (its lookup returns EPERM for them).
  if (mode === 'pin' && basename(path).includes('.')) throw new PinPathError(path, "bpffs does not allow '.' in names (libbpf pins '.data' as '_data')");
  if (!existsSync(dir)) throw new PinPathError(path, `directory ${dir} does not exist`);
  if (!isBpffs(dir)) {
    throw new PinPathError(path, `${dir} is not on a bpf filesystem (mount one with: mount -t bpf bpf /sys/fs/bpf)`);
  }
  if (mode === 'open' && !existsSync(path)) throw new PinPathError(path, 'nothing is pinned there');
}

/** Remove a pin; only paths on bpffs are touched. */
export function unpinPath(path: string): void {
  checkPinPath(path, 'open');
  unlinkSync(path);
}
