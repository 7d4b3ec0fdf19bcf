/**
 * Event-stream plumbing: the only koffi the ring buffer and perf buffer
 * readers need, kept in syscall/ like every other native call.
 *
 * - `FdWatch`: an fd watched on Node's own event loop (koffi.node.poll, i.e. a
 *   libuv uv_poll handle, i.e. epoll). No thread pool, no busy loop: the
 *   callback runs on the main thread when the kernel reports the fd ready.
 * - `RingMapping`: an mmap of a ring whose release cannot turn a stale view
 *   into a SIGSEGV. Releasing it replaces the ring's pages with an anonymous
 *   private mapping at the same address (mmap MAP_FIXED), which drops the
 *   kernel object at once; the placeholder itself is unmapped when the
 *   garbage collector has proven that no ArrayBuffer over it is left. A view
 *   kept past close() therefore reads zeros instead of crashing the process.
 */
import { TsbpfError } from '../errors.ts';
import { BpfError } from './errors.ts';
import { adoptFd, closeFd } from './fd.ts';
import { addressOf, koffi, lastErrno, libc, pointerAddress, viewOf } from './libc.ts';

// ---------------------------------------------------------------- fd watches

export interface PollEvents {
  readable: boolean;
  writable: boolean;
}

interface KoffiPollHandle {
  start(opts: { readable?: boolean; writable?: boolean }, cb: (status: number, ev: PollEvents) => void): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

/**
 * One fd on the event loop. libuv allows one watch per fd number per loop, so
 * owners watch an fd they own (a dup). `close()` removes the fd from epoll
 * synchronously (uv_close invalidates it), so the fd may be closed right after.
 */
export class FdWatch {
  readonly fd: number;
  #h: KoffiPollHandle | undefined;
  #active = false;
  #closed = false;
  readonly #want: { readable: boolean; writable: boolean };
  readonly #cb: (status: number, ev: PollEvents) => void;

  /** `onEvent(status, events)`: status < 0 is a libuv error (e.g. the fd went bad). */
  constructor(fd: number, want: { readable?: boolean; writable?: boolean }, onEvent: (status: number, ev: PollEvents) => void) {
    this.fd = fd;
    this.#want = { readable: !!want.readable, writable: !!want.writable };
    this.#cb = onEvent;
  }

  get active(): boolean {
    return this.#active;
  }

  /** Start watching (idempotent). The handle keeps the event loop alive while active. */
  start(): void {
    if (this.#closed || this.#active) return;
    if (!this.#h) {
      const h = (koffi.node.poll as unknown as (fd: number, o: object, cb: (s: number, e: PollEvents) => void) => KoffiPollHandle | null)(
        this.fd,
        this.#want,
        this.#cb,
      );
      if (!h) throw new BpfError('uv_poll_start', 22 /* EINVAL */, { object: `fd ${this.fd}` });
      this.#h = h;
    } else {
      this.#h.start(this.#want, this.#cb);
    }
    this.#active = true;
  }

  /** Stop watching (idempotent); start() again later. */
  stop(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#h?.stop();
  }

  /** Whether the handle keeps Node's event loop alive (it does by default). */
  setRef(ref: boolean): void {
    if (ref) this.#h?.ref();
    else this.#h?.unref();
  }

  /** Release the handle for good. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#active = false;
    this.#h?.close();
    this.#h = undefined;
  }
}

// ---------------------------------------------------------------- epoll sets

const EPOLL_CLOEXEC = 0x80000;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 0x001;
const EPOLLOUT = 0x004;
const EPOLLET = 1 << 31;
/** struct epoll_event: u32 events + u64 data, packed (12 bytes) on x86-64, 16 elsewhere. */
const EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const DRAIN_BATCH = 64;

/**
 * One epoll set of our own for all the fds of a reader, each registered once,
 * edge-triggered, watched on Node's loop through its single epoll fd (which
 * stays watched for the set's life: see Wakeup).
 *
 * Why not one uv_poll per fd, started and stopped per wait: perf fds report
 * readiness destructively (perf_poll swaps rb->poll to 0), and re-adding an fd
 * to epoll polls it once to queue it and once more to report it, so a wake-up
 * that came in between is consumed by the first poll and never reported:
 * records then sit unread until the next wake-up. Registered once, every
 * wake-up reaches the set's ready list through its wait-queue callback.
 */
export class EpollSet {
  readonly fd: number;
  readonly #events = new Uint8Array(EVENT_SIZE * DRAIN_BATCH);
  #closed = false;

  constructor() {
    const fd = libc().epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) throw new BpfError('epoll_create1', lastErrno());
    this.fd = adoptFd(fd);
  }

  /** Register `fd` once (edge-triggered), for readability or writability. */
  add(fd: number, want: { readable?: boolean; writable?: boolean }): void {
    const ev = new Uint8Array(16);
    new DataView(ev.buffer).setUint32(0, ((want.readable ? EPOLLIN : 0) | (want.writable ? EPOLLOUT : 0) | EPOLLET) >>> 0, true);
    if (libc().epoll_ctl(this.fd, EPOLL_CTL_ADD, fd, addressOf(ev)) !== 0) throw new BpfError('epoll_ctl(EPOLL_CTL_ADD)', lastErrno(), { object: `fd ${fd}` });
  }

  /** Empty the ready list (epoll_wait with no timeout), so the set's own fd stops reporting until the next wake-up. */
  drain(): void {
    if (this.#closed) return;
    const addr = addressOf(this.#events);
    while (libc().epoll_wait(this.fd, addr, DRAIN_BATCH, 0) === DRAIN_BATCH);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }
}

// ---------------------------------------------------------------- ring mappings

export const PROT_READ = 1;
export const PROT_WRITE = 2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;

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

function isMapFailed(ptr: unknown): boolean {
  if (!ptr) return true;
  const a = pointerAddress(ptr);
  return a === 0 || a === -1 || a >= 2 ** 64 - 4096;
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

// ---------------------------------------------------------------- thread CPU time

const CLOCK_THREAD_CPUTIME_ID = 3;
let clockGettime: ((clock: number, ts: number) => number) | undefined;
let tsBlock: BigInt64Array | undefined;
let tsAddr = 0;

/**
 * CPU time of the calling thread in ns (clock_gettime(CLOCK_THREAD_CPUTIME_ID),
 * up to date to the call, steal excluded under paravirt accounting). For
 * measuring drains: process.cpuUsage() also counts V8's background threads.
 */
export function threadCpuTimeNs(): number {
  if (!clockGettime) {
    const lib = koffi.load('libc.so.6');
    clockGettime = lib.func('clock_gettime', 'int', ['int', 'uintptr_t']) as (clock: number, ts: number) => number;
    const ptr = libc().malloc(16);
    tsAddr = pointerAddress(ptr);
    tsBlock = new BigInt64Array(viewOf(ptr, 16));
  }
  if (clockGettime(CLOCK_THREAD_CPUTIME_ID, tsAddr) !== 0) throw new BpfError('clock_gettime', lastErrno());
  return Number(tsBlock![0]!) * 1e9 + Number(tsBlock![1]!);
}
