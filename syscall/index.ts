/** The syscall layer's public face for bpf/: everything bpf/ files import from syscall/. */
export * from './bpf.ts';
export * from './attr.ts';
export * from './errors.ts';
export * from './errno.ts';
export * from './caps.ts';
export * from './cpus.ts';
export * from './fd.ts';
export * from './memory.ts';
export * from './mmap.ts';
export * from './perf.ts';
export * from './ioctl.ts';
export * from './uname.ts';
export * from './rlimit.ts';
export * from './socket.ts';
export { addressOf } from './libc.ts';
export * from './perf-attr.ts';
export * from './netlink.ts';
export * from './commands.ts';
