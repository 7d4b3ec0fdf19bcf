/** setsockopt(2), for attaching socket filters (SO_ATTACH_BPF) and reuseport programs. */
import { BpfError } from './errors.ts';
import { lastErrno, libc } from './libc.ts';
import { NativeBlock } from './memory.ts';

export const SOL_SOCKET = 1;
export const SO_ATTACH_BPF = 50;
export const SO_DETACH_BPF = 27;
export const SO_ATTACH_REUSEPORT_EBPF = 52;

/** setsockopt with an int value (the form the BPF socket options take). */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const b = new NativeBlock(8);
  try {
    b.view.setInt32(0, value, true);
    if (libc().setsockopt(fd, level, name, b.addr, 4) < 0) throw new BpfError('setsockopt', lastErrno());
  } finally {
    b.free();
  }
}
