/**
 * The running kernel's BTF: vmlinux and module BTF from /sys/kernel/btf,
 * found, mapped (or read) and parsed once per process, and the cache that
 * holds them. The loader's CO-RE, ksyms and attach targets resolve here.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { Btf, parseReadOnlyBtf } from '../../btf/btf.ts';
import { TsbpfError } from '../../errors.ts';
import { copyMapped, mapReadOnlyForever } from '../../syscall/mmap.ts';

/**
 * The bytes of a BTF file, in ordinary writable memory the caller owns.
 * Files in /sys/kernel/btf are mapped read-only when the kernel allows it
 * (Linux 6.16+), copied out and unmapped at once: a sysfs read(2) takes one
 * call per 4 KiB page (~2-6 ms for vmlinux's 5.5 MB), the copy ~1 ms. The
 * mapping itself is never handed out: a write through any view of it (say
 * into `kernelBtf().strings`) would be a SIGSEGV, not an exception, and the
 * kernel refuses a writable mapping. Other files, and kernels that refuse
 * the mapping, are read.
 */
export function readBtfFile(path: string): Uint8Array {
  // The kernel refuses the mapping before Linux 6.16, and for module BTF: then read.
  return (path.startsWith('/sys/kernel/btf/') ? mapVia(path, copyMapped) : undefined) ?? readFileSync(path);
}

/** `map(fd, size)` of the open file at `path`, closed after; undefined when it fails (no libc binding, a refused mapping). */
function mapVia(path: string, map: (fd: number, length: number) => Uint8Array | undefined): Uint8Array | undefined {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    return map(fd, fstatSync(fd).size);
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

let vmlinux: Btf | undefined;
/** The process's one mapping of /sys/kernel/btf/vmlinux (null: the kernel refused it), kept across dropKernelBtfCache. */
let mapped: Uint8Array | null | undefined;

/**
 * vmlinux's BTF mapped read-only for the life of the process (Linux 6.16+):
 * its pages are the kernel's, so a first load neither copies 5-6 MB nor
 * faults in as many fresh pages (~1 ms against ~6 ms here). The Btf parsed
 * over it hands out copies, never views of it (see parseReadOnlyBtf).
 */
function mappedVmlinux(): Uint8Array | undefined {
  if (mapped === undefined) mapped = mapVia('/sys/kernel/btf/vmlinux', mapReadOnlyForever) ?? null;
  return mapped ?? undefined;
}

/** The running kernel's BTF, parsed once (lazily: types decode on demand). */
export function kernelBtf(): Btf {
  if (!vmlinux) {
    if (!existsSync('/sys/kernel/btf/vmlinux')) throw new TsbpfError('NO_KERNEL_BTF', 'this kernel has no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF); pass kernelBtf');
    const view = mappedVmlinux();
    vmlinux = view ? parseReadOnlyBtf(view) : Btf.parse(readBtfFile('/sys/kernel/btf/vmlinux'));
  }
  return vmlinux;
}

let modules: Btf[] | undefined;
/** Split BTF of every loaded kernel module (/sys/kernel/btf/<module>), parsed once on top of vmlinux. */
export function kernelModuleBtfs(): Btf[] {
  if (modules) return modules;
  const base = kernelBtf();
  const list: Btf[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux');
  } catch {
    names = [];
  }
  for (const n of names) {
    try {
      list.push(Btf.parse(readFileSync(`/sys/kernel/btf/${n}`), { base }));
    } catch {
      // A module unloaded meanwhile, or BTF we cannot read: CO-RE just has fewer candidates.
    }
  }
  return (modules = list);
}

/** Forget the cached kernel BTF (benchmarks measure the cold path with it; tests of BTF reloads). */
export function dropKernelBtfCache(): void {
  vmlinux = undefined;
  modules = undefined;
}

