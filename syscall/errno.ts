/** errno numbers to their symbolic names (libc's table plus kernel-internal values). */
import koffi from 'koffi';
import { ERRNO_NAMES, type ErrnoName } from '../errors.ts';

/** Kernel-internal errno values that escape through bpf(2) but are not in libc's table. */
const KERNEL_ONLY: Record<number, ErrnoName> = {
  512: 'ERESTARTSYS',
  524: 'ENOTSUPP',
};

let names: Map<number, ErrnoName> | undefined;

/** The symbolic name of an errno value, e.g. 2 -> 'ENOENT'. */
export function errnoName(errno: number): ErrnoName {
  if (!names) {
    names = new Map();
    const table: Partial<Record<string, number>> = koffi.os.errno;
    // Several names share a value (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK): keep the first, canonical one.
    const preferred = new Set<ErrnoName>(['EAGAIN', 'EDEADLK', 'ENOTSUP', 'EOPNOTSUPP']);
    // The names come from ERRNO_NAMES (so each is an ErrnoName), their values from the C library.
    for (const name of ERRNO_NAMES) {
      const value = table[name];
      if (value === undefined) continue;
      if (!names.has(value) || preferred.has(name)) names.set(value, name);
    }
    names.set(95, 'EOPNOTSUPP');
    for (const [v, n] of Object.entries(KERNEL_ONLY)) names.set(Number(v), n);
  }
  return names.get(errno) ?? `E${errno}`;
}

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ELOOP: 40,
  EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;
