/**
 * Reading an untrusted object or BTF file: a regular file only (a FIFO,
 * device or directory could block or never end: /dev/zero is endless), told
 * by fstat on the open descriptor (a stat before open races with a rename),
 * and at most {@link MAX_FILE_BYTES}. Errors are typed and name the path.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { TsbpfError, type ErrnoName, type FileReadErrorCode } from '../errors.ts';

/**
 * Largest file read: 1 GiB. BPF objects are kilobytes to a few megabytes and
 * vmlinux BTF ~5 MB; an ELF vmlinux with full debug info (a source of .BTF) is
 * a few hundred megabytes. Anything bigger is not what these readers parse.
 */
export const MAX_FILE_BYTES = 1 << 30;

/**
 * Codes: the errno name from open/read (`ENOENT`, `EACCES`, `EISDIR`, ...),
 * `FILE_NOT_REGULAR` (a device, FIFO, socket or directory), `FILE_TOO_LARGE`.
 */
export class FileReadError extends TsbpfError {
  declare readonly code: FileReadErrorCode;
  readonly path: string;
  constructor(code: FileReadErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.path = path;
  }
}

function describeMode(mode: number): string {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFDIR:
      return 'a directory';
    case constants.S_IFCHR:
      return 'a character device';
    case constants.S_IFBLK:
      return 'a block device';
    case constants.S_IFIFO:
      return 'a FIFO';
    case constants.S_IFSOCK:
      return 'a socket';
    default:
      return 'not a regular file';
  }
}

/** The whole of regular file `path` (`what` names it in messages: 'BPF object', 'BTF file'). */
export function readRegularFile(path: string, what = 'file', maxBytes = MAX_FILE_BYTES): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing for regular files.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw sysError(e, path, what, 'open');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileReadError('FILE_NOT_REGULAR', path, `${what} ${path} is ${describeMode(st.mode)}, not a regular file`);
    if (st.size > maxBytes) throw tooLarge(path, what, st.size, maxBytes);
    // The size is a hint (sysfs and procfs files may report another): read to EOF, never past the cap.
    let buf = Buffer.allocUnsafe(Math.max(st.size, 4096) + 1);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        if (len > maxBytes) throw tooLarge(path, what, len, maxBytes);
        const grown = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(grown, 0, 0, len);
        buf = grown;
      }
      let n: number;
      try {
        n = readSync(fd, buf, len, buf.length - len, null);
      } catch (e) {
        throw sysError(e, path, what, 'read');
      }
      if (n === 0) break;
      len += n;
    }
    if (len > maxBytes) throw tooLarge(path, what, len, maxBytes);
    return buf.subarray(0, len);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, what: string, size: number, max: number): FileReadError {
  return new FileReadError('FILE_TOO_LARGE', path, `${what} ${path} is ${size} bytes or more; at most ${max} are read`);
}

function sysError(e: unknown, path: string, what: string, op: string): FileReadError {
  // Node names a failed open/read by its errno (libuv's name for it).
  const code = ((e as NodeJS.ErrnoException)?.code ?? 'EIO') as ErrnoName;
  return new FileReadError(code, path, `cannot ${op} ${what} ${path}: ${code}`, { cause: e });
}
