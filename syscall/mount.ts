/**
 * Mounting the pseudo filesystems tsbpf needs (tracefs, debugfs, bpffs) where
 * a fresh machine has not mounted them, as bpftool does: a root user should
 * never have to type a mount command the library can run itself.
 */
import { existsSync, statfsSync } from 'node:fs';
import { TsbpfError, type ErrorCode } from '../errors.ts';
import { hasCap } from './caps.ts';
import { errnoName } from './errno.ts';
import { lastErrno, libc } from './libc.ts';

export const FsMagic = {
  BPF: 0xcafe4a11,
  TRACEFS: 0x74726163,
  DEBUGFS: 0x64626720,
} as const;

/** A filesystem tsbpf needs is not mounted and could not be mounted. `code` is the caller's (NO_TRACEFS, BAD_PIN_PATH). */
export class MountError extends TsbpfError {
  readonly target: string;
  readonly fstype: string;
  constructor(code: ErrorCode, fstype: string, target: string, why: string) {
    super(code, `${fstype} is not mounted at ${target} and tsbpf could not mount it: ${why}`);
    this.target = target;
    this.fstype = fstype;
  }
}

/** Whether `path` is the root or inside a filesystem with this magic (statfs, no mount table parsing). */
export function isFsType(path: string, magic: number): boolean {
  try {
    return statfsSync(path).type === magic;
  } catch {
    return false;
  }
}

/**
 * Make sure a filesystem of `fstype` is mounted at `target`; mount it when it
 * is not. Without CAP_SYS_ADMIN the error names the missing capability.
 * `code` is the error code to throw with.
 */
export function ensureMounted(fstype: 'tracefs' | 'debugfs' | 'bpf', target: string, magic: number, code: ErrorCode): void {
  if (isFsType(target, magic)) return;
  const name = fstype === 'bpf' ? 'bpffs' : fstype;
  if (!existsSync(target)) throw new MountError(code, name, target, `the mount point ${target} does not exist`);
  if (!hasCap('SYS_ADMIN')) throw new MountError(code, name, target, 'missing capability CAP_SYS_ADMIN (run as root to have it mounted)');
  if (libc().mount(fstype, target, fstype, 0, null) !== 0) {
    const errno = lastErrno();
    // Another process may have mounted it meanwhile.
    if (isFsType(target, magic)) return;
    throw new MountError(code, name, target, `mount(2) failed: ${errnoName(errno)}`);
  }
}
