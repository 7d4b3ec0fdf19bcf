/**
 * Pin paths must live on a bpf filesystem: refuse anything else with a clear
 * error before the kernel answers with a bare EPERM or ENOENT.
 */
import { lstatSync, statfsSync, unlinkSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { TsbpfError } from '../errors.ts';
import { ensureMounted, FsMagic, MountError } from '../syscall/mount.ts';

const BPF_FS_MAGIC = FsMagic.BPF;
/** Where bpffs lives by convention; mounted on demand like bpftool does. */
export const BPFFS_ROOT = '/sys/fs/bpf';

export class PinPathError extends TsbpfError {
  declare readonly code: 'BAD_PIN_PATH';
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

/**
 * A path at or under /sys/fs/bpf needs bpffs there: mount it when it is
 * missing (a fresh machine may not mount it at boot), as bpftool does.
 */
export function ensureBpffsFor(path: string): void {
  if (path !== BPFFS_ROOT && !path.startsWith(BPFFS_ROOT + '/')) return;
  try {
    ensureMounted('bpf', BPFFS_ROOT, BPF_FS_MAGIC, 'BAD_PIN_PATH');
  } catch (e) {
    if (e instanceof MountError) throw new PinPathError(path, e.message);
    throw e;
  }
}

/**
 * Create a pin directory and its parents (mounting bpffs first when the path
 * is under /sys/fs/bpf). One component at a time: Node's recursive mkdirSync
 * loops forever when sysfs answers EPERM (a /sys/fs/bpf without bpffs).
 */
export function makePinDir(dir: string): void {
  if (!dir || dir.includes('\0')) throw new PinPathError(dir, 'needs a directory path without NUL bytes');
  const abs = resolve(dir);
  ensureBpffsFor(abs);
  const parts = abs.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = '/' + parts.slice(0, i).join('/');
    if (existsSync(p)) continue;
    try {
      mkdirSync(p);
    } catch (e) {
      throw new PinPathError(dir, `cannot create ${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
}

/** Check that `path` can be pinned to (`pin`) or opened from (`open`). */
export function checkPinPath(path: string, mode: 'pin' | 'open'): void {
  // A non-string would reach node:path as an untyped TypeError.
  if (typeof path !== 'string') throw new PinPathError(typeof path, 'must be a string');
  if (!path || !isAbsolute(path)) throw new PinPathError(path, 'must be an absolute path on bpffs (e.g. /sys/fs/bpf/name)');
  if (path.includes('\0')) throw new PinPathError(path, 'contains a NUL byte');
  const dir = dirname(path);
  ensureBpffsFor(dir);
  // bpffs refuses names with a dot (its lookup returns EPERM for them).
  if (mode === 'pin' && basename(path).includes('.')) throw new PinPathError(path, "bpffs does not allow '.' in names (libbpf pins '.data' as '_data')");
  if (!existsSync(dir)) throw new PinPathError(path, `directory ${dir} does not exist`);
  if (!isBpffs(dir)) {
    throw new PinPathError(path, `${dir} is not on a bpf filesystem (pin under /sys/fs/bpf, where tsbpf mounts bpffs when it is missing)`);
  }
  // Only a path that surely is not there: a directory closed to us (EACCES) is the kernel's to report.
  if (mode === 'open' && !existsSync(path) && lstatCode(path) === 'ENOENT') throw new PinPathError(path, 'nothing is pinned there');
}

function lstatCode(path: string): string | undefined {
  try {
    lstatSync(path);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `name` (from an object file: data, not a path) cannot be a file name
 * inside a pin directory, or undefined when it can. Nothing that could leave
 * the directory ('/', '.', '..') or that a terminal or bpffs would mangle
 * (NUL, control bytes, bytes that were not UTF-8, which decode as U+FFFD).
 */
export function badPinName(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'the name is empty';
  if (name.length > 255) return 'the name is longer than 255 characters';
  if (name.includes('/')) return "the name contains '/'";
  if (name.includes('.')) return "the name contains '.' (bpffs refuses dots; '..' would leave the pin directory)";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'the name contains NUL or control characters';
  if (name.includes('\ufffd') || LONE_SURROGATE.test(name)) return 'the name is not valid UTF-8';
  return undefined;
}

/** The path for pinning `name` by name under `dir`; a name that is not a plain file name is a PinPathError. */
export function pinPathFor(dir: string, name: string): string {
  const why = badPinName(name);
  if (why) throw new PinPathError(`${dir}/${JSON.stringify(String(name)).slice(1, -1)}`, `pinning by name: ${why}`);
  return join(dir, name);
}

/** Remove a pin; only paths on bpffs are touched. */
export function unpinPath(path: string): void {
  checkPinPath(path, 'open');
  unlinkSync(path);
}
