/**
 * Waiting for event streams on Node's event loop.
 *
 * A `Wakeup` owns fd watches (epoll through libuv) and an optional interval
 * timer, and resolves waiters when its `ready()` predicate holds. It is armed
 * only while someone waits, so a ring that fills while nobody waits costs
 * nothing and never spins the loop (a ring buffer fd is level-triggered: it
 * stays readable until drained).
 *
 * An fd event whose predicate is false (a perf fd reporting an old wakeup, a
 * ring whose next record is still being written, a user ring buffer with some
 * but not enough room) disarms the fd for a short back-off instead of spinning.
 */
import { FdWatch } from '../../syscall/poll.ts';
import { TsbpfError } from '../../errors.ts';

export interface WaitOptions {
  /** Abort the wait: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Give up after this many milliseconds: the promise resolves `false`. */
  timeout?: number;
}

interface Waiter {
  resolve(v: boolean): void;
  reject(e: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;
}

const BACKOFF_MS = 1;

export class Wakeup {
  readonly #watches: FdWatch[] = [];
  readonly #ready: () => boolean;
  readonly #interval: number;
  readonly #waiters = new Set<Waiter>();
  #timer: NodeJS.Timeout | undefined;
  #backoff: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * fds: watched for `events` while armed (pass [] for timer-only mode);
   * interval: also test `ready()` every `interval` ms while armed (0 = never).
   */
  constructor(fds: number[], events: { readable?: boolean; writable?: boolean }, ready: () => boolean, interval = 0) {
    this.#ready = ready;
    this.#interval = interval;
    for (const fd of fds) this.#watches.push(new FdWatch(fd, events, (status) => this.#onEvent(status)));
  }

  /** Add an fd (e.g. a ring added to a reader later). */
  addFd(fd: number, events: { readable?: boolean; writable?: boolean }): void {
    const w = new FdWatch(fd, events, (status) => this.#onEvent(status));
    this.#watches.push(w);
    if (this.#waiters.size && !this.#backoff) w.start();
  }

  /** Resolves true when ready, false on close or timeout; rejects when the signal aborts. */
  wait(opts: WaitOptions = {}): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#ready()) return Promise.resolve(true);
    if (opts.timeout !== undefined && opts.timeout <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined, timer: undefined };
      if (signal) {
        w.onAbort = () => this.#settle(w, undefined, signal.reason);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (opts.timeout !== undefined) w.timer = setTimeout(() => this.#settle(w, false), opts.timeout);
      this.#waiters.add(w);
      this.#arm();
    });
  }

  /** Resolve pending waits with false and release the fd watches (the fds stay open: the owner closes them after). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resolveAll(false);
    this.#disarm();
    for (const w of this.#watches) w.close();
    this.#watches.length = 0;
  }

  #onEvent(_status: number): void {
    if (this.#closed || !this.#waiters.size) return;
    if (this.#ready()) {
      this.#resolveAll(true);
      return;
    }
    // Reported ready but nothing to take: back off instead of spinning on a level-triggered fd.
    for (const w of this.#watches) w.stop();
    if (!this.#backoff) {
      this.#backoff = setTimeout(() => {
        this.#backoff = undefined;
        if (this.#closed || !this.#waiters.size) return;
        if (this.#ready()) this.#resolveAll(true);
        else for (const w of this.#watches) w.start();
      }, BACKOFF_MS);
    }
  }

  #arm(): void {
    if (!this.#backoff) for (const w of this.#watches) w.start();
    if (this.#interval > 0 && !this.#timer) {
      this.#timer = setInterval(() => {
        if (this.#waiters.size && this.#ready()) this.#resolveAll(true);
      }, this.#interval);
    }
  }

  #disarm(): void {
    for (const w of this.#watches) w.stop();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#backoff) clearTimeout(this.#backoff);
    this.#backoff = undefined;
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
