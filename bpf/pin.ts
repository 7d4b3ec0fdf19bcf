/**
 * Pin paths must live on a bpf filesystem: refuse anything else with a clear
 * error before the kernel answers with a bare EPERM or ENOENT.
 */
import { statfsSync, unlinkSync, existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { TsbpfError } from '../lib/errors.ts';

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
