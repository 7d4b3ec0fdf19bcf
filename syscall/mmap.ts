/**
 * mmap/munmap, with one set of constants and one MAP_FAILED check.
 *
 * - `Mapping` (array maps, kernel BTF): hands out its ArrayBuffer only while
 *   mapped; after `unmap()` the memory is gone and touching an old view is a
 *   SIGSEGV, not an exception, so owners must drop every view before unmapping.
 * - `RingMapping` (ring and perf buffers, whose records users keep views of):
 *   a release cannot turn a stale view into a SIGSEGV. Releasing replaces the
 *   ring's pages with an anonymous private mapping at the same address (mmap
 *   MAP_FIXED), which drops the kernel object at once; the placeholder itself
 *   is unmapped when the garbage collector has proven that no ArrayBuffer over
 *   it is left. A view kept past close() therefore reads zeros instead of
 *   crashing the process.
 */
import { TsbpfError } from '../errors.ts';
import { BpfError } from './errors.ts';
import { lastErrno, libc, pointerAddress, viewOf } from './libc.ts';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;

/** Whether mmap's result is MAP_FAILED ((void *)-1, or an -errno "address" in the last page). */
export function isMapFailed(ptr: unknown): boolean {
  if (!ptr) return true;
  const a = pointerAddress(ptr);
  return a === 0 || a === -1 || a >= 2 ** 64 - 4096;
}

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
  if (isMapFailed(ptr)) throw new BpfError(what, lastErrno());
  return new Mapping(ptr, length);
}

/**
 * Copy `length` bytes of `fd` out through a private read-only mapping, unmapped
 * before returning; undefined when the kernel refuses the mapping (sysfs files
 * before Linux 6.16). No view of the mapping survives the call.
 */
export function copyMapped(fd: number, length: number): Uint8Array | undefined {
  if (length <= 0) return undefined;
  const ptr = libc().mmap(0, length, PROT_READ, MAP_PRIVATE, fd, 0);
  if (isMapFailed(ptr)) return undefined;
  const copy = Buffer.allocUnsafeSlow(length);
  try {
    copy.set(new Uint8Array(viewOf(ptr, length)));
  } finally {
    libc().munmap(ptr, length);
  }
  return copy;
}

/**
 * A private read-only mapping of `length` bytes of `fd` that is never unmapped:
 * views of it may be anywhere, and one touched after munmap is a SIGSEGV. For a
 * file that does not change while the process runs (the kernel's vmlinux BTF,
 * mapped once per process): its pages are the kernel's, mapped rather than
 * copied. A write through the view is a SIGSEGV too: give it only to readers
 * that never write. Undefined when the kernel refuses the mapping.
 */
export function mapReadOnlyForever(fd: number, length: number): Uint8Array | undefined {
  if (length <= 0) return undefined;
  const ptr = libc().mmap(0, length, PROT_READ, MAP_PRIVATE, fd, 0);
  if (isMapFailed(ptr)) return undefined;
  return new Uint8Array(viewOf(ptr, length));
}

let page = 0;
export function pageSize(): number {
  page ||= libc().sysconf(30 /* _SC_PAGESIZE */);
  return page;
}

// ---------------------------------------------------------------- ring mappings


interface Placeholder {
  ptr: unknown;
  length: number;
}

let placeholdersLive = 0;
const placeholders = new FinalizationRegistry<Placeholder>((p) => {
  libc().munmap(p.ptr, p.length);
  placeholdersLive--;
});

/** Placeholders still waiting for the GC to collect their last view (for tests). */
export function livePlaceholders(): number {
  return placeholdersLive;
}

/** What the finalizer of a RingMapping dropped without release() needs: never the mapping, the buffer only weakly. */
interface DroppedRing {
  ptr: unknown;
  length: number;
  buffer: WeakRef<ArrayBuffer> | undefined;
}

/** A ring dropped without release() is unmapped when collected, or once its last view is garbage too. */
const droppedRings = new FinalizationRegistry<DroppedRing>((d) => {
  const b = d.buffer?.deref();
  if (!b) {
    libc().munmap(d.ptr, d.length);
    return;
  }
  placeholdersLive++;
  placeholders.register(b, { ptr: d.ptr, length: d.length });
});

/** A shared mapping of an fd (a ring), released once and safely (see the file comment). */
export class RingMapping {
  readonly length: number;
  readonly addr: number;
  #ptr: unknown;
  #buffer: ArrayBuffer | undefined;
  readonly #dropped: DroppedRing;

  private constructor(ptr: unknown, length: number) {
    this.#ptr = ptr;
    this.length = length;
    this.addr = pointerAddress(ptr);
    this.#dropped = { ptr, length, buffer: undefined };
    droppedRings.register(this, this.#dropped, this);
  }

  static map(fd: number, length: number, prot: number, offset: number, what: string): RingMapping {
    const ptr = libc().mmap(0, length, prot, MAP_SHARED, fd, offset);
    if (isMapFailed(ptr)) throw new BpfError(what, lastErrno());
    return new RingMapping(ptr, length);
  }

  get mapped(): boolean {
    return this.#ptr !== undefined;
  }

  /** One ArrayBuffer over the mapped bytes (no copy), the same on every call. Throws once released. */
  get buffer(): ArrayBuffer {
    if (this.#ptr === undefined) throw new TsbpfError('UNMAPPED', 'tsbpf: ring mapping used after release');
    if (!this.#buffer) {
      this.#buffer = viewOf(this.#ptr, this.length);
      this.#dropped.buffer = new WeakRef(this.#buffer);
    }
    return this.#buffer;
  }

  /**
   * Drop the ring (once; later calls do nothing). Without a view ever made,
   * a plain munmap. Otherwise the pages become anonymous zero pages at the same
   * address, unmapped by the FinalizationRegistry when the view is collected.
   */
  release(): void {
    const ptr = this.#ptr;
    if (ptr === undefined) return;
    this.#ptr = undefined;
    droppedRings.unregister(this);
    const buf = this.#buffer;
    this.#buffer = undefined;
    if (!buf) {
      libc().munmap(ptr, this.length);
      return;
    }
    const r = libc().mmap(this.addr, this.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    // Should MAP_FIXED fail (ENOMEM), the ring itself stays mapped until the view is gone: still never a dangling view.
    void isMapFailed(r);
    placeholdersLive++;
    placeholders.register(buf, { ptr, length: this.length });
  }
}
