/**
 * Waiting for event streams on Node's event loop.
 *
 * A `Wakeup` owns one epoll set (syscall/poll.ts EpollSet) holding every fd of
 * its reader, each registered once and edge-triggered, and one watch of that
 * set's fd on Node's loop, started once and never stopped until close(). Only
 * the watch's hold on the loop follows the waiters (ref while someone waits,
 * unref otherwise), so no wake-up is ever lost to a re-registration (see
 * EpollSet for why re-adding perf fds loses them). Each report empties the
 * set's ready list, so a ring that fills while nobody waits costs one callback
 * per kernel wake-up and never spins the loop.
 *
 * The `ready()` predicate is the truth (data_head vs data_tail, room in a user
 * ring), never the fd's state: wait() tests it before sleeping, and every
 * wake-up tests it again. A record published before the test is seen by the
 * test; one published after it wakes the set, whose watch is already armed.
 * An optional interval timer also tests it, for producers that never signal.
 */
import { EpollSet, FdWatch } from '../../syscall/poll.ts';
import { TsbpfError } from '../../errors.ts';

export interface WaitOptions {
  /** Abort the wait: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Give up after this many milliseconds (a finite number from 0 to MAX_WAIT_MS): the promise resolves `false`. */
  timeout?: number;
}

/** The longest timeout wait() takes: setTimeout's limit (2^31 - 1 ms, about 24.8 days). Wait with no timeout for longer. */
export const MAX_WAIT_MS = 2 ** 31 - 1;

/** Check a wait timeout: undefined, or a finite number of ms in [0, MAX_WAIT_MS]. */
export function checkTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0 || timeout > MAX_WAIT_MS) {
    throw new TsbpfError('BAD_OPTION', `timeout must be a finite number of milliseconds from 0 to ${MAX_WAIT_MS} (or omitted to wait without one), got ${typeof timeout === 'number' ? timeout : typeof timeout}`);
  }
  return timeout;
}

/** Check a polling interval option: 0 (never) or a finite number of ms up to MAX_WAIT_MS. */
export function checkInterval(interval: unknown): number {
  if (interval === undefined) return 0;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0 || interval > MAX_WAIT_MS) {
    throw new TsbpfError('BAD_OPTION', `interval must be a finite number of milliseconds from 0 to ${MAX_WAIT_MS} (0: never), got ${typeof interval === 'number' ? interval : typeof interval}`);
  }
  return interval;
}

interface Waiter {
  resolve(v: boolean): void;
  reject(e: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The watch's callback holds its Wakeup weakly, so a reader dropped without
 * close() can be collected (the watch is a GC root); the reaper then closes
 * the watch and the epoll set. A Wakeup with a pending wait is kept alive
 * here, as it would be by any event source a promise waits on.
 */
const waiting = new Set<Wakeup>();
const reaper = new FinalizationRegistry<{ watch: FdWatch; set: EpollSet }>(({ watch, set }) => {
  watch.close();
  set.close();
});

export class Wakeup {
  #set: EpollSet | undefined;
  #watch: FdWatch | undefined;
  readonly #ready: () => boolean;
  readonly #interval: number;
  readonly #waiters = new Set<Waiter>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * fds: registered for `events` (pass [] for timer-only mode);
   * interval: also test `ready()` every `interval` ms while someone waits (0 = never).
   */
  constructor(fds: number[], events: { readable?: boolean; writable?: boolean }, ready: () => boolean, interval = 0) {
    this.#ready = ready;
    this.#interval = checkInterval(interval);
    try {
      for (const fd of fds) this.addFd(fd, events);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Register an fd (e.g. a ring added to a reader later), once. */
  addFd(fd: number, events: { readable?: boolean; writable?: boolean }): void {
    if (this.#closed) return;
    if (!this.#set) {
      const set = new EpollSet();
      this.#set = set;
      const self = new WeakRef(this);
      const watch = new FdWatch(set.fd, { readable: true }, () => {
        const w = self.deref();
        if (w) w.#onEvent();
      });
      watch.start();
      watch.setRef(this.#waiters.size > 0);
      this.#watch = watch;
      reaper.register(this, { watch, set }, this);
    }
    this.#set.add(fd, events);
  }

  /** Resolves true when ready, false on close or timeout; rejects when the signal aborts. */
  wait(opts: WaitOptions = {}): Promise<boolean> {
    let timeout: number | undefined;
    try {
      timeout = checkTimeout(opts.timeout);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#closed) return Promise.resolve(false);
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#ready()) return Promise.resolve(true);
    if (timeout === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined, timer: undefined };
      if (signal) {
        w.onAbort = () => this.#settle(w, undefined, signal.reason);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (timeout !== undefined) w.timer = setTimeout(() => this.#settle(w, false), timeout);
      this.#waiters.add(w);
      this.#arm();
    });
  }

  /** Resolve pending waits with false and release the epoll set and its watch (the fds stay open: the owner closes them after). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resolveAll(false);
    this.#disarm();
    reaper.unregister(this);
    this.#watch?.close();
    this.#watch = undefined;
    this.#set?.close();
    this.#set = undefined;
  }

  #onEvent(): void {
    if (this.#closed) return;
    // Take the reports off the set's ready list (edge-triggered: it reports again on the next wake-up only).
    this.#set?.drain();
    if (this.#waiters.size && this.#ready()) this.#resolveAll(true);
  }

  #arm(): void {
    waiting.add(this);
    this.#watch?.setRef(true);
    if (this.#interval > 0 && !this.#timer) {
      this.#timer = setInterval(() => {
        if (this.#waiters.size && this.#ready()) this.#resolveAll(true);
      }, this.#interval);
    }
  }

  #disarm(): void {
    waiting.delete(this);
    this.#watch?.setRef(false);
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #resolveAll(v: boolean): void {
    for (const w of [...this.#waiters]) this.#settle(w, v);
  }

  #settle(w: Waiter, v: boolean | undefined, err?: unknown): void {
    if (!this.#waiters.delete(w)) return;
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
    if (w.timer) clearTimeout(w.timer);
    if (!this.#waiters.size) this.#disarm();
    if (v === undefined) w.reject(err ?? new TsbpfError('ABORTED', 'wait aborted'));
    else w.resolve(v);
  }
}
