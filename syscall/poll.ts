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
import { BpfError } from './errors.ts';
import { adoptFd, closeFd } from './fd.ts';
import { addressOf, koffi, lastErrno, libc } from './libc.ts';

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
