/**
 * mmap/munmap. A Mapping hands out its ArrayBuffer only while mapped; after
 * `unmap()` the memory is gone and touching an old view is a SIGSEGV, not an
 * exception, so owners must drop every view before unmapping.
 */
import { TsbpfError } from '../errors.ts';
import { BpfError } from './errors.ts';
import { lastErrno, libc, pointerAddress, viewOf } from './libc.ts';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** What the finalizer of a dropped Mapping needs: never the Mapping, and the buffer only weakly. */
interface DroppedMapping {
  ptr: unknown;
  length: number;
  buffer: WeakRef<ArrayBuffer> | undefined;
}

/** Unmaps once the last view of a dropped mapping's buffer is garbage. */
const lastView = new FinalizationRegistry<{ ptr: unknown; length: number }>(({ ptr, length }) => libc().munmap(ptr, length));

/**
 * A Mapping dropped without unmap() (say with a Collection never closed) is
 * unmapped when collected; if a view of its buffer is still reachable, only
 * once that view is garbage too, so no live view ever dangles.
 */
const dropped = new FinalizationRegistry<DroppedMapping>((d) => {
  const b = d.buffer?.deref();
  if (b) lastView.register(b, { ptr: d.ptr, length: d.length });
  else libc().munmap(d.ptr, d.length);
});

export class Mapping {
  readonly length: number;
  readonly addr: number;
  #ptr: unknown;
  #buffer: ArrayBuffer | undefined;
  readonly #dropped: DroppedMapping;

  constructor(ptr: unknown, length: number) {
    this.#ptr = ptr;
    this.length = length;
    this.addr = pointerAddress(ptr);
    this.#dropped = { ptr, length, buffer: undefined };
    dropped.register(this, this.#dropped, this);
  }

  get mapped(): boolean {
    return this.#ptr !== undefined;
  }

  /** The mapped bytes, without a copy. Throws once unmapped. */
  get buffer(): ArrayBuffer {
    if (this.#ptr === undefined) throw new TsbpfError('UNMAPPED', 'tsbpf: mapping used after unmap');
    if (!this.#buffer) {
      this.#buffer = viewOf(this.#ptr, this.length);
      this.#dropped.buffer = new WeakRef(this.#buffer);
    }
    return this.#buffer;
  }

  /** Unmap once; later calls do nothing. */
  unmap(): void {
    if (this.#ptr === undefined) return;
    dropped.unregister(this);
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
