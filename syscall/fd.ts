/** File descriptors: close exactly once, duplicate with O_CLOEXEC. */
import { TsbpfError } from '../errors.ts';
import { BpfError } from './errors.ts';
import { lastErrno, libc } from './libc.ts';

const F_DUPFD_CLOEXEC = 1030;

let openFds = 0;

/** Close an fd; the caller guarantees it owns it and closes it once. */
export function closeFd(fd: number): void {
  if (fd < 0) return;
  libc().close(fd);
  openFds--;
}

/** Record that the library took ownership of a new fd (for leak accounting in tests). */
export function adoptFd(fd: number): number {
  openFds++;
  return fd;
}

/** Number of fds the library currently owns. */
export function ownedFdCount(): number {
  return openFds;
}

/** Duplicate an fd (close-on-exec); the copy belongs to the caller. */
export function dupFd(fd: number): number {
  // koffi would truncate 2**32 + n to fd n (or throw a TypeError for a non-number): refuse both.
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new TsbpfError('BAD_ARGUMENT', `fd must be an integer in [0, 2^31), got ${describe(fd)}`);
  }
  const r = libc().fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (r < 0) throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', lastErrno());
  return adoptFd(r);
}

function describe(v: unknown): string {
  return typeof v === 'symbol' || typeof v === 'object' ? typeof v : String(v);
}
