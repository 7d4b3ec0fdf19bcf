/** errno numbers to their symbolic names (libc's table plus kernel-internal values). */
import koffi from 'koffi';

/** Kernel-internal errno values that escape through bpf(2) but are not in libc's table. */
const KERNEL_ONLY: Record<number, string> = {
  512: 'ERESTARTSYS',
  524: 'ENOTSUPP',
};

let names: Map<number, string> | undefined;

/** The symbolic name of an errno value, e.g. 2 -> 'ENOENT'. */
export function errnoName(errno: number): string {
  if (!names) {
    names = new Map();
    const table = koffi.os.errno;
    // Several names share a value (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK): keep the first, canonical one.
    const preferred = new Set(['EAGAIN', 'EDEADLK', 'ENOTSUP', 'EOPNOTSUPP']);
    for (const [name, value] of Object.entries(table)) {
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
