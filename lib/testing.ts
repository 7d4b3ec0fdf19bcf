/**
 * tsbpf/testing: the seam tests use to watch or replace every bpf(2) call
 * (counting calls, injecting errno values). Not part of the main entry:
 * a program that imports it can make the library lie.
 */
export { setBpfBackend, BpfCmd, type BpfBackend, type AttrRef } from '../syscall/bpf.ts';
