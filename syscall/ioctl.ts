/** ioctl(2) on an fd, errno turned into a typed BpfError. */
import { BpfError } from './errors.ts';
import { lastErrno, libc } from './libc.ts';

export function ioctl(fd: number, request: number, arg: number, what = 'ioctl'): number {
  const r = libc().ioctl(fd, request, arg);
  if (r < 0) throw new BpfError(what, lastErrno());
  return r;
}
