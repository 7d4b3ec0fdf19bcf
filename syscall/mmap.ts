/**
 * mmap/munmap. A Mapping hands out its ArrayBuffer only while mapped; after
 * `unmap()` the memory is gone and touching an old view is a SIGSEGV, not an
 * exception, so owners must drop every view before unmapping.
 */
import { BpfError } from './errors.ts';
import { lastErrno, libc, pointerAddress, viewOf } from './libc.ts';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

export class Mapping {
  readonly length: number;
  readonly addr: number;
  #ptr: unknown;
  #buffer: ArrayBuffer | undefined;

  constructor(ptr: unknown, length: number) {
    this.#ptr = ptr;
    this.length = length;
    this.addr = pointerAddress(ptr);
  }

  get mapped(): boolean {
    return this.#ptr !== undefined;
  }

  /** The mapped bytes, without a copy. Throws once unmapped. */
  get buffer(): ArrayBuffer {
    if (this.#ptr === undefined) throw new Error('tsbpf: mapping used after unmap');
    this.#buffer ??= viewOf(this.#ptr, this.length);
    return this.#buffer;
  }

  /** Unmap once; later calls do nothing. */
  unmap(): void {
    if (this.#ptr === undefined) return;
    libc().munmap(this.#ptr, this.length);
    this.#ptr = undefined;
    this.#buffer = undefined;
  }
}

export function mmapFd(fd: number, length: number, prot: number, offset = 0, what = 'mmap'): Mapping {
  const ptr = libc().mmap(0, length, prot, MAP_SHARED, fd, offset);
  const addr = ptr ? pointerAddress(ptr) : 0;
  // MAP_FAILED is (void *)-1.
  if (!ptr || addr === 0 || addr >= 2 ** 64 - 4096 || addr === -1) throw new BpfError(what, lastErrno());
  return new Mapping(ptr, length);
}

let page = 0;
export function pageSize(): number {
  page ||= libc().sysconf(30 /* _SC_PAGESIZE */);
  return page;
}
