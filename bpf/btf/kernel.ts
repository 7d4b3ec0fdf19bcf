/**
 * The running kernel's BTF: vmlinux and module BTF from /sys/kernel/btf,
 * found, mapped (or read) and parsed once per process, and the cache that
 * holds them. The loader's CO-RE, ksyms and attach targets resolve here.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { Btf } from '../../btf/btf.ts';
import { TsbpfError } from '../../errors.ts';
import { libc, pointerAddress, viewOf } from '../../syscall/libc.ts';
import { PROT_READ } from '../../syscall/mmap.ts';

const MAP_PRIVATE = 2;
/**
 * BTF file mappings handed out and not unmapped yet. V8 neither counts
 * mapped memory nor runs finalizers inside a synchronous loop, so a loop
 * that drops and reloads the kernel BTF would pile mappings up: past this
 * many, the mapped bytes are copied (~1 ms for vmlinux) and unmapped at
 * once. A live mapping costs address space and ~11 KiB of page tables for
 * vmlinux's 5.5 MB (the pages are the kernel's, not the process's).
 */
let liveMappings = 0;
const MAX_LIVE_MAPPINGS = 32;
/** Unmaps a BTF file mapping once its ArrayBuffer (and so every view of it) is garbage. */
const unmapper = new FinalizationRegistry<{ ptr: unknown; length: number }>(({ ptr, length }) => {
  liveMappings--;
  libc().munmap(ptr, length);
});

/**
 * The bytes of a BTF file. Files in /sys/kernel/btf are mapped read-only
 * when the kernel allows it (Linux 6.16+; libbpf 1.6 does the same): reading
 * vmlinux takes one read(2) per 4 KiB page (sysfs), ~2-6 ms for 5.5 MB, more
 * than parsing it; mapping it takes 0.05 ms. The mapping lives as long as the
 * returned bytes (or any view of them) are reachable; it is read-only (a
 * write is a SIGSEGV, not an exception). Other files, and kernels that
 * refuse the mapping, are read.
 */
export function readBtfFile(path: string): Uint8Array {
  if (path.startsWith('/sys/kernel/btf/')) {
    let fd = -1;
    try {
      fd = openSync(path, 'r');
      const length = fstatSync(fd).size;
      const ptr = length > 0 ? libc().mmap(0, length, PROT_READ, MAP_PRIVATE, fd, 0) : undefined;
      const addr = ptr ? pointerAddress(ptr) : 0;
      // MAP_FAILED is (void *)-1: EINVAL/EACCES before Linux 6.16, and for module BTF.
      if (addr !== 0 && addr !== -1 && addr < 2 ** 64 - 4096) {
        const ab = viewOf(ptr, length);
        if (liveMappings < MAX_LIVE_MAPPINGS) {
          liveMappings++;
          unmapper.register(ab, { ptr, length });
          return new Uint8Array(ab);
        }
        const copy = Buffer.allocUnsafeSlow(length);
        copy.set(new Uint8Array(ab));
        libc().munmap(ptr, length);
        return copy;
      }
    } catch {
      // No mapping (e.g. no libc binding): read the file.
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  return readFileSync(path);
}

let vmlinux: Btf | undefined;
/** The running kernel's BTF, parsed once (lazily: types decode on demand). */
export function kernelBtf(): Btf {
  if (!vmlinux) {
    if (!existsSync('/sys/kernel/btf/vmlinux')) throw new TsbpfError('NO_KERNEL_BTF', 'this kernel has no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF); pass kernelBtf');
    vmlinux = Btf.parse(readBtfFile('/sys/kernel/btf/vmlinux'));
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

