/**
 * The koffi bindings to libc. This file and the rest of syscall/ are the only
 * code that touches koffi. Everything is bound lazily on first use, so that
 * importing tsbpf for its pure modules (ELF, BTF) never loads a native module.
 */
import koffi from 'koffi';
import { TsbpfError } from '../errors.ts';

// x86-64 and arm64 syscall numbers; tsbpf targets 64-bit Linux only.
const SYSCALLS: Record<string, { bpf: number; perf_event_open: number }> = {
  x64: { bpf: 321, perf_event_open: 298 },
  arm64: { bpf: 280, perf_event_open: 241 },
};

export interface Libc {
  /** `long syscall(long nr, long a, uintptr_t b, long c)`: a fixed prototype, not the slower variadic one. */
  syscall3(nr: number, a: number, b: number, c: number): number;
  /** `long syscall(long nr, uintptr_t a, long b, long c, long d, long e)` for perf_event_open. */
  syscall5(nr: number, a: number, b: number, c: number, d: number, e: number): number;
  close(fd: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  ioctl(fd: number, request: number, arg: number): number;
  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): unknown;
  munmap(addr: unknown, length: number): number;
  setsockopt(fd: number, level: number, name: number, value: number, len: number): number;
  getrlimit(resource: number, rlim: number): number;
  setrlimit(resource: number, rlim: number): number;
  malloc(size: number): unknown;
  free(ptr: unknown): void;
  open(path: string, flags: number, mode: number): number;
  read(fd: number, buf: number, len: number): number;
  write(fd: number, buf: number, len: number): number;
  sysconf(name: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, event: number): number;
  epoll_wait(epfd: number, events: number, maxevents: number, timeout: number): number;
  mount(source: string, target: string, fstype: string, flags: number, data: null): number;
}

export const nr = SYSCALLS[process.arch] ?? SYSCALLS['x64']!;

let bound: Libc | undefined;

export function libc(): Libc {
  if (bound) return bound;
  if (process.platform !== 'linux') throw new TsbpfError('NOT_LINUX', 'tsbpf needs Linux');
  const lib = koffi.load('libc.so.6');
  bound = {
    syscall3: lib.func('syscall', 'long', ['long', 'long', 'uintptr_t', 'long']),
    syscall5: lib.func('syscall', 'long', ['long', 'uintptr_t', 'long', 'long', 'long', 'long']),
    close: lib.func('close', 'int', ['int']),
    fcntl: lib.func('fcntl', 'int', ['int', 'int', 'int']),
    ioctl: lib.func('ioctl', 'int', ['int', 'unsigned long', 'uintptr_t']),
    mmap: lib.func('mmap', 'void *', ['uintptr_t', 'size_t', 'int', 'int', 'int', 'int64_t']),
    munmap: lib.func('munmap', 'int', ['void *', 'size_t']),
    setsockopt: lib.func('setsockopt', 'int', ['int', 'int', 'int', 'uintptr_t', 'uint32_t']),
    getrlimit: lib.func('getrlimit', 'int', ['int', 'uintptr_t']),
    setrlimit: lib.func('setrlimit', 'int', ['int', 'uintptr_t']),
    malloc: lib.func('malloc', 'void *', ['size_t']),
    free: lib.func('free', 'void', ['void *']),
    open: lib.func('open', 'int', ['str', 'int', 'int']),
    read: lib.func('read', 'long', ['int', 'uintptr_t', 'size_t']),
    write: lib.func('write', 'long', ['int', 'uintptr_t', 'size_t']),
    sysconf: lib.func('sysconf', 'long', ['int']),
    epoll_create1: lib.func('epoll_create1', 'int', ['int']),
    epoll_ctl: lib.func('epoll_ctl', 'int', ['int', 'int', 'int', 'uintptr_t']),
    epoll_wait: lib.func('epoll_wait', 'int', ['int', 'uintptr_t', 'int', 'int']),
    mount: lib.func('mount', 'int', ['str', 'str', 'str', 'unsigned long', 'void *']),
  };
  return bound;
}

/** errno of the last failed libc call; read it right after the call. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Address of a JS buffer's memory, to place in an attr. The caller keeps the buffer alive across the call. */
export function addressOf(buf: Uint8Array): number {
  if (buf.byteLength === 0) return 0;
  return Number(koffi.address(buf));
}

/** An ArrayBuffer over native memory, without copying. Never touch it after the memory is freed or unmapped. */
export function viewOf(ptr: unknown, length: number): ArrayBuffer {
  return koffi.view(ptr, length);
}

export function pointerAddress(ptr: unknown): number {
  return Number(koffi.address(ptr));
}

export { koffi };
