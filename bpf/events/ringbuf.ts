/**
 * BPF_MAP_TYPE_RINGBUF reader: records the kernel writes, read in place.
 *
 * Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos (the only page
 * user space may write); page 1 holds producer_pos; the data area of
 * max_entries bytes follows and is mapped twice in a row, so a record that
 * runs past the end of the ring is still contiguous in memory. Each record
 * starts 8-byte aligned with an 8-byte header: u32 len, whose bit 31 (BUSY)
 * says the record is reserved but not yet committed and bit 30 (DISCARD) that
 * it was discarded, then u32 page offset (kernel-internal). The record takes
 * round_up(8 + len, 8) bytes.
 *
 * Memory ordering in JavaScript. Every Atomics operation is sequentially
 * consistent, which is at least as strong as the kernel's acquire/release:
 *  - producer_pos is read with Atomics.load, as two 32-bit halves (hi, lo,
 *    hi again until both hi agree): the kernel stores it as one 64-bit
 *    release store and it only grows, so an agreeing pair is a value it held.
 *  - each header's len must be an acquire load (the payload reads that follow
 *    must not move before it). On x86-64 every load is an acquire load
 *    (TSO: loads are not reordered with older loads) and V8 keeps typed-array
 *    loads in program order on its effect chain, so a plain `Int32Array` read
 *    is exact there; it costs ~1 ns where Atomics.load, a builtin call that V8
 *    does not inline, cost ~20 ns per record in the drain measured here. On
 *    other architectures (arm64: loads may pass loads) the reader first reads
 *    the chunk's headers with Atomics.load, whose sequentially consistent load
 *    is an LDAR, then walks them with the same plain loads.
 *  - consumer_pos is written with Atomics.store (release: the payload reads
 *    before it cannot move after it) of its low 32 bits while the high half is
 *    unchanged, which on a little-endian host is a single-copy-atomic update
 *    of the whole 64-bit value; when the high half changes (every 4 GiB) it
 *    is one 64-bit Atomics.store on a BigInt64Array.
 * Positions are JS numbers (exact to 2^53 bytes: centuries of traffic).
 *
 * The consumer position is published after every 64 KiB walked and at the end
 * of a drain, not per record: an Atomics.store is a full barrier on x86
 * (XCHG), and the kernel only needs it to reuse space.
 *
 * Waking: the map fd is watched with epoll on Node's loop (no thread, no busy
 * loop) only while someone waits; the kernel signals it when a record is
 * committed to a ring the consumer had caught up with. Producers that submit
 * with BPF_RB_NO_WAKEUP never signal: give `interval` to poll on a timer.
 */
import { BpfMap } from '../maps/map.ts';
import { MapType, mapTypeName } from '../maps/types.ts';
import { TsbpfError } from '../../errors.ts';
import { pageSize } from '../../syscall/mmap.ts';
import { RingMapping, PROT_READ, PROT_WRITE } from '../../syscall/mmap.ts';
import type { WaitOptions } from './loop.ts';
import type { RecordView, RecordCallback } from './record.ts';
import { checkCallback, checkIndex, checkLimit } from './args.ts';
import { EventReader, type DrainState } from './reader.ts';

const DISCARD = 0x40000000;
const LEN_MASK = 0x3fffffff;
const TWO32 = 4294967296;
/** Whether record headers need Atomics.load to be acquire loads (everywhere but x86). */
export const ACQUIRE_HEADERS = process.arch !== 'x64' && process.arch !== 'ia32';
/**
 * Bytes walked per call of the hot loop; consumer_pos is published after each.
 * Small enough that a long drain is many short calls, which V8 optimizes as
 * a whole function rather than by on-stack replacement in the middle of one
 * long loop (OSR code compiled before the loop's exit paths have run keeps
 * deoptimizing there, drain after drain).
 */
const CHUNK = 1 << 16;
/** Bytes copied per batch by the async iterator. */
const COPY_BATCH = 1 << 20;

export interface RingBufferOptions {
  /** Default callback for consume()/poll() (a ring added with its own callback uses that one). */
  callback?: RecordCallback;
  /** Watch the map fds with epoll (default true). */
  epoll?: boolean;
  /** Also look for records every `interval` ms while waiting (producers using BPF_RB_NO_WAKEUP). 0: never. */
  interval?: number;
  /**
   * Read each record header with Atomics.load (default: on hosts other than
   * x86, where a plain load is not an acquire load; see the file comment).
   */
  acquireHeaders?: boolean;
}

/** A record copied out of the ring by the async iterator: safe to keep. */
export interface RingRecord {
  /** Index of the ring in the reader (0 for the first map). */
  ring: number;
  data: Buffer;
}

interface Ring {
  index: number;
  map: BpfMap;
  size: number;
  mask: number;
  cons: RingMapping;
  prod: RingMapping;
  /** consumer_pos as [lo, hi], and as one u64 for the rare high-half change. */
  c32: Int32Array;
  c64: BigInt64Array;
  /** producer_pos as [lo, hi]. */
  p32: Int32Array;
  /** The data area (2 × size bytes, the second half a mirror of the first). */
  hdr: Int32Array;
  u32: Uint32Array;
  dv: DataView;
  u8: Uint8Array;
  callback: RecordCallback | undefined;
  lease: RingLease | undefined;
}

/** Read a u64 position the kernel publishes with a release store (see the file comment). */
export function loadPos(i32: Int32Array, idx: number): number {
  for (;;) {
    const hi = Atomics.load(i32, idx + 1);
    const lo = Atomics.load(i32, idx);
    if (Atomics.load(i32, idx + 1) === hi) return (hi >>> 0) * TWO32 + (lo >>> 0);
  }
}

/** Our own u64 position (we are its only writer, so plain reads are consistent). */
export function ownPos(i32: Int32Array, idx: number): number {
  return (i32[idx + 1]! >>> 0) * TWO32 + (i32[idx]! >>> 0);
}

/** Publish a u64 position with release semantics (see the file comment). */
export function storePos(i32: Int32Array, i64: BigInt64Array, idx: number, pos: number): void {
  if (Math.floor(pos / TWO32) === i32[idx + 1]! >>> 0) Atomics.store(i32, idx, pos | 0);
  else Atomics.store(i64, idx >> 1, BigInt(pos));
}

/**
 * Records read in place and committed once (the lease/commit style). The
 * views point into the ring: valid until commit() or cancel(); after that the
 * kernel may overwrite them (after close() they read as zeros).
 */
export class RingLease implements Disposable {
  /** Zero-copy payloads, in order (discarded records left out). */
  readonly records: Uint8Array[];
  readonly ring: number;
  #settle: ((commit: boolean) => void) | undefined;

  /** @internal */
  constructor(ring: number, records: Uint8Array[], settle: (commit: boolean) => void) {
    this.ring = ring;
    this.records = records;
    this.#settle = settle;
  }

  get length(): number {
    return this.records.length;
  }

  get settled(): boolean {
    return this.#settle === undefined;
  }

  /** Hand the records' space back to the kernel (one store of consumer_pos). */
  commit(): void {
    const s = this.#settle;
    this.#settle = undefined;
    s?.(true);
  }

  /** Give the lease up without consuming: the records are delivered again. */
  cancel(): void {
    const s = this.#settle;
    this.#settle = undefined;
    s?.(false);
  }

  /** `using lease = reader.lease()` commits at the end of the block. */
  [Symbol.dispose](): void {
    this.commit();
  }

  [Symbol.iterator](): IterableIterator<Uint8Array> {
    return this.records[Symbol.iterator]();
  }
}

/**
 * The hot loop: walk records from `start` to `limit` bytes past the consumer
 * position `lo` (its low 32 bits), delivering them to `cb`. Returns
 * 2 × the bytes walked + 1 when it stopped early (a busy record, the callback
 * returned false, or close() was called).
 *
 * Written for V8: typed arrays made once, int32 math, no allocation, literal
 * constants (a module-level const is a context load and a check per use in
 * optimized code), no call besides the callback, and no statement that only a
 * rare path runs. Headers are plain loads (exact on x86-64, see the file
 * comment); where they must be acquire loads, committedTo() reads them first.
 */
function walkRing(hdr: Int32Array, mask: number, lo: number, start: number, limit: number, rec: RecordView, cb: RecordCallback, st: DrainState): number {
  let done = start;
  let off = (lo + start) & mask;
  let n = 0;
  let stop = 0;
  try {
    while (done < limit) {
      const len = hdr[off >> 2]!;
      if (len < 0) {
        stop = 1; // BUSY: not committed yet; later records wait for it
        break;
      }
      const step = ((len & 0x3fffffff) + 15) & ~7;
      const at = off + 8;
      done += step;
      off = (off + step) & mask;
      if ((len & 0x40000000) === 0) {
        rec['_off'] = at;
        rec['_len'] = len & 0x3fffffff;
        n++;
        if (cb(rec) === false || st.closing) {
          stop = 1;
          break;
        }
      }
    }
  } catch (e) {
    // The callback threw: its record (counted in `done`) is consumed, as in libbpf.
    st.done = done;
    throw e;
  }
  st.count += n;
  st.done = done;
  return done * 2 + stop;
}

/**
 * For readers with acquire headers: where the committed records from `start`
 * end (at `limit` or past it, or at the first busy record), each header read
 * with Atomics.load. walkRing then reads the same headers again with plain
 * loads: a committed header does not change before the consumer position
 * passes it, and every payload read comes after these acquire loads.
 */
function committedTo(hdr: Int32Array, mask: number, lo: number, start: number, limit: number): number {
  let done = start;
  let off = (lo + start) & mask;
  while (done < limit) {
    const len = Atomics.load(hdr, off >> 2);
    if (len < 0) break;
    const step = ((len & 0x3fffffff) + 15) & ~7;
    done += step;
    off = (off + step) & mask;
  }
  return done;
}

/**
 * Reads one or more BPF ring buffers (like libbpf's ring_buffer__add): a
 * synchronous zero-copy `consume(cb)`, `poll()` (wait, then consume), an async
 * iterator of copies, and leases. Every wait ends on close() or an AbortSignal.
 *
 * The reader owns duplicates of the map fds, so the maps may be closed
 * independently. Call close() (or `using`) to release the mappings and fds.
 */
export class RingBufferReader extends EventReader<RingRecord, WaitOptions & { callback?: RecordCallback }> {
  readonly #rings: Ring[] = [];
  readonly #epoll: boolean;
  readonly #callback: RecordCallback | undefined;
  readonly #acquire: boolean;

  constructor(map?: BpfMap | number, opts: RingBufferOptions = {}) {
    super('ring', 'ring buffer reader', opts.interval ?? 0);
    this.#callback = opts.callback;
    this.#epoll = opts.epoll ?? true;
    this.#acquire = opts.acquireHeaders ?? ACQUIRE_HEADERS;
    if (map !== undefined) this.add(map);
  }

  /** Serve another ring buffer; returns its index (RecordView.ring, RingRecord.ring). */
  add(map: BpfMap | number, callback?: RecordCallback): number {
    this._open();
    const m = BpfMap.fromFd(typeof map === 'number' ? map : map.fd);
    let cons: RingMapping | undefined;
    let prod: RingMapping | undefined;
    try {
      if (m.type !== MapType.RINGBUF) {
        const hint = m.type === MapType.USER_RINGBUF ? ': user ring buffers are written with UserRingBuffer' : '';
        throw new TsbpfError('BAD_MAP_TYPE', `map '${m.name}' is a ${mapTypeName(m.type)}, not a RINGBUF${hint}`);
      }
      const page = pageSize();
      const size = m.maxEntries;
      cons = RingMapping.map(m.fd, page, PROT_READ | PROT_WRITE, 0, `mmap of ring buffer '${m.name}' (consumer page)`);
      prod = RingMapping.map(m.fd, page + 2 * size, PROT_READ, page, `mmap of ring buffer '${m.name}' (producer page and data)`);
      const cb = cons.buffer;
      const pb = prod.buffer;
      const ring: Ring = {
        index: this.#rings.length,
        map: m,
        size,
        mask: size - 1,
        cons,
        prod,
        c32: new Int32Array(cb, 0, 2),
        c64: new BigInt64Array(cb, 0, 1),
        p32: new Int32Array(pb, 0, 2),
        hdr: new Int32Array(pb, page, (2 * size) >>> 2),
        u32: new Uint32Array(pb, page, (2 * size) >>> 2),
        dv: new DataView(pb, page, 2 * size),
        u8: new Uint8Array(pb, page, 2 * size),
        callback,
        lease: undefined,
      };
      if (this.#epoll) this._watch(m.fd);
      this.#rings.push(ring);
      return ring.index;
    } catch (e) {
      cons?.release();
      prod?.release();
      m.close();
      throw e;
    }
  }

  /** Number of rings served. */
  get rings(): number {
    return this.#rings.length;
  }

  /** Data area size of a ring (its max_entries). */
  size(ring = 0): number {
    return this.#ring(ring).size;
  }

  /** Bytes produced but not yet consumed in a ring (committed, busy and discarded records). */
  pending(ring = 0): number {
    const r = this.#ring(ring);
    return loadPos(r.p32, 0) - ownPos(r.c32, 0);
  }

  /**
   * Drain every record ready now, in order, ring by ring; returns how many
   * were delivered. The callback gets a RecordView valid only during the
   * call; returning `false` stops after that record. A record whose callback
   * throws is consumed, and the error propagates. close() from a callback
   * takes effect when consume() returns.
   */
  consume(callback?: RecordCallback): number {
    if (this._closed) return 0;
    if (this._depth) throw new TsbpfError('REENTRANT', 'RingBufferReader.consume() called from one of its own callbacks');
    this._dropQueue();
    let n = 0;
    try {
      for (const r of this.#rings) {
        const cb = callback ?? r.callback ?? this.#callback;
        if (!cb) throw new TsbpfError('NO_CALLBACK', 'consume() needs a callback (or one given to the reader or to add())');
        checkCallback('callback', cb);
        if (r.lease) throw new TsbpfError('LEASED', `ring ${r.index} has an outstanding lease: commit or cancel it first`);
        const got = this.#drain(r, cb);
        n += got;
        if (got < 0 || this._closeRequested) break;
      }
    } finally {
      if (this._closeRequested) this._doClose();
    }
    return n;
  }

  /** Drain one ring only. */
  consumeRing(ring: number, callback?: RecordCallback): number {
    if (this._closed) return 0;
    const r = this.#ring(ring);
    const cb = callback ?? r.callback ?? this.#callback;
    if (!cb) throw new TsbpfError('NO_CALLBACK', 'consumeRing() needs a callback');
    checkCallback('callback', cb);
    if (this._depth) throw new TsbpfError('REENTRANT', 'RingBufferReader.consumeRing() called from one of its own callbacks');
    if (r.lease) throw new TsbpfError('LEASED', `ring ${r.index} has an outstanding lease`);
    this._dropQueue();
    try {
      return this.#drain(r, cb);
    } finally {
      if (this._closeRequested) this._doClose();
    }
  }

  #drain(r: Ring, cb: RecordCallback): number {
    const c32 = r.c32;
    const lo = c32[0]!;
    const cons = (c32[1]! >>> 0) * TWO32 + (lo >>> 0);
    const avail = loadPos(r.p32, 0) - cons;
    if (avail <= 0) return 0;
    const rec = this._rec;
    const st = this._st;
    const acquire = this.#acquire;
    let done = 0;
    let committed = 0;
    this._enter(r.dv, r.u8, r.u32, r.index);
    try {
      for (;;) {
        const limit = Math.min(avail, done + CHUNK);
        const w = walkRing(r.hdr, r.mask, lo, done, acquire ? committedTo(r.hdr, r.mask, lo, done, limit) : limit, rec, cb, st);
        done = Math.floor(w / 2);
        if (done > committed) {
          storePos(c32, r.c64, 0, cons + done);
          committed = done;
        }
        // Short of `limit` without a stop: committedTo() found a busy record.
        if (w & 1 || done < limit || done >= avail) break;
      }
    } finally {
      this._leave();
      // A callback threw: its record is consumed (as in libbpf), the error propagates.
      if (st.done > committed) storePos(c32, r.c64, 0, cons + st.done);
    }
    return st.count;
  }

  /**
   * Read the ready records of one ring without consuming them; `commit()`
   * publishes the consumer position once for the whole batch.
   */
  lease(ring = 0, max = Infinity): RingLease {
    this._open();
    const r = this.#ring(ring);
    checkLimit('lease() max', max);
    if (r.lease) throw new TsbpfError('LEASED', `ring ${ring} already has an outstanding lease`);
    this._dropQueue();
    const lo = r.c32[0]!;
    const cons = ownPos(r.c32, 0);
    const avail = loadPos(r.p32, 0) - cons;
    const views: Uint8Array[] = [];
    const base = r.u8.byteOffset;
    const buf = r.u8.buffer;
    let off = lo & r.mask;
    let done = 0;
    while (done < avail && views.length < max) {
      const len = Atomics.load(r.hdr, off >> 2);
      if (len < 0) break;
      const step = ((len & LEN_MASK) + 15) & ~7;
      if ((len & DISCARD) === 0) views.push(new Uint8Array(buf, base + off + 8, len & LEN_MASK));
      done += step;
      off = (off + step) & r.mask;
    }
    const end = cons + done;
    const lease = new RingLease(ring, views, (commit) => {
      if (r.lease !== lease) return;
      r.lease = undefined;
      if (commit && !this._closed && end > ownPos(r.c32, 0)) storePos(r.c32, r.c64, 0, end);
    });
    r.lease = lease;
    return lease;
  }

  protected override _consume(opts: { callback?: RecordCallback }): number {
    return this.consume(opts.callback);
  }

  protected override _fill(): void {
    for (const r of this.#rings) if (!r.lease) this.#fill(r);
  }

  protected override _commit(src: number, end: number): void {
    const r = this.#rings[src]!;
    if (end > ownPos(r.c32, 0)) storePos(r.c32, r.c64, 0, end);
  }

  /** Copy the ready records of a ring in one block; they are committed as they are yielded. */
  #fill(r: Ring): void {
    const lo = r.c32[0]!;
    const cons = ownPos(r.c32, 0);
    const avail = loadPos(r.p32, 0) - cons;
    if (avail <= 0) return;
    const start = lo & r.mask;
    let off = start;
    let done = 0;
    const found: number[] = []; // (relative offset, length) pairs
    while (done < avail && done < COPY_BATCH) {
      const len = Atomics.load(r.hdr, off >> 2);
      if (len < 0) break;
      const step = ((len & LEN_MASK) + 15) & ~7;
      if ((len & DISCARD) === 0) found.push(done, len & LEN_MASK, done + step);
      done += step;
      off = (off + step) & r.mask;
    }
    if (!found.length) {
      if (done) storePos(r.c32, r.c64, 0, cons + done);
      return;
    }
    // The data area is mapped twice, so [start, start + done) is contiguous.
    const block = Buffer.copyBytesFrom(r.u8, start, done);
    for (let i = 0; i < found.length; i += 3) {
      const at = found[i]! + 8;
      const last = i + 3 === found.length;
      this._enqueue({ ring: r.index, data: block.subarray(at, at + found[i + 1]!) }, r.index, cons + (last ? done : found[i + 2]!));
    }
  }

  protected override _payload(item: RingRecord): Uint8Array {
    return item.data;
  }

  protected override _hasRecords(): boolean {
    for (const r of this.#rings) {
      if (r.lease) continue;
      const lo = r.c32[0]!;
      if (loadPos(r.p32, 0) > ownPos(r.c32, 0) && Atomics.load(r.hdr, (lo & r.mask) >> 2) >= 0) return true;
    }
    return false;
  }

  #ring(i: number): Ring {
    this._open();
    const r = Number.isInteger(i) ? this.#rings[i] : undefined;
    if (!r) checkIndex(`ring`, i, this.#rings.length);
    return r!;
  }

  protected override _release(): void {
    for (const r of this.#rings) {
      r.lease?.cancel();
      r.cons.release();
      r.prod.release();
      r.map.close();
    }
    this.#rings.length = 0;
  }
}
