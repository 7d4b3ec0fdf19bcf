/**
 * What the ring buffer and perf buffer readers share besides their hot loops:
 * waiting on the event loop, poll(), the queue of copies behind the async
 * iterator, and close() with its deferral while a consume() callback runs.
 *
 * A subclass owns its rings and their synchronous drain (consume(), the
 * record walk); it tells this class how to copy the ready records into the
 * queue (`_fill`), how to commit one once it is yielded (`_commit`), whether
 * a ring holds records (`_hasRecords`) and how to let its rings go
 * (`_release`). A drain of one ring goes between `_enter` and `_leave`. The
 * record, the drain state, the callback depth and the close flags are plain
 * properties (TypeScript `protected`), read by the subclass's drain once per
 * call, never per record.
 */
import { TsbpfError } from '../../errors.ts';
import { checkTimeout, Wakeup, type WaitOptions } from './loop.ts';
import { RecordView, backRecord, expireRecord } from './record.ts';
import { CodecError, type Codec } from '../../btf/codec.ts';

/** What the hot loop reports besides its position (a plain object: fields, no allocation per call). */
export interface DrainState {
  /** Records delivered. */
  count: number;
  /** Bytes walked, including the record whose callback threw. */
  done: number;
  /** close() was called from a callback. */
  closing: boolean;
}

/** A copy waiting for an iterator: the ring it came from (its index in the reader) and the position to commit once it is yielded. */
export interface Queued<T> {
  item: T;
  src: number;
  end: number;
}

export abstract class EventReader<T, P extends WaitOptions> implements Disposable, AsyncIterable<T> {
  /** @internal The one record handed to consume() callbacks, re-pointed at each. */
  protected readonly _rec: RecordView;
  /** @internal Shared with the hot loop: `closing` stops it after the current record. */
  protected readonly _st: DrainState = { count: 0, done: 0, closing: false };
  /** @internal consume() calls under way (a callback is running when > 0). */
  protected _depth = 0;
  /** @internal close() was called, possibly deferred until consume() returns. */
  protected _closeRequested = false;
  /** @internal Everything is released. */
  protected _closed = false;
  readonly #wake: Wakeup;
  readonly #what: string;
  #queue: Queued<T>[] = [];
  #qhead = 0;

  /** kind: of the records; what: the reader's name in errors ("ring buffer reader"); interval: see Wakeup. */
  constructor(kind: 'ring' | 'cpu', what: string, interval: number) {
    this._rec = new RecordView(kind);
    this.#what = what;
    this.#wake = new Wakeup([], { readable: true }, () => this.#ready(), interval);
  }

  get closed(): boolean {
    return this._closed || this._closeRequested;
  }

  /** Whether a record is ready (no system call). */
  ready(): boolean {
    return !this.closed && this.#ready();
  }

  /** Resolves true once a record is ready, false on close or timeout; rejects when `signal` aborts. */
  wait(opts: WaitOptions = {}): Promise<boolean> {
    try {
      checkTimeout(opts.timeout);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.closed) return Promise.resolve(false);
    return this.#wake.wait(opts);
  }

  /**
   * Wait for records (unless some are ready), then consume them; returns how
   * many were delivered (0 on close/timeout, or when only lost-sample reports came).
   */
  async poll(opts: P = {} as P): Promise<number> {
    checkTimeout(opts.timeout);
    for (;;) {
      const before = this._reported();
      const n = this._consume(opts);
      if (n > 0 || this._reported() !== before || this.closed) return n;
      if (!(await this.wait(opts))) return 0;
    }
  }

  /**
   * Copies of the records, as they come. Ends on close() or timeout; throws the
   * signal's reason on abort. A record counts as consumed when it is yielded;
   * iterators of one reader share its queue (no record is yielded twice).
   */
  records(opts?: WaitOptions): AsyncGenerator<T, void, undefined>;
  /** With a codec: the records' payloads decoded (perf buffers: samples only; lost counts stay in `lost`). */
  records<V>(opts: WaitOptions & { codec: Codec<V> }): AsyncGenerator<V, void, undefined>;
  records<V>(opts: WaitOptions & { codec?: Codec<V> } = {}): AsyncGenerator<T | V, void, undefined> {
    const codec = opts.codec;
    if (codec === undefined) return this.#records(opts);
    if (typeof codec !== 'object' || codec === null || typeof codec.decode !== 'function' || !Number.isInteger(codec.size)) {
      throw new TsbpfError('BAD_OPTION', 'records({ codec }): codec must be a Codec (size, encode, decode), e.g. btfCodec(spec.btf, typeId)');
    }
    return this.#decoded(codec, opts);
  }

  async *#decoded<V>(codec: Codec<V>, opts: WaitOptions): AsyncGenerator<V, void, undefined> {
    for await (const item of this.#records(opts)) {
      const data = this._payload(item);
      if (data === undefined) continue;
      if (data.byteLength < codec.size) throw new CodecError('CODEC_TRUNCATED', `a ${data.byteLength}-byte record is shorter than the ${codec.size} bytes its codec decodes`);
      yield codec.decode(data, new DataView(data.buffer, data.byteOffset, data.byteLength), 0);
    }
  }

  async *#records(opts: WaitOptions): AsyncGenerator<T, void, undefined> {
    checkTimeout(opts.timeout);
    const signal = opts.signal;
    for (;;) {
      if (this.closed) return;
      // Abort means stop: not one more record, even of those already waiting (they stay in the ring, unconsumed).
      if (signal?.aborted) throw signal.reason;
      const e = this.#shift();
      if (e !== undefined) {
        yield e;
        continue;
      }
      if (!(await this.wait(opts))) return;
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this.#records({});
  }

  /**
   * Release everything: pending waits resolve false, iterators end, mappings
   * and fds go. From inside a consume() callback this is deferred until
   * consume() returns (the callback's record stays readable until then).
   */
  close(): void {
    if (this._closed) return;
    if (this._depth) {
      this._closeRequested = true;
      this._st.closing = true;
      return;
    }
    this._doClose();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** consume() as poll() calls it. */
  protected abstract _consume(opts: P): number;
  /** Copy the ready records of every ring into the queue (with `_enqueue`). */
  protected abstract _fill(): void;
  /** A queued copy was yielded: commit its position in ring `src` (not called once closed). */
  protected abstract _commit(src: number, end: number, item: T): void;
  /** Whether some ring holds a record to read. */
  protected abstract _hasRecords(): boolean;
  /** Let the rings, mappings and fds go (once, on close). */
  protected abstract _release(): void;
  /** The payload of a queued copy; undefined for reports that are not records (perf: lost samples). */
  protected abstract _payload(item: T): Uint8Array | undefined;

  /** A count of reports other than records (perf: lost samples): poll() returns when it moves. */
  protected _reported(): number {
    return 0;
  }

  /** Watch another fd for readability while someone waits. */
  protected _watch(fd: number): void {
    this.#wake.addFd(fd, { readable: true });
  }

  protected _open(): void {
    if (this.closed) throw new TsbpfError('CLOSED', `the ${this.#what} is closed`);
  }

  /** Start a drain of a ring whose bytes these views cover: the record points into it, callbacks may run. */
  protected _enter(dv: DataView, u8: Uint8Array, u32: Uint32Array, src: number): void {
    backRecord(this._rec, dv, u8, u32, src);
    const st = this._st;
    st.count = 0;
    st.done = 0;
    this._depth++;
  }

  /** End a drain (also when a callback threw): the record expires. */
  protected _leave(): void {
    expireRecord(this._rec);
    this._depth--;
  }

  protected _enqueue(item: T, src: number, end: number): Queued<T> {
    const q: Queued<T> = { item, src, end };
    this.#queue.push(q);
    return q;
  }

  /** Forget copies queued for iterators: they are not committed, so the other styles read them again from the ring. */
  protected _dropQueue(): void {
    if (this.#qhead < this.#queue.length) {
      this.#queue = [];
      this.#qhead = 0;
    }
  }

  protected _doClose(): void {
    if (this._closed) return;
    this._closed = true;
    this._closeRequested = true;
    this._st.closing = true;
    this.#wake.close();
    this.#queue = [];
    this.#qhead = 0;
    this._release();
  }

  #shift(): T | undefined {
    if (this.#qhead >= this.#queue.length) {
      this.#queue = [];
      this.#qhead = 0;
      this._fill();
      if (!this.#queue.length) return undefined;
    }
    const q = this.#queue[this.#qhead]!;
    this.#queue[this.#qhead++] = undefined as unknown as Queued<T>;
    if (!this._closed) this._commit(q.src, q.end, q.item);
    return q.item;
  }

  #ready(): boolean {
    return this._hasRecords() || this.#qhead < this.#queue.length;
  }
}
